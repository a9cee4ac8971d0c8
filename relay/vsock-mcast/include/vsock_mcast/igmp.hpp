// IGMP membership reports as the guest kernel writes them into the TUN: which groups the
// guest's applications joined or left. Pure (no I/O, no Asio), never throws on bad input:
// the fuzz target and the unit tests use this header alone.
//
// Understood (RFC 1112, 2236, 3376): v1 report (0x12), v2 report (0x16), v2 leave (0x17),
// v3 report (0x22) with its group records. Queries (0x11) and other IGMP types are not
// membership changes (ignored, error none). Source filters are folded into any-source
// membership, since the host endpoint joins groups, not (source, group) pairs:
//   MODE_IS_EXCLUDE / CHANGE_TO_EXCLUDE (any sources)    -> join
//   MODE_IS_INCLUDE / CHANGE_TO_INCLUDE with sources     -> join
//   MODE_IS_INCLUDE / CHANGE_TO_INCLUDE without sources  -> leave
//   ALLOW_NEW_SOURCES with sources                       -> join
//   BLOCK_OLD_SOURCES                                    -> no change
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace vsock_mcast {

enum class igmp_error : std::uint8_t {
  none = 0,
  not_ipv4,      ///< not an IPv4 packet, or its header is malformed / longer than the data
  not_igmp,      ///< IPv4 but protocol is not 2 (the caller then treats it as data)
  truncated,     ///< IGMP message or a v3 group record runs past the packet
  bad_checksum,  ///< IGMP checksum wrong
  bad_group,     ///< a report names a group outside 224.0.0.0/4
};

const char* to_string(igmp_error e) noexcept;

struct membership_change {
  std::uint32_t group = 0;  ///< host byte order
  bool join = true;         ///< false: leave

  friend bool operator==(const membership_change&, const membership_change&) = default;
};

struct igmp_result {
  igmp_error error = igmp_error::none;
  /// In the order of the report's records. A v3 report's records before a malformed one
  /// are not returned: the whole report is refused.
  std::vector<membership_change> changes;
};

/// Parses the IPv4 packet PACKET (IP header included). Never throws except std::bad_alloc.
igmp_result parse_igmp(std::span<const std::uint8_t> packet);

/// The Internet checksum (RFC 1071) of DATA, as stored in a header (complemented).
std::uint16_t internet_checksum(std::span<const std::uint8_t> data) noexcept;

}  // namespace vsock_mcast
