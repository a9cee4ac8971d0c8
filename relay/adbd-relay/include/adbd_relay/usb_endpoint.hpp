// The USB side of a relay session, as bulk transfers: what FunctionFS gives a gadget (ep1
// OUT, ep2 IN) and what a test fake gives over a SOCK_SEQPACKET socketpair.
#pragma once

#include <cstddef>
#include <cstdint>
#include <tuple>

#include "vsocklib/asio.hpp"

namespace adbd_relay {

namespace asio = vsocklib::asio;
using vsocklib::error_code;

/// Bulk IN as the peer takes it: how far behind the writer the reader is.
struct write_progress {
  std::uint64_t queued = 0;  ///< bytes handed to async_write so far
  std::uint64_t taken = 0;   ///< of those, bytes the peer has read, as far as known yet
};

/// One function's bulk OUT (PC to device) and bulk IN (device to PC) endpoints.
/// Used from one strand. Transfers do not react to Asio's per-operation cancellation (the
/// FunctionFS ones are Linux AIO requests, aio_queue.hpp); cancel() is how they are stopped.
class usb_endpoint {
 public:
  virtual ~usb_endpoint() = default;

  /// One transfer from the PC into BUF (bulk OUT). 0 bytes is a zero-length packet, which
  /// the PC sends after a payload that is a multiple of wMaxPacketSize; it is not EOF.
  virtual asio::awaitable<std::tuple<error_code, std::size_t>> async_read(
      asio::mutable_buffer buf) = 0;

  /// One transfer of exactly BUF to the PC (bulk IN).
  virtual asio::awaitable<std::tuple<error_code, std::size_t>> async_write(
      asio::const_buffer buf) = 0;

  /// Ends pending transfers with operation_aborted, and every later one at once: a session
  /// that ends cancels its endpoint, and the next session gets a new one.
  virtual void cancel() = 0;

  /// Bulk IN so far. Writes return once queued, so this is how a session tells a PC that
  /// stopped reading (its adb died mid-transfer) from a slow one. An endpoint that does not
  /// track it reports nothing queued.
  virtual write_progress progress() { return {}; }

  /// wMaxPacketSize of the endpoints at the current speed (64, 512 or 1024).
  virtual std::size_t max_packet_size() const = 0;
};

}  // namespace adbd_relay
