#include "functionfs.hpp"

#include <endian.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/aio_abi.h>
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

// ---------------------------------------------------------------- endpoint queues

// Linux AIO, called directly: glibc has no wrappers, and libaio would be a dependency for
// five system calls.
long sys_io_setup(unsigned n, aio_context_t* ctx) { return ::syscall(SYS_io_setup, n, ctx); }
long sys_io_destroy(aio_context_t ctx) { return ::syscall(SYS_io_destroy, ctx); }
long sys_io_submit(aio_context_t ctx, long n, iocb** cbs) { return ::syscall(SYS_io_submit, ctx, n, cbs); }
long sys_io_cancel(aio_context_t ctx, iocb* cb, io_event* ev) { return ::syscall(SYS_io_cancel, ctx, cb, ev); }
long sys_io_getevents(aio_context_t ctx, long min, long max, io_event* ev, timespec* t) {
  return ::syscall(SYS_io_getevents, ctx, min, max, ev, t);
}

// Up to DEPTH transfers of at most SLOT bytes queued on one FunctionFS endpoint, with Linux
// AIO completing into an eventfd that Asio waits on (adbd does the same). ep1/ep2 cannot be
// polled, and a blocking transfer leaves the UDC without a request between one transfer's
// completion and the next submission: with one transfer in flight, every 4 KiB waits a
// round trip through user space (measured: docs/benchmarks.md). Slots form a ring in
// submission order, and the UDC completes requests in order, so data keeps its order.
//
// OUT (ep1): every slot is a read kept submitted; async_read hands out the oldest
// completed one and resubmits it (read-ahead bounded by DEPTH x SLOT).
// IN (ep2): async_write copies into a free slot, submits, and returns; it waits only when
// all slots are in flight. A failed write is reported by the next async_write: the session
// ends either way, and nothing after a failed transfer is sent.
class aio_queue {
 public:
  // io_event arrays live on the stack; the queue depth is small by design.
  static constexpr std::size_t kMaxDepth = 64;

  // Owns FD from here on, also when it throws.
  aio_queue(asio::any_io_executor ex, int fd, bool in, std::size_t slot, std::size_t depth)
      : fd_(fd), in_(in), slot_size_(slot), storage_(slot * depth), slots_(depth), event_(ex) {
    int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) {
      const int err = errno;
      ::close(fd);
      throw ffs_error("eventfd for USB transfers", err);
    }
    event_.assign(efd);
    if (sys_io_setup(static_cast<unsigned>(depth), &ctx_) < 0) {
      const int err = errno;
      ::close(fd);
      throw ffs_error("io_setup for " + std::to_string(depth) + " USB transfers", err);
    }
  }
  ~aio_queue() {
    cancel();
    // Waits for every transfer still in the kernel, which may be writing into storage_.
    sys_io_destroy(ctx_);
    ::close(fd_);
  }
  aio_queue(const aio_queue&) = delete;
  aio_queue& operator=(const aio_queue&) = delete;

  asio::awaitable<std::tuple<error_code, std::size_t>> async_read(asio::mutable_buffer buf) {
    if (used_ == 0) {  // first read: fill the queue
      for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (auto ec = submit(i, slot_size_)) co_return std::tuple{ec, std::size_t{0}};
      }
    }
    if (auto ec = co_await wait_oldest()) co_return std::tuple{ec, std::size_t{0}};
    const std::size_t i = head_;
    slot& s = slots_[i];
    const long r = s.result;
    std::size_t n = 0;
    if (r >= 0) {
      n = std::min(static_cast<std::size_t>(r), buf.size());
      std::memcpy(buf.data(), data(i), n);
    }
    // Resubmitted at the tail, which in a full ring is this slot's own place.
    --used_;
    head_ = (head_ + 1) % slots_.size();
    if (auto ec = submit(i, slot_size_)) co_return std::tuple{ec, std::size_t{0}};
    if (r < 0) co_return std::tuple{error_code(static_cast<int>(-r), asio::error::get_system_category()), std::size_t{0}};
    co_return std::tuple{error_code{}, n};
  }

  asio::awaitable<std::tuple<error_code, std::size_t>> async_write(asio::const_buffer buf) {
    if (buf.size() > slot_size_) co_return std::tuple{error_code(asio::error::message_size), std::size_t{0}};
    for (;;) {
      if (failed_) co_return std::tuple{failed_, std::size_t{0}};
      reap();
      if (used_ < slots_.size()) break;
      if (auto ec = co_await wait_oldest()) co_return std::tuple{ec, std::size_t{0}};
      reap();
    }
    const std::size_t i = (head_ + used_) % slots_.size();
    std::memcpy(data(i), buf.data(), buf.size());
    if (auto ec = submit(i, buf.size())) co_return std::tuple{ec, std::size_t{0}};
    co_return std::tuple{error_code{}, buf.size()};
  }

  void cancel() {
    if (cancelled_) return;
    cancelled_ = true;
    for (auto& s : slots_) {
      io_event ev{};
      if (s.in_flight) sys_io_cancel(ctx_, &s.cb, &ev);
    }
    error_code ignored;
    event_.cancel(ignored);
  }

 private:
  struct slot {
    iocb cb{};
    std::size_t length = 0;
    bool in_flight = false;
    long result = 0;
  };

  std::byte* data(std::size_t i) { return storage_.data() + i * slot_size_; }

  error_code submit(std::size_t i, std::size_t len) {
    if (cancelled_) return asio::error::operation_aborted;
    slot& s = slots_[i];
    s.cb = {};
    s.cb.aio_data = i;
    s.cb.aio_lio_opcode = in_ ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
    s.cb.aio_fildes = static_cast<std::uint32_t>(fd_);
    s.cb.aio_buf = reinterpret_cast<std::uint64_t>(data(i));
    s.cb.aio_nbytes = len;
    s.length = len;
    s.cb.aio_flags = IOCB_FLAG_RESFD;
    s.cb.aio_resfd = static_cast<std::uint32_t>(event_.native_handle());
    iocb* list[1] = {&s.cb};
    if (sys_io_submit(ctx_, 1, list) != 1) return error_code(errno, asio::error::get_system_category());
    s.in_flight = true;
    ++used_;
    return {};
  }

  // Collects finished transfers without waiting.
  void collect() {
    io_event events[kMaxDepth];
    timespec now{};
    for (;;) {
      const long n = sys_io_getevents(ctx_, 0, static_cast<long>(slots_.size()), events, &now);
      if (n <= 0) return;
      for (long k = 0; k < n; ++k) {
        slot& s = slots_[events[k].data];
        s.in_flight = false;
        s.result = static_cast<long>(events[k].res);
      }
    }
  }

  // Until the oldest transfer has finished. operation_aborted once cancelled.
  asio::awaitable<error_code> wait_oldest() {
    for (;;) {
      if (cancelled_) co_return asio::error::operation_aborted;
      collect();
      if (used_ > 0 && !slots_[head_].in_flight) co_return error_code{};
      std::uint64_t count = 0;
      auto [ec, n] = co_await event_.async_read_some(asio::buffer(&count, sizeof count), vsocklib::unslotted());
      if (cancelled_) co_return asio::error::operation_aborted;
      if (ec && ec != asio::error::would_block && ec != asio::error::try_again) co_return ec;
    }
  }

  // IN: retires finished writes from the head; the first failure sticks.
  void reap() {
    collect();
    while (used_ > 0 && !slots_[head_].in_flight) {
      const slot& s = slots_[head_];
      if (!failed_ && s.result < 0) failed_ = error_code(static_cast<int>(-s.result), asio::error::get_system_category());
      // A short transfer cannot be completed by another: report it like a failure.
      if (!failed_ && static_cast<std::size_t>(s.result) != s.length) failed_ = error_code(EIO, asio::error::get_system_category());
      --used_;
      head_ = (head_ + 1) % slots_.size();
    }
  }

 private:
  int fd_;
  bool in_;
  std::size_t slot_size_;
  std::vector<std::byte> storage_;
  std::vector<slot> slots_;
  std::size_t head_ = 0;  // oldest submitted slot
  std::size_t used_ = 0;  // slots submitted (OUT: and not yet handed out)
  aio_context_t ctx_ = 0;
  asio::posix::stream_descriptor event_;
  bool cancelled_ = false;
  error_code failed_;
};

class ffs_endpoint final : public usb_endpoint {
 public:
  ffs_endpoint(asio::any_io_executor ex, int out_fd, int in_fd, std::size_t max_packet,
               std::size_t transfer_size, std::size_t depth)
      : out_(ex, out_fd, false, transfer_size, depth),
        in_(ex, in_fd, true, transfer_size, depth),
        max_packet_(max_packet) {}

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
  const std::string out_path = impl_->dir + "/ep1", in_path = impl_->dir + "/ep2";
  int out_fd = ::open(out_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (out_fd < 0) throw ffs_error("cannot open " + out_path, errno);
  int in_fd = ::open(in_path.c_str(), O_WRONLY | O_CLOEXEC);
  if (in_fd < 0) {
    int err = errno;
    ::close(out_fd);
    throw ffs_error("cannot open " + in_path, err);
  }
  // The descriptor of the speed the host enumerated at: its wMaxPacketSize is the live one.
  usb_endpoint_descriptor desc{};
  std::size_t max_packet = kHighSpeedPacket;
  if (::ioctl(out_fd, FUNCTIONFS_ENDPOINT_DESC, &desc) == 0 && desc.wMaxPacketSize != 0) {
    max_packet = le16toh(desc.wMaxPacketSize);
  }
  if (depth == 0 || depth > aio_queue::kMaxDepth) {
    ::close(out_fd);
    ::close(in_fd);
    throw std::invalid_argument("USB transfers in flight must be 1.." + std::to_string(aio_queue::kMaxDepth));
  }
  impl_->endpoints = std::make_unique<ffs_endpoint>(impl_->ex, out_fd, in_fd, max_packet, transfer_size, depth);
  return *impl_->endpoints;
}

void ffs_function::close() {
  if (!impl_) return;
  impl_->endpoints.reset();
  error_code ignored;
  impl_->ep0.close(ignored);
}

}  // namespace adbd_relay
