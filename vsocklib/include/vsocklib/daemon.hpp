// What every daemon of the toolkit does around its own work, in one place: the status
// socket, systemd's notifications (READY, STOPPING, WATCHDOG), SIGINT/SIGTERM, and the
// `status` query a user runs against it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vsocklib/asio.hpp"
#include "vsocklib/control_socket.hpp"

namespace spdlog {
class logger;
}

namespace vsocklib {

/// systemd's sd_notify(3) protocol without libsystemd: a datagram to $NOTIFY_SOCKET.
/// Returns false when not started by systemd (no NOTIFY_SOCKET) or the send failed.
bool sd_notify(const std::string& message);

/// Half of $WATCHDOG_USEC (the interval systemd wants pings at), or zero when the watchdog
/// is off.
std::chrono::microseconds watchdog_interval();

/// A daemon's life around its work, on one io_context thread. Construct it during set-up
/// (it binds the status socket, which may need privileges), then await run() beside the
/// work, whose end calls stop(): `co_await (work_then_stop() && runtime.run(...))`.
class daemon_runtime {
 public:
  /// Binds the status socket at CONTROL_PATH (root and this user only). Throws
  /// std::system_error naming the path: a start-up error.
  daemon_runtime(asio::io_context& io, const std::string& control_path,
                 std::shared_ptr<spdlog::logger> log);
  ~daemon_runtime();
  daemon_runtime(const daemon_runtime&) = delete;
  daemon_runtime& operator=(const daemon_runtime&) = delete;

  /// Sends READY=1 with STATUS=READY_STATUS, serves STATUS() on the status socket and pings
  /// systemd's watchdog when it asks for one. On SIGINT or SIGTERM: logs it, sends
  /// STOPPING=1, stops, and calls ON_STOP (which must end the daemon's own work). Returns
  /// once stopped (stop(), a signal, or cancelling it) and everything it started has ended,
  /// status answers included: nothing of it is left on the io_context. Does not throw on
  /// cancellation; it rethrows STATUS()'s exceptions (bugs) once the rest has ended.
  asio::awaitable<void> run(std::function<std::string()> status, std::function<void()> on_stop,
                            std::string ready_status);

  /// A daemon's whole life: WORK (which ends once STOP_WORK() is called, or by itself)
  /// beside run(). A signal calls STOP_WORK; WORK's end stops the runtime; a failure of
  /// either stops the other. Returns once both have ended, then rethrows the first failure.
  asio::awaitable<void> run_with(asio::awaitable<void> work, std::function<void()> stop_work,
                                 std::function<std::string()> status, std::string ready_status);

  /// Ends run() without a signal (the work ended by itself); before run(), run() returns at
  /// once. Closes the status socket (its file goes).
  void stop();

 private:
  asio::awaitable<void> watch_signals();
  asio::awaitable<void> ping_watchdog();

  std::shared_ptr<spdlog::logger> log_;
  control_socket control_;
  asio::signal_set signals_;
  asio::steady_timer watchdog_;
  std::function<void()> on_stop_;
  bool stopped_ = false;
};

/// A `PROGRAM status` command: prints the status document of the first of PATHS that
/// answers and returns 0; otherwise prints "PROGRAM: no WHAT answers on PATH: why" per
/// path on stderr and returns 1.
int print_status(const std::string& program, const std::string& what,
                 const std::vector<std::string>& paths);

}  // namespace vsocklib
