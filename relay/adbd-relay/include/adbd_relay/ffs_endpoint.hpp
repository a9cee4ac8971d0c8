// A FunctionFS function's bulk endpoints, ep1 (OUT) and ep2 (IN), as a usb_endpoint.
// ep1/ep2 cannot be polled, so their transfers go through Linux AIO (aio_queue.hpp). The
// control endpoint ep0 is functionfs.hpp's.
#pragma once

#include <cstddef>
#include <string>

#include "adbd_relay/aio_queue.hpp"
#include "adbd_relay/usb_endpoint.hpp"

namespace adbd_relay {

/// ep1 and ep2 of the FunctionFS instance mounted on a directory. Not thread-safe: one
/// strand.
class ffs_endpoint final : public usb_endpoint {
 public:
  /// Opens DIR/ep1 and DIR/ep2 (after the function's ENABLE) with up to DEPTH transfers of
  /// at most TRANSFER_SIZE bytes queued per direction. Throws std::system_error naming the
  /// file; nothing stays open then.
  ffs_endpoint(asio::any_io_executor ex, const std::string& dir, std::size_t transfer_size,
               std::size_t depth);

  asio::awaitable<std::tuple<error_code, std::size_t>> async_read(
      asio::mutable_buffer buf) override;
  asio::awaitable<std::tuple<error_code, std::size_t>> async_write(asio::const_buffer buf) override;
  void cancel() override;
  write_progress progress() override { return in_.progress(); }
  std::size_t max_packet_size() const override { return max_packet_; }

 private:
  aio_queue out_;
  aio_queue in_;
  std::size_t max_packet_;
  bool seen_data_ = false;
};

}  // namespace adbd_relay
