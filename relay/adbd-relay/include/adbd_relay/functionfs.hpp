// The ADB function on a FunctionFS instance: its control endpoint ep0 (descriptors and
// strings written to it, its events read from it), and the lifetime of the bulk endpoints
// ep1 (OUT) and ep2 (IN), whose I/O is ffs_endpoint.hpp's.
//
// FunctionFS facts that shape this (docs/adbd-relay.md has the sources):
//  - descriptors and strings (usb_descriptors.hpp) must be written to ep0 before the gadget
//    can bind to a UDC;
//  - ep0 can be polled (Asio waits for its events); ep1/ep2 cannot, so their transfers go
//    through Linux AIO, completing into an eventfd that Asio waits on (ffs_endpoint);
//  - closing every FunctionFS file unbinds the gadget: the PC sees the device leave.
#pragma once

#include <memory>
#include <string>

#include "adbd_relay/usb_endpoint.hpp"

namespace adbd_relay {

/// ep0 events (linux/usb/functionfs.h).
enum class ffs_event { bind, unbind, enable, disable, setup, suspend, resume, unknown };
const char* to_string(ffs_event e) noexcept;

/// An opened FunctionFS instance (the directory it is mounted on). Not thread-safe: one
/// strand.
class ffs_function {
 public:
  /// Opens DIR/ep0 and writes the descriptors (falling back to no MS OS descriptors on
  /// kernels that refuse them) and strings. Throws std::system_error naming the file.
  ffs_function(asio::any_io_executor ex, const std::string& dir);
  ~ffs_function();
  ffs_function(const ffs_function&) = delete;
  ffs_function& operator=(const ffs_function&) = delete;

  /// The next ep0 event. SETUP requests are answered (stalled) here, as adbd does; they
  /// are still reported.
  asio::awaitable<std::tuple<error_code, ffs_event>> async_next_event();

  /// Opens ep1/ep2 (after ENABLE) with up to DEPTH transfers of at most TRANSFER_SIZE
  /// bytes queued per direction (memory: 2 x DEPTH x TRANSFER_SIZE). The endpoint is valid
  /// until close(). Throws std::system_error naming the file.
  usb_endpoint& open_endpoints(std::size_t transfer_size, std::size_t depth);

  /// Closes ep1/ep2 only (their transfers end; the endpoint reference dies): ep0 stays
  /// open, so the function stays bound and the next ENABLE can open them again.
  void close_endpoints();

  /// Closes the endpoints and ep0. With every file closed the gadget unbinds from its UDC.
  void close();

  bool ms_os_descriptors() const noexcept { return ms_os_; }

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  bool ms_os_ = false;
};

}  // namespace adbd_relay
