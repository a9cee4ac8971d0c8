// vsock-mcast configuration: the shipped examples parse, and mistakes name file and line.
#include <gtest/gtest.h>

#include "vsock_mcast/config.hpp"

namespace vsock_mcast {
namespace {

host_config host_from(const std::string& text) {
  host_config c;
  apply_host(vsocklib::parse_ini(text, "test.conf"), c);
  return c;
}

guest_config guest_from(const std::string& text) {
  guest_config c;
  apply_guest(vsocklib::parse_ini(text, "test.conf"), c);
  return c;
}

std::string host_error(const std::string& text) {
  try {
    auto c = host_from(text);
    validate(c);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

TEST(McastConfig, ExampleFilesParseAndValidate) {
  auto h = vsocklib::read_ini_file(VSOCK_MCAST_HOST_CONF);
  host_config hc;
  apply_host(h, hc);
  EXPECT_NO_THROW(validate(hc));
  EXPECT_FALSE(hc.groups.empty());
  auto g = vsocklib::read_ini_file(VSOCK_MCAST_GUEST_CONF);
  guest_config gc;
  apply_guest(g, gc);
  EXPECT_NO_THROW(validate(gc));
}

TEST(McastConfig, HostKeys) {
  auto c = host_from(R"(
[host]
listen = vsock-seqpacket:any:7400
listen = unix:/run/x.sock
lan = eth0, eth1
group = 239.255.0.1 224.244.224.245:30490
mode = l3
guest_address = 192.168.1.50
allow_group = 239.255.0.0/16, 224.244.224.245
allow_port = 7400-7600
allow_cid = 3
guest_to_guest = yes
rate_limit = 5000
lan_rcvbuf = 8388608
queue_packets = 64
queue_bytes = 262144
user = vsock-mcast
[to-lan]
allow_port = 7400
)");
  ASSERT_EQ(c.listen.size(), 2u);
  EXPECT_EQ(c.listen[0].kind, vsocklib::transport::vsock_seqpacket);
  EXPECT_EQ(c.lan, (std::vector<std::string>{"eth0", "eth1"}));
  ASSERT_EQ(c.groups.size(), 2u);
  EXPECT_EQ(c.groups[1].port, 30490);
  EXPECT_FALSE(c.groups[0].port);
  EXPECT_EQ(c.mode, mode::l3);
  EXPECT_EQ(c.guest_addresses, (std::vector<std::uint32_t>{0xC0A80132}));
  EXPECT_EQ(c.to_guest.groups.size(), 2u);
  EXPECT_EQ(c.to_guest.ports.size(), 1u);
  // [to-lan] replaces the ports for its direction only.
  ASSERT_EQ(c.to_lan.ports.size(), 1u);
  EXPECT_EQ(c.to_lan.ports[0].last, 7400);
  EXPECT_EQ(c.allowed_cids, (std::vector<std::uint32_t>{3}));
  EXPECT_TRUE(c.guest_to_guest);
  EXPECT_EQ(c.rate_limit, 5000u);
  EXPECT_EQ(c.lan_rcvbuf, 8u << 20);
  EXPECT_EQ(c.queue.packets, 64u);
  EXPECT_EQ(c.user, "vsock-mcast");
  EXPECT_NO_THROW(validate(c));
}

TEST(McastConfig, GuestKeys) {
  auto c = guest_from(R"(
[guest]
connect = vsock-seqpacket:2:7400
tun = vmc0
address = 192.168.1.50/24
mode = l3
default_route = no
name = android
user = vsock-mcast:net
)");
  EXPECT_EQ(c.connect->port, 7400u);
  EXPECT_EQ(c.tun, "vmc0");
  EXPECT_EQ(c.address->network, 0xC0A80132u);
  EXPECT_EQ(c.address->prefix, 24u);
  EXPECT_EQ(c.default_route, false);
  EXPECT_EQ(c.name, "android");
  EXPECT_EQ(c.user, "vsock-mcast:net");
  EXPECT_NO_THROW(validate(c));
  c.user = ":net";
  EXPECT_THROW(validate(c), config_error);  // a group without a user
}

TEST(McastConfig, ErrorsNameFileLineAndProblem) {
  EXPECT_EQ(host_error("[host]\nbogus = 1\n"), "test.conf:2: unknown key \"bogus\" in [host]");
  EXPECT_EQ(
      host_error("[hots]\n"),
      "test.conf:1: unknown section [hots] (expected [host], [to-guest], [to-lan] or [guest])");
  EXPECT_NE(host_error("[host]\ngroup = 10.0.0.1\n")
                .find("test.conf:2: group \"10.0.0.1\" is not a multicast"),
            std::string::npos);
  EXPECT_NE(host_error("[host]\nlisten = vsock:x:1\n").find("test.conf:2:"), std::string::npos);
  EXPECT_NE(
      host_error("[host]\nrate_limit = fast\n").find("test.conf:2: rate_limit needs a number"),
      std::string::npos);
  EXPECT_NE(host_error("[host]\nallow_group = 239.0.0.0/33\n").find("test.conf:2: allow_group"),
            std::string::npos);
  EXPECT_NE(host_error("[host]\nguest_to_guest = maybe\n").find("yes or no"), std::string::npos);
  EXPECT_NE(host_error("[host]\nqueue_bytes = 100\n").find("largest record"), std::string::npos);
  EXPECT_NE(host_error("key = 1\n").find("test.conf:1: \"key\" outside a section"),
            std::string::npos);
  EXPECT_NE(host_error("[host]\nlan_rcvbuf = 1000\n").find("lan_rcvbuf must be 65536..268435456"),
            std::string::npos);
  // All ones is VMADDR_CID_ANY, never a peer's CID.
  EXPECT_NE(host_error("[host]\nallow_cid = 4294967295\n").find("test.conf:2: allow_cid"),
            std::string::npos);
}

TEST(McastConfig, ValidationNamesWhatIsMissing) {
  EXPECT_NE(host_error("[host]\nlan = eth0\n").find("no listen address"), std::string::npos);
  EXPECT_NE(host_error("[host]\nlisten = unix:/x\n").find("no LAN interface"), std::string::npos);
  EXPECT_NE(host_error("[host]\nlisten = unix:/x\nlan = eth0\nmode = l3\n").find("guest_address"),
            std::string::npos);
  EXPECT_NE(host_error("[host]\nlisten = unix:/x\nlan = eth0\ngroup = 224.0.0.251\n")
                .find("outside allow_group"),
            std::string::npos);
  EXPECT_EQ(host_error("[host]\nlisten = unix:/x\nlan = eth0\nlog_level = loud\n"),
            "unknown log level \"loud\" (trace, debug, info, warn, error, critical, off)");
  guest_config g;
  EXPECT_THROW(validate(g), config_error);
  g = guest_from("[guest]\nconnect = unix:/x\ntun = vmc0\nmode = l3\n");
  try {
    validate(g);
    ADD_FAILURE() << "l3 without an address validated";
  } catch (const config_error& e) {
    EXPECT_NE(std::string(e.what()).find("needs the guest's address"), std::string::npos);
  }
}

TEST(McastConfig, CommandLineParsers) {
  EXPECT_EQ(parse_static_group("239.255.0.1:7400").port, 7400);
  EXPECT_THROW(parse_static_group("239.255.0.1:99999"), config_error);
  EXPECT_EQ(parse_interface_address("10.0.0.5").prefix, 32u);
  EXPECT_THROW(parse_interface_address("239.0.0.1/24"), config_error);
  EXPECT_THROW(parse_unicast("0.0.0.0"), config_error);
  EXPECT_THROW(parse_mode("bridge"), config_error);
}

}  // namespace
}  // namespace vsock_mcast
