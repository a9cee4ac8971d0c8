// Host mode, one [host NAME] section: a listener in the library's address syntax whose
// connections (adb servers: a guest's `adb connect vsock:2:PORT`, or a test's tcp/unix
// address) are bridged to an ADB device attached to this machine's USB.
//
// Policy (docs/adbd-relay.md, "Host mode"):
//  - a connection is served by a fresh scan's matching device, opened for that session
//    only; with no device attached it is closed at once (logged, counted);
//  - one session per listener: a connection that arrives while one is being served is
//    closed at once (logged, rate-limited, counted). Replacing the active one instead was
//    tried: adb servers reconnect about every 0.3 s, so two of them on one listener took
//    the device from each other forever, while a dead connection the relay has not noticed
//    is rare (vsock resets on guest reboot, a killed adb server's socket closes);
//  - the device unplugged ends the session and closes the stream; once it is back, the
//    next connection is served.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adbd_relay/config.hpp"
#include "adbd_relay/session.hpp"
#include "adbd_relay/usb_host.hpp"
#include "vsocklib/repeat_log.hpp"

namespace spdlog {
class logger;
}

namespace adbd_relay {

/// The device SELF serves out of DEVICES (sorted as scan_adb_devices returns them): the
/// first that matches SELF's serial and path; for a section without either, the first that
/// no other section of ALL names. Null when none.
const adb_device_info* pick_device(const std::vector<adb_device_info>& devices,
                                   const usb_host_config& self,
                                   const std::vector<usb_host_config>& all);

struct usb_host_status {
  std::string name;
  std::string listen;
  std::string state = "starting";
  std::string device;           ///< the device of the current or last session
  std::uint64_t sessions = 0;   ///< connections bridged to a device
  std::uint64_t no_device = 0;  ///< connections closed because no device was attached
  std::uint64_t busy = 0;       ///< connections closed because a session was active
  std::uint64_t protocol_errors = 0;
  std::uint64_t to_device_bytes = 0;  ///< of finished sessions; see current
  std::uint64_t from_device_bytes = 0;
  session_stats current;  ///< the session being bridged, live
  std::string last_error;
};

class usb_host_relay {
 public:
  /// ALL is every host section (for pick_device); USB must outlive the relay.
  usb_host_relay(usb_host_config cfg, std::vector<usb_host_config> all, session_options session,
                 usb_host& usb);

  /// Runs until cancelled. Binds the listener first: an address that cannot be bound
  /// throws std::system_error before anything else happens.
  asio::awaitable<void> run();

  const usb_host_status& status() const noexcept { return status_; }

 private:
  asio::awaitable<void> accept_loop(vsocklib::listener& l);
  asio::awaitable<void> serve_loop();
  asio::awaitable<void> serve(vsocklib::stream_socket s, std::string peer);

  usb_host_config cfg_;
  std::vector<usb_host_config> all_;
  session_options session_;
  usb_host& usb_;
  std::shared_ptr<spdlog::logger> log_;
  usb_host_status status_;
  // Refusals (no device, busy) come as fast as an adb server reconnects: logged once with
  // a count, not every 0.3 s.
  vsocklib::repeat_log refusals_;
  // Between accept_loop and serve_loop (one strand): the connection to serve next, and a
  // timer used as the event that one arrived.
  std::optional<std::pair<vsocklib::stream_socket, std::string>> pending_;
  std::optional<asio::steady_timer> wake_;
  bool in_session_ = false;
  bool stopping_ = false;
};

/// Logs ADB devices as they come and go: "ADB device attached: 1-1 (serial X)" / "left",
/// woken by libusb's hotplug events or every RESCAN (see usb_host). Runs until cancelled.
asio::awaitable<void> watch_adb_devices(usb_host& usb, std::chrono::milliseconds rescan,
                                        std::shared_ptr<spdlog::logger> log);

}  // namespace adbd_relay
