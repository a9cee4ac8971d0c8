#include "vsock_mcast/packet.hpp"

#include <cstring>

#include "vsock_mcast/igmp.hpp"
#include "vsock_mcast/record.hpp"

namespace vsock_mcast {
namespace {

std::uint16_t get16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t get32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}
// The duplicate filter's hash: eight bytes per step (xor, multiply by an odd constant,
// fold the high half down), enough to tell datagrams apart within a half-second window. A
// byte per step (FNV-1a, before) took about 1.4 us for a 1200-byte datagram on these
// machines, far more than the rest of the host's work per datagram; this takes about a
// tenth of that (tests/unit/mcast_filters_test.cpp; docs/benchmarks.md).
constexpr std::uint64_t kSeed = 0x6a09e667f3bcc908ull;
constexpr std::uint64_t kMul = 0x9e3779b97f4a7c15ull;
std::uint64_t step(std::uint64_t h, std::uint64_t w) noexcept {
  h = (h ^ w) * kMul;
  return h ^ (h >> 32);
}
std::uint64_t mix(std::uint64_t h, std::span<const std::uint8_t> bytes) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    h = step(h, w);
  }
  // The last 0..7 bytes, with their count in the top byte: "ab" and "ab\0" differ.
  std::uint64_t w = std::uint64_t{bytes.size() - i} << 56;
  for (unsigned shift = 0; i < bytes.size(); ++i, shift += 8) w |= std::uint64_t{bytes[i]} << shift;
  return step(h, w);
}

}  // namespace

std::optional<ip_view> read_ip(std::span<const std::uint8_t> p) noexcept {
  if (check_ip_packet(p) != decode_error::none) return std::nullopt;
  ip_view v;
  v.header_length = std::size_t{p[0] & 0x0fu} * 4;
  v.tos = p[1];
  v.id = get16(p.data() + 4);
  v.ttl = p[8];
  v.protocol = p[9];
  v.src = get32(p.data() + 12);
  v.dst = get32(p.data() + 16);
  const bool first_fragment = (get16(p.data() + 6) & 0x1fff) == 0;
  if (first_fragment && (v.protocol == kProtoUdp || v.protocol == kProtoTcp) &&
      p.size() >= v.header_length + 4) {
    v.src_port = get16(p.data() + v.header_length);
    v.dst_port = get16(p.data() + v.header_length + 2);
  }
  return v;
}

bool fix_udp_checksum(std::span<std::uint8_t> p) noexcept {
  auto v = read_ip(p);
  if (!v || v->protocol != kProtoUdp) return false;
  const bool fragmented = (get16(p.data() + 6) & 0x3fff) != 0;  // MF set or offset != 0
  const std::size_t udp_len = p.size() - v->header_length;
  if (fragmented || udp_len < 8) return false;
  auto udp = p.subspan(v->header_length);
  if (get16(udp.data() + 4) != udp_len) return false;
  if (udp[6] == 0 && udp[7] == 0) return false;
  // Pseudo-header (RFC 768): source, destination, zero, protocol, UDP length.
  std::uint32_t sum = 0;
  for (std::size_t i = 12; i < 20; i += 2) sum += get16(p.data() + i);
  sum += kProtoUdp;
  sum += static_cast<std::uint32_t>(udp_len);
  udp[6] = 0;
  udp[7] = 0;
  sum += static_cast<std::uint16_t>(~internet_checksum(udp));
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  std::uint16_t c = static_cast<std::uint16_t>(~sum);
  if (c == 0) c = 0xffff;  // zero is reserved for "no checksum"
  udp[6] = static_cast<std::uint8_t>(c >> 8);
  udp[7] = static_cast<std::uint8_t>(c);
  return true;
}

std::uint64_t fingerprint(std::span<const std::uint8_t> p) noexcept {
  auto v = read_ip(p);
  if (!v) return mix(kSeed, p);
  std::uint64_t h = kSeed;
  h = mix(h, p.subspan(12, 8));                                   // source, destination
  h = step(h, (std::uint64_t{get16(p.data() + 4)} << 8) | p[9]);  // id, protocol
  auto payload = p.subspan(v->header_length);
  if (v->protocol == kProtoUdp && payload.size() >= 8) {
    h = mix(h, payload.first(6));  // ports and length; not the checksum
    payload = payload.subspan(8);
  }
  return mix(h, payload);
}

}  // namespace vsock_mcast
