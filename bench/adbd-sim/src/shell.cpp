// shell:CMD — like adbd's raw (non-shell_v2, no pty) shell: /bin/sh -c CMD with stdin,
// stdout and stderr on one socketpair, bridged to the ADB stream; the stream closes when
// the output ends. shell,v2:CMD — the shell protocol: stdin, stdout and stderr on three
// socketpairs, each direction in id + length packets, and the exit status at the end.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

#include <spdlog/logger.h>

#include "adb_protocol/protocol.hpp"
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

// A socketpair: OURS for adbd-sim, THEIRS for the shell (false with ERROR and WHAT).
bool make_pair(vsocklib::unique_fd& ours, vsocklib::unique_fd& theirs, int& error,
               std::string& what) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    error = errno;
    what = "socketpair";
    return false;
  }
  ours = vsocklib::unique_fd(sv[0]);
  theirs = vsocklib::unique_fd(sv[1]);
  return true;
}

// Starts /bin/sh with stdin, stdout and stderr on the descriptors STDIO (dup2()ed, which
// clears O_CLOEXEC); false with ERROR (an errno value) and WHAT.
bool spawn_shell(const std::string& command, const std::string& cwd, const int (&stdio)[3],
                 child_process& child, int& error, std::string& what) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int target : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
    posix_spawn_file_actions_adddup2(&actions, stdio[target], target);
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
    return false;
  }
  child.set_pid(pid);
  return true;
}

// A socket on EX that owns FD (FD is released only once the socket has it).
local_socket adopt(const asio::any_io_executor& ex, vsocklib::unique_fd& fd) {
  local_socket sock(ex, asio::local::stream_protocol(), fd.get());
  static_cast<void>(fd.release());
  return sock;
}

// Logs a shell that could not start; returns the line the host is shown.
std::string spawn_failure(adb_stream& s, const std::string& what, int error) {
  s.connection().log().warn("{}: shell: {}: {}", s.connection().peer(), what, std::strerror(error));
  return "adbd-sim: " + what + ": " + std::strerror(error) + "\n";
}

void log_shell_end(adb_stream& s, const char* kind, const std::string& command,
                   child_process& child) {
  const int st = child.status();
  s.connection().log().debug("{}: {} \"{}\" (pid {}) ended: {} {}", s.connection().peer(), kind,
                             command, child.pid(), WIFEXITED(st) ? "exit" : "signal",
                             WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

// One socketpair for all three (the raw shell).
vsocklib::unique_fd spawn_raw_shell(const std::string& command, const std::string& cwd,
                                    child_process& child, int& error, std::string& what) {
  vsocklib::unique_fd ours, theirs;
  if (!make_pair(ours, theirs, error, what)) return {};
  const int stdio[3] = {theirs.get(), theirs.get(), theirs.get()};
  if (!spawn_shell(command, cwd, stdio, child, error, what)) return {};
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

// The output ends when the shell exits (unless something it started holds stdout): give it
// a moment. When the host closed the stream instead, hang up at once, as a terminal would.
asio::awaitable<void> end_child(child_process& child,
                                std::optional<asio::posix::stream_descriptor>& pidfd,
                                bool output_ended) {
  bool exited = false;
  if (output_ended) exited = co_await async_wait_exit(child, pidfd, kExitGrace);
  if (!exited) {
    child.signal_group(SIGHUP);
    if (!co_await async_wait_exit(child, pidfd, kHangupGrace)) {
      child.signal_group(SIGKILL);
      co_await async_wait_exit(child, pidfd, 5000ms);
    }
  }
}

std::optional<asio::posix::stream_descriptor> open_pidfd(const asio::any_io_executor& ex,
                                                         pid_t pid) {
  std::optional<asio::posix::stream_descriptor> pidfd;
  if (const long p = ::syscall(SYS_pidfd_open, pid, 0); p >= 0) {
    pidfd.emplace(ex, static_cast<int>(p));
  }
  return pidfd;
}

// ---- shell protocol (shell,v2:) ----

// Largest read of stdout or stderr per packet. Two such buffers per v2 shell stream.
constexpr std::size_t kV2Chunk = 16 * 1024;

// One of the shell's outputs as packets of type ID. OUTPUT_ENDED: it reached its end
// (false when the host closed the stream first).
asio::awaitable<void> shell_v2_output(adb_stream& s, local_socket& from, std::uint8_t id,
                                      bool& output_ended) {
  std::vector<std::byte> buf(
      std::min<std::size_t>(kV2Chunk, s.max_payload() - shell_packet::kHeaderSize));
  for (;;) {
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), use_tuple);
    if (n > 0) {
      if (!co_await send_shell_packet(s, id, std::span<const std::byte>(buf.data(), n))) co_return;
      if (!co_await s.async_flush()) co_return;  // interactive output goes out as it comes
    }
    if (ec) {
      output_ended = ec != asio::error::operation_aborted;
      co_return;
    }
  }
}

asio::awaitable<void> shell_v2_outputs(adb_stream& s, local_socket& out, local_socket& err,
                                       bool& out_ended, bool& err_ended) {
  using namespace asio::experimental::awaitable_operators;
  co_await (shell_v2_output(s, out, shell_packet::kStdout, out_ended) &&
            shell_v2_output(s, err, shell_packet::kStderr, err_ended));
}

// What became of the host's stdin packets, for the log line at the shell's end.
struct stdin_record {
  std::uint64_t given = 0;    // bytes written to the shell's stdin
  std::uint64_t dropped = 0;  // bytes that came after the shell stopped reading
  bool close_stdin = false;   // the host sent close-stdin
};

// The host's packets: stdin goes to the shell, close-stdin closes it, the rest (window
// size, unknown ids) is read and dropped. Returns when the host closes the stream.
asio::awaitable<void> shell_v2_input(adb_stream& s, local_socket& to_stdin, stdin_record& rec) {
  auto& log = s.connection().log();
  for (;;) {
    std::array<std::byte, shell_packet::kHeaderSize> h;
    if (!co_await s.async_read_exact(h)) co_return;
    const auto id = static_cast<std::uint8_t>(h[0]);
    std::uint32_t left = adb_protocol::load_le32(h.data() + 1);
    if (id != shell_packet::kStdin) {
      log.debug("{}: shell v2: packet {} with {} bytes", s.connection().peer(), id, left);
    }
    while (left > 0) {
      if (!co_await s.async_wait_readable()) co_return;
      auto a = s.available();
      const std::size_t n = std::min<std::size_t>(a.size(), left);
      if (id == shell_packet::kStdin) {
        std::size_t given = 0;
        if (to_stdin.is_open()) {
          auto [ec, w] = co_await asio::async_write(to_stdin, asio::buffer(a.data(), n), use_tuple);
          given = w;
          error_code ignored;
          if (ec) to_stdin.close(ignored);  // the shell stopped reading: drop the rest
        }
        rec.given += given;
        rec.dropped += n - given;
      }
      s.consume(n);
      left -= static_cast<std::uint32_t>(n);
    }
    if (id == shell_packet::kCloseStdin) {
      rec.close_stdin = true;
      error_code ignored;
      to_stdin.close(ignored);  // the shell reads end of file
    }
  }
}

// What adbd reports: the exit status, or 128 + the signal that ended the shell.
std::uint8_t exit_code(int status) {
  if (WIFEXITED(status)) return static_cast<std::uint8_t>(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return static_cast<std::uint8_t>(128 + WTERMSIG(status));
  return 255;
}

}  // namespace

asio::awaitable<bool> send_shell_packet(adb_stream& s, std::uint8_t id,
                                        std::span<const std::byte> data) {
  // Each packet is filled into one prepared span: prepare() returns the room asked for
  // (up to max_payload) and nothing suspends before commit(), so packets from stdout and
  // stderr never interleave.
  const std::size_t most = s.max_payload() - shell_packet::kHeaderSize;
  do {
    const std::size_t n = std::min(data.size(), most);
    auto room = co_await s.async_prepare(shell_packet::kHeaderSize + n);
    if (room.empty()) co_return false;
    room[0] = static_cast<std::byte>(id);
    adb_protocol::store_le32(room.data() + 1, static_cast<std::uint32_t>(n));
    if (n > 0) std::memcpy(room.data() + shell_packet::kHeaderSize, data.data(), n);
    s.commit(shell_packet::kHeaderSize + n);
    data = data.subspan(n);
  } while (!data.empty());
  co_return true;
}

asio::awaitable<void> run_shell(adb_stream& s, const std::string& command, const rooted_fs& files) {
  using namespace asio::experimental::awaitable_operators;
  auto ex = co_await asio::this_coro::executor;
  child_process child;
  int error = 0;
  std::string what;
  vsocklib::unique_fd fd = spawn_raw_shell(command, files.path().string(), child, error, what);
  if (!fd) {
    const std::string msg = spawn_failure(s, what, error);
    co_await s.async_write(std::as_bytes(std::span<const char>(msg.data(), msg.size())));
    co_return;
  }
  local_socket child_io = adopt(ex, fd);
  auto pidfd = open_pidfd(ex, child.pid());

  bool output_ended = false;
  co_await (shell_output(s, child_io, output_ended) || shell_input(s, child_io));
  error_code ignored;
  child_io.close(ignored);
  if (output_ended) co_await s.async_close();

  co_await end_child(child, pidfd, output_ended);
  log_shell_end(s, "shell", command, child);
}

asio::awaitable<void> run_shell_v2(adb_stream& s, const std::string& command,
                                   const rooted_fs& files) {
  using namespace asio::experimental::awaitable_operators;
  auto ex = co_await asio::this_coro::executor;
  child_process child;
  int error = 0;
  std::string what;
  vsocklib::unique_fd ours[3], theirs[3];
  bool ok = true;
  for (int i = 0; i < 3 && ok; ++i) ok = make_pair(ours[i], theirs[i], error, what);
  if (ok) {
    const int stdio[3] = {theirs[0].get(), theirs[1].get(), theirs[2].get()};
    ok = spawn_shell(command, files.path().string(), stdio, child, error, what);
  }
  for (auto& t : theirs) t.reset();  // the shell has its copies: end of file comes from it
  if (!ok) {
    const std::string msg = spawn_failure(s, what, error);
    co_await send_shell_packet(s, shell_packet::kStderr,
                               std::as_bytes(std::span<const char>(msg.data(), msg.size())));
    const std::byte status{126};
    co_await send_shell_packet(s, shell_packet::kExit, std::span<const std::byte>(&status, 1));
    co_return;
  }
  local_socket in = adopt(ex, ours[0]);
  local_socket out = adopt(ex, ours[1]);
  local_socket err = adopt(ex, ours[2]);
  auto pidfd = open_pidfd(ex, child.pid());

  bool out_ended = false, err_ended = false;
  stdin_record input;
  co_await (shell_v2_outputs(s, out, err, out_ended, err_ended) || shell_v2_input(s, in, input));
  error_code ignored;
  in.close(ignored);
  out.close(ignored);
  err.close(ignored);
  const bool output_ended = out_ended && err_ended;
  co_await end_child(child, pidfd, output_ended);
  if (output_ended) {
    const std::byte status{exit_code(child.status())};
    co_await send_shell_packet(s, shell_packet::kExit, std::span<const std::byte>(&status, 1));
  }
  log_shell_end(s, "shell v2", command, child);
  s.connection().log().debug(
      "{}: shell v2 \"{}\": stdin {} bytes to the shell, {} dropped, {}; output {}",
      s.connection().peer(), command, input.given, input.dropped,
      input.close_stdin ? "closed by the host's close-stdin" : "never closed by the host",
      output_ended ? "ended" : "cut off: the host closed the stream first");
}

}  // namespace adbd_sim::detail
