// Owners for libusb's handles: std::unique_ptr with a deleter that calls the matching libusb
// free function, so every path (an early return in usb_host::open, an exception in a
// constructor) frees what it got. Declared without <libusb.h>: only usb_host.cpp and
// libusb_ptr.cpp see libusb's header, the rest of the relay (and its tests) do not.
#pragma once

#include <memory>

struct libusb_context;
struct libusb_device_handle;
struct libusb_transfer;
struct libusb_config_descriptor;
struct libusb_pollfd;

namespace adbd_relay {

/// Frees each libusb object with the call libusb pairs with how it was obtained.
struct libusb_deleter {
  void operator()(libusb_context* ctx) const noexcept;
  void operator()(libusb_device_handle* handle) const noexcept;
  void operator()(libusb_transfer* transfer) const noexcept;
  void operator()(libusb_config_descriptor* config) const noexcept;
  void operator()(const libusb_pollfd** fds) const noexcept;
};

/// libusb_ptr<libusb_context>, libusb_ptr<libusb_device_handle>, ...;
/// libusb_ptr<const libusb_pollfd*> holds libusb_get_pollfds' array.
template <typename T>
using libusb_ptr = std::unique_ptr<T, libusb_deleter>;

}  // namespace adbd_relay
