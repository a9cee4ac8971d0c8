// A status query socket: a Unix socket that answers every connection with one document
// (the program's status JSON) and closes. `<program> status` reads it with
// async_query_control.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>

#include "vsocklib/asio.hpp"
#include "vsocklib/listener.hpp"

namespace spdlog {
class logger;
}

namespace vsocklib {

/// Thread safety: use from one strand.
class control_socket {
 public:
  /// Creates PATH's directory if needed and listens on unix:PATH; only root and this
  /// process's user may connect. Throws std::system_error (a start-up error) when it cannot.
  control_socket(asio::any_io_executor ex, const std::string& path,
                 std::shared_ptr<spdlog::logger> log);

  /// Answers each connection with DOCUMENT() (called per connection, on this strand) until
  /// cancelled or closed; returns once the answers under way have ended too (each within a
  /// few seconds: a peer that does not read is dropped).
  asio::awaitable<void> serve(std::function<std::string()> document);

  /// Stops serving; removes the socket file.
  void close() { listener_.close(); }

 private:
  listener listener_;
};

/// Connects to the control socket at PATH and reads its whole answer.
asio::awaitable<std::tuple<error_code, std::string>> async_query_control(
    const std::string& path, std::chrono::milliseconds timeout = std::chrono::seconds(2));

}  // namespace vsocklib
