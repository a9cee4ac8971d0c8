// vsock-mcast's command line: every option reaches the configuration, files come first and
// the command line overrides them, and every mistake names the option and the text.
#include <linux/capability.h>

#include <fstream>

#include <gtest/gtest.h>

#include "argv.hpp"
#include "temp_dir.hpp"
#include "vsock_mcast/command_line.hpp"

namespace vsock_mcast {
namespace {

command_line parse(const std::vector<std::string>& args) {
  return vsocklib::test::parse_argv(parse_command_line, "vsock-mcast", args);
}

// "MESSAGE | COMMAND": both are what the user sees ("(try vsock-mcast COMMAND --help)").
std::string error_of(const std::vector<std::string>& args) {
  try {
    parse(args);
  } catch (const usage_error& e) {
    return std::string(e.what()) + " | " + e.command();
  }
  return "no error";
}

cidr net(const char* text) { return parse_cidr(text); }
std::uint32_t ip(const char* text) {
  std::uint32_t a = 0;
  EXPECT_TRUE(parse_ipv4(text, a)) << text;
  return a;
}
std::vector<std::string> to_strings(const std::vector<vsocklib::address>& v) {
  std::vector<std::string> out;
  for (const auto& a : v) out.push_back(a.to_string());
  return out;
}

// The least a host needs to pass validate().
const std::vector<std::string> kHost{"host", "--listen", "unix:/tmp/vmc.sock", "--lan", "eth0"};
std::vector<std::string> host_with(std::vector<std::string> more) {
  auto args = kHost;
  args.insert(args.end(), more.begin(), more.end());
  return args;
}
const std::vector<std::string> kGuest{"guest", "--connect", "unix:/tmp/vmc.sock", "--tun", "vmc0"};
std::vector<std::string> guest_with(std::vector<std::string> more) {
  auto args = kGuest;
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(McastCommandLine, HostTakesEveryOption) {
  auto cl = parse({"host",
                   "--listen",
                   "vsock-seqpacket:any:5000",
                   "--listen",
                   "unix:/run/h.sock",
                   "--lan",
                   "eth0",
                   "--lan",
                   "eth1",
                   "--group",
                   "239.255.0.1:7400",
                   "--group",
                   "239.1.2.3",
                   "--mode",
                   "l3",
                   "--guest-address",
                   "192.168.1.50",
                   "--guest-address",
                   "192.168.1.51",
                   "--allow-group",
                   "239.0.0.0/8",
                   "--allow-port",
                   "7400-7500",
                   "--allow-port",
                   "30490",
                   "--allow-cid",
                   "3",
                   "--allow-cid",
                   "4294967294",
                   "--guest-to-guest",
                   "--rate-limit",
                   "10000000",
                   "--tun",
                   "vmc-h",
                   "--control",
                   "/tmp/h.sock",
                   "--user",
                   "nobody:nogroup",
                   "--log-level",
                   "debug"});
  EXPECT_EQ(cl.what, command_line::action::run);
  EXPECT_EQ(cl.command, "host");
  const host_config& h = cl.host;
  EXPECT_EQ(to_strings(h.listen),
            (std::vector<std::string>{"vsock-seqpacket:any:5000", "unix:/run/h.sock"}));
  EXPECT_EQ(h.lan, (std::vector<std::string>{"eth0", "eth1"}));
  EXPECT_EQ(h.groups, (std::vector<static_group>{{ip("239.255.0.1"), 7400},
                                                 {ip("239.1.2.3"), std::nullopt}}));
  EXPECT_EQ(h.mode, mode::l3);
  EXPECT_EQ(h.guest_addresses,
            (std::vector<std::uint32_t>{ip("192.168.1.50"), ip("192.168.1.51")}));
  EXPECT_EQ(h.to_guest.groups, std::vector<cidr>{net("239.0.0.0/8")});
  EXPECT_EQ(h.to_lan.groups, std::vector<cidr>{net("239.0.0.0/8")});
  const std::vector<port_range> ports{{7400, 7500}, {30490, 30490}};
  EXPECT_EQ(h.to_guest.ports, ports);
  EXPECT_EQ(h.to_lan.ports, ports);
  EXPECT_EQ(h.allowed_cids, (std::vector<std::uint32_t>{3, 4294967294u}));
  EXPECT_TRUE(h.guest_to_guest);
  EXPECT_EQ(h.rate_limit, 10'000'000u);
  EXPECT_EQ(h.tun, "vmc-h");
  EXPECT_EQ(h.control, "/tmp/h.sock");
  EXPECT_EQ(h.user, "nobody:nogroup");
  EXPECT_EQ(h.log_level, "debug");
}

TEST(McastCommandLine, HostDefaultsWhenOptionsAreLeftOut) {
  auto cl = parse(kHost);
  const host_config& h = cl.host;
  EXPECT_EQ(h.mode, mode::mcast);
  EXPECT_TRUE(h.groups.empty());
  EXPECT_TRUE(h.to_guest.groups.empty());
  EXPECT_TRUE(h.allowed_cids.empty());
  EXPECT_FALSE(h.guest_to_guest);
  EXPECT_EQ(h.rate_limit, 0u);
  EXPECT_EQ(h.tun, "vmc-host");
  EXPECT_EQ(h.control, "/run/vsock-mcast/host.sock");
  EXPECT_EQ(h.log_level, "info");
  EXPECT_EQ(h.user, "");
}

TEST(McastCommandLine, GuestTakesEveryOption) {
  auto cl = parse({"guest", "--connect", "vsock-seqpacket:3:5000", "--tun", "vmc0", "--address",
                   "10.0.0.5/24", "--mode", "l3", "--no-default-route", "--name", "g1", "--control",
                   "/tmp/g.sock", "--user", "nobody", "--log-level", "warn"});
  EXPECT_EQ(cl.what, command_line::action::run);
  EXPECT_EQ(cl.command, "guest");
  const guest_config& g = cl.guest;
  ASSERT_TRUE(g.connect);
  EXPECT_EQ(g.connect->to_string(), "vsock-seqpacket:3:5000");
  EXPECT_EQ(g.tun, "vmc0");
  EXPECT_EQ(g.address, std::optional<cidr>(cidr{ip("10.0.0.5"), 24}));
  EXPECT_EQ(g.mode, mode::l3);
  EXPECT_EQ(g.default_route, std::optional<bool>(false));
  EXPECT_EQ(g.name, "g1");
  EXPECT_EQ(g.control, "/tmp/g.sock");
  EXPECT_EQ(g.user, "nobody");
  EXPECT_EQ(g.log_level, "warn");

  EXPECT_EQ(parse(guest_with({"--default-route"})).guest.default_route, std::optional<bool>(true));
  // The last of the pair wins, as with any scalar.
  EXPECT_EQ(parse(guest_with({"--no-default-route", "--default-route"})).guest.default_route,
            std::optional<bool>(true));
  auto d = parse(kGuest).guest;
  EXPECT_EQ(d.default_route, std::nullopt);  // decided by the mode later
  EXPECT_EQ(d.mode, mode::mcast);
  EXPECT_EQ(d.address, std::nullopt);
  EXPECT_EQ(d.name, "");
  EXPECT_EQ(d.control, "/run/vsock-mcast/guest.sock");
}

TEST(McastCommandLine, EqualsSpellingTakesTheSameValues) {
  auto h =
      parse({"host", "--listen=tcp:127.0.0.1:7000", "--lan=eth2", "--group=239.9.9.9:53",
             "--mode=l3", "--guest-address=10.1.1.1", "--allow-group=239.9.0.0/16",
             "--allow-port=53", "--allow-cid=7", "--rate-limit=250", "--tun=vmc-eq",
             "--control=/tmp/eq.sock", "--user=daemon", "--log-level=trace", "--config=/dev/null"});
  EXPECT_EQ(to_strings(h.host.listen), std::vector<std::string>{"tcp:127.0.0.1:7000"});
  EXPECT_EQ(h.host.lan, std::vector<std::string>{"eth2"});
  EXPECT_EQ(h.host.groups, (std::vector<static_group>{{ip("239.9.9.9"), 53}}));
  EXPECT_EQ(h.host.mode, mode::l3);
  EXPECT_EQ(h.host.guest_addresses, std::vector<std::uint32_t>{ip("10.1.1.1")});
  EXPECT_EQ(h.host.to_lan.groups, std::vector<cidr>{net("239.9.0.0/16")});
  EXPECT_EQ(h.host.to_guest.ports, (std::vector<port_range>{{53, 53}}));
  EXPECT_EQ(h.host.allowed_cids, std::vector<std::uint32_t>{7});
  EXPECT_EQ(h.host.rate_limit, 250u);
  EXPECT_EQ(h.host.tun, "vmc-eq");
  EXPECT_EQ(h.host.control, "/tmp/eq.sock");
  EXPECT_EQ(h.host.user, "daemon");
  EXPECT_EQ(h.host.log_level, "trace");

  auto g = parse({"guest", "--connect=tcp:127.0.0.1:7000", "--tun=vmc-eq", "--address=10.2.0.9/16",
                  "--mode=l3", "--name=eq", "--control=/tmp/geq.sock", "--user=daemon",
                  "--log-level=off"});
  EXPECT_EQ(g.guest.connect->to_string(), "tcp:127.0.0.1:7000");
  EXPECT_EQ(g.guest.tun, "vmc-eq");
  EXPECT_EQ(g.guest.address, std::optional<cidr>(cidr{ip("10.2.0.9"), 16}));
  EXPECT_EQ(g.guest.name, "eq");
  EXPECT_EQ(g.guest.control, "/tmp/geq.sock");
  EXPECT_EQ(g.guest.user, "daemon");
  EXPECT_EQ(g.guest.log_level, "off");
}

TEST(McastCommandLine, CheckReportsWithoutRunning) {
  auto h = parse(host_with({"--check", "--group", "239.1.1.1", "--lan", "eth1"}));
  EXPECT_EQ(h.what, command_line::action::check);
  EXPECT_EQ(check_report(h.host),
            "configuration ok: host, mode mcast, 1 listen address(es), 2 LAN interface(s), 1 "
            "static group(s)\n");
  auto g = parse(guest_with({"--check", "--mode", "l3", "--address", "10.0.0.2/24"}));
  EXPECT_EQ(g.what, command_line::action::check);
  EXPECT_EQ(check_report(g.guest),
            "configuration ok: guest, mode l3, TUN vmc0, host unix:/tmp/vmc.sock\n");
}

TEST(McastCommandLine, ErrorsNameTheOptionAndTheText) {
  // A value missing at the end of the line.
  EXPECT_EQ(error_of({"host", "--listen"}), "--listen needs a value | host");
  EXPECT_EQ(error_of({"host", "-c"}), "-c needs a value | host");
  EXPECT_EQ(error_of({"guest", "--tun"}), "--tun needs a value | guest");
  EXPECT_EQ(error_of({"guest", "--connect="}),
            "--connect: bad address \"\": missing transport prefix "
            "(vsock:, vsock-seqpacket:, hvsock:, unix:, tcp:) | guest");
  // Unknown options, including the other endpoint's.
  EXPECT_EQ(error_of(host_with({"--bogus"})), "unknown option --bogus | host");
  EXPECT_EQ(error_of(host_with({"--connect", "unix:/x"})), "unknown option --connect | host");
  EXPECT_EQ(error_of(guest_with({"--lan", "eth0"})), "unknown option --lan | guest");
  // Numbers: no sign, nothing out of range, in either spelling.
  EXPECT_EQ(error_of(host_with({"--allow-cid", "-1"})),
            "--allow-cid needs a number in 0..4294967294, not \"-1\" | host");
  EXPECT_EQ(error_of(host_with({"--allow-cid", "4294967295"})),
            "--allow-cid needs a number in 0..4294967294, not \"4294967295\" | host");
  EXPECT_EQ(error_of(host_with({"--rate-limit=-1"})),
            "--rate-limit needs a number in 0..10000000, not \"-1\" | host");
  EXPECT_EQ(error_of(host_with({"--rate-limit", "10000001"})),
            "--rate-limit needs a number in 0..10000000, not \"10000001\" | host");
  EXPECT_EQ(error_of(host_with({"--group", "239.1.1.1:65536"})),
            "--group: group port needs a number in 0..65535, not \"65536\" | host");
  EXPECT_EQ(error_of(guest_with({"--address", "10.0.0.1/33"})),
            "--address: prefix length needs a number in 0..32, not \"33\" | guest");
  // Addresses and groups.
  EXPECT_EQ(error_of(host_with({"--listen", "udp:1.2.3.4:5"})),
            "--listen: bad address \"udp:1.2.3.4:5\": unknown transport \"udp\" (expected vsock, "
            "vsock-seqpacket, hvsock, unix or tcp) | host");
  EXPECT_EQ(error_of(guest_with({"--connect", "tcp:nohost"})),
            "--connect: bad address \"tcp:nohost\": expected HOST:PORT | guest");
  EXPECT_EQ(error_of(host_with({"--group", "10.0.0.1"})),
            "--group: group \"10.0.0.1\" is not a multicast IPv4 address (224.0.0.0/4) | host");
  EXPECT_EQ(error_of(host_with({"--guest-address", "239.1.1.1"})),
            "--guest-address: \"239.1.1.1\" is not a unicast IPv4 address | host");
  EXPECT_EQ(error_of(guest_with({"--address", "10.0.0"})),
            "--address: address \"10.0.0\" is not IPv4/PREFIX | guest");
  EXPECT_EQ(error_of(host_with({"--allow-group", "239.1.1.1/8"})),
            "--allow-group: \"239.1.1.1/8\" has host bits set | host");
  EXPECT_EQ(error_of(host_with({"--allow-port", "9-1"})),
            "--allow-port: port range \"9-1\" ends before it starts | host");
  EXPECT_EQ(error_of(host_with({"--mode", "bridge"})),
            "--mode: mode must be mcast or l3, not \"bridge\" | host");
  EXPECT_EQ(error_of(guest_with({"--mode=bridge"})),
            "--mode: mode must be mcast or l3, not \"bridge\" | guest");
  // Whole-configuration checks, after the options.
  EXPECT_EQ(error_of({"host", "--lan", "eth0"}),
            "no listen address (listen = ... or --listen) | host");
  EXPECT_EQ(error_of(host_with({"--group", "239.1.1.1", "--allow-group", "239.2.0.0/16"})),
            "static group 239.1.1.1 is outside allow_group | host");
  EXPECT_EQ(error_of({"guest", "--tun", "vmc0"}),
            "no host address (connect = ... or --connect) | guest");
  EXPECT_EQ(error_of(guest_with({"--tun", "a-name-of-16-chr"})),
            "TUN name \"a-name-of-16-chr\" is longer than 15 characters | guest");
}

TEST(McastCommandLine, HelpWinsOnlyWhenNothingWrongCameBefore) {
  auto h = parse({"host", "--listen", "unix:/x", "--help", "--bogus"});
  EXPECT_EQ(h.what, command_line::action::help);
  EXPECT_EQ(h.command, "host");
  auto g = parse({"guest", "-h"});  // no --connect: help needs no valid configuration
  EXPECT_EQ(g.what, command_line::action::help);
  EXPECT_EQ(g.command, "guest");
  EXPECT_EQ(error_of({"host", "--bogus", "--help"}), "unknown option --bogus | host");
}

TEST(McastCommandLine, ProgramHelpVersionAndCommands) {
  EXPECT_EQ(error_of({}), "a command is needed: host, guest or status | ");
  for (const char* h : {"-h", "--help"}) {
    auto cl = parse({h});
    EXPECT_EQ(cl.what, command_line::action::help);
    EXPECT_EQ(cl.command, "");
  }
  EXPECT_EQ(parse({"--version"}).what, command_line::action::version);
  EXPECT_EQ(error_of({"bridge"}), "unknown command bridge | ");
  // The subcommand is taken as typed: only options have an "=value" spelling.
  EXPECT_EQ(error_of({"--version=1"}), "unknown command --version=1 | ");

  const std::string usage = usage_text("");
  EXPECT_EQ(usage.rfind("usage: vsock-mcast host  [OPTIONS]   the LAN side, serving guests\n", 0),
            0u);
  EXPECT_EQ(std::string(usage_text("host")).rfind("usage: vsock-mcast host [OPTIONS]\n\n", 0), 0u);
  EXPECT_EQ(std::string(usage_text("guest")).rfind("usage: vsock-mcast guest [OPTIONS]\n\n", 0),
            0u);
  EXPECT_EQ(
      std::string(usage_text("status")),
      "usage: vsock-mcast status [PATH]\n\nPrints the status JSON of the endpoint whose control "
      "socket is PATH (default: the host's, then the guest's).\n");
}

TEST(McastCommandLine, HelpTextsListEveryOptionTheParserTakes) {
  const std::string host = usage_text("host"), guest = usage_text("guest");
  for (const char* o :
       {"--config", "--listen", "--lan", "--group", "--mode", "--guest-address", "--allow-group",
        "--allow-port", "--allow-cid", "--guest-to-guest", "--rate-limit", "--tun", "--control",
        "--user", "--log-level", "--check", "--help"}) {
    EXPECT_NE(host.find(std::string(o) + " "), std::string::npos) << o;
  }
  for (const char* o : {"--config", "--connect", "--tun", "--address", "--mode", "--default-route",
                        "--no-default-route", "--name", "--control", "--user", "--log-level",
                        "--check", "--help"}) {
    EXPECT_NE(guest.find(std::string(o) + " "), std::string::npos) << o;
  }
}

TEST(McastCommandLine, StatusPaths) {
  auto d = parse({"status"});
  EXPECT_EQ(d.what, command_line::action::status);
  EXPECT_EQ(d.command, "status");
  EXPECT_EQ(d.status_paths, (std::vector<std::string>{"/run/vsock-mcast/host.sock",
                                                      "/run/vsock-mcast/guest.sock"}));
  auto p = parse({"status", "/tmp/vmc-guest.sock"});
  EXPECT_EQ(p.what, command_line::action::status);
  EXPECT_EQ(p.status_paths, std::vector<std::string>{"/tmp/vmc-guest.sock"});
  auto h = parse({"status", "--help"});
  EXPECT_EQ(h.what, command_line::action::help);
  EXPECT_EQ(h.command, "status");
  EXPECT_TRUE(h.status_paths.empty());
  EXPECT_EQ(error_of({"status", "/a.sock", "/b.sock"}),
            "status takes one PATH, not also \"/b.sock\" | status");
}

TEST(McastCommandLine, CapabilitiesKeptAfterThePrivilegeDrop) {
  EXPECT_EQ(capabilities_kept(host_config{}), (std::vector<int>{CAP_NET_ADMIN, CAP_NET_RAW}));
  EXPECT_EQ(capabilities_kept(guest_config{}), std::vector<int>{CAP_NET_ADMIN});
}

// Configuration files in a directory of their own, removed afterwards.
class McastCommandLineFiles : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    auto path = dir_.file(name);
    std::ofstream(path) << text;
    return path;
  }
  vsocklib::test::temp_dir dir_;
};

TEST_F(McastCommandLineFiles, HostFileThenCommandLine) {
  const auto f = write("host.conf",
                       "[host]\n"
                       "listen = unix:/tmp/a.sock\n"
                       "lan = eth0\n"
                       "group = 239.1.1.1\n"
                       "mode = mcast\n"
                       "allow_group = 239.0.0.0/8\n"
                       "allow_cid = 3\n"
                       "guest_to_guest = no\n"
                       "rate_limit = 100\n"
                       "tun = vmc-file\n"
                       "control = /tmp/file.sock\n"
                       "log_level = warn\n"
                       "user = daemon\n"
                       "[to-lan]\n"
                       "allow_port = 5000\n");
  auto file_only = parse({"host", "-c", f}).host;
  EXPECT_EQ(to_strings(file_only.listen), std::vector<std::string>{"unix:/tmp/a.sock"});
  EXPECT_EQ(file_only.rate_limit, 100u);
  EXPECT_EQ(file_only.tun, "vmc-file");
  EXPECT_EQ(file_only.user, "daemon");
  EXPECT_TRUE(file_only.to_guest.ports.empty());
  EXPECT_EQ(file_only.to_lan.ports, (std::vector<port_range>{{5000, 5000}}));

  // Lists add to the file's (file first); scalars replace it.
  auto h = parse({"host",
                  "--listen",
                  "unix:/tmp/b.sock",
                  "-c",
                  f,
                  "--lan",
                  "eth1",
                  "--group",
                  "239.2.2.2",
                  "--mode",
                  "l3",
                  "--guest-address",
                  "10.0.0.9",
                  "--allow-group",
                  "224.0.0.251",
                  "--allow-port",
                  "6000",
                  "--allow-cid",
                  "4",
                  "--guest-to-guest",
                  "--rate-limit",
                  "200",
                  "--tun",
                  "vmc-cli",
                  "--control",
                  "/tmp/cli.sock",
                  "--log-level",
                  "error",
                  "--user",
                  "nobody"})
               .host;
  EXPECT_EQ(to_strings(h.listen),
            (std::vector<std::string>{"unix:/tmp/a.sock", "unix:/tmp/b.sock"}));
  EXPECT_EQ(h.lan, (std::vector<std::string>{"eth0", "eth1"}));
  EXPECT_EQ(h.groups, (std::vector<static_group>{{ip("239.1.1.1"), std::nullopt},
                                                 {ip("239.2.2.2"), std::nullopt}}));
  EXPECT_EQ(h.mode, mode::l3);
  EXPECT_EQ(h.guest_addresses, std::vector<std::uint32_t>{ip("10.0.0.9")});
  const std::vector<cidr> groups{net("239.0.0.0/8"), net("224.0.0.251/32")};
  EXPECT_EQ(h.to_guest.groups, groups);
  EXPECT_EQ(h.to_lan.groups, groups);
  EXPECT_EQ(h.to_guest.ports, (std::vector<port_range>{{6000, 6000}}));
  EXPECT_EQ(h.to_lan.ports, (std::vector<port_range>{{5000, 5000}, {6000, 6000}}));
  EXPECT_EQ(h.allowed_cids, (std::vector<std::uint32_t>{3, 4}));
  EXPECT_TRUE(h.guest_to_guest);
  EXPECT_EQ(h.rate_limit, 200u);
  EXPECT_EQ(h.tun, "vmc-cli");
  EXPECT_EQ(h.control, "/tmp/cli.sock");
  EXPECT_EQ(h.log_level, "error");
  EXPECT_EQ(h.user, "nobody");
}

TEST_F(McastCommandLineFiles, LaterFilesReplaceScalarsAndAddToLists) {
  const auto a =
      write("a.conf", "[host]\nlisten = unix:/tmp/a.sock\nlan = eth0\nrate_limit = 100\n");
  const auto b = write("b.conf", "[host]\nlan = eth1\nrate_limit = 300\n");
  auto h = parse({"host", "--config", a, "--config", b}).host;
  EXPECT_EQ(h.lan, (std::vector<std::string>{"eth0", "eth1"}));
  EXPECT_EQ(h.rate_limit, 300u);
}

TEST_F(McastCommandLineFiles, GuestFileThenCommandLine) {
  const auto f = write("guest.conf",
                       "[guest]\n"
                       "connect = unix:/tmp/host.sock\n"
                       "tun = vmc-file\n"
                       "address = 10.0.0.5/24\n"
                       "mode = l3\n"
                       "default_route = no\n"
                       "name = from-file\n"
                       "control = /tmp/gfile.sock\n"
                       "log_level = debug\n"
                       "user = daemon\n");
  auto file_only = parse({"guest", "-c", f}).guest;
  EXPECT_EQ(file_only.connect->to_string(), "unix:/tmp/host.sock");
  EXPECT_EQ(file_only.address, std::optional<cidr>(cidr{ip("10.0.0.5"), 24}));
  EXPECT_EQ(file_only.default_route, std::optional<bool>(false));
  EXPECT_EQ(file_only.name, "from-file");

  auto g = parse({"guest", "--connect", "tcp:127.0.0.1:7000", "-c", f, "--tun", "vmc-cli", "--mode",
                  "mcast", "--default-route", "--name", "from-cli", "--control", "/tmp/gcli.sock",
                  "--log-level", "info", "--user", "nobody"})
               .guest;
  EXPECT_EQ(g.connect->to_string(), "tcp:127.0.0.1:7000");
  EXPECT_EQ(g.tun, "vmc-cli");
  EXPECT_EQ(g.address,
            std::optional<cidr>(cidr{ip("10.0.0.5"), 24}));  // the file's: not on the line
  EXPECT_EQ(g.mode, mode::mcast);
  EXPECT_EQ(g.default_route, std::optional<bool>(true));
  EXPECT_EQ(g.name, "from-cli");
  EXPECT_EQ(g.control, "/tmp/gcli.sock");
  EXPECT_EQ(g.log_level, "info");
  EXPECT_EQ(g.user, "nobody");
}

TEST_F(McastCommandLineFiles, FileErrorsNameFileAndLineAndPointToTheProgramsHelp) {
  const auto bad = write("bad.conf", "[host]\nlisten = unix:/tmp/a.sock\nspeed = 11\n");
  EXPECT_EQ(error_of(host_with({"-c", bad})), bad + ":3: unknown key \"speed\" in [host] | ");
  const auto bad_cid = write("cid.conf", "[host]\nallow_cid = -1\n");
  EXPECT_EQ(error_of(host_with({"-c", bad_cid})),
            bad_cid + ":2: allow_cid needs a number in 0..4294967294, not \"-1\" | ");
  const auto bad_guest = write("g.conf", "[guest]\nmode = bridge\n");
  EXPECT_EQ(error_of(guest_with({"-c", bad_guest})),
            bad_guest + ":2: mode must be mcast or l3, not \"bridge\" | ");
  const auto missing = dir_.file("missing.conf");
  EXPECT_EQ(error_of(host_with({"-c", missing})),
            missing + ": cannot read: No such file or directory | ");
  // The options are all read before any file: a bad option is reported first.
  EXPECT_EQ(error_of({"host", "-c", missing, "--bogus"}), "unknown option --bogus | host");
  // ...and the allow lists after the files, as before.
  EXPECT_EQ(error_of({"host", "--allow-port", "x", "-c", missing}),
            missing + ": cannot read: No such file or directory | ");
}

}  // namespace
}  // namespace vsock_mcast
