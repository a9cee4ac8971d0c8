#include "vsocklib/control_socket.hpp"

#include <unistd.h>

#include <array>
#include <exception>
#include <filesystem>

#include "vsocklib/connect.hpp"
#include "vsocklib/task_group.hpp"

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

// How long an answer may wait for its reader. serve() joins its answers, so without a
// bound a peer that connects and never reads would hold the daemon's exit forever (closing
// the listener does not end a write under way). A document is a few KiB and usually fits
// the socket's buffer at once; a reader on this machine (`<program> status`) takes it within
// milliseconds, so 2 s only ever cuts a peer that is not reading, and delays a stop (which
// systemd allows 90 s by default) by at most that.
constexpr std::chrono::seconds kAnswerTimeout{2};

asio::awaitable<void> answer(stream_socket s, std::string text) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer deadline(s.get_executor(), kAnswerTimeout);
  co_await (asio::async_write(s, asio::buffer(text), use_tuple) || deadline.async_wait(use_tuple));
}

}  // namespace

control_socket::control_socket(asio::any_io_executor ex, const std::string& path,
                               std::shared_ptr<spdlog::logger> log)
    : listener_(make_listener(std::move(ex), path, std::move(log))) {}

asio::awaitable<void> control_socket::serve(std::function<std::string()> document) {
  // Closed or cancelled, serve still waits for its answers (nothing may outlive the group),
  // so no co_await here may throw on cancellation; the caller's setting comes back at the end.
  const bool throws = co_await asio::this_coro::throw_if_cancelled();
  co_await asio::this_coro::throw_if_cancelled(false);
  task_group answers(co_await asio::this_coro::executor);
  std::exception_ptr failure;
  for (;;) {
    auto [ec, s, peer] = co_await listener_.async_accept();
    if (ec) break;
    try {
      answers.spawn(answer(std::move(s), document()));
    } catch (...) {
      failure = std::current_exception();  // DOCUMENT() threw: a bug, after the join
      break;
    }
  }
  co_await answers.join();
  co_await asio::this_coro::throw_if_cancelled(throws);
  if (failure) std::rethrow_exception(failure);
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
