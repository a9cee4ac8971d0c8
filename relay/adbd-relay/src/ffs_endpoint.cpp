#include "adbd_relay/ffs_endpoint.hpp"

#include <endian.h>
#include <fcntl.h>
#include <sys/ioctl.h>

#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>

#include <cerrno>
#include <system_error>

#include "adbd_relay/usb_descriptors.hpp"
#include "vsocklib/unique_fd.hpp"

namespace adbd_relay {
namespace {

// O_NONBLOCK: a transfer submitted while the function is disabled fails instead of putting
// the relay's only thread to sleep until the PC comes back (aio_queue).
vsocklib::unique_fd open_endpoint_file(const std::string& path, int mode) {
  vsocklib::unique_fd fd(::open(path.c_str(), mode | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    throw std::system_error(err, std::generic_category(), "cannot open " + path);
  }
  return fd;
}

// The wMaxPacketSize of the speed the host enumerated at: the live one.
std::size_t live_max_packet(int fd) {
  usb_endpoint_descriptor desc{};
  if (::ioctl(fd, FUNCTIONFS_ENDPOINT_DESC, &desc) == 0 && desc.wMaxPacketSize != 0) {
    return le16toh(desc.wMaxPacketSize);
  }
  return kHighSpeedBulkPacket;
}

}  // namespace

// Each file is owned from its open() on (by a unique_fd, then by its queue), so a failure
// opening ep2 or building its queue closes ep1 again: the function must not keep an
// endpoint file open that nobody will close, or it cannot unbind.
ffs_endpoint::ffs_endpoint(asio::any_io_executor ex, const std::string& dir,
                           std::size_t transfer_size, std::size_t depth)
    : out_(ex, open_endpoint_file(dir + "/ep1", O_RDONLY), false, transfer_size, depth),
      in_(ex, open_endpoint_file(dir + "/ep2", O_WRONLY), true, transfer_size, depth),
      max_packet_(live_max_packet(out_.native_handle())) {}

asio::awaitable<std::tuple<error_code, std::size_t>> ffs_endpoint::async_read(
    asio::mutable_buffer buf) {
  for (;;) {
    auto [ec, n] = co_await out_.async_read(buf);
    // The PC's adb clears a halt on both endpoints when it opens the device (after its
    // server restarted): FunctionFS reports that as EPIPE. Before any data it is a
    // resynchronisation, not an error; adbd resubmits too.
    if (ec == asio::error::broken_pipe && !seen_data_) continue;
    if (!ec) seen_data_ = true;
    co_return std::tuple{ec, n};
  }
}

asio::awaitable<std::tuple<error_code, std::size_t>> ffs_endpoint::async_write(
    asio::const_buffer buf) {
  co_return co_await in_.async_write(buf);
}

void ffs_endpoint::cancel() {
  out_.cancel();
  in_.cancel();
}

}  // namespace adbd_relay
