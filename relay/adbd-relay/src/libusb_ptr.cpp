#include "adbd_relay/libusb_ptr.hpp"

#include <libusb.h>

namespace adbd_relay {

void libusb_deleter::operator()(libusb_context* ctx) const noexcept { libusb_exit(ctx); }

// A handle made by libusb_wrap_sys_device leaves the device's file descriptor open: the
// caller owns that (usb_host_device keeps it in a unique_fd that outlives the handle).
void libusb_deleter::operator()(libusb_device_handle* handle) const noexcept {
  libusb_close(handle);
}

void libusb_deleter::operator()(libusb_transfer* transfer) const noexcept {
  libusb_free_transfer(transfer);
}

void libusb_deleter::operator()(libusb_config_descriptor* config) const noexcept {
  libusb_free_config_descriptor(config);
}

void libusb_deleter::operator()(const libusb_pollfd** fds) const noexcept {
  libusb_free_pollfds(fds);
}

}  // namespace adbd_relay
