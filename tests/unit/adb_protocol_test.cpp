// The ADB wire protocol codec: header encoding, validation, checksum and the stream framer.
#include "adb_protocol/protocol.hpp"

#include <array>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace adb_protocol {
namespace {

std::vector<std::byte> bytes_of(std::string_view s) {
  std::vector<std::byte> v(s.size());
  std::memcpy(v.data(), s.data(), s.size());
  return v;
}

// A message as it appears on a stream: header then payload.
std::vector<std::byte> wire(const message_header& h, std::span<const std::byte> payload) {
  std::vector<std::byte> out(kHeaderSize);
  encode(h, std::span<std::byte, kHeaderSize>(out.data(), kHeaderSize));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::vector<std::byte> wire_message(std::uint32_t cmd, std::uint32_t a0, std::uint32_t a1,
                                    std::span<const std::byte> payload) {
  return wire(make_header(cmd, a0, a1, payload, false), payload);
}

TEST(AdbHeader, EncodesLittleEndianAsOnTheWire) {
  auto h = make_header(kCnxn, kVersion, kMaxPayload, {}, false);
  std::array<std::byte, kHeaderSize> out{};
  encode(h, out);
  // "CNXN", then 0x01000001, 0x00100000, 0, 0, ~"CNXN".
  const unsigned char expected[kHeaderSize] = {'C', 'N', 'X',  'N', 1,    0,    0,    1,
                                               0,   0,   0x10, 0,   0,    0,    0,    0,
                                               0,   0,   0,    0,   0xbc, 0xb1, 0xa7, 0xb1};
  EXPECT_EQ(std::memcmp(out.data(), expected, kHeaderSize), 0);
}

TEST(AdbHeader, RoundTripsEveryField) {
  std::mt19937 rng(42);  // 32-bit words, like the header's
  auto w = [&] { return static_cast<std::uint32_t>(rng()); };
  for (int i = 0; i < 1000; ++i) {
    message_header h{w(), w(), w(), w(), w(), w()};
    std::array<std::byte, kHeaderSize> buf{};
    encode(h, buf);
    EXPECT_EQ(decode(buf), h);
  }
}

TEST(AdbHeader, MakeHeaderFillsLengthMagicAndChecksum) {
  auto payload = bytes_of("host::features=shell_v2");
  auto with = make_header(kCnxn, 1, 2, payload, true);
  EXPECT_EQ(with.data_length, payload.size());
  EXPECT_EQ(with.magic, kCnxn ^ 0xffffffffu);
  EXPECT_EQ(with.data_check, checksum(payload));
  EXPECT_NE(with.data_check, 0u);
  EXPECT_EQ(make_header(kCnxn, 1, 2, payload, false).data_check, 0u);
  EXPECT_TRUE(validate(with, kMaxPayload));
}

TEST(AdbChecksum, IsAByteSumThatAddsUpAcrossPieces) {
  EXPECT_EQ(checksum({}), 0u);
  std::vector<std::byte> ff(1000, std::byte{0xff});
  EXPECT_EQ(checksum(ff), 255000u);  // a sum, not a CRC
  auto data = bytes_of("the quick brown fox jumps over the lazy dog");
  std::span<const std::byte> all(data);
  EXPECT_EQ(checksum(all.subspan(10), checksum(all.first(10))), checksum(all));
}

TEST(AdbCommands, NamesAndValuesMatchAosp) {
  EXPECT_EQ(kCnxn, 0x4e584e43u);
  EXPECT_EQ(kAuth, 0x48545541u);
  EXPECT_EQ(kStls, 0x534C5453u);
  EXPECT_EQ(command_name(kWrte), "WRTE");
  EXPECT_EQ(command_name(0x12345678), "0x12345678");
  EXPECT_EQ(to_string(make_header(kWrte, 1, 2, bytes_of("abc"), false)),
            "WRTE(arg0=1, arg1=2, length=3)");
  EXPECT_GT(kVersionSkipChecksum, kVersionMin);
  EXPECT_LE(kVersionSkipChecksum, kVersion);
}

TEST(AdbValidate, AcceptsEveryValidCommand) {
  for (auto c : {kCnxn, kOpen, kOkay, kClse, kWrte, kAuth, kStls}) {
    auto r = validate(make_header(c, 0, 0, {}, false), kMaxPayloadV1);
    EXPECT_TRUE(r.ok()) << command_name(c) << ": " << r.message;
    EXPECT_EQ(r.error, header_error::none);
  }
}

TEST(AdbValidate, BadMagicNamesBothValues) {
  auto h = make_header(kCnxn, 0, 0, {}, false);
  h.magic = 0x12345678;
  auto r = validate(h, kMaxPayload);
  EXPECT_EQ(r.error, header_error::bad_magic);
  EXPECT_FALSE(r);
  EXPECT_NE(r.message.find("0x12345678"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("0xb1a7b1bc"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("CNXN"), std::string::npos) << r.message;
}

TEST(AdbValidate, UnknownCommandShowsItsLetters) {
  // What a stream out of step looks like: payload text read as a header.
  message_header h{fourcc("data"), 0, 0, 0, 0, fourcc("data") ^ 0xffffffffu};
  auto r = validate(h, kMaxPayload);
  EXPECT_EQ(r.error, header_error::unknown_command);
  EXPECT_NE(r.message.find("\"data\""), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("0x61746164"), std::string::npos) << r.message;
}

TEST(AdbValidate, SyncIsObsolete) {
  auto r = validate(make_header(kSync, 1, 0, {}, false), kMaxPayload);
  EXPECT_EQ(r.error, header_error::obsolete_command);
  EXPECT_NE(r.message.find("SYNC"), std::string::npos) << r.message;
}

TEST(AdbValidate, DataLengthOverTheNegotiatedMaximum) {
  auto h = make_header(kWrte, 1, 2, {}, false);
  h.data_length = kMaxPayloadV1;
  EXPECT_TRUE(validate(h, kMaxPayloadV1)) << "exactly the maximum is allowed";
  h.data_length = kMaxPayloadV1 + 1;
  auto r = validate(h, kMaxPayloadV1);
  EXPECT_EQ(r.error, header_error::payload_too_large);
  EXPECT_NE(r.message.find("4097"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("4096"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("WRTE"), std::string::npos) << r.message;
}

TEST(AdbValidate, ErrorNames) {
  EXPECT_STREQ(to_string(header_error::bad_magic), "bad_magic");
  EXPECT_STREQ(to_string(header_error::payload_too_large), "payload_too_large");
}

// What the framer produced, flattened: headers and the concatenated payload of each message.
struct framed {
  std::vector<message_header> headers;
  std::vector<std::vector<std::byte>> payloads;
  std::size_t complete = 0;
  std::size_t largest_piece = 0;
  bool error = false;
};

// Feeds STREAM to a framer in pieces of READ bytes (the last may be shorter).
framed frame_all(const std::vector<std::byte>& stream, std::size_t read,
                 std::size_t max_piece = std::numeric_limits<std::size_t>::max(),
                 std::uint32_t max_payload = kMaxPayload) {
  framer f(max_payload);
  framed out;
  for (std::size_t off = 0; off < stream.size() && !out.error; off += read) {
    std::span<const std::byte> in(stream.data() + off, std::min(read, stream.size() - off));
    for (;;) {
      auto ev = f.next(in, max_piece);
      if (ev.kind == framer::event_kind::need_more) {
        EXPECT_TRUE(in.empty());
        break;
      }
      if (ev.kind == framer::event_kind::error) {
        out.error = true;
        break;
      }
      if (ev.kind == framer::event_kind::header) {
        out.headers.push_back(ev.header);
        out.payloads.emplace_back();
      } else {
        EXPECT_EQ(ev.header, out.headers.back());
        EXPECT_LE(ev.payload.size(), max_piece);
        out.largest_piece = std::max(out.largest_piece, ev.payload.size());
        out.payloads.back().insert(out.payloads.back().end(), ev.payload.begin(), ev.payload.end());
      }
      if (ev.message_complete) {
        ++out.complete;
        EXPECT_EQ(out.payloads.back().size(), out.headers.back().data_length);
      }
    }
  }
  if (!out.error) {
    EXPECT_TRUE(f.at_boundary());
  }
  return out;
}

std::vector<std::byte> sample_stream() {
  std::vector<std::byte> s;
  auto add = [&](const std::vector<std::byte>& m) { s.insert(s.end(), m.begin(), m.end()); };
  add(wire_message(kCnxn, kVersion, kMaxPayload, bytes_of("host::features=shell_v2")));
  add(wire_message(kOpen, 1, 0, bytes_of(std::string("shell:echo ok\0", 14))));
  add(wire_message(kOkay, 7, 1, {}));  // zero-length payload
  std::vector<std::byte> big(70000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::byte>(i * 7);
  add(wire_message(kWrte, 7, 1, big));
  add(wire_message(kClse, 0, 1, {}));
  add(wire_message(kWrte, 7, 1, bytes_of("x")));
  return s;
}

TEST(AdbFramer, WholeStreamAtOnce) {
  auto s = sample_stream();
  auto r = frame_all(s, s.size());
  EXPECT_FALSE(r.error);
  ASSERT_EQ(r.headers.size(), 6u);
  EXPECT_EQ(r.complete, 6u);
  EXPECT_EQ(r.headers[0].command, kCnxn);
  EXPECT_EQ(r.headers[2].command, kOkay);
  EXPECT_TRUE(r.payloads[2].empty());
  EXPECT_EQ(r.payloads[3].size(), 70000u);
  EXPECT_EQ(r.payloads[5], bytes_of("x"));
}

TEST(AdbFramer, OneByteAtATimeGivesTheSameMessages) {
  auto s = sample_stream();
  auto whole = frame_all(s, s.size());
  auto bytewise = frame_all(s, 1);
  EXPECT_FALSE(bytewise.error);
  EXPECT_EQ(bytewise.headers, whole.headers);
  EXPECT_EQ(bytewise.payloads, whole.payloads);
  EXPECT_EQ(bytewise.complete, whole.complete);
  EXPECT_EQ(bytewise.largest_piece, 1u);
}

TEST(AdbFramer, EveryReadSizeGivesTheSameMessages) {
  auto s = sample_stream();
  auto whole = frame_all(s, s.size());
  // Sizes that split headers at every offset and straddle header/payload boundaries.
  for (std::size_t read : {2u, 3u, 5u, 7u, 13u, 23u, 24u, 25u, 47u, 48u, 4095u, 4096u, 65536u}) {
    auto r = frame_all(s, read);
    EXPECT_EQ(r.headers, whole.headers) << "read " << read;
    EXPECT_EQ(r.payloads, whole.payloads) << "read " << read;
  }
}

TEST(AdbFramer, HeaderSplitAcrossReadsIsHeldUntilComplete) {
  auto m = wire_message(kWrte, 3, 4, bytes_of("hello"));
  framer f;
  std::span<const std::byte> first(m.data(), 10);
  EXPECT_EQ(f.next(first).kind, framer::event_kind::need_more);
  EXPECT_TRUE(first.empty());
  EXPECT_FALSE(f.at_boundary());
  std::span<const std::byte> rest(m.data() + 10, m.size() - 10);
  auto h = f.next(rest);
  ASSERT_EQ(h.kind, framer::event_kind::header);
  EXPECT_EQ(h.header.arg0, 3u);
  EXPECT_FALSE(h.message_complete);
  EXPECT_EQ(f.payload_remaining(), 5u);
  auto p = f.next(rest);
  ASSERT_EQ(p.kind, framer::event_kind::payload);
  EXPECT_EQ(std::vector<std::byte>(p.payload.begin(), p.payload.end()), bytes_of("hello"));
  EXPECT_TRUE(p.message_complete);
  // The payload piece is a view into the caller's buffer, not a copy.
  EXPECT_EQ(p.payload.data(), m.data() + kHeaderSize);
  EXPECT_TRUE(f.at_boundary());
  EXPECT_EQ(f.messages(), 1u);
}

TEST(AdbFramer, ZeroLengthPayloadCompletesWithTheHeader) {
  auto m = wire_message(kOkay, 1, 2, {});
  framer f;
  std::span<const std::byte> in(m);
  auto ev = f.next(in);
  EXPECT_EQ(ev.kind, framer::event_kind::header);
  EXPECT_TRUE(ev.message_complete);
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(f.next(in).kind, framer::event_kind::need_more);
  EXPECT_TRUE(f.at_boundary());
}

TEST(AdbFramer, MaxPieceBoundsPayloadPieces) {
  auto s = sample_stream();
  auto whole = frame_all(s, s.size());
  auto r = frame_all(s, s.size(), 512);
  EXPECT_EQ(r.payloads, whole.payloads);
  EXPECT_EQ(r.largest_piece, 512u);
}

TEST(AdbFramer, OversizedDataLengthIsRejectedBeforeAnyPayload) {
  std::vector<std::byte> payload(kMaxPayloadV1 + 1);
  auto m = wire_message(kWrte, 1, 2, payload);
  framer f(kMaxPayloadV1);
  std::span<const std::byte> in(m);
  auto ev = f.next(in);
  EXPECT_EQ(ev.kind, framer::event_kind::error);
  EXPECT_EQ(f.error().error, header_error::payload_too_large);
  EXPECT_EQ(in.size(), payload.size()) << "only the header was consumed";
  // Sticky: the stream cannot be trusted any more.
  EXPECT_EQ(f.next(in).kind, framer::event_kind::error);
  EXPECT_FALSE(f.at_boundary());

  // After negotiation raised the limit, the same message passes.
  framer g(kMaxPayloadV1);
  g.set_max_payload(kMaxPayload);
  std::span<const std::byte> again(m);
  EXPECT_EQ(g.next(again).kind, framer::event_kind::header);
}

TEST(AdbFramer, BadMagicInTheMiddleOfAStreamStopsIt) {
  auto s = sample_stream();
  auto bad = wire_message(kOkay, 1, 2, {});
  bad[20] = std::byte{0};  // corrupt the magic
  s.insert(s.begin() + static_cast<std::ptrdiff_t>(wire_message(kCnxn, kVersion, kMaxPayload,
                                                                bytes_of("host::features=shell_v2"))
                                                       .size()),
           bad.begin(), bad.end());
  for (std::size_t read : {std::size_t{1}, std::size_t{7}, s.size()}) {
    framer f;
    bool saw_error = false;
    int headers = 0;
    for (std::size_t off = 0; off < s.size() && !saw_error; off += read) {
      std::span<const std::byte> in(s.data() + off, std::min(read, s.size() - off));
      for (;;) {
        auto ev = f.next(in);
        if (ev.kind == framer::event_kind::need_more) break;
        if (ev.kind == framer::event_kind::error) {
          saw_error = true;
          break;
        }
        if (ev.kind == framer::event_kind::header) ++headers;
      }
    }
    EXPECT_TRUE(saw_error) << "read " << read;
    EXPECT_EQ(headers, 1) << "read " << read;
    EXPECT_EQ(f.error().error, header_error::bad_magic);
  }
}

TEST(AdbFramer, EmptyInputNeedsMore) {
  framer f;
  std::span<const std::byte> in;
  EXPECT_EQ(f.next(in).kind, framer::event_kind::need_more);
  EXPECT_TRUE(f.at_boundary());
}

}  // namespace
}  // namespace adb_protocol
