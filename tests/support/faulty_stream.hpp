// A stream wrapper that fails on cue (the Beast fail_count idea): it forwards to a real
// stream but fails the N-th read or write with a chosen error, caps write sizes to force
// short writes, and counts bytes so tests can check backpressure.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "vsocklib/asio.hpp"

namespace vsocklib::test {

/// Shared by the wrappers around both ends of a pump, to see how far reads ran ahead of
/// writes.
struct flow_meter {
  std::uint64_t read_from_source = 0;
  std::uint64_t written_to_sink = 0;
  std::uint64_t max_ahead = 0;
};

template <typename Inner>
class faulty_stream {
 public:
  using executor_type = typename Inner::executor_type;

  explicit faulty_stream(Inner& inner) : inner_(inner) {}

  executor_type get_executor() { return inner_.get_executor(); }

  std::uint64_t fail_read_at = 0;   ///< 1-based index of the read that fails; 0 never
  std::uint64_t fail_write_at = 0;  ///< 1-based index of the write that fails; 0 never
  error_code fail_with = asio::error::connection_reset;
  std::size_t max_write = 0;  ///< > 0: each write moves at most this many bytes
  flow_meter* meter_as_source = nullptr;
  flow_meter* meter_as_sink = nullptr;
  std::size_t largest_read = 0;   ///< largest buffer a caller offered to a read
  std::size_t largest_write = 0;  ///< largest buffer a caller offered to a write

  template <typename Buffers, typename Token>
  auto async_read_some(const Buffers& b, Token&& token) {
    ++reads_;
    return asio::async_initiate<Token, void(error_code, std::size_t)>(
        [this](auto handler, const Buffers& b) {
          largest_read = std::max(largest_read, asio::buffer_size(b));
          if (reads_ == fail_read_at) {
            return post_error(std::move(handler));
          }
          inner_.async_read_some(
              b, [this, h = std::move(handler)](error_code ec, std::size_t n) mutable {
                if (meter_as_source) {
                  auto& m = *meter_as_source;
                  m.read_from_source += n;
                  m.max_ahead = std::max(m.max_ahead, m.read_from_source - m.written_to_sink);
                }
                std::move(h)(ec, n);
              });
        },
        token, b);
  }

  template <typename Buffers, typename Token>
  auto async_write_some(const Buffers& b, Token&& token) {
    ++writes_;
    return asio::async_initiate<Token, void(error_code, std::size_t)>(
        [this](auto handler, const Buffers& b) {
          largest_write = std::max(largest_write, asio::buffer_size(b));
          if (writes_ == fail_write_at) {
            return post_error(std::move(handler));
          }
          std::array<asio::const_buffer, 2> pieces{};
          std::copy_n(asio::buffer_sequence_begin(b),
                      std::min<std::size_t>(2, std::distance(asio::buffer_sequence_begin(b),
                                                             asio::buffer_sequence_end(b))),
                      pieces.begin());
          if (max_write > 0) {
            pieces[0] = asio::buffer(pieces[0], max_write);
            pieces[1] = asio::buffer(pieces[1], max_write - pieces[0].size());
          }
          inner_.async_write_some(
              pieces, [this, h = std::move(handler)](error_code ec, std::size_t n) mutable {
                if (meter_as_sink) meter_as_sink->written_to_sink += n;
                std::move(h)(ec, n);
              });
        },
        token, b);
  }

  void shutdown(asio::socket_base::shutdown_type what, error_code& ec) {
    inner_.shutdown(what, ec);
  }
  void cancel(error_code& ec) { inner_.cancel(ec); }

 private:
  template <typename Handler>
  void post_error(Handler handler) {
    asio::post(inner_.get_executor(), [h = std::move(handler), ec = fail_with]() mutable {
      std::move(h)(ec, std::size_t{0});
    });
  }

  Inner& inner_;
  std::uint64_t reads_ = 0;
  std::uint64_t writes_ = 0;
};

}  // namespace vsocklib::test
