// A stand-in for the Firecracker / Cloud Hypervisor hybrid vsock multiplexer: a Unix socket
// that reads "CONNECT <port>\n" and answers as told. After "OK" it echoes, as a guest
// service on that port would.
#pragma once

#include <string>

#include "peers.hpp"
#include "vsocklib/listener.hpp"

namespace vsocklib::test {

struct hvsock_behaviour {
  enum {
    answer_ok,
    close_silently,
    answer_garbage,
    answer_too_long,
    never_answer
  } mode = answer_ok;
  std::uint32_t host_port = 1073741824;  ///< what "OK" reports (Firecracker: a host-side port)
  std::string greeting;                  ///< sent in the same write as the OK line
  std::string request_seen;              ///< filled in: the request line received
  /// How long to wait before answering; then bytes_early counts what the client sent after
  /// its request line without waiting for the answer (vhost-device-vsock drops them).
  std::chrono::milliseconds answer_delay{0};
  std::size_t bytes_early = 0;
};

inline asio::awaitable<void> hvsock_mux_session(stream_socket s, hvsock_behaviour& b) {
  std::string line;
  for (char c = 0; c != '\n';) {
    auto [ec, n] = co_await asio::async_read(s, asio::buffer(&c, 1), use_tuple);
    if (ec) co_return;
    if (c != '\n') line.push_back(c);
  }
  b.request_seen = line;
  if (b.answer_delay.count() > 0) {
    asio::steady_timer t(co_await asio::this_coro::executor, b.answer_delay);
    co_await t.async_wait(use_tuple);
    error_code ignored;
    b.bytes_early = s.available(ignored);
  }
  std::string answer;
  switch (b.mode) {
    case hvsock_behaviour::answer_ok:
      answer = "OK " + std::to_string(b.host_port) + "\n" + b.greeting;
      break;
    case hvsock_behaviour::close_silently: co_return;
    case hvsock_behaviour::answer_garbage: answer = "ERR no such port\n"; break;
    case hvsock_behaviour::answer_too_long: answer = std::string(200, 'O'); break;
    case hvsock_behaviour::never_answer: {
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::seconds(30));
      co_await t.async_wait(use_tuple);
      co_return;
    }
  }
  co_await asio::async_write(s, asio::buffer(answer), use_tuple);
  if (b.mode == hvsock_behaviour::answer_ok) co_await echo_session(std::move(s));
}

/// Serves COUNT connections on L (a unix listener at the multiplexer's path).
inline asio::awaitable<void> hvsock_mux(listener& l, hvsock_behaviour& b, int count = 1) {
  for (int i = 0; i < count; ++i) {
    auto [ec, s, peer] = co_await l.async_accept();
    if (ec) co_return;
    asio::co_spawn(co_await asio::this_coro::executor, hvsock_mux_session(std::move(s), b),
                   asio::detached);
  }
}

}  // namespace vsocklib::test
