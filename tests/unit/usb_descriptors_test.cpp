// The FunctionFS descriptor and strings blobs adbd-relay writes to ep0, byte for byte.
// The expected bytes are spelled out here from the layouts (linux/usb/functionfs.h for the
// heads and MS OS parts, USB 2.0 chapter 9 and USB 3.2 9.6.7 for the descriptors), field
// by field with literal values, not with the structs or helpers the relay uses: a
// mistake in those shows up as a difference here instead of being copied into the test.
// That a kernel accepts the blob is the lab's (ctest -R 'adbd_relay\.adb').
#include <linux/usb/functionfs.h>

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "adbd_relay/usb_descriptors.hpp"

namespace adbd_relay {
namespace {

// The kernel's constants agree with the literal values the layout below uses.
static_assert(FUNCTIONFS_DESCRIPTORS_MAGIC_V2 == 3);
static_assert(FUNCTIONFS_STRINGS_MAGIC == 2);
static_assert(FUNCTIONFS_HAS_FS_DESC == 1 && FUNCTIONFS_HAS_HS_DESC == 2 &&
              FUNCTIONFS_HAS_SS_DESC == 4 && FUNCTIONFS_HAS_MS_OS_DESC == 8);

// Little-endian byte writer for the expected blobs.
struct bytes {
  std::string s;
  bytes& u8(unsigned v) {
    s.push_back(static_cast<char>(v & 0xff));
    return *this;
  }
  bytes& le16(unsigned v) { return u8(v).u8(v >> 8); }
  bytes& le32(std::uint32_t v) { return le16(v & 0xffff).le16(v >> 16); }
  bytes& text(const std::string& t) {  // with its NUL
    s.append(t.c_str(), t.size() + 1);
    return *this;
  }
  bytes& zeros(std::size_t n) {
    s.append(n, '\0');
    return *this;
  }
  bytes& append(const bytes& b) {
    s += b.s;
    return *this;
  }
};

// Interface 0, alt 0, two endpoints, vendor class 0xff / subclass 0x42 / protocol 1 (what
// adb matches), string 1. 9 bytes, descriptor type 4.
void interface(bytes& b) { b.u8(9).u8(4).u8(0).u8(0).u8(2).u8(0xff).u8(0x42).u8(0x01).u8(1); }

// Bulk (bmAttributes 2), bInterval 0. 7 bytes (no audio extension), descriptor type 5.
void endpoint(bytes& b, unsigned address, unsigned max_packet) {
  b.u8(7).u8(5).u8(address).u8(2).le16(max_packet).u8(0);
}

// SuperSpeed endpoint companion: 6 bytes, type 0x30, bMaxBurst 3 (4 packets per burst),
// no streams, wBytesPerInterval 0 (bulk).
void companion(bytes& b) { b.u8(6).u8(0x30).u8(3).u8(0).le16(0); }

bytes expected_descriptors(bool ms_os) {
  bytes body;
  body.le32(3).le32(3).le32(5);  // fs_count, hs_count, ss_count
  if (ms_os) body.le32(2);       // os_count
  for (unsigned packet : {64u, 512u}) {
    interface(body);
    endpoint(body, 0x01, packet);  // ep1 OUT
    endpoint(body, 0x82, packet);  // ep2 IN
  }
  interface(body);
  endpoint(body, 0x01, 1024);
  companion(body);
  endpoint(body, 0x82, 1024);
  companion(body);
  if (ms_os) {
    // OS descriptor head (11 bytes): interface, dwLength, bcdVersion, wIndex, then bCount
    // + reserved byte (compat ID) or wCount (properties).
    // Extended compat ID (wIndex 4): one 24-byte function record, "WINUSB" for interface 0.
    body.u8(1).le32(11 + 24).le16(1).le16(4).u8(1).u8(0);
    body.u8(0).u8(1);  // bFirstInterfaceNumber, Reserved1 (1 by Microsoft's spec)
    body.s.append("WINUSB\0\0", 8);
    body.zeros(8).zeros(6);  // SubCompatibleID, Reserved2
    // Extended property (wIndex 5): DeviceInterfaceGUID, REG_SZ (type 1).
    const std::string name = "DeviceInterfaceGUID";
    const std::string guid = "{F72FE0D4-CBCB-407D-8814-9ED673D0DD6B}";
    const std::uint32_t prop = 4 + 4 + 2 + (name.size() + 1) + 4 + (guid.size() + 1);
    body.u8(0).le32(11 + prop).le16(1).le16(5).le16(1);
    body.le32(prop).le32(1).le16(name.size() + 1).text(name).le32(guid.size() + 1).text(guid);
  }
  bytes out;
  // usb_functionfs_descs_head_v2: magic, length (all of it), flags.
  out.le32(3).le32(12 + body.s.size()).le32(1 | 2 | 4 | (ms_os ? 8 : 0));
  return out.append(body);
}

// Shows where two blobs first differ, which a plain string comparison of binary would not.
void expect_same_bytes(const std::string& actual, const std::string& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(static_cast<unsigned>(static_cast<unsigned char>(actual[i])),
              static_cast<unsigned>(static_cast<unsigned char>(expected[i])))
        << "first difference at byte " << i;
  }
}

TEST(usb_descriptors, without_ms_os_descriptors_byte_for_byte) {
  const std::string blob = adb_descriptors(false);
  expect_same_bytes(blob, expected_descriptors(false).s);
  EXPECT_EQ(blob.size(), 12u + 12u + 2 * (9 + 7 + 7) + (9 + 7 + 6 + 7 + 6));
}

TEST(usb_descriptors, with_ms_os_descriptors_byte_for_byte) {
  expect_same_bytes(adb_descriptors(true), expected_descriptors(true).s);
}

TEST(usb_descriptors, strings_byte_for_byte) {
  bytes body;
  body.le16(0x0409).text("ADB Interface");  // en-US, string 1
  bytes expected;
  // usb_functionfs_strings_head: magic, length, str_count, lang_count.
  expected.le32(2).le32(16 + body.s.size()).le32(1).le32(1).append(body);
  expect_same_bytes(adb_strings(), expected.s);
}

std::uint32_t le32_at(const std::string& b, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

// Walks the blob as the kernel does (counts from the head, then descriptors by bLength)
// and collects each speed's bulk endpoints: wMaxPacketSize must be the one the USB specs
// require of bulk endpoints at that speed, equal for IN and OUT.
TEST(usb_descriptors, max_packet_size_per_speed) {
  for (bool ms_os : {false, true}) {
    SCOPED_TRACE(ms_os ? "with MS OS descriptors" : "without");
    const std::string blob = adb_descriptors(ms_os);
    ASSERT_EQ(le32_at(blob, 4), blob.size());
    const std::uint32_t counts[3] = {le32_at(blob, 12), le32_at(blob, 16), le32_at(blob, 20)};
    std::size_t at = 12 + 4 * (ms_os ? 4 : 3);
    const unsigned want[3] = {64, 512, 1024};
    for (int speed = 0; speed < 3; ++speed) {
      std::vector<std::pair<unsigned, unsigned>> endpoints;  // address, wMaxPacketSize
      for (std::uint32_t n = 0; n < counts[speed]; ++n) {
        ASSERT_LT(at + 1, blob.size());
        const auto len = static_cast<unsigned char>(blob[at]);
        ASSERT_GT(len, 0u);
        if (blob[at + 1] == 5) {
          const unsigned mps = static_cast<unsigned char>(blob[at + 4]) |
                               static_cast<unsigned char>(blob[at + 5]) << 8;
          endpoints.emplace_back(static_cast<unsigned char>(blob[at + 2]), mps);
        }
        at += len;
      }
      ASSERT_EQ(endpoints.size(), 2u) << "speed " << speed;
      EXPECT_EQ(endpoints[0], std::make_pair(0x01u, want[speed])) << "speed " << speed;
      EXPECT_EQ(endpoints[1], std::make_pair(0x82u, want[speed])) << "speed " << speed;
    }
  }
  EXPECT_EQ(kFullSpeedBulkPacket, 64);
  EXPECT_EQ(kHighSpeedBulkPacket, 512);
  EXPECT_EQ(kSuperSpeedBulkPacket, 1024);
}

}  // namespace
}  // namespace adbd_relay
