// Host mode's USB side: ADB devices found in sysfs, opened through usbfs with libusb, and
// libusb's events handled on the relay's Asio event loop.
//
// Why libusb runs on the event loop (no thread of its own): libusb on Linux exposes every
// wait it has as a file descriptor (the usbfs node of each open device, an eventfd, a
// timerfd for timeouts), announced through its pollfd notifiers. Asio waits on them like on
// sockets and calls libusb_handle_events_timeout with a zero timeout when one is ready, so
// transfer completions and hotplug callbacks run on the relay's thread: no locks, no
// cross-thread hand-off, nothing blocks (docs/architecture.md).
//
// Why discovery reads sysfs instead of libusb's device list: libusb (Debian builds it
// with udev) learns of new devices only from udevd's events, and keeps its list stale
// without udevd (embedded host partitions and the lab guest have none). Devices are
// therefore found by scanning /sys/bus/usb/devices, which the kernel keeps current, and
// opened with libusb_wrap_sys_device on their /dev/bus/usb node. libusb's hotplug events,
// when udevd runs, only say when to scan; otherwise the relay rescans periodically.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "adbd_relay/libusb_ptr.hpp"
#include "adbd_relay/usb_endpoint.hpp"
#include "vsocklib/unique_fd.hpp"

namespace spdlog {
class logger;
}

namespace adbd_relay {

/// One ADB interface (class 0xff, subclass 0x42, protocol 0x01) as sysfs shows it.
struct adb_device_info {
  std::string path;    ///< the kernel's name for the device, e.g. "1-1.2" (adb: usb:1-1.2)
  std::string serial;  ///< the device's serial string; empty when it has none
  unsigned busnum = 0;
  unsigned devnum = 0;
  unsigned interface = 0;  ///< bInterfaceNumber of the ADB interface

  /// The usbfs node, /dev/bus/usb/BBB/DDD.
  std::string node() const;
  /// "1-1.2 (serial X)" for logs.
  std::string describe() const;
  friend bool operator==(const adb_device_info&, const adb_device_info&) = default;
};

/// The ADB interfaces under SYSFS (normally /sys/bus/usb/devices), sorted by path. Entries
/// that vanish while being read (an unplug) are skipped. Never throws.
std::vector<adb_device_info> scan_adb_devices(const std::string& sysfs = "/sys/bus/usb/devices");

class usb_host;

/// An opened ADB interface: a usb_endpoint with the relay as the USB host (async_read is
/// bulk IN, async_write bulk OUT), one transfer in flight per direction. Destroy it only
/// when no transfer is pending (after the session using it returned).
class usb_host_device final : public usb_endpoint {
 public:
  ~usb_host_device() override;
  usb_host_device(const usb_host_device&) = delete;
  usb_host_device& operator=(const usb_host_device&) = delete;

  asio::awaitable<std::tuple<error_code, std::size_t>> async_read(
      asio::mutable_buffer buf) override;
  asio::awaitable<std::tuple<error_code, std::size_t>> async_write(asio::const_buffer buf) override;
  void cancel() override;
  std::size_t max_packet_size() const override { return max_packet_; }

  const adb_device_info& info() const noexcept { return info_; }

  struct transfer_slot;  // one libusb transfer and the coroutine waiting for it

 private:
  friend class usb_host;
  usb_host_device(asio::any_io_executor ex, adb_device_info info);
  asio::awaitable<std::tuple<error_code, std::size_t>> transfer(transfer_slot& s,
                                                                unsigned char endpoint, void* data,
                                                                std::size_t size);

  adb_device_info info_;
  libusb_context* ctx_ = nullptr;  // usb_host's, which outlives its devices
  // Declared in the order they are acquired: released in reverse (transfers, handle, fd).
  vsocklib::unique_fd fd_;
  libusb_ptr<libusb_device_handle> handle_;
  bool claimed_ = false;
  unsigned char in_ep_ = 0;
  unsigned char out_ep_ = 0;
  std::size_t max_packet_ = 512;
  bool cancelled_ = false;
  std::unique_ptr<transfer_slot> in_;
  std::unique_ptr<transfer_slot> out_;
};

/// A libusb context driven by the Asio event loop, and how device changes are noticed.
/// Thread safety: use from the one thread that runs its executor.
class usb_host {
 public:
  enum class discovery { hotplug, rescan };

  /// Initialises libusb. Hotplug events are used when libusb supports them and udevd runs
  /// (/run/udev/control exists); otherwise discovery is periodic rescanning. Throws
  /// std::runtime_error when libusb cannot be initialised.
  usb_host(asio::any_io_executor ex, std::shared_ptr<spdlog::logger> log);
  ~usb_host();
  usb_host(const usb_host&) = delete;
  usb_host& operator=(const usb_host&) = delete;

  discovery mode() const noexcept { return mode_; }

  /// Completes when libusb reports a device arriving or leaving (hotplug), or after
  /// RESCAN_EVERY (rescan), or on cancellation (returns false then).
  asio::awaitable<bool> async_wait_change(std::chrono::milliseconds rescan_every);

  /// Opens DEV's usbfs node, finds the ADB interface's bulk endpoints and claims it. On
  /// failure returns null and says why in ERROR (e.g. "busy: another program has claimed
  /// it", which is what an adb server on the host partition does).
  std::unique_ptr<usb_host_device> open(const adb_device_info& dev, std::string& error);

  /// Called by libusb's hotplug callback: wakes async_wait_change.
  void device_changed();

 private:
  struct watcher;
  static void on_fd_added(int fd, short events, void* self);
  static void on_fd_removed(int fd, void* self);
  void watch(int fd, short events);
  void arm(const std::shared_ptr<watcher>& w, asio::posix::descriptor_base::wait_type type);
  void handle_events();

  asio::any_io_executor ex_;
  std::shared_ptr<spdlog::logger> log_;
  discovery mode_ = discovery::rescan;
  int hotplug_handle_ = 0;
  bool changed_ = false;
  asio::steady_timer change_;
  std::map<int, std::shared_ptr<watcher>> watchers_;
  // Last, so destroyed first: should the constructor throw with the pollfd notifiers
  // still set, libusb_exit reports its descriptors removed to a live watchers_.
  libusb_ptr<libusb_context> ctx_;
};

}  // namespace adbd_relay
