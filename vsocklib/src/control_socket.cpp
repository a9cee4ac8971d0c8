#include "vsocklib/control_socket.hpp"

#include <unistd.h>

#include <array>
#include <filesystem>

#include "vsocklib/connect.hpp"

namespace vsocklib {
namespace {

address control_address(const std::string& path) { return parse_address("unix:" + path); }

peer_policy owner_only() {
  peer_policy p;
  p.allowed_uids = {0, ::geteuid()};
  return p;
}

listener make_listener(asio::any_io_executor ex, const std::string& path,
                       std::shared_ptr<spdlog::logger> log) {
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir);
  return listener(std::move(ex), control_address(path), owner_only(), std::move(log));
}

asio::awaitable<void> answer(stream_socket s, std::string text) {
  co_await asio::async_write(s, asio::buffer(text), use_tuple);
}

}  // namespace

control_socket::control_socket(asio::any_io_executor ex, const std::string& path,
                               std::shared_ptr<spdlog::logger> log)
    : listener_(make_listener(std::move(ex), path, std::move(log))) {}

asio::awaitable<void> control_socket::serve(std::function<std::string()> document) {
  auto ex = co_await asio::this_coro::executor;
  for (;;) {
    auto [ec, s, peer] = co_await listener_.async_accept();
    if (ec) co_return;
    asio::co_spawn(ex, answer(std::move(s), document()), asio::detached);
  }
}

asio::awaitable<std::tuple<error_code, std::string>> async_query_control(
    const std::string& path, std::chrono::milliseconds timeout) {
  auto [ec, s] = co_await async_connect(control_address(path), timeout);
  std::string text;
  if (ec) co_return std::tuple{ec, text};
  std::array<char, 4096> buf;
  for (;;) {
    auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), use_tuple);
    text.append(buf.data(), n);
    if (rec == asio::error::eof) break;
    if (rec) co_return std::tuple{rec, text};
  }
  co_return std::tuple{error_code{}, text};
}

}  // namespace vsocklib
