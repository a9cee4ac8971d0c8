#include "command.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <system_error>

extern char** environ;

namespace vsock_soak::detail {

namespace asio = vsocklib::asio;
using namespace std::chrono_literals;
using vsocklib::use_tuple;

std::string command_result::describe() const {
  if (timed_out) return "timed out after " + std::to_string(took.count()) + " ms";
  if (exit_status < 0) return "killed by signal " + std::to_string(-exit_status);
  return "exit " + std::to_string(exit_status);
}

asio::awaitable<command_result> async_run_command(const std::string& command,
                                                  std::chrono::milliseconds timeout,
                                                  std::set<pid_t>& running) {
  using namespace asio::experimental::awaitable_operators;
  const auto start = std::chrono::steady_clock::now();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  // Its own session: a timeout or a stop kills everything the command started.
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string sh = "sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    throw std::system_error(rc, std::generic_category(),
                            "cannot start /bin/sh for \"" + command + "\"");
  running.insert(pid);

  auto ex = co_await asio::this_coro::executor;
  command_result r;
  int status = 0;
  // A pidfd (Linux 5.3+) makes the exit an event; otherwise poll.
  const long pfd = ::syscall(SYS_pidfd_open, pid, 0);
  std::optional<asio::posix::stream_descriptor> exit_event;
  if (pfd >= 0) exit_event.emplace(ex, static_cast<int>(pfd));
  asio::steady_timer t(ex);
  const auto deadline = start + timeout;
  for (;;) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid || (w < 0 && errno == ECHILD)) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      r.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    if (exit_event) {
      t.expires_at(deadline);
      co_await (exit_event->async_wait(asio::posix::descriptor_base::wait_read, use_tuple) ||
                t.async_wait(use_tuple));
    } else {
      t.expires_after(std::min<std::chrono::steady_clock::duration>(
          20ms, deadline - std::chrono::steady_clock::now()));
      co_await t.async_wait(use_tuple);
    }
  }
  running.erase(pid);
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  if (!r.timed_out) r.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  co_return r;
}

}  // namespace vsock_soak::detail
