#include "adbd_relay/command_line.hpp"

#include <fstream>
#include <sstream>
#include <vector>

#include "vsocklib/args.hpp"

namespace adbd_relay {
namespace {

constexpr std::string_view kUsage = R"(usage: adbd-relay [OPTIONS]

Gadget mode: shows a USB ADB function (configfs gadget + FunctionFS) to the PC and bridges it
to a guest's adbd over vsock. The function is visible only while the guest's adbd answers; when
either side goes away, both are reset, so the PC's adb sees the device leave and come back.
Host mode: serves an ADB device attached to this machine's USB on a listener, so a guest's
`adb connect vsock:2:PORT` reaches it. Both modes can run in one relay.

Options
  -c, --config FILE      configuration file (see docs/adbd-relay.md; default: none)
  --guest ADDRESS        bridge to the adbd at ADDRESS (e.g. vsock:3:5555); repeatable, each
                         adds a guest named guest0, guest1, ... (options below apply to the
                         last one given)
  --udc NAME             USB device controller for the last guest (default: the first in
                         /sys/class/udc)
  --serial SERIAL        USB serial number of the last guest (what `adb devices` lists)
  --host-listen ADDRESS  host mode: serve an attached ADB device on ADDRESS (e.g.
                         vsock:any:5555, for a guest's `adb connect vsock:2:5555`); repeatable,
                         each adds a listener named host0, host1, ... (the options below
                         apply to the last one given; without them it takes the first ADB
                         device)
  --host-serial SERIAL   the last listener serves the device with this serial
  --host-path PATH       the last listener serves the device at this bus path (e.g. 1-1.2)
  --host-allow-cid CID   vsock peers allowed on the last listener (repeatable; default: all)
  --control PATH         status socket (default /run/adbd-relay/control)
  --user USER[:GROUP]    after set-up, become USER (in GROUP; default: USER's primary
                         group) with no capability (docs/security.md); the gadgets'
                         FunctionFS files and UDC attributes are handed to it
  --remove-gadgets       remove the configured guests' gadgets that an unprivileged relay
                         left in configfs, and exit (as root; systemd's ExecStopPost)
  --log-level LEVEL      trace, debug, info, warn, error, off (default info)
  --status [PATH]        print the running relay's status (JSON) and exit
  --check                read the configuration, report what is wrong, and exit
  -h, --help             this text
  --version              the version

Guest side: adbd listens on vsock when service.adb.listen_addrs=vsock:5555 is set; in host
mode the guest runs `adb connect vsock:2:PORT`.
Exit status: 0 on SIGTERM/SIGINT, 1 on a start-up error, 2 on a usage or configuration error.
)";

// A -c file is merged into CFG where it stands, so a later file adds to an earlier one.
void read_config_file(const std::string& path, config& cfg) {
  std::ifstream f(path);
  if (!f) throw usage_error("cannot read configuration file " + path);
  std::stringstream text;
  text << f.rdbuf();
  try {
    parse_config(text.str(), path, cfg);
  } catch (const config_error& e) {
    throw usage_error(e.what());
  }
}

}  // namespace

std::string_view usage_text() { return kUsage; }

command_line parse_command_line(int argc, const char* const* argv) {
  vsocklib::arg_reader in(argc, argv);
  command_line cl;
  bool status = false;
  bool check = false;
  bool remove = false;
  std::string log_level;
  std::string control;
  std::string user;
  // Kept apart until the end: the command line's guests and hosts come after every file's,
  // whatever the order of -c among them.
  std::vector<guest_config> guests;
  std::vector<usb_host_config> hosts;
  while (in.next()) {
    const std::string& a = in.option();
    auto last_guest = [&]() -> guest_config& {
      if (guests.empty()) in.fail(a + " applies to a --guest; give --guest first");
      return guests.back();
    };
    auto last_host = [&]() -> usb_host_config& {
      if (hosts.empty()) in.fail(a + " applies to a --host-listen; give --host-listen first");
      return hosts.back();
    };
    if (auto stop = in.help_or_version(command_line::action::help, command_line::action::version)) {
      cl.what = *stop;
      return cl;
    } else if (a == "-c" || a == "--config") {
      read_config_file(in.value(), cl.cfg);
    } else if (a == "--guest") {
      // A relay carries a byte stream, so vsock-seqpacket is refused.
      auto addr = in.stream_address();
      guests.push_back(default_guest("guest" + std::to_string(guests.size()), std::move(addr)));
    } else if (a == "--host-listen") {
      auto addr = in.stream_address();
      hosts.push_back(default_host("host" + std::to_string(hosts.size()), std::move(addr)));
    } else if (a == "--host-serial") {
      last_host().serial = in.value();
    } else if (a == "--host-path") {
      last_host().path = in.value();
    } else if (a == "--host-allow-cid") {
      const auto cid = in.number<std::uint32_t>(0, vsocklib::kMaxCid);
      last_host().peers.allowed_cids.push_back(cid);
    } else if (a == "--udc") {
      last_guest().gadget.udc = in.value();
    } else if (a == "--serial") {
      last_guest().gadget.serial = in.value();
    } else if (a == "--control") {
      control = in.value();
    } else if (a == "--log-level") {
      log_level = in.value();
    } else if (a == "--status") {
      status = true;
      // The path is optional: a following option is not taken for it.
      if (auto path = in.optional_value()) cl.status_path = *path;
    } else if (a == "--check") {
      check = true;
    } else if (a == "--remove-gadgets") {
      remove = true;
    } else if (a == "--user") {
      user = in.value();
    } else {
      in.unknown();
    }
  }
  for (auto& g : guests) cl.cfg.guests.push_back(std::move(g));
  for (auto& h : hosts) cl.cfg.hosts.push_back(std::move(h));
  if (!log_level.empty()) cl.cfg.log_level = log_level;
  if (!control.empty()) cl.cfg.control_socket = control;
  if (!user.empty()) cl.cfg.user = user;
  if (cl.status_path.empty()) cl.status_path = cl.cfg.control_socket;
  // --status asks a running relay, so the rest of the line need not even be valid; and
  // --remove-gadgets has always won over --check.
  if (status) {
    cl.what = command_line::action::status;
  } else if (remove) {
    cl.what = command_line::action::remove_gadgets;
  } else if (check) {
    cl.what = command_line::action::check;
  }
  return cl;
}

}  // namespace adbd_relay
