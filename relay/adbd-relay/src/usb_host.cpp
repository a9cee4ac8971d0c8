#include "adbd_relay/usb_host.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <libusb.h>
#include <spdlog/logger.h>
#include "vsocklib/number.hpp"

namespace adbd_relay {
namespace {

namespace fs = std::filesystem;
using vsocklib::use_tuple;

// The ADB interface triple (AOSP adb's is_adb_interface).
constexpr unsigned kAdbClass = 0xff;
constexpr unsigned kAdbSubclass = 0x42;
constexpr unsigned kAdbProtocol = 0x01;

// The first line of a sysfs attribute, or "" when it cannot be read (absent, or the
// device left while we looked).
std::string read_attr(const fs::path& p) {
  std::ifstream f(p);
  std::string line;
  if (f) std::getline(f, line);
  return line;
}

bool parse_uint(const std::string& s, vsocklib::number_base base, unsigned& out) {
  auto v = vsocklib::parse_unsigned(s, 0, 0xffffffff, base);
  if (v) out = static_cast<unsigned>(*v);
  return v.has_value();
}

error_code from_errno(int err) { return error_code(err, asio::error::get_system_category()); }

// libusb's results as the errno values the rest of the relay logs.
error_code from_libusb(int r) {
  switch (r) {
    case LIBUSB_SUCCESS: return {};
    case LIBUSB_ERROR_NO_DEVICE: return from_errno(ENODEV);
    case LIBUSB_ERROR_BUSY: return from_errno(EBUSY);
    case LIBUSB_ERROR_PIPE: return from_errno(EPIPE);
    case LIBUSB_ERROR_OVERFLOW: return from_errno(EOVERFLOW);
    case LIBUSB_ERROR_TIMEOUT: return from_errno(ETIMEDOUT);
    case LIBUSB_ERROR_NO_MEM: return from_errno(ENOMEM);
    case LIBUSB_ERROR_ACCESS: return from_errno(EACCES);
    default: return from_errno(EIO);
  }
}

error_code from_status(libusb_transfer_status s) {
  switch (s) {
    case LIBUSB_TRANSFER_COMPLETED: return {};
    case LIBUSB_TRANSFER_CANCELLED: return asio::error::operation_aborted;
    case LIBUSB_TRANSFER_NO_DEVICE: return from_errno(ENODEV);  // unplugged
    case LIBUSB_TRANSFER_STALL: return from_errno(EPIPE);       // endpoint halted
    case LIBUSB_TRANSFER_OVERFLOW: return from_errno(EOVERFLOW);
    case LIBUSB_TRANSFER_TIMED_OUT: return from_errno(ETIMEDOUT);
    default: return from_errno(EIO);
  }
}

}  // namespace

// ---------------------------------------------------------------- discovery

std::string adb_device_info::node() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "/dev/bus/usb/%03u/%03u", busnum, devnum);
  return buf;
}

std::string adb_device_info::describe() const {
  return path + (serial.empty() ? " (no serial)" : " (serial " + serial + ")");
}

std::vector<adb_device_info> scan_adb_devices(const std::string& sysfs) {
  std::vector<adb_device_info> found;
  std::error_code ec;
  for (fs::directory_iterator it(sysfs, ec), end; !ec && it != end; it.increment(ec)) {
    // Interfaces are named DEVICE:CONFIG.INTERFACE, e.g. "1-1.2:1.0".
    const std::string name = it->path().filename().string();
    const auto colon = name.find(':');
    if (colon == std::string::npos) continue;
    unsigned cls = 0, sub = 0, proto = 0, number = 0;
    if (!parse_uint(read_attr(it->path() / "bInterfaceClass"), vsocklib::number_base::hex, cls) ||
        !parse_uint(read_attr(it->path() / "bInterfaceSubClass"), vsocklib::number_base::hex,
                    sub) ||
        !parse_uint(read_attr(it->path() / "bInterfaceProtocol"), vsocklib::number_base::hex,
                    proto) ||
        !parse_uint(read_attr(it->path() / "bInterfaceNumber"), vsocklib::number_base::hex,
                    number)) {
      continue;
    }
    if (cls != kAdbClass || sub != kAdbSubclass || proto != kAdbProtocol) continue;
    adb_device_info d;
    d.path = name.substr(0, colon);
    d.interface = number;
    const fs::path dev = fs::path(sysfs) / d.path;
    if (!parse_uint(read_attr(dev / "busnum"), vsocklib::number_base::decimal, d.busnum) ||
        !parse_uint(read_attr(dev / "devnum"), vsocklib::number_base::decimal, d.devnum)) {
      continue;  // left while we looked
    }
    d.serial = read_attr(dev / "serial");
    found.push_back(std::move(d));
  }
  std::sort(found.begin(), found.end(),
            [](const adb_device_info& a, const adb_device_info& b) { return a.path < b.path; });
  return found;
}

// ---------------------------------------------------------------- usb_host_device

// One libusb transfer and the coroutine waiting for it. The completion callback runs
// inside libusb_handle_events on the event loop's thread and only records the result and
// wakes the waiter through a timer, so coroutines never resume inside libusb.
struct usb_host_device::transfer_slot {
  explicit transfer_slot(asio::any_io_executor ex)
      : t(libusb_alloc_transfer(0)), done(std::move(ex)) {
    if (!t) throw std::bad_alloc();
  }

  static void LIBUSB_CALL completed(libusb_transfer* t) {
    auto* s = static_cast<transfer_slot*>(t->user_data);
    s->busy = false;
    s->result = from_status(t->status);
    s->length = static_cast<std::size_t>(t->actual_length);
    s->done.cancel();
  }

  libusb_ptr<libusb_transfer> t;
  bool busy = false;
  error_code result;
  std::size_t length = 0;
  asio::steady_timer done;
};

usb_host_device::usb_host_device(asio::any_io_executor ex, adb_device_info info)
    : info_(std::move(info)),
      in_(std::make_unique<transfer_slot>(ex)),
      out_(std::make_unique<transfer_slot>(ex)) {}

usb_host_device::~usb_host_device() {
  if (in_->busy || out_->busy) {
    // Not how it is meant to be used (the session waits for its transfers), but libusb
    // must not complete into freed memory: cancel and let libusb finish them here.
    cancel();
    for (int i = 0; i < 50 && (in_->busy || out_->busy); ++i) {
      timeval tv{0, 20000};
      libusb_handle_events_timeout_completed(ctx_, &tv, nullptr);
    }
  }
  if (claimed_) libusb_release_interface(handle_.get(), static_cast<int>(info_.interface));
}

asio::awaitable<std::tuple<error_code, std::size_t>> usb_host_device::transfer(
    transfer_slot& s, unsigned char endpoint, void* data, std::size_t size) {
  if (cancelled_) co_return std::tuple{error_code(asio::error::operation_aborted), std::size_t{0}};
  libusb_fill_bulk_transfer(s.t.get(), handle_.get(), endpoint, static_cast<unsigned char*>(data),
                            static_cast<int>(size), &transfer_slot::completed, &s, 0);
  if (int r = libusb_submit_transfer(s.t.get()); r != 0)
    co_return std::tuple{from_libusb(r), std::size_t{0}};
  s.busy = true;
  while (s.busy) {
    s.done.expires_at(asio::steady_timer::time_point::max());
    co_await s.done.async_wait(vsocklib::unslotted());
  }
  co_return std::tuple{s.result, s.length};
}

asio::awaitable<std::tuple<error_code, std::size_t>> usb_host_device::async_read(
    asio::mutable_buffer buf) {
  return transfer(*in_, in_ep_, buf.data(), buf.size());
}

asio::awaitable<std::tuple<error_code, std::size_t>> usb_host_device::async_write(
    asio::const_buffer buf) {
  // libusb only reads an OUT transfer's buffer; its API is not const-correct.
  return transfer(*out_, out_ep_, const_cast<void*>(buf.data()), buf.size());
}

void usb_host_device::cancel() {
  cancelled_ = true;
  for (auto* s : {in_.get(), out_.get()}) {
    if (s->busy) libusb_cancel_transfer(s->t.get());  // completes as CANCELLED on the event loop
  }
}

// ---------------------------------------------------------------- usb_host

struct usb_host::watcher {
  watcher(asio::any_io_executor ex, int fd, short ev) : sd(std::move(ex), fd), events(ev) {}
  // libusb owns and closes its descriptors; Asio only waits on them.
  ~watcher() { static_cast<void>(sd.release()); }
  watcher(const watcher&) = delete;
  watcher& operator=(const watcher&) = delete;
  asio::posix::stream_descriptor sd;
  short events;
  bool removed = false;
};

namespace {

int LIBUSB_CALL on_hotplug(libusb_context*, libusb_device*, libusb_hotplug_event, void* self) {
  static_cast<usb_host*>(self)->device_changed();
  return 0;  // stay registered
}

}  // namespace

usb_host::usb_host(asio::any_io_executor ex, std::shared_ptr<spdlog::logger> log)
    : ex_(ex), log_(std::move(log)), change_(ex) {
  // libusb's hotplug events come from udevd (Debian builds libusb with udev); without a
  // running udevd they never arrive, and libusb's own device list would go stale.
  const bool udevd = ::access("/run/udev/control", F_OK) == 0;
  const bool hotplug = udevd && libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG) != 0;
  if (!hotplug) libusb_set_option(nullptr, LIBUSB_OPTION_NO_DEVICE_DISCOVERY);
  libusb_context* ctx = nullptr;
  if (int r = libusb_init(&ctx); r != 0) {
    throw std::runtime_error(std::string("libusb_init: ") +
                             libusb_strerror(static_cast<libusb_error>(r)));
  }
  ctx_.reset(ctx);
  libusb_set_pollfd_notifiers(ctx, &usb_host::on_fd_added, &usb_host::on_fd_removed, this);
  if (libusb_ptr<const libusb_pollfd*> fds{libusb_get_pollfds(ctx)}) {
    for (const libusb_pollfd** p = fds.get(); *p; ++p) watch((*p)->fd, (*p)->events);
  }
  if (!libusb_pollfds_handle_timeouts(ctx)) {
    // Every Linux kernel since 2.6.27 has timerfd, which libusb then uses; without it,
    // libusb's internal timeouts would need a timer of ours. The relay sets none itself.
    log_->warn("libusb needs its timeouts handled by the caller; transfer timeouts are not used");
  }
  if (hotplug) {
    const int r = libusb_hotplug_register_callback(
        ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
        static_cast<libusb_hotplug_flag>(0), LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
        LIBUSB_HOTPLUG_MATCH_ANY, &on_hotplug, this, &hotplug_handle_);
    if (r == 0) mode_ = discovery::hotplug;
  }
}

usb_host::~usb_host() {
  if (mode_ == discovery::hotplug) libusb_hotplug_deregister_callback(ctx_.get(), hotplug_handle_);
  libusb_set_pollfd_notifiers(ctx_.get(), nullptr, nullptr, nullptr);
  for (auto& [fd, w] : watchers_) {
    w->removed = true;
    static_cast<void>(w->sd.release());  // ends pending waits; libusb closes the descriptor
  }
  watchers_.clear();
}

void usb_host::on_fd_added(int fd, short events, void* self) {
  static_cast<usb_host*>(self)->watch(fd, events);
}

void usb_host::on_fd_removed(int fd, void* self) {
  auto* u = static_cast<usb_host*>(self);
  auto it = u->watchers_.find(fd);
  if (it == u->watchers_.end()) return;
  it->second->removed = true;
  it->second->sd.release();  // pending waits complete with operation_aborted
  u->watchers_.erase(it);
}

void usb_host::watch(int fd, short events) {
  on_fd_removed(fd, this);  // a number libusb reuses after closing its previous owner
  auto w = std::make_shared<watcher>(ex_, fd, events);
  watchers_[fd] = w;
  if (events & POLLIN) arm(w, asio::posix::descriptor_base::wait_read);
  // usbfs signals finished transfers as writable (POLLOUT).
  if (events & POLLOUT) arm(w, asio::posix::descriptor_base::wait_write);
}

void usb_host::arm(const std::shared_ptr<watcher>& w,
                   asio::posix::descriptor_base::wait_type type) {
  w->sd.async_wait(type, [this, w, type](error_code ec) {
    if (ec || w->removed) return;
    // Asio's epoll is edge-triggered: wait again before libusb looks, so an event that
    // arrives after libusb's poll still wakes us.
    arm(w, type);
    handle_events();
  });
}

void usb_host::handle_events() {
  timeval zero{0, 0};
  if (int r = libusb_handle_events_timeout_completed(ctx_.get(), &zero, nullptr); r != 0) {
    log_->debug("libusb_handle_events: {}", libusb_strerror(static_cast<libusb_error>(r)));
  }
}

void usb_host::device_changed() {
  changed_ = true;
  change_.cancel();
}

asio::awaitable<bool> usb_host::async_wait_change(std::chrono::milliseconds rescan_every) {
  if (mode_ == discovery::rescan) {
    change_.expires_after(rescan_every);
    auto [ec] = co_await change_.async_wait(use_tuple);
    co_return !ec;
  }
  // An event that came while nobody waited (the caller was busy looking) counts too.
  if (!changed_) {
    change_.expires_at(asio::steady_timer::time_point::max());
    co_await change_.async_wait(use_tuple);
  }
  const bool changed = changed_;  // false: woken by cancellation, not by libusb
  changed_ = false;
  co_return changed;
}

std::unique_ptr<usb_host_device> usb_host::open(const adb_device_info& dev, std::string& error) {
  std::unique_ptr<usb_host_device> d(new usb_host_device(ex_, dev));
  d->ctx_ = ctx_.get();
  d->fd_.reset(::open(dev.node().c_str(), O_RDWR | O_CLOEXEC));
  if (!d->fd_) {
    error = dev.node() + ": " + std::strerror(errno);
    return nullptr;
  }
  libusb_device_handle* handle = nullptr;
  if (int r = libusb_wrap_sys_device(ctx_.get(), d->fd_.get(), &handle); r != 0) {
    error = std::string("libusb cannot use ") + dev.node() + ": " +
            libusb_strerror(static_cast<libusb_error>(r));
    return nullptr;
  }
  d->handle_.reset(handle);
  libusb_config_descriptor* raw_config = nullptr;
  if (int r = libusb_get_active_config_descriptor(libusb_get_device(handle), &raw_config); r != 0) {
    error =
        std::string("no active configuration: ") + libusb_strerror(static_cast<libusb_error>(r));
    return nullptr;
  }
  const libusb_ptr<libusb_config_descriptor> config(raw_config);
  std::size_t out_packet = 0, in_packet = 0;
  for (int i = 0; i < config->bNumInterfaces; ++i) {
    const libusb_interface& itf = config->interface[i];
    if (itf.num_altsetting < 1) continue;
    const libusb_interface_descriptor& alt = itf.altsetting[0];
    if (alt.bInterfaceNumber != dev.interface) continue;
    for (int e = 0; e < alt.bNumEndpoints; ++e) {
      const libusb_endpoint_descriptor& ep = alt.endpoint[e];
      if ((ep.bmAttributes & LIBUSB_TRANSFER_TYPE_MASK) != LIBUSB_TRANSFER_TYPE_BULK) continue;
      if ((ep.bEndpointAddress & LIBUSB_ENDPOINT_DIR_MASK) == LIBUSB_ENDPOINT_IN) {
        if (!d->in_ep_) d->in_ep_ = ep.bEndpointAddress, in_packet = ep.wMaxPacketSize;
      } else if (!d->out_ep_) {
        d->out_ep_ = ep.bEndpointAddress, out_packet = ep.wMaxPacketSize;
      }
    }
  }
  if (!d->in_ep_ || !d->out_ep_) {
    error = "interface " + std::to_string(dev.interface) + " lacks a bulk IN or bulk OUT endpoint";
    return nullptr;
  }
  // Zero-length packets follow OUT payloads of whole packets; AOSP adb requires both
  // endpoints to have the same size anyway.
  if (out_packet == 0 || out_packet != in_packet) {
    error = "bulk endpoints have different or zero wMaxPacketSize (OUT " +
            std::to_string(out_packet) + ", IN " + std::to_string(in_packet) + ")";
    return nullptr;
  }
  d->max_packet_ = out_packet;
  if (int r = libusb_claim_interface(handle, static_cast<int>(dev.interface)); r != 0) {
    error = r == LIBUSB_ERROR_BUSY
                ? "busy: another program (an adb server?) has claimed its ADB interface"
                : std::string("cannot claim the ADB interface: ") +
                      libusb_strerror(static_cast<libusb_error>(r));
    return nullptr;
  }
  d->claimed_ = true;
  return d;
}

}  // namespace adbd_relay
