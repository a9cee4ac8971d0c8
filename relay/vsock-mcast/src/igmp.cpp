#include "vsock_mcast/igmp.hpp"

#include <bit>
#include <cstring>

namespace vsock_mcast {
namespace {

// IGMP message types (RFC 3376 section 4, RFC 2236 section 2.1).
constexpr std::uint8_t kV1Report = 0x12;
constexpr std::uint8_t kV2Report = 0x16;
constexpr std::uint8_t kV2Leave = 0x17;
constexpr std::uint8_t kV3Report = 0x22;
// IGMPv3 group record types (RFC 3376 section 4.2.12).
constexpr std::uint8_t kModeIsInclude = 1;
constexpr std::uint8_t kModeIsExclude = 2;
constexpr std::uint8_t kChangeToInclude = 3;
constexpr std::uint8_t kChangeToExclude = 4;
constexpr std::uint8_t kAllowNewSources = 5;
constexpr std::uint8_t kProtoIgmp = 2;
// v1/v2 messages are 8 bytes; a v3 report has an 8-byte header, each record 8 bytes plus
// 4 per source plus aux data.
constexpr std::size_t kIgmpMin = 8;

std::uint16_t get16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t get32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}
bool multicast(std::uint32_t a) noexcept { return (a >> 28) == 0xE; }

}  // namespace

const char* to_string(igmp_error e) noexcept {
  switch (e) {
    case igmp_error::none: return "none";
    case igmp_error::not_ipv4: return "not_ipv4";
    case igmp_error::not_igmp: return "not_igmp";
    case igmp_error::truncated: return "truncated";
    case igmp_error::bad_checksum: return "bad_checksum";
    case igmp_error::bad_group: return "bad_group";
  }
  return "unknown";
}

std::uint16_t internet_checksum(std::span<const std::uint8_t> data) noexcept {
  // The one's-complement sum does not depend on byte order (RFC 1071, 2.B): words are
  // loaded four bytes at a time in the machine's order and summed in 64 bits, and the
  // folded sum is put into network order once at the end. Four times fewer steps than
  // 16-bit words (bench/mcast_bench: the host repairs a UDP checksum per LAN datagram).
  std::uint64_t sum = 0;
  std::size_t i = 0;
  for (; i + 4 <= data.size(); i += 4) {
    std::uint32_t w;
    std::memcpy(&w, data.data() + i, 4);
    sum += w;
  }
  for (; i < data.size(); i += 2) {
    // The last one to three bytes; an odd last byte is padded with a zero after it.
    const std::uint8_t pair[2] = {data[i], i + 1 < data.size() ? data[i + 1] : std::uint8_t{0}};
    std::uint16_t w;
    std::memcpy(&w, pair, 2);
    sum += w;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  auto folded = static_cast<std::uint16_t>(sum);
  if constexpr (std::endian::native == std::endian::little) {
    folded = static_cast<std::uint16_t>((folded << 8) | (folded >> 8));
  }
  return static_cast<std::uint16_t>(~folded);
}

igmp_result parse_igmp(std::span<const std::uint8_t> p) {
  igmp_result r;
  if (p.size() < 20 || (p[0] >> 4) != 4) {
    r.error = igmp_error::not_ipv4;
    return r;
  }
  const std::size_t ihl = std::size_t{p[0] & 0x0fu} * 4;
  const std::size_t total = get16(p.data() + 2);
  if (ihl < 20 || total < ihl || total > p.size()) {
    r.error = igmp_error::not_ipv4;
    return r;
  }
  if (p[9] != kProtoIgmp) {
    r.error = igmp_error::not_igmp;
    return r;
  }
  auto igmp = p.subspan(ihl, total - ihl);
  if (igmp.size() < kIgmpMin) {
    r.error = igmp_error::truncated;
    return r;
  }
  if (internet_checksum(igmp) != 0) {
    r.error = igmp_error::bad_checksum;
    return r;
  }
  const std::uint8_t type = igmp[0];
  if (type == kV1Report || type == kV2Report || type == kV2Leave) {
    const std::uint32_t group = get32(igmp.data() + 4);
    if (!multicast(group)) {
      r.error = igmp_error::bad_group;
      return r;
    }
    r.changes.push_back({group, type != kV2Leave});
    return r;
  }
  if (type != kV3Report) return r;  // queries and others: no change

  const std::size_t records = get16(igmp.data() + 6);
  std::size_t at = kIgmpMin;
  for (std::size_t i = 0; i < records; ++i) {
    if (igmp.size() - at < 8) {
      r.error = igmp_error::truncated;
      break;
    }
    const std::uint8_t rtype = igmp[at];
    const std::size_t aux_words = igmp[at + 1];
    const std::size_t sources = get16(igmp.data() + at + 2);
    const std::uint32_t group = get32(igmp.data() + at + 4);
    const std::size_t len = 8 + 4 * sources + 4 * aux_words;
    if (igmp.size() - at < len) {
      r.error = igmp_error::truncated;
      break;
    }
    if (!multicast(group)) {
      r.error = igmp_error::bad_group;
      break;
    }
    at += len;
    switch (rtype) {
      case kModeIsExclude:
      case kChangeToExclude: r.changes.push_back({group, true}); break;
      case kModeIsInclude:
      case kChangeToInclude: r.changes.push_back({group, sources > 0}); break;
      case kAllowNewSources:
        if (sources > 0) r.changes.push_back({group, true});
        break;
      default:  // BLOCK_OLD_SOURCES and unknown record types change nothing
        break;
    }
  }
  if (r.error != igmp_error::none) r.changes.clear();
  return r;
}

}  // namespace vsock_mcast
