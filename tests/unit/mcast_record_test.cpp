// The vsock-mcast record codec: round trips, and every kind of malformed input named.
#include <gtest/gtest.h>

#include "mcast_test_packets.hpp"
#include "vsock_mcast/record.hpp"

namespace vsock_mcast {
namespace {

using bytes = std::vector<std::uint8_t>;

decode_result dec(const bytes& b, bool exact = true) {
  return decode(std::span(b.data(), b.size()), exact);
}

TEST(McastRecord, HelloRoundTrip) {
  hello h{role::guest, mode::l3, 0x0A4D0032, "android-1"};
  bytes b;
  encode_hello(h, b);
  ASSERT_EQ(b.size(), kHeaderSize + kHelloFixed + h.name.size());
  EXPECT_EQ(b[0], kVersion);
  EXPECT_EQ(b[1], 1);
  auto r = dec(b);
  ASSERT_EQ(r.error, decode_error::none) << to_string(r.error);
  EXPECT_EQ(r.rec.type, record_type::hello);
  EXPECT_EQ(r.rec.hello, h);
  EXPECT_EQ(r.consumed, b.size());
}

TEST(McastRecord, HelloNameIsBoundedAndPrintable) {
  hello h{role::host, mode::mcast, 0, {}};
  h.name.assign(100, 'x');  // (built apart: GCC 12 warns falsely on a temporary here)
  h.name.push_back('\n');
  bytes b;
  encode_hello(h, b);
  auto r = dec(b);
  ASSERT_EQ(r.error, decode_error::none);
  EXPECT_EQ(r.rec.hello.name, std::string(kMaxName, 'x'));

  bytes bad;
  encode_hello(hello{role::guest, mode::mcast, 0, "ab"}, bad);
  bad.back() = 0x07;  // a control character in the name
  EXPECT_EQ(dec(bad).error, decode_error::bad_name);
}

TEST(McastRecord, DataCarriesTheWholePacket) {
  auto pkt = test::udp_packet(0x0A000001, 0xEFFF0001, 40001, 7400, {1, 2, 3}, 0x1234, 1, 0xB8);
  bytes b;
  encode_data(pkt, b);
  auto r = dec(b);
  ASSERT_EQ(r.error, decode_error::none);
  EXPECT_EQ(r.rec.type, record_type::data);
  EXPECT_EQ(bytes(r.rec.packet.begin(), r.rec.packet.end()), pkt);
}

TEST(McastRecord, JoinAndLeave) {
  for (auto t : {record_type::join, record_type::leave}) {
    bytes b;
    encode_membership(t, 0xEFFF0001, b);
    auto r = dec(b);
    ASSERT_EQ(r.error, decode_error::none);
    EXPECT_EQ(r.rec.type, t);
    EXPECT_EQ(r.rec.group, 0xEFFF0001u);
  }
  bytes b;
  encode_membership(record_type::join, 0x0A000001, b);  // not multicast
  EXPECT_EQ(dec(b).error, decode_error::not_multicast);
}

TEST(McastRecord, StreamDecodingLeavesTheNextRecord) {
  bytes b;
  encode_membership(record_type::join, 0xEFFF0001, b);
  encode_membership(record_type::leave, 0xEFFF0002, b);
  auto r = dec(b, false);
  ASSERT_EQ(r.error, decode_error::none);
  EXPECT_EQ(r.consumed, 8u);
  auto r2 = decode(std::span(b).subspan(r.consumed), false);
  ASSERT_EQ(r2.error, decode_error::none);
  EXPECT_EQ(r2.rec.group, 0xEFFF0002u);
  // The same bytes as one seqpacket message are one record plus garbage.
  EXPECT_EQ(dec(b, true).error, decode_error::length_mismatch);
}

TEST(McastRecord, MalformedHeadersAreNamed) {
  EXPECT_EQ(dec({}).error, decode_error::truncated);
  EXPECT_EQ(dec({1, 3, 0}).error, decode_error::truncated);
  EXPECT_EQ(dec({2, 3, 0, 4, 239, 0, 0, 1}).error, decode_error::bad_version);
  EXPECT_EQ(dec({1, 9, 0, 4, 239, 0, 0, 1}).error, decode_error::unknown_type);
  EXPECT_EQ(dec({1, 0, 0, 0}).error, decode_error::unknown_type);
  EXPECT_EQ(dec({1, 3, 0, 8, 239, 0, 0, 1}).error, decode_error::truncated);  // length says 8
  EXPECT_EQ(dec({1, 3, 0, 3, 239, 0, 0}).error, decode_error::short_body);
  EXPECT_EQ(std::string(to_string(decode_error::bad_version)), "bad_version");
}

TEST(McastRecord, MalformedBodiesAreNamed) {
  EXPECT_EQ(dec({1, 1, 0, 4, 2, 1, 0, 0}).error, decode_error::short_body);            // HELLO < 8
  EXPECT_EQ(dec({1, 1, 0, 8, 3, 1, 0, 0, 0, 0, 0, 0}).error, decode_error::bad_role);  // role 3
  EXPECT_EQ(dec({1, 1, 0, 8, 2, 7, 0, 0, 0, 0, 0, 0}).error, decode_error::bad_role);  // mode 7
  EXPECT_EQ(dec({1, 1, 0, 8, 2, 1, 1, 0, 0, 0, 0, 0}).error, decode_error::bad_role);  // reserved

  auto pkt = test::udp_packet(0x0A000001, 0xEFFF0001, 1, 2, {9, 9});
  bytes b;
  encode_data(std::span(pkt.data(), 19), b);  // shorter than an IP header
  EXPECT_EQ(dec(b).error, decode_error::short_body);

  auto v6 = pkt;
  v6[0] = 0x65;
  b.clear();
  encode_data(v6, b);
  EXPECT_EQ(dec(b).error, decode_error::bad_ip_header);

  auto long_ihl = pkt;
  long_ihl[0] = 0x4F;  // 60-byte header in a 30-byte packet
  b.clear();
  encode_data(long_ihl, b);
  EXPECT_EQ(dec(b).error, decode_error::bad_ip_header);

  auto wrong_len = pkt;
  test::put16(wrong_len, 2, static_cast<std::uint16_t>(pkt.size() + 1));
  b.clear();
  encode_data(wrong_len, b);
  EXPECT_EQ(dec(b).error, decode_error::ip_length_mismatch);
}

// Every prefix and every single-byte corruption of valid records decodes to a value, never
// a crash or an exception (the fuzz target goes further).
TEST(McastRecord, NeverThrowsOnCorruptedInput) {
  bytes all;
  encode_hello(hello{role::guest, mode::mcast, 1, "g"}, all);
  encode_data(test::udp_packet(1, 0xEFFF0001, 1, 2, {1, 2, 3, 4}), all);
  encode_membership(record_type::leave, 0xEFFF0001, all);
  for (std::size_t n = 0; n <= all.size(); ++n) {
    EXPECT_NO_THROW(dec(bytes(all.begin(), all.begin() + n), false));
  }
  for (std::size_t i = 0; i < all.size(); ++i) {
    for (std::uint8_t x : {0x00, 0x01, 0x80, 0xFF}) {
      auto c = all;
      c[i] ^= x;
      auto r = dec(c, false);
      if (r.error == decode_error::none) {
        EXPECT_LE(r.consumed, c.size());
      }
    }
  }
}

TEST(McastRecord, Ipv4Text) {
  std::uint32_t a = 0;
  EXPECT_TRUE(parse_ipv4("239.255.0.1", a));
  EXPECT_EQ(a, 0xEFFF0001u);
  EXPECT_EQ(ipv4_to_string(a), "239.255.0.1");
  EXPECT_FALSE(parse_ipv4("239.255.0", a));
  EXPECT_FALSE(parse_ipv4("239.255.0.1.5", a));
  EXPECT_FALSE(parse_ipv4("", a));
  EXPECT_FALSE(parse_ipv4("a very long string that is not an address", a));
}

}  // namespace
}  // namespace vsock_mcast
