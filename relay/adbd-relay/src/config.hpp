// adbd-relay's configuration: a small INI file (docs/adbd-relay.md, example in
// relay/adbd-relay/adbd-relay.conf) plus command-line overrides.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "gadget.hpp"
#include "session.hpp"
#include "vsocklib/address.hpp"
#include "vsocklib/connector.hpp"

namespace adbd_relay {

/// One guest: its adbd's address and the USB gadget that represents it to the PC.
struct guest_config {
  std::string name;
  vsocklib::address address;
  gadget_options gadget;
};

struct config {
  std::string log_level = "info";
  std::string control_socket = "/run/adbd-relay/control";
  session_options session;
  /// Retry the guest at least every 500 ms: a local vsock connect costs next to nothing,
  /// and the device must be back on the PC within 2 s of the guest's adbd answering.
  vsocklib::connector_options connect{{std::chrono::milliseconds(100), std::chrono::milliseconds(500), 2.0, 0.2},
                                      std::chrono::milliseconds(2000)};
  std::vector<guest_config> guests;
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

/// Checks what the parser cannot check line by line (at least one guest, distinct gadget
/// names and UDCs). Throws config_error.
void validate(const config& cfg);

}  // namespace adbd_relay
