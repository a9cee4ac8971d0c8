#include "adbd_relay/functionfs.hpp"

#include <endian.h>
#include <fcntl.h>
#include <unistd.h>

#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>

#include <cerrno>
#include <system_error>
#include <vector>

#include "adbd_relay/ffs_endpoint.hpp"
#include "adbd_relay/usb_descriptors.hpp"
#include "vsocklib/unique_fd.hpp"

namespace adbd_relay {
namespace {

std::system_error ffs_error(const std::string& what, int err) {
  return std::system_error(err, std::generic_category(), what);
}

}  // namespace

const char* to_string(ffs_event e) noexcept {
  switch (e) {
    case ffs_event::bind: return "BIND";
    case ffs_event::unbind: return "UNBIND";
    case ffs_event::enable: return "ENABLE";
    case ffs_event::disable: return "DISABLE";
    case ffs_event::setup: return "SETUP";
    case ffs_event::suspend: return "SUSPEND";
    case ffs_event::resume: return "RESUME";
    case ffs_event::unknown: break;
  }
  return "UNKNOWN";
}

struct ffs_function::impl {
  impl(asio::any_io_executor ex, std::string d) : ex(ex), dir(std::move(d)), ep0(ex) {}
  asio::any_io_executor ex;
  std::string dir;
  asio::posix::stream_descriptor ep0;
  std::unique_ptr<ffs_endpoint> endpoints;
};

ffs_function::ffs_function(asio::any_io_executor ex, const std::string& dir)
    : impl_(std::make_unique<impl>(ex, dir)) {
  const std::string ep0 = dir + "/ep0";
  vsocklib::unique_fd fd(::open(ep0.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    throw ffs_error("cannot open " + ep0 + " (is functionfs mounted there?)", err);
  }
  // Returns 0 or the errno of the failed write.
  auto write_blob = [&](const std::string& blob) {
    const ssize_t n = ::write(fd.get(), blob.data(), blob.size());
    if (n == static_cast<ssize_t>(blob.size())) return 0;
    return n < 0 ? errno : EIO;
  };
  ms_os_ = true;
  if (write_blob(adb_descriptors(true)) != 0) {
    // Kernels without MS OS descriptor support refuse the blob; Windows hosts then need
    // an .inf, everything else works the same.
    ms_os_ = false;
    if (int err = write_blob(adb_descriptors(false)); err != 0) {
      throw ffs_error("writing USB descriptors to " + ep0, err);
    }
  }
  if (int err = write_blob(adb_strings()); err != 0)
    throw ffs_error("writing USB strings to " + ep0, err);
  impl_->ep0.assign(fd.get());
  // The stream descriptor owns it from here (assign throws before taking it).
  static_cast<void>(fd.release());
}

ffs_function::~ffs_function() { close(); }

asio::awaitable<std::tuple<error_code, ffs_event>> ffs_function::async_next_event() {
  usb_functionfs_event ev{};
  auto [ec, n] =
      co_await asio::async_read(impl_->ep0, asio::buffer(&ev, sizeof ev), vsocklib::use_tuple);
  if (ec) co_return std::tuple{ec, ffs_event::unknown};
  ffs_event e = ffs_event::unknown;
  switch (ev.type) {
    case FUNCTIONFS_BIND: e = ffs_event::bind; break;
    case FUNCTIONFS_UNBIND: e = ffs_event::unbind; break;
    case FUNCTIONFS_ENABLE: e = ffs_event::enable; break;
    case FUNCTIONFS_DISABLE: e = ffs_event::disable; break;
    case FUNCTIONFS_SETUP: {
      e = ffs_event::setup;
      // We define no class or vendor requests: answer as adbd does, a zero-length status
      // for IN requests, and drain the data of OUT requests.
      const int fd = impl_->ep0.native_handle();
      if (ev.u.setup.bRequestType & USB_DIR_IN) {
        [[maybe_unused]] auto r = ::write(fd, nullptr, 0);
      } else {
        std::vector<char> sink(le16toh(ev.u.setup.wLength));
        [[maybe_unused]] auto r = ::read(fd, sink.data(), sink.size());
      }
      break;
    }
    case FUNCTIONFS_SUSPEND: e = ffs_event::suspend; break;
    case FUNCTIONFS_RESUME: e = ffs_event::resume; break;
  }
  co_return std::tuple{error_code{}, e};
}

usb_endpoint& ffs_function::open_endpoints(std::size_t transfer_size, std::size_t depth) {
  if (impl_->endpoints) return *impl_->endpoints;
  impl_->endpoints = std::make_unique<ffs_endpoint>(impl_->ex, impl_->dir, transfer_size, depth);
  return *impl_->endpoints;
}

void ffs_function::close_endpoints() {
  if (impl_) impl_->endpoints.reset();
}

void ffs_function::close() {
  if (!impl_) return;
  impl_->endpoints.reset();
  error_code ignored;
  impl_->ep0.close(ignored);
}

}  // namespace adbd_relay
