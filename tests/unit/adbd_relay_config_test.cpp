#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "adbd_relay/config.hpp"

namespace adbd_relay {
namespace {

config parse(const std::string& text) {
  config c;
  parse_config(text, "test.conf", c);
  return c;
}

void expect_error(const std::string& text, const std::string& needle) {
  try {
    auto c = parse(text);
    validate(c);
    ADD_FAILURE() << "accepted:\n" << text;
  } catch (const config_error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(RelayConfig, ParsesRelayAndGuests) {
  auto c = parse(R"(
# comment
[relay]
log_level = debug
control_socket = /run/x/control
user = adbd-relay:plugdev
chunk_size = 8192
backoff_max_ms = 2000
pc_read_timeout_ms = 0

[guest android0]
address = vsock:3:5555
udc = dummy_udc.0
serial = android0-serial
vendor_id = 0x18d1
product_id = 0x4EE7

[guest android1]
address = vsock:4:5555
udc = dummy_udc.1
)");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.control_socket, "/run/x/control");
  EXPECT_EQ(c.user, "adbd-relay:plugdev");
  EXPECT_EQ(c.session.chunk_size, 8192u);
  EXPECT_EQ(c.connect.backoff.max.count(), 2000);
  EXPECT_EQ(c.session.pc_read_timeout.count(), 0) << "0 turns the PC read watch off";
  ASSERT_EQ(c.guests.size(), 2u);
  EXPECT_EQ(c.guests[0].address.to_string(), "vsock:3:5555");
  EXPECT_EQ(c.guests[0].gadget.serial, "android0-serial");
  EXPECT_EQ(c.guests[0].gadget.product_id, 0x4ee7);
  EXPECT_EQ(c.guests[1].gadget.name, "adbd-relay-android1");
  EXPECT_EQ(c.guests[1].gadget.serial, "android1");  // default: the guest's name
  EXPECT_NO_THROW(validate(c));
}

TEST(RelayConfig, ErrorsNameFileLineAndWhat) {
  expect_error("[relay]\nuser = x:\n[guest a]\naddress = vsock:3:5555\n",
               "user \"x:\" is not USER or USER:GROUP");
  expect_error("[guest a]\nadress = vsock:3:5555\n",
               "test.conf:2: unknown key \"adress\" in [guest a]");
  expect_error("[guest a]\naddress = vsock:x:5555\n", "test.conf:2: bad address \"vsock:x:5555\"");
  expect_error("[guest a]\n", "[guest a] has no address");
  expect_error("[relay]\nusb_transfer_size = 1000\n", "multiple of 512");
  expect_error("[relay]\nchunk_size = 100\n", "chunk_size must be 512..1048576");
  expect_error("[relay]\nchunk_size = lots\n", "test.conf:2: chunk_size needs a number");
  expect_error("[relay]\npc_read_timeout_ms = 600001\n", "pc_read_timeout_ms");
  expect_error("[gest a]\n", "unknown section [gest a]");
  expect_error("address = vsock:3:5555\n", "outside a section");
  expect_error("[relay]\n", "no guest configured");
  expect_error("[guest a]\naddress = vsock:3:1\nudc = u\n[guest b]\naddress = vsock:4:1\nudc = u\n",
               "share the UDC \"u\"");
  expect_error("[guest a]\naddress = vsock:3:1\n[guest b]\naddress = vsock:4:1\n", "needs udc");
  expect_error("[guest a]\naddress = vsock:3:1\n[guest a]\naddress = vsock:4:1\n", "defined twice");
  expect_error("[guest a]\naddress = vsock-seqpacket:3:1\n", "stream address");
  // Values that parse but cannot work: found at --check, not by a connect loop or the kernel.
  expect_error("[guest a]\naddress = vsock:-1:5555\n",
               "guest \"a\": vsock:any:5555: CID any is for listening");
  expect_error("[guest a]\naddress = tcp:127.0.0.1:0\n", "port 0 is for listening");
  expect_error("[guest a]\naddress = vsock:3:1\nserial = " + std::string(127, 's') + "\n",
               "serial must be 1 to 126 bytes (a USB string), not 127");
  expect_error("[guest a]\naddress = vsock:3:1\nproduct =\n", "product must be 1 to 126 bytes");
  // Names that become directories under configfs, created and removed as root.
  expect_error("[guest a]\naddress = vsock:3:1\ngadget = ../../etc\n",
               "guest \"a\": gadget \"../../etc\" holds a '/' or a control character");
  expect_error("[guest a]\naddress = vsock:3:1\nfunction = ..\n", "function is \"..\"");
  expect_error("[guest a/b]\naddress = vsock:3:1\n", "gadget \"adbd-relay-a/b\" holds a '/'");
  expect_error("[guest a]\naddress = vsock:3:1\nffs_dir = run/x\n",
               "ffs_dir \"run/x\" must be an absolute path");
}

TEST(RelayConfig, ShippedExampleParses) {
  std::ifstream f(ADBD_RELAY_EXAMPLE_CONF);
  ASSERT_TRUE(f) << ADBD_RELAY_EXAMPLE_CONF;
  std::stringstream text;
  text << f.rdbuf();
  config c;
  parse_config(text.str(), ADBD_RELAY_EXAMPLE_CONF, c);
  EXPECT_NO_THROW(validate(c));
  ASSERT_EQ(c.guests.size(), 1u);
  EXPECT_EQ(c.guests[0].address.to_string(), "vsock:3:5555");
  // The file's trailing "# what adb devices lists" is a comment, not part of the serial.
  EXPECT_EQ(c.guests[0].gadget.serial, "android-guest");
  // The example shows the defaults.
  EXPECT_EQ(c.connect.backoff.initial, config{}.connect.backoff.initial);
  EXPECT_EQ(c.connect.backoff.max, config{}.connect.backoff.max);
  EXPECT_EQ(c.session.pc_read_timeout, config{}.session.pc_read_timeout);
}

}  // namespace
}  // namespace adbd_relay
