// Host mode's configuration ([host NAME]), which device each listener serves, and device
// discovery over a sysfs tree built in a temporary directory.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "adbd_relay/config.hpp"
#include "adbd_relay/usb_host.hpp"
#include "adbd_relay/usb_host_relay.hpp"
#include "temp_dir.hpp"

namespace adbd_relay {
namespace {

config parse(const std::string& text) {
  config c;
  parse_config(text, "test.conf", c);
  return c;
}

std::string error_of(const std::string& text) {
  try {
    auto c = parse(text);
    validate(c);
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

TEST(HostConfig, ParsesHostSections) {
  auto c = parse(R"(
[relay]
host_rescan_ms = 250
[host phone]
listen = vsock:any:5037
serial = ABC123
allowed_cids = 3, 4
[host board]
listen = tcp:127.0.0.1:6000
path = 1-1.2
allow_remote_tcp = yes
[host rest]
listen = unix:/run/adb-rest
allowed_uids = 0,1000
)");
  EXPECT_NO_THROW(validate(c));  // host mode alone is a valid configuration
  EXPECT_EQ(c.host_rescan.count(), 250);
  ASSERT_EQ(c.hosts.size(), 3u);
  EXPECT_EQ(c.hosts[0].listen.to_string(), "vsock:any:5037");
  EXPECT_EQ(c.hosts[0].serial, "ABC123");
  EXPECT_EQ(c.hosts[0].peers.allowed_cids, (std::vector<std::uint32_t>{3, 4}));
  EXPECT_EQ(c.hosts[1].path, "1-1.2");
  EXPECT_TRUE(c.hosts[1].peers.allow_remote_tcp);
  EXPECT_TRUE(c.hosts[2].matches_any_device());
  EXPECT_EQ(c.hosts[2].peers.allowed_uids, (std::vector<uid_t>{0, 1000}));
}

TEST(HostConfig, ErrorsNameFileLineAndWhat) {
  EXPECT_EQ(error_of("[host a]\nserial = x\n"), "test.conf:2: [host a] has no listen address");
  EXPECT_EQ(error_of("[host a]\nlisten = vsock-seqpacket:any:1\n"),
            "test.conf:2: listen must be a stream address (vsock:any:PORT, tcp:..., unix:...)");
  EXPECT_EQ(error_of("[host a]\nlisten = tcp:127.0.0.1:1\nallowed_cids = 3, x\n"),
            "test.conf:3: allowed_cids needs a number in 0..4294967294, not \"x\"");
  // All ones is VMADDR_CID_ANY, never a peer's CID: an allowlist holding it admits nobody.
  EXPECT_EQ(error_of("[host a]\nlisten = vsock:any:1\nallowed_cids = 4294967295\n"),
            "test.conf:3: allowed_cids needs a number in 0..4294967294, not \"4294967295\"");
  EXPECT_EQ(error_of("[host a]\nlisten = tcp:127.0.0.1:1\nseriel = x\n"),
            "test.conf:3: unknown key \"seriel\" in [host a]");
  EXPECT_EQ(error_of("[host a]\nlisten = tcp:127.0.0.1:1\n[host b]\nlisten = tcp:127.0.0.1:2\n"),
            "hosts \"a\" and \"b\" both take the first ADB device; give one a serial or path");
  EXPECT_NE(error_of("").find("nothing to serve"), std::string::npos);
}

// The commented host example in the shipped configuration stays valid: uncommented, it
// parses and validates together with the rest of the file.
TEST(HostConfig, ShippedHostExampleParsesWhenUncommented) {
  std::ifstream f(ADBD_RELAY_EXAMPLE_CONF);
  ASSERT_TRUE(f) << ADBD_RELAY_EXAMPLE_CONF;
  std::string text, line;
  bool in_example = false;
  while (std::getline(f, line)) {
    if (line.rfind("# [host ", 0) == 0) in_example = true;
    if (in_example && line.empty()) in_example = false;
    if (in_example && line.rfind("# ", 0) == 0) line = line.substr(2);
    text += line + "\n";
  }
  auto c = parse(text);
  EXPECT_NO_THROW(validate(c));
  ASSERT_EQ(c.hosts.size(), 1u);
  EXPECT_EQ(c.hosts[0].listen.to_string(), "vsock:any:5555");
  EXPECT_FALSE(c.hosts[0].peers.allowed_cids.empty());
}

adb_device_info dev(std::string path, std::string serial) {
  adb_device_info d;
  d.path = std::move(path);
  d.serial = std::move(serial);
  return d;
}

TEST(HostConfig, EachListenerGetsItsDeviceAndTheDefaultTakesTheRest) {
  auto c = parse(R"(
[host named]
listen = tcp:127.0.0.1:1
serial = B
[host by_path]
listen = tcp:127.0.0.1:2
path = 1-3
[host default]
listen = tcp:127.0.0.1:3
)");
  std::vector<adb_device_info> devices{dev("1-1", "B"), dev("1-2", "C"), dev("1-3", "D")};
  EXPECT_EQ(pick_device(devices, c.hosts[0], c.hosts)->path, "1-1");
  EXPECT_EQ(pick_device(devices, c.hosts[1], c.hosts)->path, "1-3");
  // The default skips devices that other sections name.
  EXPECT_EQ(pick_device(devices, c.hosts[2], c.hosts)->path, "1-2");
  std::vector<adb_device_info> only_named{dev("1-1", "B")};
  EXPECT_EQ(pick_device(only_named, c.hosts[2], c.hosts), nullptr);
  EXPECT_EQ(pick_device(only_named, c.hosts[1], c.hosts), nullptr);
}

// A sysfs tree as the kernel shows /sys/bus/usb/devices: device directories with busnum,
// devnum and serial; interface directories DEVICE:CONFIG.INTERFACE with class triples.
struct fake_sysfs {
  vsocklib::test::temp_dir dir;
  void write(const std::string& rel, const std::string& value) {
    auto p = std::filesystem::path(dir.file(rel));
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << value << "\n";
  }
  void device(const std::string& name, unsigned bus, unsigned num, const std::string& serial) {
    write(name + "/busnum", std::to_string(bus));
    write(name + "/devnum", std::to_string(num));
    if (!serial.empty()) write(name + "/serial", serial);
  }
  void interface(const std::string& name, const std::string& cls, const std::string& sub,
                 const std::string& proto, const std::string& number) {
    write(name + "/bInterfaceClass", cls);
    write(name + "/bInterfaceSubClass", sub);
    write(name + "/bInterfaceProtocol", proto);
    write(name + "/bInterfaceNumber", number);
  }
  std::string root() const { return dir.file(""); }
};

TEST(HostDiscovery, FindsAdbInterfacesOnly) {
  fake_sysfs s;
  s.device("usb1", 1, 1, "0000:00:01.0");
  s.interface("1-0:1.0", "09", "00", "00", "00");  // root hub
  s.device("1-1", 1, 5, "relay-lab");
  s.interface("1-1:1.0", "ff", "42", "01", "00");  // ADB
  s.device("1-2.1", 1, 7, "");
  s.interface("1-2.1:1.0", "08", "06", "50", "00");  // mass storage
  s.interface("1-2.1:1.1", "ff", "42", "01", "01");  // ADB as the second interface
  s.device("2-1", 2, 3, "x");
  s.interface("2-1:1.0", "ff", "42", "03", "00");  // fastboot's protocol, not ADB
  s.interface("3-1:1.0", "ff", "42", "01", "00");  // its device left while scanning

  auto found = scan_adb_devices(s.root());
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].path, "1-1");
  EXPECT_EQ(found[0].serial, "relay-lab");
  EXPECT_EQ(found[0].node(), "/dev/bus/usb/001/005");
  EXPECT_EQ(found[0].interface, 0u);
  EXPECT_EQ(found[1].path, "1-2.1");
  EXPECT_EQ(found[1].serial, "");
  EXPECT_EQ(found[1].interface, 1u);
  EXPECT_EQ(found[1].describe(), "1-2.1 (no serial)");
}

TEST(HostDiscovery, MissingSysfsIsNoDevices) {
  EXPECT_TRUE(scan_adb_devices("/nonexistent/sys/bus/usb/devices").empty());
}

}  // namespace
}  // namespace adbd_relay
