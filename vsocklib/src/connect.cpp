#include "vsocklib/connect.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <string_view>
#include <variant>

#include "endpoints.hpp"
#include "vsocklib/backoff.hpp"
#include "vsocklib/error.hpp"

namespace vsocklib {
namespace {

using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;

// "OK 1073741824\n" is the longest valid answer; anything much longer is not an answer.
constexpr std::size_t kMaxHandshakeLine = 64;

// A fresh socket for PROTOCOL in S (each connect attempt starts from one).
template <typename Socket, typename Protocol>
error_code reopen(Socket& s, const Protocol& protocol) {
  error_code ec;
  if (s.is_open()) s.close(ec);
  s.open(protocol, ec);
  return ec;
}

template <typename Socket, typename Endpoint>
asio::awaitable<error_code> open_and_connect(Socket& s, const Endpoint& ep) {
  if (auto ec = reopen(s, ep.protocol())) co_return ec;
  auto [cec] = co_await s.async_connect(ep, use_tuple);
  co_return cec;
}

// A Unix listener whose accept queue is full makes a non-blocking connect() fail with EAGAIN.
// Asio takes that for "in progress", finds the socket writable at once and reports success
// on a socket that never connected (its first read fails with EINVAL). So Unix connects are
// made here: on EAGAIN wait a little and try again, as a blocking connect waits for room in
// the queue, until the caller's deadline cancels us. QUEUE_FULL says that is what we were
// doing when the deadline came. A Unix connect never completes in the background.
asio::awaitable<error_code> connect_unix(stream_socket& s, const std::string& path,
                                         bool& queue_full) {
  const asio::generic::stream_protocol::endpoint ep(detail::unix_endpoint(path));
  error_code ec = reopen(s, ep.protocol());
  if (!ec) s.non_blocking(true, ec);
  if (ec) co_return ec;
  asio::steady_timer pause(co_await asio::this_coro::executor);
  backoff delays({.initial = 1ms, .max = 50ms, .multiplier = 2.0, .jitter = 0.0}, 0);
  while (::connect(s.native_handle(), ep.data(), static_cast<socklen_t>(ep.size())) != 0) {
    const int err = errno;
    if (err != EAGAIN) co_return error_code(err, asio::error::get_system_category());
    queue_full = true;
    pause.expires_after(delays.next());
    auto [wec] = co_await pause.async_wait(use_tuple);
    if (wec) co_return wec;
  }
  queue_full = false;
  s.non_blocking(false, ec);  // leave it as Asio's own connect would
  co_return ec;
}

asio::awaitable<error_code> connect_tcp(stream_socket& s, const address& to) {
  asio::ip::tcp::resolver resolver(co_await asio::this_coro::executor);
  auto [ec, results] = co_await resolver.async_resolve(to.host, std::to_string(to.port), use_tuple);
  if (ec) co_return ec;
  error_code last = asio::error::host_not_found;
  for (const auto& entry : results) {
    last = co_await open_and_connect(s, asio::generic::stream_protocol::endpoint(entry.endpoint()));
    if (!last) co_return last;
  }
  co_return last;
}

asio::awaitable<error_code> connect_stream(stream_socket& s, const address& to, bool& queue_full) {
  switch (to.kind) {
    case transport::vsock:
      co_return co_await open_and_connect(s, detail::vsock_stream_endpoint(to));
    case transport::unix_socket: co_return co_await connect_unix(s, to.path, queue_full);
    case transport::hvsock: {
      if (auto ec = co_await connect_unix(s, to.path, queue_full)) co_return ec;
      std::uint32_t host_port = 0;
      co_return co_await async_hvsock_handshake(s, to.port, host_port);
    }
    case transport::tcp: co_return co_await connect_tcp(s, to);
    case transport::vsock_seqpacket: break;
  }
  co_return make_error_code(errc::wrong_transport);
}

// Runs CONNECT_OP against a deadline. On timeout the socket is closed so nothing half-done
// leaks to the caller.
template <typename Socket>
asio::awaitable<error_code> with_deadline(asio::awaitable<error_code> connect_op, Socket& s,
                                          std::chrono::milliseconds timeout) {
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  std::variant<error_code, std::tuple<error_code>> result;
  try {
    result = co_await (std::move(connect_op) || timer.async_wait(use_tuple));
  } catch (const boost::system::system_error& e) {
    // A cancelled attempt throws at its next co_await; hand the code back as a value.
    error_code ignored;
    s.close(ignored);
    co_return e.code();
  }
  if (result.index() == 1) {
    error_code ignored;
    s.close(ignored);
    co_return make_error_code(errc::connect_timeout);
  }
  auto ec = std::get<0>(result);
  if (ec) {
    error_code ignored;
    s.close(ignored);
  }
  co_return ec;
}

}  // namespace

asio::awaitable<error_code> async_hvsock_handshake(stream_socket& s, std::uint32_t port,
                                                   std::uint32_t& host_port) {
  const std::string request = "CONNECT " + std::to_string(port) + "\n";
  auto [wec, written] = co_await asio::async_write(s, asio::buffer(request), use_tuple);
  if (wec) co_return wec;

  // One byte at a time: whatever follows the newline already belongs to the guest's stream.
  std::string line;
  for (;;) {
    char c = 0;
    auto [rec, n] = co_await asio::async_read(s, asio::buffer(&c, 1), use_tuple);
    if (rec == asio::error::eof) co_return make_error_code(errc::hvsock_no_answer);
    if (rec) co_return rec;
    if (c == '\n') break;
    if (line.size() >= kMaxHandshakeLine) co_return make_error_code(errc::hvsock_reply_too_long);
    line.push_back(c);
  }
  co_return parse_hvsock_reply(line, host_port);
}

error_code parse_hvsock_reply(std::string_view line, std::uint32_t& host_port) {
  // Lenient: "OK" then blanks then a decimal number; a trailing '\r' or text is tolerated.
  if (line.substr(0, 2) != "OK") return make_error_code(errc::hvsock_refused);
  line.remove_prefix(2);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  std::uint32_t n = 0;
  auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), n);
  host_port = ec == std::errc() ? n : 0;
  return {};
}

asio::awaitable<std::tuple<error_code, stream_socket>> async_connect(
    const address& to, std::chrono::milliseconds timeout) {
  stream_socket s(co_await asio::this_coro::executor);
  if (!to.is_stream()) co_return std::tuple{make_error_code(errc::wrong_transport), std::move(s)};
  bool queue_full = false;
  auto ec = co_await with_deadline(connect_stream(s, to, queue_full), s, timeout);
  if (ec == errc::connect_timeout && queue_full) ec = errc::listener_queue_full;
  co_return std::tuple{ec, std::move(s)};
}

asio::awaitable<std::tuple<error_code, seqpacket_socket>> async_connect_seqpacket(
    const address& to, std::chrono::milliseconds timeout) {
  seqpacket_socket s(co_await asio::this_coro::executor);
  if (to.kind != transport::vsock_seqpacket) {
    co_return std::tuple{make_error_code(errc::wrong_transport), std::move(s)};
  }
  auto ec =
      co_await with_deadline(open_and_connect(s, detail::vsock_seqpacket_endpoint(to)), s, timeout);
  co_return std::tuple{ec, std::move(s)};
}

}  // namespace vsocklib
