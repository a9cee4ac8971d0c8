// The one address syntax every tool and config file uses.
//
//   vsock:CID:PORT             AF_VSOCK stream; CID may be "any" when listening
//   vsock-seqpacket:CID:PORT   AF_VSOCK SOCK_SEQPACKET (one record per send)
//   hvsock:UDS_PATH:PORT       Firecracker / Cloud Hypervisor hybrid vsock. Connecting goes
//                              to the multiplexer's Unix socket UDS_PATH and asks for PORT
//                              with "CONNECT PORT\n"; listening binds UDS_PATH_PORT, where
//                              the VMM delivers guest-initiated connections.
//   unix:PATH                  Unix stream socket; "unix:@name" is the abstract namespace
//   tcp:HOST:PORT              TCP; HOST may be a name, an IPv4 or a [bracketed] IPv6 address
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace vsocklib {

enum class transport { vsock, vsock_seqpacket, hvsock, unix_socket, tcp };

/// VMADDR_CID_ANY, spelled "any" in addresses.
inline constexpr std::uint32_t kCidAny = 0xFFFFFFFFu;
/// The largest CID a peer can have (all ones is kCidAny, never a peer's).
inline constexpr std::uint32_t kMaxCid = kCidAny - 1;

/// Thrown by parse_address; what() names the address and the part that is wrong.
class address_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// The largest write into a connection that needs_bounded_writes(): one page, so that the
/// guest kernel builds every vsock packet from an order-0 allocation (docs/architecture.md).
inline constexpr std::size_t kBoundedWrite = 4096;

/// A parsed address. Plain value type.
struct address {
  transport kind = transport::unix_socket;
  std::uint32_t cid = 0;   ///< vsock, vsock_seqpacket
  std::uint32_t port = 0;  ///< vsock, vsock_seqpacket, hvsock, tcp
  std::string path;        ///< hvsock (the multiplexer's socket), unix
  std::string host;        ///< tcp, without brackets

  /// True for the transports that carry a byte stream (everything but vsock-seqpacket).
  bool is_stream() const noexcept { return kind != transport::vsock_seqpacket; }

  /// Whether shutdown(send) on a connection made to (or accepted on) this address reaches
  /// the peer as a half-close. False for hvsock: the hybrid-vsock devices (vhost-device-
  /// vsock, Firecracker) close the guest's connection in both directions when our side
  /// ends its input (measured: docs/vsocklib.md, "Half-close per transport").
  bool passes_half_close() const noexcept { return kind != transport::hvsock; }

  /// Whether writes into a connection on this address reach a vsock transport, where each
  /// write should be at most one chunk (the guest builds a packet per write; see
  /// pump_options::bounded_a). True for vsock, vsock-seqpacket and hvsock.
  bool needs_bounded_writes() const noexcept {
    return kind != transport::unix_socket && kind != transport::tcp;
  }
  /// kBoundedWrite where needs_bounded_writes(), else no limit.
  std::size_t max_write() const noexcept {
    return needs_bounded_writes() ? kBoundedWrite : SIZE_MAX;
  }

  /// The canonical text form; parse_address(a.to_string()) == a.
  std::string to_string() const;

  friend bool operator==(const address&, const address&) = default;
};

/// Why A cannot be connected to, or "" when it can: an address that parses but only makes
/// sense for listening (vsock CID any, tcp port 0). Programs check their connect-side
/// addresses with it at start-up and in --check, so the mistake is not found by a connect
/// loop that retries forever.
std::string connect_problem(const address& a);

/// Parses TEXT. Throws address_error naming the bad part, e.g.
/// `bad address "vsock:x:5": CID "x" is not a number or "any"`.
address parse_address(std::string_view text);

}  // namespace vsocklib
