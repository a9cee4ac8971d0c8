// Test peers: an echo session, a writer-and-collector, and random payloads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "vsocklib/asio.hpp"

namespace vsocklib::test {

inline std::vector<std::byte> random_bytes(std::size_t n, std::uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

/// Echoes everything back; on end of stream passes it on with shutdown(send).
template <typename Stream>
asio::awaitable<void> echo_session(Stream s) {
  std::array<std::byte, 8192> buf;
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), use_tuple);
    if (ec) break;
    auto [wec, w] = co_await asio::async_write(s, asio::buffer(buf.data(), n), use_tuple);
    if (wec) co_return;
  }
  error_code ignored;
  s.shutdown(asio::socket_base::shutdown_send, ignored);
}

template <typename Stream>
asio::awaitable<void> write_all_then_shutdown(Stream& s, const std::vector<std::byte>& data,
                                              std::size_t piece, error_code& result) {
  for (std::size_t off = 0; off < data.size(); off += piece) {
    auto n = std::min(piece, data.size() - off);
    auto [ec, w] = co_await asio::async_write(s, asio::buffer(data.data() + off, n), use_tuple);
    if (ec) {
      result = ec;
      co_return;
    }
  }
  s.shutdown(asio::socket_base::shutdown_send, result);
}

template <typename Stream>
asio::awaitable<void> read_until_eof(Stream& s, std::vector<std::byte>& out, error_code& result) {
  std::array<std::byte, 8192> buf;
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), use_tuple);
    out.insert(out.end(), buf.begin(), buf.begin() + n);
    if (ec == asio::error::eof) co_return;
    if (ec) {
      result = ec;
      co_return;
    }
  }
}

/// Sends DATA (then end of stream) while collecting everything the peer sends until its end
/// of stream. Both at once, so a peer that echoes cannot deadlock on full buffers.
template <typename Stream>
asio::awaitable<std::vector<std::byte>> exchange(Stream& s, const std::vector<std::byte>& data,
                                                 error_code& write_ec, error_code& read_ec,
                                                 std::size_t piece = 65536) {
  using namespace asio::experimental::awaitable_operators;
  std::vector<std::byte> received;
  co_await (write_all_then_shutdown(s, data, piece, write_ec) &&
            read_until_eof(s, received, read_ec));
  co_return received;
}

}  // namespace vsocklib::test
