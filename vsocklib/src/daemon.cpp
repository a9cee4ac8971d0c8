#include "vsocklib/daemon.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include <spdlog/logger.h>

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
    : io_(io),
      log_(log),
      control_(io.get_executor(), control_path, log),
      signals_(io, SIGINT, SIGTERM),
      watchdog_(io) {}

daemon_runtime::~daemon_runtime() = default;

void daemon_runtime::start(std::function<std::string()> status, std::function<void()> on_stop,
                           std::string ready_status) {
  on_stop_ = std::move(on_stop);
  asio::co_spawn(io_, control_.serve(std::move(status)), asio::detached);
  if (const auto every = watchdog_interval(); every.count() > 0) {
    asio::co_spawn(
        io_,
        [this, every]() -> asio::awaitable<void> {
          while (!stopped_) {
            sd_notify("WATCHDOG=1");
            watchdog_.expires_after(every);
            co_await watchdog_.async_wait(use_tuple);
          }
        },
        asio::detached);
  }
  signals_.async_wait([this](error_code ec, int sig) {
    if (ec || stopped_) return;
    log_->info("signal {}: stopping", sig);
    sd_notify("STOPPING=1");
    stop();
    if (on_stop_) on_stop_();
  });
  asio::post(io_, [ready = std::move(ready_status)] { sd_notify("READY=1\nSTATUS=" + ready); });
}

void daemon_runtime::stop() {
  if (stopped_) return;
  stopped_ = true;
  control_.close();
  watchdog_.cancel();
  error_code ignored;
  signals_.cancel(ignored);
}

int print_status(const std::string& program, const std::string& what,
                 const std::vector<std::string>& paths) {
  asio::io_context io;
  int rc = 1;
  auto query = [&]() -> asio::awaitable<void> {
    std::string errors;
    for (const auto& p : paths) {
      auto [ec, text] = co_await async_query_control(p);
      if (!ec) {
        std::cout << text;
        rc = 0;
        co_return;
      }
      errors += program + ": no " + what + " answers on " + p + ": " + ec.message() + "\n";
    }
    std::cerr << errors;
  };
  asio::co_spawn(io, query(), asio::detached);
  io.run();
  return rc;
}

}  // namespace vsocklib
