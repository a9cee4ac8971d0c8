// adbd-relay's configuration: an INI file read with vsocklib::parse_ini (docs/adbd-relay.md,
// example in relay/adbd-relay/dist/adbd-relay.conf) plus command-line overrides.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "adbd_relay/gadget.hpp"
#include "adbd_relay/session.hpp"
#include "vsocklib/address.hpp"
#include "vsocklib/connector.hpp"
#include "vsocklib/listener.hpp"

namespace adbd_relay {

/// One guest: its adbd's address and the USB gadget that represents it to the PC.
struct guest_config {
  std::string name;
  vsocklib::address address;
  gadget_options gadget;
};

/// Host mode: an ADB device attached to this machine, served to adb servers (a guest's
/// `adb connect vsock:2:PORT`) on a listener. A device is matched by serial and/or bus path;
/// with neither, the section takes the first ADB device no other section names.
struct usb_host_config {
  std::string name;
  vsocklib::address listen;
  vsocklib::peer_policy peers;  ///< e.g. the guest CIDs allowed on a vsock listener
  std::string serial;           ///< match the device's serial; empty: any
  std::string path;             ///< match the kernel's bus path, e.g. "1-1.2"; empty: any

  bool matches_any_device() const noexcept { return serial.empty() && path.empty(); }
};

struct config {
  std::string log_level = "info";
  std::string control_socket = "/run/adbd-relay/control";
  /// After set-up (gadgets created, FunctionFS mounted, status socket bound), become this
  /// user with no capability left (docs/security.md): USER or USER:GROUP (default: the
  /// user's primary group). Empty: stay root.
  std::string user;
  session_options session;
  /// Retry the guest at least every 20 ms: a vsock connect that finds no listener fails at
  /// once and costs next to nothing, and the device must be enumerated on the PC within
  /// 0.5 s of the guest's adbd answering (issue 18), of which the PC's kernel alone takes
  /// about 0.4 s in the lab. A guest's adbd restart takes longer than the backoff needs to
  /// reach its cap, so the cap is the wait that counts (docs/vsock-soak.md).
  vsocklib::connector_options connect{
      {std::chrono::milliseconds(10), std::chrono::milliseconds(20), 2.0, 0.2},
      std::chrono::milliseconds(2000)};
  std::vector<guest_config> guests;
  std::vector<usb_host_config> hosts;
  /// Without udevd, libusb reports no hotplug events and host mode rescans sysfs this
  /// often; a connection always rescans before it is refused for want of a device.
  std::chrono::milliseconds host_rescan{1000};
};

/// A configuration error; what() says "FILE:LINE: what is wrong".
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses TEXT (read from SOURCE, which only names it in errors) into CFG, adding to what
/// CFG already holds. Throws config_error.
void parse_config(std::string_view text, const std::string& source, config& cfg);

/// A guest with the defaults for NAME (gadget "adbd-relay-NAME", serial NAME).
guest_config default_guest(const std::string& name, vsocklib::address address);

/// A host-mode listener named NAME on LISTEN that takes the first ADB device.
usb_host_config default_host(const std::string& name, vsocklib::address listen);

/// Checks what the parser cannot check line by line (a guest or a host to serve, distinct
/// gadget names and UDCs, at most one host section without a device match). Throws
/// config_error.
void validate(const config& cfg);

}  // namespace adbd_relay
