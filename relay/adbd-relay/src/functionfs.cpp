#include "functionfs.hpp"

#include "aio_queue.hpp"

#include <endian.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>

#include <cstdio>
#include <cstring>
#include <vector>
#include <system_error>

namespace adbd_relay {
namespace {

using namespace std::chrono_literals;

// ---------------------------------------------------------------- descriptors

// Packet sizes per speed, as adbd uses them; IN and OUT must match (the adb host checks).
constexpr std::uint16_t kFullSpeedPacket = 64;
constexpr std::uint16_t kHighSpeedPacket = 512;
constexpr std::uint16_t kSuperSpeedPacket = 1024;
// Bursts of 4 packets per SuperSpeed service interval, adbd's value.
constexpr std::uint8_t kSuperSpeedBurst = 4;

constexpr char kInterfaceName[] = "ADB Interface";
// The interface GUID of Google's WinUSB-based adb driver, so Windows binds it without an
// .inf file.
constexpr char kWindowsInterfaceGuid[] = "{F72FE0D4-CBCB-407D-8814-9ED673D0DD6B}";
constexpr char kWindowsPropertyName[] = "DeviceInterfaceGUID";

void append(std::string& out, const void* p, std::size_t n) {
  out.append(static_cast<const char*>(p), n);
}
template <typename T>
void append(std::string& out, const T& v) {
  append(out, &v, sizeof v);
}
void append_le32(std::string& out, std::uint32_t v) { append(out, htole32(v)); }
void append_le16(std::string& out, std::uint16_t v) { append(out, htole16(v)); }

void append_interface(std::string& out) {
  usb_interface_descriptor d{};
  d.bLength = USB_DT_INTERFACE_SIZE;
  d.bDescriptorType = USB_DT_INTERFACE;
  d.bNumEndpoints = 2;
  d.bInterfaceClass = USB_CLASS_VENDOR_SPEC;  // 0xff, with 0x42/0x01: what adb looks for
  d.bInterfaceSubClass = 0x42;
  d.bInterfaceProtocol = 0x01;
  d.iInterface = 1;
  append(out, d);
}

void append_endpoint(std::string& out, std::uint8_t address, std::uint16_t max_packet) {
  usb_endpoint_descriptor_no_audio d{};
  d.bLength = USB_DT_ENDPOINT_SIZE;
  d.bDescriptorType = USB_DT_ENDPOINT;
  d.bEndpointAddress = address;
  d.bmAttributes = USB_ENDPOINT_XFER_BULK;
  d.wMaxPacketSize = htole16(max_packet);
  append(out, d);
}

void append_ss_companion(std::string& out) {
  usb_ss_ep_comp_descriptor d{};
  d.bLength = sizeof d;
  d.bDescriptorType = USB_DT_SS_ENDPOINT_COMP;
  d.bMaxBurst = kSuperSpeedBurst - 1;  // the field counts bursts after the first
  append(out, d);
}

void append_ms_os(std::string& out) {
  // Extended compat ID: "WINUSB" for interface 0.
  usb_os_desc_header compat{};
  compat.interface = 1;  // adbd's value; the kernel only counts it as "first interface"
  compat.dwLength = htole32(sizeof(usb_os_desc_header) + sizeof(usb_ext_compat_desc));
  compat.bcdVersion = htole16(1);
  compat.wIndex = htole16(4);
  compat.bCount = 1;
  append(out, compat);
  usb_ext_compat_desc id{};
  id.bFirstInterfaceNumber = 0;
  id.Reserved1 = 1;  // must be 1 per Microsoft's extended compat ID spec
  std::memcpy(id.CompatibleID, "WINUSB", 6);
  append(out, id);

  // Extended property: DeviceInterfaceGUID (a Unicode string; FunctionFS widens it).
  const std::uint32_t name_len = sizeof kWindowsPropertyName;
  const std::uint32_t data_len = sizeof kWindowsInterfaceGuid;
  const std::uint32_t prop_size = 14 + name_len + data_len;
  usb_os_desc_header prop{};
  prop.interface = 0;
  prop.dwLength = htole32(sizeof(usb_os_desc_header) + prop_size);
  prop.bcdVersion = htole16(1);
  prop.wIndex = htole16(5);
  prop.wCount = htole16(1);
  append(out, prop);
  append_le32(out, prop_size);
  append_le32(out, 1);  // REG_SZ
  append_le16(out, static_cast<std::uint16_t>(name_len));
  append(out, kWindowsPropertyName, name_len);
  append_le32(out, data_len);
  append(out, kWindowsInterfaceGuid, data_len);
}

std::system_error ffs_error(const std::string& what, int err) {
  return std::system_error(err, std::generic_category(), what);
}

// O_NONBLOCK: a transfer submitted while the function is disabled fails instead of putting
// the relay's only thread to sleep until the PC comes back (aio_queue).
int open_endpoint_file(const std::string& path, int mode) {
  const int fd = ::open(path.c_str(), mode | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw ffs_error("cannot open " + path, errno);
  return fd;
}

// The wMaxPacketSize of the speed the host enumerated at: the live one.
std::size_t live_max_packet(int fd) {
  usb_endpoint_descriptor desc{};
  if (::ioctl(fd, FUNCTIONFS_ENDPOINT_DESC, &desc) == 0 && desc.wMaxPacketSize != 0) {
    return le16toh(desc.wMaxPacketSize);
  }
  return kHighSpeedPacket;
}

class ffs_endpoint final : public usb_endpoint {
 public:
  // Each file is opened as its queue is built, so a failure leaves nothing open.
  ffs_endpoint(asio::any_io_executor ex, const std::string& dir, std::size_t transfer_size,
               std::size_t depth)
      : out_(ex, open_endpoint_file(dir + "/ep1", O_RDONLY), false, transfer_size, depth),
        in_(ex, open_endpoint_file(dir + "/ep2", O_WRONLY), true, transfer_size, depth),
        max_packet_(live_max_packet(out_.native_handle())) {}

  asio::awaitable<std::tuple<error_code, std::size_t>> async_read(asio::mutable_buffer buf) override {
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

  asio::awaitable<std::tuple<error_code, std::size_t>> async_write(asio::const_buffer buf) override {
    co_return co_await in_.async_write(buf);
  }

  void cancel() override {
    out_.cancel();
    in_.cancel();
  }

  std::size_t max_packet_size() const override { return max_packet_; }

 private:
  aio_queue out_;
  aio_queue in_;
  std::size_t max_packet_;
  bool seen_data_ = false;
};

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

std::string adb_descriptors(bool ms_os) {
  std::string body;
  append_le32(body, 3);  // fs_count: interface + 2 endpoints
  append_le32(body, 3);  // hs_count
  append_le32(body, 5);  // ss_count: + a companion per endpoint
  if (ms_os) append_le32(body, 2);  // os_count: compat ID + property
  for (auto packet : {kFullSpeedPacket, kHighSpeedPacket}) {
    append_interface(body);
    append_endpoint(body, 1 | USB_DIR_OUT, packet);
    append_endpoint(body, 2 | USB_DIR_IN, packet);
  }
  append_interface(body);
  append_endpoint(body, 1 | USB_DIR_OUT, kSuperSpeedPacket);
  append_ss_companion(body);
  append_endpoint(body, 2 | USB_DIR_IN, kSuperSpeedPacket);
  append_ss_companion(body);
  if (ms_os) append_ms_os(body);

  std::string out;
  append_le32(out, FUNCTIONFS_DESCRIPTORS_MAGIC_V2);
  append_le32(out, static_cast<std::uint32_t>(12 + body.size()));
  append_le32(out, FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC | FUNCTIONFS_HAS_SS_DESC |
                       (ms_os ? FUNCTIONFS_HAS_MS_OS_DESC : 0));
  return out + body;
}

std::string adb_strings() {
  std::string body;
  append_le16(body, 0x0409);  // en-US
  append(body, kInterfaceName, sizeof kInterfaceName);
  std::string out;
  append_le32(out, FUNCTIONFS_STRINGS_MAGIC);
  append_le32(out, static_cast<std::uint32_t>(16 + body.size()));
  append_le32(out, 1);  // str_count
  append_le32(out, 1);  // lang_count
  return out + body;
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
  int fd = ::open(ep0.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw ffs_error("cannot open " + ep0 + " (is functionfs mounted there?)", errno);
  auto write_blob = [&](const std::string& blob) {
    return ::write(fd, blob.data(), blob.size()) == static_cast<ssize_t>(blob.size());
  };
  ms_os_ = true;
  if (!write_blob(adb_descriptors(true))) {
    // Kernels without MS OS descriptor support refuse the blob; Windows hosts then need
    // an .inf, everything else works the same.
    ms_os_ = false;
    if (!write_blob(adb_descriptors(false))) {
      int err = errno;
      ::close(fd);
      throw ffs_error("writing USB descriptors to " + ep0, err);
    }
  }
  if (!write_blob(adb_strings())) {
    int err = errno;
    ::close(fd);
    throw ffs_error("writing USB strings to " + ep0, err);
  }
  impl_->ep0.assign(fd);
}

ffs_function::~ffs_function() { close(); }

asio::awaitable<std::tuple<error_code, ffs_event>> ffs_function::async_next_event() {
  usb_functionfs_event ev{};
  auto [ec, n] = co_await asio::async_read(impl_->ep0, asio::buffer(&ev, sizeof ev), vsocklib::use_tuple);
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
