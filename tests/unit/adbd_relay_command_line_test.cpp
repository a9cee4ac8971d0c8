// adbd-relay's command line (every option, both spellings, every usage error naming its
// option, the configuration file merged under the options), and the rest of what main
// decides through the library: finish_config, remove_gadgets and check_gadgets_reachable.
// (How its tasks end, which a task supervisor of its own decided, is vsocklib::task_group's
// now: tests/unit/task_group_test.cpp.)
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "adbd_relay/command_line.hpp"
#include "adbd_relay/daemon_setup.hpp"
#include "argv.hpp"
#include "temp_dir.hpp"

namespace adbd_relay {
namespace {

using action = command_line::action;

command_line parse(const std::vector<std::string>& args) {
  return vsocklib::test::parse_argv(parse_command_line, "adbd-relay", args);
}

// The usage error ARGS give, or "" (with a failure) when they are accepted.
std::string error_of(const std::vector<std::string>& args) {
  try {
    parse(args);
  } catch (const usage_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << ::testing::PrintToString(args);
  return "";
}

std::string canonical(const std::string& address) {
  return vsocklib::parse_address(address).to_string();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  ASSERT_TRUE(f.good()) << path;
}

TEST(RelayCommandLine, NothingGivenRunsTheDefaults) {
  const auto c = parse({});
  EXPECT_EQ(c.what, action::run);
  EXPECT_TRUE(c.cfg.guests.empty());
  EXPECT_TRUE(c.cfg.hosts.empty());
  EXPECT_EQ(c.cfg.log_level, "info");
  EXPECT_EQ(c.cfg.control_socket, "/run/adbd-relay/control");
  EXPECT_EQ(c.cfg.user, "");
  EXPECT_EQ(c.status_path, "/run/adbd-relay/control");
}

// Every option that takes a value, each checked where it lands.
void expect_every_option(const command_line& c) {
  EXPECT_EQ(c.what, action::run);
  ASSERT_EQ(c.cfg.guests.size(), 2u);
  EXPECT_EQ(c.cfg.guests[0].name, "guest0");
  EXPECT_EQ(c.cfg.guests[0].address.to_string(), canonical("vsock:3:5555"));
  EXPECT_EQ(c.cfg.guests[0].address.cid, 3u);
  EXPECT_EQ(c.cfg.guests[0].address.port, 5555u);
  EXPECT_EQ(c.cfg.guests[0].gadget.name, "adbd-relay-guest0");
  EXPECT_EQ(c.cfg.guests[0].gadget.udc, "dummy_udc.0");
  EXPECT_EQ(c.cfg.guests[0].gadget.serial, "serial-zero");
  EXPECT_EQ(c.cfg.guests[1].name, "guest1");
  EXPECT_EQ(c.cfg.guests[1].address.to_string(), canonical("unix:/tmp/guest1"));
  EXPECT_EQ(c.cfg.guests[1].gadget.name, "adbd-relay-guest1");
  EXPECT_EQ(c.cfg.guests[1].gadget.udc, "");  // --udc went to guest0 only
  EXPECT_EQ(c.cfg.guests[1].gadget.serial, "serial=one");

  ASSERT_EQ(c.cfg.hosts.size(), 2u);
  EXPECT_EQ(c.cfg.hosts[0].name, "host0");
  EXPECT_EQ(c.cfg.hosts[0].listen.to_string(), canonical("vsock:any:5037"));
  EXPECT_EQ(c.cfg.hosts[0].serial, "ABC123");
  EXPECT_EQ(c.cfg.hosts[0].path, "1-1.2");
  EXPECT_EQ(c.cfg.hosts[0].peers.allowed_cids, (std::vector<std::uint32_t>{3, 4294967294u}));
  EXPECT_EQ(c.cfg.hosts[1].name, "host1");
  EXPECT_EQ(c.cfg.hosts[1].listen.to_string(), canonical("tcp:127.0.0.1:6000"));
  EXPECT_TRUE(c.cfg.hosts[1].matches_any_device());
  EXPECT_TRUE(c.cfg.hosts[1].peers.allowed_cids.empty());

  EXPECT_EQ(c.cfg.control_socket, "/tmp/relay-control");
  EXPECT_EQ(c.cfg.user, "nobody:nogroup");
  EXPECT_EQ(c.cfg.log_level, "debug");
  EXPECT_EQ(c.status_path, "/tmp/relay-control");
}

TEST(RelayCommandLine, EveryOptionAsSeparateValue) {
  expect_every_option(parse({"--guest",
                             "vsock:3:5555",
                             "--udc",
                             "dummy_udc.0",
                             "--serial",
                             "serial-zero",
                             "--guest",
                             "unix:/tmp/guest1",
                             "--serial",
                             "serial=one",
                             "--host-listen",
                             "vsock:any:5037",
                             "--host-serial",
                             "ABC123",
                             "--host-path",
                             "1-1.2",
                             "--host-allow-cid",
                             "3",
                             "--host-allow-cid",
                             "4294967294",
                             "--host-listen",
                             "tcp:127.0.0.1:6000",
                             "--control",
                             "/tmp/relay-control",
                             "--user",
                             "nobody:nogroup",
                             "--log-level",
                             "debug"}));
}

TEST(RelayCommandLine, EveryOptionWithEquals) {
  // Only the first '=' splits: --serial=serial=one keeps "serial=one".
  expect_every_option(
      parse({"--guest=vsock:3:5555", "--udc=dummy_udc.0", "--serial=serial-zero",
             "--guest=unix:/tmp/guest1", "--serial=serial=one", "--host-listen=vsock:any:5037",
             "--host-serial=ABC123", "--host-path=1-1.2", "--host-allow-cid=3",
             "--host-allow-cid=4294967294", "--host-listen=tcp:127.0.0.1:6000",
             "--control=/tmp/relay-control", "--user=nobody:nogroup", "--log-level=debug"}));
}

TEST(RelayCommandLine, Actions) {
  EXPECT_EQ(parse({"--check"}).what, action::check);
  EXPECT_EQ(parse({"--remove-gadgets"}).what, action::remove_gadgets);
  EXPECT_EQ(parse({"--check", "--remove-gadgets"}).what, action::remove_gadgets);
  EXPECT_EQ(parse({"--remove-gadgets", "--check"}).what, action::remove_gadgets);
  EXPECT_EQ(parse({"--check", "--status"}).what, action::status);
  EXPECT_EQ(parse({"--status", "--remove-gadgets"}).what, action::status);
}

TEST(RelayCommandLine, HelpAndVersionEndParsing) {
  EXPECT_EQ(parse({"-h"}).what, action::help);
  EXPECT_EQ(parse({"--help"}).what, action::help);
  EXPECT_EQ(parse({"--version"}).what, action::version);
  EXPECT_EQ(parse({"--check", "--help"}).what, action::help);
  // What follows is not read; what comes before is.
  EXPECT_EQ(parse({"--help", "--bogus"}).what, action::help);
  EXPECT_EQ(parse({"--version", "--udc"}).what, action::version);
  EXPECT_EQ(error_of({"--bogus", "--help"}), "unknown option --bogus");
}

TEST(RelayCommandLine, UsageTextListsEveryOption) {
  const std::string usage(usage_text());
  EXPECT_TRUE(usage.starts_with("usage: adbd-relay [OPTIONS]\n"));
  for (const char* option :
       {"-c, --config FILE", "--guest ADDRESS", "--udc NAME", "--serial SERIAL",
        "--host-listen ADDRESS", "--host-serial SERIAL", "--host-path PATH", "--host-allow-cid CID",
        "--control PATH", "--user USER[:GROUP]", "--remove-gadgets", "--log-level LEVEL",
        "--status [PATH]", "--check", "-h, --help", "--version"}) {
    EXPECT_NE(usage.find(option), std::string::npos) << option;
  }
  EXPECT_TRUE(usage.ends_with("2 on a usage or configuration error.\n"));
}

TEST(RelayCommandLine, StatusPath) {
  auto c = parse({"--status"});
  EXPECT_EQ(c.what, action::status);
  EXPECT_EQ(c.status_path, "/run/adbd-relay/control");

  c = parse({"--status", "/tmp/a"});
  EXPECT_EQ(c.what, action::status);
  EXPECT_EQ(c.status_path, "/tmp/a");
  EXPECT_EQ(c.cfg.control_socket, "/run/adbd-relay/control");  // only what --status asks

  EXPECT_EQ(parse({"--status=/tmp/b"}).status_path, "/tmp/b");
  // A following option is not the path; the control socket is, wherever --control stands.
  c = parse({"--status", "--control", "/tmp/c"});
  EXPECT_EQ(c.what, action::status);
  EXPECT_EQ(c.status_path, "/tmp/c");
  EXPECT_EQ(parse({"--control", "/tmp/d", "--status"}).status_path, "/tmp/d");
  EXPECT_EQ(parse({"--status", "/tmp/e", "--control", "/tmp/d"}).status_path, "/tmp/e");
  // "--status=" is an empty path: the default.
  EXPECT_EQ(parse({"--status="}).status_path, "/run/adbd-relay/control");
}

TEST(RelayCommandLine, MissingValuesNameTheOption) {
  for (const char* option :
       {"-c", "--config", "--guest", "--udc", "--serial", "--host-listen", "--host-serial",
        "--host-path", "--host-allow-cid", "--control", "--user", "--log-level"}) {
    EXPECT_EQ(error_of({"--guest", "vsock:3:5555", "--host-listen", "vsock:any:5555", option}),
              std::string(option) + " needs a value");
  }
}

TEST(RelayCommandLine, UnknownOptions) {
  EXPECT_EQ(error_of({"--bogus"}), "unknown option --bogus");
  EXPECT_EQ(error_of({"--bogus=1"}), "unknown option --bogus");
  EXPECT_EQ(error_of({"stray"}), "unknown option stray");
  EXPECT_EQ(error_of({"--"}), "unknown option --");
  EXPECT_EQ(error_of({"--check", "-x"}), "unknown option -x");
}

TEST(RelayCommandLine, PerGuestAndPerHostOptionsNeedTheirOwner) {
  EXPECT_EQ(error_of({"--udc", "u"}), "--udc applies to a --guest; give --guest first");
  EXPECT_EQ(error_of({"--serial", "s"}), "--serial applies to a --guest; give --guest first");
  // A --host-listen does not make a guest, nor a --guest a listener.
  EXPECT_EQ(error_of({"--host-listen", "vsock:any:5555", "--udc=u"}),
            "--udc applies to a --guest; give --guest first");
  EXPECT_EQ(error_of({"--guest", "vsock:3:5555", "--host-serial", "s"}),
            "--host-serial applies to a --host-listen; give --host-listen first");
  EXPECT_EQ(error_of({"--host-path", "1-1"}),
            "--host-path applies to a --host-listen; give --host-listen first");
  EXPECT_EQ(error_of({"--host-allow-cid", "3"}),
            "--host-allow-cid applies to a --host-listen; give --host-listen first");
}

TEST(RelayCommandLine, BadCidsNameTheOptionAndTheText) {
  for (const char* bad :
       {"-1", " 5", "5x", "", "+5", "0x5", "4294967295", "99999999999999999999"}) {
    const std::string expected =
        std::string("--host-allow-cid needs a number in 0..4294967294, not \"") + bad + "\"";
    EXPECT_EQ(error_of({"--host-listen", "vsock:any:5555", "--host-allow-cid", bad}), expected);
    EXPECT_EQ(error_of({"--host-listen=vsock:any:5555", std::string("--host-allow-cid=") + bad}),
              expected);
  }
}

TEST(RelayCommandLine, BadAddressesNameTheOption) {
  EXPECT_TRUE(
      error_of({"--guest", "nonsense:1"}).starts_with("--guest: bad address \"nonsense:1\": "));
  EXPECT_TRUE(error_of({"--guest="}).starts_with("--guest: bad address \"\": "));
  EXPECT_TRUE(
      error_of({"--guest", "vsock:x:5555"}).starts_with("--guest: bad address \"vsock:x:5555\": "));
  EXPECT_TRUE(error_of({"--host-listen", "tcp:bad"})
                  .starts_with("--host-listen: bad address \"tcp:bad\": "));
  EXPECT_TRUE(error_of({"--host-listen=vsock:any:99999999999"})
                  .starts_with("--host-listen: bad address \"vsock:any:99999999999\": "));
}

TEST(RelayCommandLine, RelaysNeedStreamAddresses) {
  EXPECT_EQ(error_of({"--guest", "vsock-seqpacket:3:5555"}),
            "--guest needs a stream address, not vsock-seqpacket:3:5555");
  EXPECT_EQ(error_of({"--host-listen=vsock-seqpacket:any:5555"}),
            "--host-listen needs a stream address, not vsock-seqpacket:any:5555");
}

TEST(RelayCommandLine, ConfigFileMergedUnderTheCommandLine) {
  vsocklib::test::temp_dir dir;
  const auto file = dir.file("relay.conf");
  write_file(file, R"([relay]
log_level = debug
control_socket = /tmp/file-control
user = nobody

[guest android]
address = vsock:3:5555
udc = file_udc

[host phone]
listen = vsock:any:5037
)");
  // Without overrides, the file's values stand.
  auto c = parse({"-c", file});
  EXPECT_EQ(c.what, action::run);
  EXPECT_EQ(c.cfg.log_level, "debug");
  EXPECT_EQ(c.cfg.control_socket, "/tmp/file-control");
  EXPECT_EQ(c.cfg.user, "nobody");
  EXPECT_EQ(c.status_path, "/tmp/file-control");
  ASSERT_EQ(c.cfg.guests.size(), 1u);
  EXPECT_EQ(c.cfg.guests[0].name, "android");
  EXPECT_EQ(c.cfg.guests[0].gadget.udc, "file_udc");

  // The command line's guests and hosts come after the file's, even those given before -c;
  // its --udc still goes to its own last guest; its settings win wherever they stand.
  c = parse({"--log-level", "warn", "--guest", "vsock:4:5555", "--udc", "cli_udc", "--host-listen",
             "tcp:127.0.0.1:6000", "--config", file, "--control", "/tmp/cli-control", "--user",
             "root:root", "--guest=vsock:5:5555"});
  EXPECT_EQ(c.cfg.log_level, "warn");
  EXPECT_EQ(c.cfg.control_socket, "/tmp/cli-control");
  EXPECT_EQ(c.cfg.user, "root:root");
  EXPECT_EQ(c.status_path, "/tmp/cli-control");
  ASSERT_EQ(c.cfg.guests.size(), 3u);
  EXPECT_EQ(c.cfg.guests[0].name, "android");
  EXPECT_EQ(c.cfg.guests[0].gadget.udc, "file_udc");
  EXPECT_EQ(c.cfg.guests[1].name, "guest0");
  EXPECT_EQ(c.cfg.guests[1].address.cid, 4u);
  EXPECT_EQ(c.cfg.guests[1].gadget.udc, "cli_udc");
  EXPECT_EQ(c.cfg.guests[2].name, "guest1");
  EXPECT_EQ(c.cfg.guests[2].address.cid, 5u);
  ASSERT_EQ(c.cfg.hosts.size(), 2u);
  EXPECT_EQ(c.cfg.hosts[0].name, "phone");
  EXPECT_EQ(c.cfg.hosts[1].name, "host0");

  // A second file adds to the first.
  const auto more = dir.file("more.conf");
  write_file(more, "[guest second]\naddress = vsock:6:5555\n");
  c = parse({"-c", file, "-c", more});
  ASSERT_EQ(c.cfg.guests.size(), 2u);
  EXPECT_EQ(c.cfg.guests[1].name, "second");
}

TEST(RelayCommandLine, ConfigFileErrorsAreUsageErrors) {
  vsocklib::test::temp_dir dir;
  EXPECT_EQ(error_of({"-c", dir.file("missing.conf")}),
            "cannot read configuration file " + dir.file("missing.conf"));
  const auto bad = dir.file("bad.conf");
  write_file(bad, "[relay]\nlog_level = debug\nbogus_key = 1\n");
  EXPECT_EQ(error_of({"--config=" + bad}), bad + ":3: unknown key \"bogus_key\" in [relay]");
}

TEST(RelayCommandLine, ShippedExampleParses) {
  const auto c = parse({"--check", "-c", ADBD_RELAY_EXAMPLE_CONF});
  EXPECT_EQ(c.what, action::check);
  ASSERT_EQ(c.cfg.guests.size(), 1u);
  EXPECT_EQ(c.cfg.guests[0].name, "android");
}

// finish_config

config two_guests() {
  return parse({"--guest", "vsock:3:5555", "--udc", "u0", "--guest", "vsock:4:5555", "--udc", "u1"})
      .cfg;
}

TEST(RelayFinishConfig, StaysRootWithoutUser) {
  auto cfg = two_guests();
  EXPECT_FALSE(finish_config(cfg).has_value());
  EXPECT_FALSE(cfg.guests[0].gadget.owner.has_value());
}

TEST(RelayFinishConfig, HandsTheGadgetsToTheUser) {
  auto cfg = two_guests();
  cfg.user = "root:root";
  const auto spec = finish_config(cfg);
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->user, "root");
  EXPECT_EQ(spec->group, "root");
  EXPECT_TRUE(spec->keep.empty());
  for (const auto& g : cfg.guests) {
    ASSERT_TRUE(g.gadget.owner.has_value()) << g.name;
    EXPECT_EQ(g.gadget.owner->uid, 0u);
    EXPECT_EQ(g.gadget.owner->gid, 0u);
  }
}

void expect_finish_error(config cfg, const std::string& needle) {
  try {
    finish_config(cfg);
    ADD_FAILURE() << "accepted; expected " << needle;
  } catch (const usage_error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(RelayFinishConfig, ErrorsAreUsageErrors) {
  expect_finish_error(config{}, "nothing to serve");
  auto cfg = two_guests();
  cfg.log_level = "loud";
  expect_finish_error(cfg, "unknown log level \"loud\"");
  cfg = two_guests();
  cfg.user = "no-such-user-adbd-relay-test";
  expect_finish_error(cfg, "no-such-user-adbd-relay-test");
  cfg = two_guests();
  cfg.user = "root:no-such-group-adbd-relay-test";
  expect_finish_error(cfg, "no-such-group-adbd-relay-test");
  cfg = two_guests();
  cfg.guests[0].gadget.name = cfg.guests[1].gadget.name;
  expect_finish_error(cfg, "guests share the gadget name \"adbd-relay-guest1\"");
}

// remove_gadgets, against a configfs made of plain directories.

TEST(RelayRemoveGadgets, ReportsEachGadget) {
  vsocklib::test::temp_dir dir;
  auto cfg = two_guests();
  for (auto& g : cfg.guests) {
    g.gadget.configfs = dir.file("configfs");
    g.gadget.ffs_dir = dir.file("ffs-" + g.name);
  }
  // guest1's gadget is "there": a directory the unbind writes UDC into, so it cannot go.
  std::filesystem::create_directories(dir.file("configfs/adbd-relay-guest1"));
  std::ostringstream out, err;
  EXPECT_EQ(remove_gadgets(cfg, out, err), 1);
  EXPECT_EQ(out.str(), "gadget adbd-relay-guest0: removed (or not there)\n");
  EXPECT_TRUE(err.str().starts_with("adbd-relay: gadget adbd-relay-guest1:\ncannot remove " +
                                    dir.file("configfs/adbd-relay-guest1") + ": "))
      << err.str();

  std::filesystem::remove_all(dir.file("configfs/adbd-relay-guest1"));
  std::ostringstream out2, err2;
  EXPECT_EQ(remove_gadgets(cfg, out2, err2), 0);
  EXPECT_EQ(out2.str(),
            "gadget adbd-relay-guest0: removed (or not there)\n"
            "gadget adbd-relay-guest1: removed (or not there)\n");
  EXPECT_EQ(err2.str(), "");
}

TEST(RelayCheckGadgetsReachable, NamesTheFirstEp0ThatDoesNotOpen) {
  vsocklib::test::temp_dir dir;
  std::filesystem::create_directories(dir.file("a"));
  std::filesystem::create_directories(dir.file("b"));
  write_file(dir.file("a/ep0"), "");
  EXPECT_NO_THROW(check_gadgets_reachable(std::vector<std::string>{dir.file("a")}, "nobody"));
  try {
    check_gadgets_reachable(std::vector<std::string>{dir.file("a"), dir.file("b")}, "nobody");
    ADD_FAILURE() << "b/ep0 does not exist";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
    EXPECT_TRUE(std::string(e.what()).starts_with(
        "user nobody cannot open " + dir.file("b") +
        "/ep0 (every directory on the way must be searchable by it)"))
        << e.what();
  }
}

}  // namespace
}  // namespace adbd_relay
