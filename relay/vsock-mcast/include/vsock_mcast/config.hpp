// vsock-mcast configuration: the [host], [to-guest], [to-lan] and [guest] sections of the
// configuration file (docs/vsock-mcast.md, "Configuration"), plus what the command line adds.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "vsock_mcast/filters.hpp"
#include "vsock_mcast/record.hpp"
#include "vsocklib/address.hpp"
#include "vsocklib/ini.hpp"

namespace vsock_mcast {

/// Thrown for invalid configuration; what() says where ("FILE:LINE: ...") when it can.
class config_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Each guest's send queue: what does not fit is dropped (docs: "Bounded queues").
struct queue_limits {
  std::size_t packets = 256;
  std::size_t bytes = 1 << 20;
};

struct static_group {
  std::uint32_t group = 0;
  std::optional<std::uint16_t> port;  ///< only this UDP port is delivered to every guest
  friend bool operator==(const static_group&, const static_group&) = default;
};

struct host_config {
  std::vector<vsocklib::address> listen;
  std::vector<std::string> lan;
  std::vector<static_group> groups;
  vsock_mcast::mode mode = mode::mcast;
  std::vector<std::uint32_t> guest_addresses;  ///< l3: the addresses the host answers for
  allowlist to_guest, to_lan;
  std::vector<std::uint32_t> allowed_cids;  ///< vsock listeners: peers allowed (empty: all)
  bool guest_to_guest = false;
  std::uint32_t rate_limit = 0;  ///< packets/s per guest and direction; 0: off
  /// Receive buffer of each LAN socket, bytes: what absorbs a burst while the host endpoint
  /// is busy (SO_RCVBUFFORCE with CAP_NET_ADMIN, else capped at net.core.rmem_max).
  std::uint32_t lan_rcvbuf = 4u << 20;
  static constexpr std::uint32_t kMinRcvbuf = 64u << 10, kMaxRcvbuf = 256u << 20;
  std::string tun = "vmc-host";  ///< l3: the host's TUN
  std::string control = "/run/vsock-mcast/host.sock";
  std::string log_level = "info";
  std::string user;  ///< after set-up, become USER[:GROUP] keeping only what it needs; empty: stay
  queue_limits queue;
};

struct guest_config {
  std::optional<vsocklib::address> connect;
  std::string tun;
  std::optional<cidr> address;  ///< the TUN's address and prefix (network = the address)
  vsock_mcast::mode mode = mode::mcast;
  std::optional<bool> default_route;  ///< default: yes in l3, no in mcast
  std::string name;                   ///< in the HELLO; default: the host name
  std::string control = "/run/vsock-mcast/guest.sock";
  std::string log_level = "info";
  std::string user;  ///< after set-up, become USER[:GROUP] keeping only what it needs; empty: stay
  queue_limits queue;
};

/// Parsers shared by the file and the command line; throw config_error.
mode parse_mode(const std::string& text);
/// "mcast" or "l3", as parse_mode reads it.
const char* mode_name(mode m);
static_group parse_static_group(const std::string& text);  ///< GROUP[:PORT]
cidr parse_interface_address(const std::string& text);     ///< IPv4/PREFIX (or IPv4: /32)
std::uint32_t parse_unicast(const std::string& text);      ///< a unicast IPv4 address

/// Applies the [host], [to-guest] and [to-lan] sections of DOC to CFG (other sections are
/// checked to be known, not applied). List keys append; scalar keys replace.
void apply_host(const vsocklib::ini_document& doc, host_config& cfg);
/// Applies the [guest] section.
void apply_guest(const vsocklib::ini_document& doc, guest_config& cfg);

/// Whole-configuration checks (after the file and the command line): throws config_error.
void validate(const host_config& cfg);
void validate(const guest_config& cfg);

/// The capabilities an endpoint keeps when it drops privileges (`user`), as CAP_* numbers:
/// what it still needs once running (docs/security.md).
std::vector<int> capabilities_kept(const host_config& cfg);
std::vector<int> capabilities_kept(const guest_config& cfg);

}  // namespace vsock_mcast
