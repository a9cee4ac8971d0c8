// Builders of IPv4 packets for the vsock-mcast unit tests.
#pragma once

#include <cstdint>
#include <vector>

#include "vsock_mcast/igmp.hpp"

namespace vsock_mcast::test {

inline void put16(std::vector<std::uint8_t>& v, std::size_t at, std::uint16_t x) {
  v[at] = static_cast<std::uint8_t>(x >> 8);
  v[at + 1] = static_cast<std::uint8_t>(x);
}
inline void put32(std::vector<std::uint8_t>& v, std::size_t at, std::uint32_t x) {
  put16(v, at, static_cast<std::uint16_t>(x >> 16));
  put16(v, at + 2, static_cast<std::uint16_t>(x));
}

/// An IPv4 header (20 bytes, valid checksum) followed by PAYLOAD.
inline std::vector<std::uint8_t> ip_packet(std::uint8_t proto, std::uint32_t src, std::uint32_t dst,
                                           const std::vector<std::uint8_t>& payload,
                                           std::uint8_t ttl = 1, std::uint8_t tos = 0,
                                           std::uint16_t id = 1) {
  std::vector<std::uint8_t> p(20 + payload.size());
  p[0] = 0x45;
  p[1] = tos;
  put16(p, 2, static_cast<std::uint16_t>(p.size()));
  put16(p, 4, id);
  p[8] = ttl;
  p[9] = proto;
  put32(p, 12, src);
  put32(p, 16, dst);
  put16(p, 10, internet_checksum(std::span(p.data(), 20)));
  std::copy(payload.begin(), payload.end(), p.begin() + 20);
  return p;
}

/// A UDP datagram in an IPv4 packet; the UDP checksum is set to CHECKSUM as given.
inline std::vector<std::uint8_t> udp_packet(std::uint32_t src, std::uint32_t dst,
                                            std::uint16_t sport, std::uint16_t dport,
                                            const std::vector<std::uint8_t>& data,
                                            std::uint16_t checksum = 0x1234, std::uint8_t ttl = 1,
                                            std::uint8_t tos = 0, std::uint16_t id = 1) {
  std::vector<std::uint8_t> udp(8 + data.size());
  put16(udp, 0, sport);
  put16(udp, 2, dport);
  put16(udp, 4, static_cast<std::uint16_t>(udp.size()));
  put16(udp, 6, checksum);
  std::copy(data.begin(), data.end(), udp.begin() + 8);
  return ip_packet(17, src, dst, udp, ttl, tos, id);
}

/// IGMP message BODY (checksum field zero) with its checksum filled in, in an IPv4 packet
/// from 10.0.0.5 to DST.
inline std::vector<std::uint8_t> igmp_packet(std::vector<std::uint8_t> body, std::uint32_t dst) {
  put16(body, 2, 0);
  put16(body, 2, internet_checksum(body));
  return ip_packet(2, 0x0A000005, dst, body);
}

inline std::vector<std::uint8_t> igmp_v2(std::uint8_t type, std::uint32_t group) {
  std::vector<std::uint8_t> b(8);
  b[0] = type;
  put32(b, 4, group);
  return igmp_packet(b, group);
}

struct v3_record {
  std::uint8_t type;
  std::uint32_t group;
  std::vector<std::uint32_t> sources;
  std::uint8_t aux_words = 0;
};

inline std::vector<std::uint8_t> igmp_v3(const std::vector<v3_record>& records) {
  std::vector<std::uint8_t> b(8);
  b[0] = 0x22;
  put16(b, 6, static_cast<std::uint16_t>(records.size()));
  for (const auto& r : records) {
    const std::size_t at = b.size();
    b.resize(at + 8 + 4 * r.sources.size() + 4 * r.aux_words);
    b[at] = r.type;
    b[at + 1] = r.aux_words;
    put16(b, at + 2, static_cast<std::uint16_t>(r.sources.size()));
    put32(b, at + 4, r.group);
    for (std::size_t i = 0; i < r.sources.size(); ++i) put32(b, at + 8 + 4 * i, r.sources[i]);
  }
  return igmp_packet(b, 0xE0000016);  // 224.0.0.22
}

}  // namespace vsock_mcast::test
