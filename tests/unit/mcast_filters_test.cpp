// vsock-mcast's guards: allowlists, duplicate filter, rate limiter, and the packet helpers.
#include <gtest/gtest.h>

#include <thread>

#include "mcast_test_packets.hpp"
#include "vsock_mcast/filters.hpp"
#include "vsock_mcast/packet.hpp"

namespace vsock_mcast {
namespace {

using namespace std::chrono_literals;

TEST(McastAllowlist, DefaultCarriesAllButLinkLocal) {
  allowlist a;
  EXPECT_TRUE(a.allows_group(0xEFFF0001));   // 239.255.0.1
  EXPECT_TRUE(a.allows_group(0xE0F4E0F5));   // 224.244.224.245
  EXPECT_FALSE(a.allows_group(0xE00000FB));  // 224.0.0.251 (mDNS)
  EXPECT_FALSE(a.allows_group(0xE0000016));  // 224.0.0.22 (IGMPv3)
  EXPECT_FALSE(a.allows_group(0x0A000001));  // not multicast
  EXPECT_TRUE(a.allows_port(1));
}

TEST(McastAllowlist, ListedGroupsAndPorts) {
  allowlist a;
  a.groups = {parse_cidr("239.255.0.0/16"), parse_cidr("224.0.0.0/4")};
  a.ports = {parse_port_range("7400-7500"), parse_port_range("30490")};
  EXPECT_TRUE(a.allows_group(0xEFFF0001));
  // 224.0.0.0/4 covers 224.0.0.251 but is not inside 224.0.0.0/24: still refused.
  EXPECT_FALSE(a.allows_group(0xE00000FB));
  a.groups.push_back(parse_cidr("224.0.0.251"));
  EXPECT_TRUE(a.allows_group(0xE00000FB));
  EXPECT_FALSE(a.allows_group(0xE00000FC));
  EXPECT_TRUE(a.allows_port(7400));
  EXPECT_TRUE(a.allows_port(7500));
  EXPECT_TRUE(a.allows_port(30490));
  EXPECT_FALSE(a.allows_port(7501));

  allowlist only;
  only.groups = {parse_cidr("239.255.0.1/32")};
  EXPECT_TRUE(only.allows_group(0xEFFF0001));
  EXPECT_FALSE(only.allows_group(0xEFFF0002));
}

TEST(McastAllowlist, ParseErrorsSayWhat) {
  auto msg = [](auto f) {
    try {
      f();
    } catch (const filter_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg([] { parse_cidr("239.255.0.1/33"); }).find("0..32"), std::string::npos);
  EXPECT_NE(msg([] { parse_cidr("239.255.0.1/16"); }).find("host bits"), std::string::npos);
  EXPECT_NE(msg([] { parse_cidr("nonsense"); }).find("not an IPv4 address"), std::string::npos);
  EXPECT_NE(msg([] { parse_port_range("70000"); }).find("0..65535"), std::string::npos);
  EXPECT_NE(msg([] { parse_port_range("9-3"); }).find("ends before"), std::string::npos);
  EXPECT_NE(msg([] { parse_port_range("-1"); }).find("\"-1\" is not N or N-M"), std::string::npos);
  EXPECT_NE(msg([] { parse_port_range("5-"); }).find("is not N or N-M"), std::string::npos);
  EXPECT_EQ(parse_cidr("0.0.0.0/0").prefix, 0u);
  EXPECT_TRUE(parse_cidr("0.0.0.0/0").contains(0xEFFF0001));
}

TEST(McastFilterClock, CoarseClockFollowsTheMonotonicClock) {
  // Never backwards, and 30 ms of sleep show as at least 30 ms less a tick at each end
  // (ticks are 1 to 10 ms).
  const auto a = clock::now();
  std::this_thread::sleep_for(30ms);
  const auto b = clock::now();
  EXPECT_GE(b - a, 10ms);
  EXPECT_GE(clock::now(), b);
}

TEST(McastDupFilter, SecondCopyWithinWindowIsADuplicate) {
  dup_filter f(4, 500ms);
  const auto t0 = clock::time_point{} + 1h;
  EXPECT_FALSE(f.seen(1, t0));
  EXPECT_TRUE(f.seen(1, t0 + 100ms));
  EXPECT_FALSE(f.seen(2, t0 + 100ms));
  // After the window, the same fingerprint is new again.
  EXPECT_FALSE(f.seen(1, t0 + 700ms));
}

TEST(McastDupFilter, BoundedByCapacity) {
  dup_filter f(4, 10s);
  const auto t0 = clock::time_point{} + 1h;
  for (std::uint64_t i = 0; i < 100; ++i) EXPECT_FALSE(f.seen(i, t0));
  EXPECT_LE(f.size(), 4u);
  // The oldest were forgotten to make room; the newest are remembered.
  EXPECT_FALSE(f.seen(0, t0));
  EXPECT_TRUE(f.seen(99, t0));
}

TEST(McastRateLimiter, BurstThenRate) {
  rate_limiter r(10);
  const auto t0 = clock::time_point{} + 1h;
  int passed = 0;
  for (int i = 0; i < 20; ++i) passed += r.allow(t0);
  EXPECT_EQ(passed, 10);  // a burst of one second's worth
  EXPECT_FALSE(r.allow(t0 + 50ms));
  EXPECT_TRUE(r.allow(t0 + 100ms));  // one token per 100 ms
  EXPECT_FALSE(r.allow(t0 + 110ms));
  passed = 0;
  for (int i = 0; i < 20; ++i) passed += r.allow(t0 + 10s);  // refilled, but only to the cap
  EXPECT_EQ(passed, 10);
}

TEST(McastRateLimiter, ZeroMeansUnlimited) {
  rate_limiter r(0);
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(r.allow(clock::time_point{}));
}

TEST(McastPacket, ReadsHeaderFieldsAndPorts) {
  auto p = test::udp_packet(0x0A4D0001, 0xEFFF0001, 40001, 7400, {1, 2}, 0, 1, 0xB8, 77);
  auto v = read_ip(p);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->src, 0x0A4D0001u);
  EXPECT_EQ(v->dst, 0xEFFF0001u);
  EXPECT_EQ(v->ttl, 1);
  EXPECT_EQ(v->tos, 0xB8);
  EXPECT_EQ(v->id, 77);
  EXPECT_EQ(v->src_port, 40001);
  EXPECT_EQ(v->dst_port, 7400);
  auto frag = p;
  frag[7] = 0x10;  // a later fragment: no ports
  EXPECT_FALSE(read_ip(frag)->dst_port);
  EXPECT_FALSE(read_ip(std::vector<std::uint8_t>(p.begin(), p.begin() + 10)));
}

// The checksum a receiver verifies: one's complement sum over pseudo-header and datagram.
bool udp_checksum_ok(const std::vector<std::uint8_t>& p) {
  std::vector<std::uint8_t> pseudo(p.begin() + 12, p.begin() + 20);
  pseudo.push_back(0);
  pseudo.push_back(17);
  pseudo.push_back(static_cast<std::uint8_t>((p.size() - 20) >> 8));
  pseudo.push_back(static_cast<std::uint8_t>(p.size() - 20));
  pseudo.insert(pseudo.end(), p.begin() + 20, p.end());
  return internet_checksum(pseudo) == 0;
}

TEST(McastPacket, FixesPartialUdpChecksums) {
  auto p = test::udp_packet(0x0A4D0001, 0xEFFF0001, 40001, 7400, {1, 2, 3}, 0xBEEF);
  EXPECT_FALSE(udp_checksum_ok(p));
  ASSERT_TRUE(fix_udp_checksum(p));
  EXPECT_TRUE(udp_checksum_ok(p));
  // Zero ("no checksum") stays zero.
  auto z = test::udp_packet(0x0A4D0001, 0xEFFF0001, 40001, 7400, {1, 2, 3}, 0);
  EXPECT_FALSE(fix_udp_checksum(z));
  EXPECT_EQ(z[26], 0);
  EXPECT_EQ(z[27], 0);
}

TEST(McastPacket, FingerprintIgnoresTtlTosAndChecksum) {
  auto a = test::udp_packet(1, 0xEFFF0001, 1, 2, {5, 6}, 0x1111, 1, 0, 9);
  auto b = test::udp_packet(1, 0xEFFF0001, 1, 2, {5, 6}, 0x2222, 64, 0xB8, 9);
  EXPECT_EQ(fingerprint(a), fingerprint(b));
  auto c = test::udp_packet(1, 0xEFFF0001, 1, 2, {5, 7}, 0x1111, 1, 0, 9);
  EXPECT_NE(fingerprint(a), fingerprint(c));
  auto d = test::udp_packet(1, 0xEFFF0001, 1, 2, {5, 6}, 0x1111, 1, 0, 10);  // another IP id
  EXPECT_NE(fingerprint(a), fingerprint(d));
}

TEST(McastPacket, FingerprintSeesEveryPayloadByte) {
  // 1200 bytes, as a large discovery datagram: a change in any one byte, in the eight-byte
  // steps and in the tail, gives another fingerprint; so does one more zero byte.
  std::vector<std::uint8_t> payload(1203);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 7);
  const auto base = fingerprint(test::udp_packet(1, 0xEFFF0001, 1, 2, payload, 0x1111));
  for (std::size_t i = 0; i < payload.size(); ++i) {
    auto changed = payload;
    changed[i] ^= 0x01;
    ASSERT_NE(fingerprint(test::udp_packet(1, 0xEFFF0001, 1, 2, changed, 0x1111)), base)
        << "byte " << i;
  }
  auto longer = payload;
  longer.push_back(0);
  EXPECT_NE(fingerprint(test::udp_packet(1, 0xEFFF0001, 1, 2, longer, 0x1111)), base);
}

}  // namespace
}  // namespace vsock_mcast
