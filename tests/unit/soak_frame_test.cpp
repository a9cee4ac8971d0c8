// vsock-soak's protocol checks: a damaged byte is reported at its stream and offset, lost
// and repeated messages are told apart from damage, sizes and payloads are reproducible.
#include <gtest/gtest.h>

#include <bit>
#include <set>
#include <tuple>

#include "vsock_soak/frame.hpp"

namespace vsock_soak {
namespace {

struct frame {
  std::array<std::byte, kHeaderSize> head;
  std::vector<std::byte> payload;
};

frame make(std::uint64_t seed, std::uint32_t stream, std::uint64_t seq, std::uint32_t len) {
  frame f;
  f.payload.resize(len);
  fill_payload(seed, stream, seq, f.payload);
  encode_header(frame_type::data, stream, seq, f.payload, f.head);
  return f;
}

verdict check(const frame& f, std::uint64_t seed, std::uint32_t stream, std::uint64_t seq,
              std::uint32_t len) {
  std::uint32_t magic = 0;
  const header h = decode_header(f.head, magic);
  std::vector<std::byte> scratch;
  return verify_data(seed, stream, seq, len, magic, h, f.head, f.payload, scratch);
}

TEST(SoakFrame, IntactMessagePasses) {
  auto f = make(7, 3, 12, 1000);
  EXPECT_EQ(check(f, 7, 3, 12, 1000).what, verdict::kind::ok);
  auto empty = make(7, 3, 13, 0);
  EXPECT_EQ(check(empty, 7, 3, 13, 0).what, verdict::kind::ok);
}

TEST(SoakFrame, EveryFlippedPayloadByteIsFoundAtItsIndex) {
  for (std::size_t at : {0u, 1u, 7u, 8u, 500u, 999u}) {
    auto f = make(7, 3, 12, 1000);
    f.payload[at] ^= std::byte{0x01};
    auto v = check(f, 7, 3, 12, 1000);
    EXPECT_EQ(v.what, verdict::kind::corrupt) << at;
    EXPECT_EQ(v.index, at);
  }
}

TEST(SoakFrame, DamagedHeaderIsCorruptionNotLoss) {
  auto f = make(7, 3, 12, 100);
  f.head[18] ^= std::byte{0x01};  // seq field: without a sound check this is damage, not a gap
  auto v = check(f, 7, 3, 12, 100);
  EXPECT_EQ(v.what, verdict::kind::corrupt);
  EXPECT_EQ(v.index, kHeaderIndex);

  f = make(7, 3, 12, 100);
  f.head[0] ^= std::byte{0x01};
  EXPECT_EQ(check(f, 7, 3, 12, 100).detail, "bad magic");

  f = make(7, 3, 12, 100);
  f.head[30] ^= std::byte{0x01};  // the check field itself
  v = check(f, 7, 3, 12, 100);
  EXPECT_EQ(v.what, verdict::kind::corrupt);
  EXPECT_EQ(v.detail, "check field");

  f = make(7, 4, 12, 100);  // another stream's message
  EXPECT_EQ(check(f, 7, 3, 12, 100).what, verdict::kind::corrupt);
}

TEST(SoakFrame, SoundLaterSeqIsAGapEarlierADuplicate) {
  auto later = make(7, 3, 15, 64);
  auto v = check(later, 7, 3, 12, 100);
  EXPECT_EQ(v.what, verdict::kind::gap);
  EXPECT_EQ(v.got_seq, 15u);
  auto earlier = make(7, 3, 10, 64);
  EXPECT_EQ(check(earlier, 7, 3, 12, 100).what, verdict::kind::duplicate);
}

TEST(SoakFrame, PayloadDependsOnSeedStreamAndSeq) {
  std::vector<std::byte> a(64), b(64);
  fill_payload(1, 0, 0, a);
  fill_payload(1, 0, 0, b);
  EXPECT_EQ(a, b);
  for (auto [seed, stream, seq] :
       {std::tuple{2ull, 0u, 0ull}, {1ull, 1u, 0ull}, {1ull, 0u, 1ull}}) {
    fill_payload(seed, stream, seq, b);
    EXPECT_NE(a, b);
  }
  std::vector<std::byte> scratch;
  fill_payload(1, 0, 0, b);
  EXPECT_FALSE(first_mismatch(1, 0, 0, b, scratch));
  b[63] ^= std::byte{0x80};
  EXPECT_EQ(first_mismatch(1, 0, 0, b, scratch), 63u);
}

TEST(SoakFrame, SizesStayInTheMixAndCoverIt) {
  auto mix = size_mix::parse("1..65536");
  std::set<int> octaves;
  for (std::uint64_t seq = 0; seq < 5000; ++seq) {
    auto n = message_length(9, 2, seq, mix);
    ASSERT_GE(n, 1u);
    ASSERT_LE(n, 65536u);
    octaves.insert(std::bit_width(n));
    EXPECT_EQ(n, message_length(9, 2, seq, mix)) << "not reproducible";
  }
  EXPECT_GE(octaves.size(), 16u) << "log-uniform sizes should reach every power of two";

  auto list = size_mix::parse("64,4096");
  for (std::uint64_t seq = 0; seq < 100; ++seq) {
    auto n = message_length(9, 2, seq, list);
    EXPECT_TRUE(n == 64 || n == 4096);
  }
  EXPECT_EQ(list.to_string(), "64,4096");
  EXPECT_EQ(size_mix::parse("100..100").to_string(), "100..100");
}

TEST(SoakFrame, BadSizeSpecsAreRefusedWithTheReason) {
  auto message = [](const std::string& t) -> std::string {
    try {
      size_mix::parse(t);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(message("0..10").find("outside"), std::string::npos);
  EXPECT_NE(message("10..5").find("MIN is above MAX"), std::string::npos);
  EXPECT_NE(message("abc").find("not a number"), std::string::npos);
  EXPECT_NE(message("2000000").find("outside"), std::string::npos);
}

}  // namespace
}  // namespace vsock_soak
