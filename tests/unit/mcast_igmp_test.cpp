// IGMP membership reports as the guest kernel writes them into the TUN.
#include <gtest/gtest.h>

#include <vector>

#include "mcast_test_packets.hpp"
#include "vsock_mcast/igmp.hpp"

namespace vsock_mcast {
namespace {

using test::igmp_v2;
using test::igmp_v3;
constexpr std::uint32_t kG1 = 0xEFFF0001;  // 239.255.0.1
constexpr std::uint32_t kG2 = 0xE0F4E0F5;  // 224.244.224.245 (SOME/IP-SD example)

igmp_result parse(const std::vector<std::uint8_t>& p) {
  return parse_igmp(std::span(p.data(), p.size()));
}

TEST(McastIgmp, V1AndV2ReportsAndLeave) {
  auto r = parse(igmp_v2(0x12, kG1));
  ASSERT_EQ(r.error, igmp_error::none);
  EXPECT_EQ(r.changes, (std::vector<membership_change>{{kG1, true}}));
  r = parse(igmp_v2(0x16, kG2));
  EXPECT_EQ(r.changes, (std::vector<membership_change>{{kG2, true}}));
  r = parse(igmp_v2(0x17, kG2));
  EXPECT_EQ(r.changes, (std::vector<membership_change>{{kG2, false}}));
}

TEST(McastIgmp, QueriesChangeNothing) {
  auto r = parse(igmp_v2(0x11, 0));
  EXPECT_EQ(r.error, igmp_error::none);
  EXPECT_TRUE(r.changes.empty());
}

// What Linux sends when an application joins (CHANGE_TO_EXCLUDE {}) and leaves
// (CHANGE_TO_INCLUDE {}), and the other record types folded into any-source membership.
TEST(McastIgmp, V3RecordsMapToJoinAndLeave) {
  auto r = parse(igmp_v3({{4, kG1, {}}, {3, kG2, {}}}));
  ASSERT_EQ(r.error, igmp_error::none);
  EXPECT_EQ(r.changes, (std::vector<membership_change>{{kG1, true}, {kG2, false}}));

  r = parse(igmp_v3({{2, kG1, {0x0A000001}}, {1, kG2, {}}, {1, 0xEFFF0003, {0x0A000001}}}));
  ASSERT_EQ(r.error, igmp_error::none);
  EXPECT_EQ(r.changes,
            (std::vector<membership_change>{{kG1, true}, {kG2, false}, {0xEFFF0003, true}}));

  // ALLOW_NEW_SOURCES joins; BLOCK_OLD_SOURCES and unknown record types change nothing.
  r = parse(igmp_v3({{5, kG1, {0x0A000001}}, {6, kG2, {0x0A000001}}, {9, kG2, {}}}));
  ASSERT_EQ(r.error, igmp_error::none);
  EXPECT_EQ(r.changes, (std::vector<membership_change>{{kG1, true}}));
}

TEST(McastIgmp, V3AuxDataIsSkipped) {
  auto r = parse(igmp_v3({{4, kG1, {0x0A000001, 0x0A000002}, 2}, {4, kG2, {}}}));
  ASSERT_EQ(r.error, igmp_error::none);
  EXPECT_EQ(r.changes, (std::vector<membership_change>{{kG1, true}, {kG2, true}}));
}

TEST(McastIgmp, NotIgmpIsSaidSo) {
  auto udp = test::udp_packet(0x0A000005, kG1, 1, 2, {1});
  EXPECT_EQ(parse(udp).error, igmp_error::not_igmp);
  std::vector<std::uint8_t> v6(40, 0);
  v6[0] = 0x60;
  EXPECT_EQ(parse(v6).error, igmp_error::not_ipv4);
  EXPECT_EQ(parse({}).error, igmp_error::not_ipv4);
}

TEST(McastIgmp, MalformedReportsAreRefusedWhole) {
  auto bad_sum = igmp_v2(0x16, kG1);
  bad_sum.back() ^= 1;
  EXPECT_EQ(parse(bad_sum).error, igmp_error::bad_checksum);

  EXPECT_EQ(parse(igmp_v2(0x16, 0x0A000001)).error, igmp_error::bad_group);

  // A v3 report claiming three records but holding two: nothing of it is applied.
  auto p = igmp_v3({{4, kG1, {}}, {4, kG2, {}}});
  p[20 + 7] = 3;
  // Keep the checksum right so that the truncation is what is found.
  p[20 + 2] = p[20 + 3] = 0;
  auto sum = internet_checksum(std::span(p).subspan(20));
  test::put16(p, 22, sum);
  auto r = parse(p);
  EXPECT_EQ(r.error, igmp_error::truncated);
  EXPECT_TRUE(r.changes.empty());

  // A record whose source count runs past the end.
  auto q = igmp_v3({{4, kG1, {}}});
  q[20 + 8 + 3] = 50;
  q[22] = q[23] = 0;
  test::put16(q, 22, internet_checksum(std::span(q).subspan(20)));
  EXPECT_EQ(parse(q).error, igmp_error::truncated);

  // IP total length beyond the data.
  auto t = igmp_v2(0x16, kG1);
  t.pop_back();
  EXPECT_EQ(parse(t).error, igmp_error::not_ipv4);
}

TEST(McastIgmp, NeverThrowsOnCorruptedInput) {
  auto p = igmp_v3({{4, kG1, {0x0A000001}}, {3, kG2, {}}});
  for (std::size_t n = 0; n <= p.size(); ++n) {
    EXPECT_NO_THROW(parse(std::vector<std::uint8_t>(p.begin(), p.begin() + n)));
  }
  for (std::size_t i = 0; i < p.size(); ++i) {
    auto c = p;
    c[i] ^= 0xFF;
    EXPECT_NO_THROW(parse(c));
  }
}

// The Internet checksum a 16-bit word at a time, as RFC 1071 defines it: the reference the
// word-at-a-time implementation is held to.
std::uint16_t checksum_by_pairs(const std::vector<std::uint8_t>& d) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < d.size(); i += 2) {
    sum += (std::uint32_t{d[i]} << 8) | (i + 1 < d.size() ? d[i + 1] : 0u);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

TEST(McastChecksum, MatchesRfc1071) {
  // RFC 1071 section 3's example: the sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2.
  const std::vector<std::uint8_t> example{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(internet_checksum(example), 0xffff - 0xddf2);
  // Lengths from 0 to 1203 with every tail (zero to three bytes past the last four-byte
  // word), with byte values that make the sum carry often.
  for (std::size_t n :
       {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 33, 63, 64, 65, 66, 67, 70, 1200, 1201, 1202, 1203}) {
    std::vector<std::uint8_t> d(n);
    for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<std::uint8_t>(0xff - i * 37);
    EXPECT_EQ(internet_checksum(d), checksum_by_pairs(d)) << n << " bytes";
  }
}

}  // namespace
}  // namespace vsock_mcast
