#include "vsocklib/daemon.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>

#include <spdlog/logger.h>

#include "vsocklib/stoppable.hpp"
#include "vsocklib/task_group.hpp"
#include "vsocklib/unique_fd.hpp"

namespace vsocklib {

bool sd_notify(const std::string& message) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const unique_fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  const auto sent = ::sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL,
                             reinterpret_cast<sockaddr*>(&addr),
                             static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len));
  return sent == static_cast<ssize_t>(message.size());
}

std::chrono::microseconds watchdog_interval() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (!usec) return {};
  const long long v = std::atoll(usec);
  return std::chrono::microseconds(v > 0 ? v / 2 : 0);
}

daemon_runtime::daemon_runtime(asio::io_context& io, const std::string& control_path,
                               std::shared_ptr<spdlog::logger> log)
    : log_(log),
      control_(io.get_executor(), control_path, log),
      signals_(io, SIGINT, SIGTERM),
      watchdog_(io) {}

daemon_runtime::~daemon_runtime() = default;

asio::awaitable<void> daemon_runtime::run(std::function<std::string()> status,
                                          std::function<void()> on_stop, std::string ready_status) {
  using namespace asio::experimental::awaitable_operators;
  on_stop_ = std::move(on_stop);
  if (!stopped_) sd_notify("READY=1\nSTATUS=" + ready_status);
  // Each part ends when stop() closes or cancels what it waits on, or by run() being
  // cancelled from outside, which calls stop() as well; none throws on cancellation. (Built
  // outside the co_await expression: GCC 12 and temporaries in coroutines.)
  auto parts = control_.serve(std::move(status)) && (watch_signals() && ping_watchdog());
  const auto stop_on_cancel = [this] { stop(); };
  try {
    co_await run_stoppable(std::move(parts), stop_on_cancel);
  } catch (...) {
    stop();  // STATUS() threw
    throw;
  }
  // Cancelled, the parts may have ended by the cancellation itself before stop() came.
  stop();
}

namespace {

// Named (not a lambda) for co_spawn.
asio::awaitable<void> work_then_stop(asio::awaitable<void> work, daemon_runtime* runtime) {
  co_await std::move(work);
  runtime->stop();
}

}  // namespace

asio::awaitable<void> daemon_runtime::run_with(asio::awaitable<void> work,
                                               std::function<void()> stop_work,
                                               std::function<std::string()> status,
                                               std::string ready_status) {
  // Parts of a group rather than an `&&`, which would cancel WORK when the runtime failed:
  // WORK ends by STOP_WORK, as on a signal.
  std::function<void()> stop_both = [this, stop_work] {
    stop_work();
    stop();
  };
  task_group parts(co_await asio::this_coro::executor, std::move(stop_both));
  parts.spawn(work_then_stop(std::move(work), this));
  parts.spawn(run(std::move(status), std::move(stop_work), std::move(ready_status)));
  co_await parts.join();
}

asio::awaitable<void> daemon_runtime::watch_signals() {
  // A signal_set's cancel() only ends waits already pending: none may start after stop().
  if (stopped_) co_return;
  co_await asio::this_coro::throw_if_cancelled(false);
  auto [ec, sig] = co_await signals_.async_wait(use_tuple);
  if (ec || stopped_) co_return;
  log_->info("signal {}: stopping", sig);
  sd_notify("STOPPING=1");
  stop();
  if (on_stop_) on_stop_();
}

asio::awaitable<void> daemon_runtime::ping_watchdog() {
  const auto every = watchdog_interval();
  if (every.count() <= 0) co_return;
  co_await asio::this_coro::throw_if_cancelled(false);
  while (!stopped_) {
    sd_notify("WATCHDOG=1");
    watchdog_.expires_after(every);
    auto [ec] = co_await watchdog_.async_wait(use_tuple);
    if (ec) co_return;  // stop(), or run() cancelled (which stops too)
  }
}

void daemon_runtime::stop() {
  if (stopped_) return;
  stopped_ = true;
  control_.close();
  watchdog_.cancel();
  error_code ignored;
  signals_.cancel(ignored);
}

namespace {

// The first of PATHS that answers, printed; or why none did. Named (not a lambda) for co_spawn.
asio::awaitable<int> query_first(std::string program, std::string what,
                                 std::vector<std::string> paths) {
  std::string errors;
  for (const auto& p : paths) {
    auto [ec, text] = co_await async_query_control(p);
    if (!ec) {
      std::cout << text;
      co_return 0;
    }
    errors += program + ": no " + what + " answers on " + p + ": " + ec.message() + "\n";
  }
  std::cerr << errors;
  co_return 1;
}

}  // namespace

int print_status(const std::string& program, const std::string& what,
                 const std::vector<std::string>& paths) {
  asio::io_context io;
  int rc = 1;
  // Runs to completion here; a bug's exception leaves through io.run().
  asio::co_spawn(io, query_first(program, what, paths), [&rc](std::exception_ptr e, int result) {
    if (e) std::rethrow_exception(e);
    rc = result;
  });
  io.run();
  return rc;
}

}  // namespace vsocklib
