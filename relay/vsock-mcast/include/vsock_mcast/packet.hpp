// What the tunnel reads from an IPv4 packet, and the one change it makes to it. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace vsock_mcast {

inline constexpr std::uint8_t kProtoUdp = 17;
inline constexpr std::uint8_t kProtoTcp = 6;

/// The fields of an IPv4 header the filters look at (addresses in host byte order).
struct ip_view {
  std::uint32_t src = 0;
  std::uint32_t dst = 0;
  std::uint8_t ttl = 0;
  std::uint8_t tos = 0;
  std::uint8_t protocol = 0;
  std::uint16_t id = 0;
  std::size_t header_length = 0;
  /// UDP/TCP ports, present in an unfragmented packet or a first fragment.
  std::optional<std::uint16_t> src_port, dst_port;
};

/// Reads PACKET's header; nullopt when it is not a well-formed IPv4 packet (see
/// check_ip_packet in record.hpp).
std::optional<ip_view> read_ip(std::span<const std::uint8_t> packet) noexcept;

/// Recomputes the UDP checksum of an unfragmented UDP packet whose checksum is not zero
/// (zero means "no checksum" in IPv4 and stays). Packets captured on the host may carry a
/// partial checksum (checksum offload on veth and on locally sent packets), which the
/// guest kernel would reject. Returns false (packet unchanged) when it is not such a packet.
bool fix_udp_checksum(std::span<std::uint8_t> packet) noexcept;

/// A fingerprint of the datagram for the duplicate filter: source, destination, protocol,
/// IP id and the payload after the IP header, but not TTL, TOS or checksums, which differ
/// between copies of one datagram that took different paths.
std::uint64_t fingerprint(std::span<const std::uint8_t> packet) noexcept;

}  // namespace vsock_mcast
