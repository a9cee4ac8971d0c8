// shell:CMD — like adbd's raw (non-shell_v2, no pty) shell: /bin/sh -c CMD with stdin,
// stdout and stderr on one socketpair, bridged to the ADB stream; the stream closes when
// the output ends.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include <spdlog/logger.h>

#include "adbd_sim/rooted_fs.hpp"
#include "services.hpp"
#include "vsocklib/unique_fd.hpp"

extern char** environ;

namespace adbd_sim::detail {
namespace {

using namespace std::chrono_literals;
using vsocklib::error_code;
using vsocklib::use_tuple;
using local_socket = asio::local::stream_protocol::socket;

// Largest read of shell output. Output is sent as it comes (one WRTE per read), so this
// only bounds a burst; 64 KiB is what a pipe holds.
constexpr std::size_t kShellChunk = 64 * 1024;
// After the output ends, time for the shell to exit by itself before it is hung up on.
constexpr auto kExitGrace = 1000ms;
// After SIGHUP (what a closed terminal sends), time to exit before SIGKILL.
constexpr auto kHangupGrace = 500ms;

// The child and its process group. If the service is torn down before the child was
// reaped (the connection's io_context is destroyed at shutdown), the group is killed and
// reaped here, so no shell outlives adbd-sim.
class child_process {
 public:
  child_process() = default;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() {
    if (pid_ > 0 && !reaped_) {
      ::kill(-pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  pid_t pid() const noexcept { return pid_; }
  void set_pid(pid_t p) noexcept { pid_ = p; }
  int status() const noexcept { return status_; }

  bool try_reap() {
    if (reaped_) return true;
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      status_ = st;
    } else if (r < 0 && errno == ECHILD) {
      reaped_ = true;  // someone else reaped it (SIGCHLD set to SIG_IGN by an embedder)
    }
    return reaped_;
  }

  // The shell runs in its own session (POSIX_SPAWN_SETSID), so -pid is its process group:
  // the signal reaches the commands it started too.
  void signal_group(int sig) const {
    if (pid_ > 0 && !reaped_) ::kill(-pid_, sig);
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// Starts /bin/sh with stdin, stdout and stderr on one end of a socketpair; returns the
// other end, or none with ERROR (an errno value) and WHAT.
vsocklib::unique_fd spawn_shell(const std::string& command, const std::string& cwd,
                                child_process& child, int& error, std::string& what) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    error = errno;
    what = "socketpair";
    return {};
  }
  vsocklib::unique_fd ours(sv[0]);
  const vsocklib::unique_fd theirs(sv[1]);  // the shell's copies are dup2()ed from it
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int target : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
    posix_spawn_file_actions_adddup2(&actions, theirs.get(), target);  // dup2 clears O_CLOEXEC
  }
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  // Signals we ignore or block must not stay ignored or blocked in the shell (SIGPIPE in
  // particular, or "yes | head" never ends).
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::string sh = "sh", dash_c = "-c", cmd = command;
  char* argv_command[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  char* argv_stdin[] = {sh.data(), nullptr};  // "shell:" alone: commands come from the stream
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attr,
                               command.empty() ? argv_stdin : argv_command, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    error = rc;
    what = "cannot start /bin/sh in " + cwd;
    return {};
  }
  child.set_pid(pid);
  return ours;
}

// Waits up to TIMEOUT for the child to exit; true when it was reaped. A pidfd (Linux 5.3+)
// makes the exit an event on the io_context; without one the child is polled.
asio::awaitable<bool> async_wait_exit(child_process& child,
                                      std::optional<asio::posix::stream_descriptor>& pidfd,
                                      std::chrono::milliseconds timeout) {
  using namespace asio::experimental::awaitable_operators;
  if (child.try_reap()) co_return true;
  auto ex = co_await asio::this_coro::executor;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (pidfd) {
    asio::steady_timer t(ex, deadline);
    co_await (pidfd->async_wait(asio::posix::descriptor_base::wait_read, use_tuple) ||
              t.async_wait(use_tuple));
    co_return child.try_reap();
  }
  asio::steady_timer poll(ex);
  while (!child.try_reap()) {
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    poll.expires_after(20ms);
    co_await poll.async_wait(use_tuple);
  }
  co_return true;
}

asio::awaitable<void> shell_output(adb_stream& s, local_socket& child_io, bool& output_ended) {
  for (;;) {
    auto room = co_await s.async_prepare(kShellChunk);
    if (room.empty()) co_return;  // the host closed the stream
    auto [ec, n] =
        co_await child_io.async_read_some(asio::buffer(room.data(), room.size()), use_tuple);
    s.commit(n);
    if (ec) {
      // End of output (or an error, which ends it too). Aborted means the host closed the
      // stream and shell_input finished first: the shell is still running.
      output_ended = ec != asio::error::operation_aborted;
      co_return;
    }
    co_await s.async_flush();  // interactive output goes out as it comes
  }
}

asio::awaitable<void> shell_input(adb_stream& s, local_socket& child_io) {
  bool child_reads = true;
  for (;;) {
    if (!co_await s.async_wait_readable()) co_return;  // the host closed the stream
    auto data = s.available();
    if (child_reads) {
      auto [ec, n] =
          co_await asio::async_write(child_io, asio::buffer(data.data(), data.size()), use_tuple);
      // The shell does not read its input (EPIPE once it has exited): drop further input
      // but keep the stream, whose output may still be coming.
      if (ec) child_reads = false;
    }
    s.consume(data.size());
  }
}

}  // namespace

asio::awaitable<void> run_shell(adb_stream& s, const std::string& command, const rooted_fs& files) {
  using namespace asio::experimental::awaitable_operators;
  auto ex = co_await asio::this_coro::executor;
  auto& log = s.connection().log();
  child_process child;
  int error = 0;
  std::string what;
  vsocklib::unique_fd fd = spawn_shell(command, files.path().string(), child, error, what);
  if (!fd) {
    log.warn("{}: shell: {}: {}", s.connection().peer(), what, std::strerror(error));
    const std::string msg = "adbd-sim: " + what + ": " + std::strerror(error) + "\n";
    co_await s.async_write(std::as_bytes(std::span<const char>(msg.data(), msg.size())));
    co_return;
  }
  local_socket child_io(ex, asio::local::stream_protocol(), fd.get());
  // child_io owns it now (the constructor throws before taking it).
  static_cast<void>(fd.release());
  std::optional<asio::posix::stream_descriptor> pidfd;
  if (const long p = ::syscall(SYS_pidfd_open, child.pid(), 0); p >= 0) {
    pidfd.emplace(ex, static_cast<int>(p));
  }

  bool output_ended = false;
  co_await (shell_output(s, child_io, output_ended) || shell_input(s, child_io));
  error_code ignored;
  child_io.close(ignored);
  if (output_ended) co_await s.async_close();

  // The output ends when the shell exits (unless something it started holds stdout): give
  // it a moment. When the host closed the stream instead, hang up at once, as a terminal
  // would.
  bool exited = false;
  if (output_ended) exited = co_await async_wait_exit(child, pidfd, kExitGrace);
  if (!exited) {
    child.signal_group(SIGHUP);
    if (!co_await async_wait_exit(child, pidfd, kHangupGrace)) {
      child.signal_group(SIGKILL);
      co_await async_wait_exit(child, pidfd, 5000ms);
    }
  }
  const int st = child.status();
  log.debug("{}: shell \"{}\" (pid {}) ended: {} {}", s.connection().peer(), command, child.pid(),
            WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

}  // namespace adbd_sim::detail
