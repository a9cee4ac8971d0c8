// adbd-relay: shows a USB ADB function to the PC and bridges it to a guest's adbd over
// vsock. Everything is in the library; this file reads options and runs it.
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <list>
#include <sstream>

#include <spdlog/logger.h>

#include "config.hpp"
#include "control.hpp"
#include "vsocklib/args.hpp"
#include "vsocklib/daemon.hpp"
#include "guest_relay.hpp"
#include "host_relay.hpp"
#include "host_usb.hpp"
#include "vsocklib/connect.hpp"
#include "vsocklib/log.hpp"
#include "vsocklib/number.hpp"
#include "vsocklib/privileges.hpp"

#ifndef VSOCKLIB_VERSION
#define VSOCKLIB_VERSION "unknown"
#endif

namespace {

namespace asio = adbd_relay::asio;
using adbd_relay::error_code;
using namespace std::chrono_literals;

constexpr const char* kUsage = R"(usage: adbd-relay [OPTIONS]

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

[[noreturn]] void usage_error(const std::string& what) {
  std::cerr << "adbd-relay: " << what << "\n(try adbd-relay --help)\n";
  std::exit(2);
}

struct cli {
  adbd_relay::config cfg;
  std::string status_path;
  bool status = false;
  bool check = false;
  bool remove_gadgets = false;
  std::string log_level_override;
  std::string user_override;
  std::string control_override;
};

cli parse(int argc, char** argv) {
  const auto args = vsocklib::split_option_values(argc, argv);
  cli c;
  std::vector<adbd_relay::guest_config> cli_guests;
  std::vector<adbd_relay::host_config> cli_hosts;
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) usage_error(a + " needs a value");
      return args[++i];
    };
    auto last_guest = [&]() -> adbd_relay::guest_config& {
      if (cli_guests.empty()) usage_error(a + " applies to a --guest; give --guest first");
      return cli_guests.back();
    };
    auto last_host = [&]() -> adbd_relay::host_config& {
      if (cli_hosts.empty()) usage_error(a + " applies to a --host-listen; give --host-listen first");
      return cli_hosts.back();
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a == "--version") {
      std::cout << "adbd-relay " << VSOCKLIB_VERSION << "\n";
      std::exit(0);
    } else if (a == "-c" || a == "--config") {
      const std::string path = value();
      std::ifstream f(path);
      if (!f) usage_error("cannot read configuration file " + path);
      std::stringstream text;
      text << f.rdbuf();
      try {
        adbd_relay::parse_config(text.str(), path, c.cfg);
      } catch (const adbd_relay::config_error& e) {
        usage_error(e.what());
      }
    } else if (a == "--guest") {
      const std::string text = value();
      try {
        auto addr = vsocklib::parse_address(text);
        if (!addr.is_stream()) usage_error("--guest needs a stream address, not " + text);
        cli_guests.push_back(
            adbd_relay::default_guest("guest" + std::to_string(cli_guests.size()), addr));
      } catch (const vsocklib::address_error& e) {
        usage_error(e.what());
      }
    } else if (a == "--host-listen") {
      const std::string text = value();
      try {
        auto addr = vsocklib::parse_address(text);
        if (!addr.is_stream()) usage_error("--host-listen needs a stream address, not " + text);
        cli_hosts.push_back(
            adbd_relay::default_host("host" + std::to_string(cli_hosts.size()), addr));
      } catch (const vsocklib::address_error& e) {
        usage_error(e.what());
      }
    } else if (a == "--host-serial") {
      last_host().serial = value();
    } else if (a == "--host-path") {
      last_host().path = value();
    } else if (a == "--host-allow-cid") {
      const std::string text = value();
      const auto cid = vsocklib::parse_unsigned(text, 0, vsocklib::kMaxCid);
      if (!cid) usage_error(vsocklib::number_error_text(a, text, 0, vsocklib::kMaxCid));
      last_host().peers.allowed_cids.push_back(static_cast<std::uint32_t>(*cid));
    } else if (a == "--udc") {
      last_guest().gadget.udc = value();
    } else if (a == "--serial") {
      last_guest().gadget.serial = value();
    } else if (a == "--control") {
      c.control_override = value();
    } else if (a == "--log-level") {
      c.log_level_override = value();
    } else if (a == "--status") {
      c.status = true;
      if (i + 1 < args.size() && !args[i + 1].starts_with("-")) c.status_path = args[++i];
    } else if (a == "--check") {
      c.check = true;
    } else if (a == "--remove-gadgets") {
      c.remove_gadgets = true;
    } else if (a == "--user") {
      c.user_override = value();
    } else {
      usage_error("unknown option " + a);
    }
  }
  for (auto& g : cli_guests) c.cfg.guests.push_back(std::move(g));
  for (auto& h : cli_hosts) c.cfg.hosts.push_back(std::move(h));
  if (!c.log_level_override.empty()) c.cfg.log_level = c.log_level_override;
  if (!c.control_override.empty()) c.cfg.control_socket = c.control_override;
  if (!c.user_override.empty()) c.cfg.user = c.user_override;
  if (c.status_path.empty()) c.status_path = c.cfg.control_socket;
  return c;
}

// What a relay that ran as `user` left behind: each configured guest's gadget.
int remove_gadgets(const adbd_relay::config& cfg) {
  int rc = 0;
  for (const auto& g : cfg.guests) {
    const auto problems = adbd_relay::gadget::remove_left_over(g.gadget);
    if (problems.empty()) {
      std::cout << "gadget " << g.gadget.name << ": removed (or not there)\n";
    } else {
      std::cerr << "adbd-relay: gadget " << g.gadget.name << ":\n" << problems;
      rc = 1;
    }
  }
  return rc;
}

// After the drop, every prepared gadget's ep0 must still be reachable: the FunctionFS
// files are the user's, but the directories on the way must let it through.
void check_gadgets_reachable(const std::list<adbd_relay::guest_relay>& relays, const std::string& user) {
  for (const auto& r : relays) {
    const std::string ep0 = r.gadget_ffs_dir() + "/ep0";
    if (::access(ep0.c_str(), R_OK | W_OK) != 0) {
      throw std::system_error(errno, std::generic_category(),
                              "user " + user + " cannot open " + ep0 +
                                  " (every directory on the way must be searchable by it)");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto c = parse(argc, argv);
  if (c.status) return vsocklib::print_status("adbd-relay", "relay", {c.status_path});
  std::optional<vsocklib::privilege_spec> drop;
  try {
    adbd_relay::validate(c.cfg);
    vsocklib::log::setup(c.cfg.log_level);
    if (!c.cfg.user.empty()) {
      drop = vsocklib::parse_user_group(c.cfg.user);
      const auto ids = vsocklib::resolve_user(*drop);
      for (auto& g : c.cfg.guests) g.gadget.owner = ids;
    }
  } catch (const std::exception& e) {
    usage_error(e.what());
  }
  if (c.remove_gadgets) return remove_gadgets(c.cfg);
  if (c.check) {
    std::cout << "configuration ok: " << c.cfg.guests.size() << " guest(s), "
              << c.cfg.hosts.size() << " host-mode listener(s)\n";
    return 0;
  }
  auto log = vsocklib::log::get("adbd-relay");
  asio::io_context io(1);

  std::list<adbd_relay::guest_relay> relays;
  std::vector<const adbd_relay::guest_status*> statuses;
  for (const auto& g : c.cfg.guests) {
    relays.emplace_back(g, c.cfg.session, c.cfg.connect);
    statuses.push_back(&relays.back().status());
  }

  std::optional<vsocklib::daemon_runtime> runtime;
  try {
    runtime.emplace(io, c.cfg.control_socket, log);
  } catch (const std::exception& e) {
    log->error("status socket: {}", e.what());
    return 1;
  }

  // Dropping privileges: everything that needs root happens first (gadgets, status
  // socket), then the switch, before any thread exists (libusb starts one).
  if (drop) {
    try {
      for (auto& r : relays) r.prepare();
      vsocklib::drop_privileges(*drop);
      check_gadgets_reachable(relays, drop->user);
    } catch (const std::system_error& e) {
      log->error("cannot set up and drop privileges to user {}: {}", drop->user, e.what());
      return 1;
    }
    log->info("running as user {} (uid {}) with no capabilities; gadgets are left in configfs "
              "at exit (adbd-relay --remove-gadgets takes them down)",
              drop->user, ::getuid());
  }

  // Host mode: libusb only when a host-mode listener is configured.
  std::optional<adbd_relay::host_usb> usb;
  std::list<adbd_relay::host_relay> host_relays;
  std::vector<const adbd_relay::host_status*> host_statuses;
  if (!c.cfg.hosts.empty()) {
    try {
      usb.emplace(io.get_executor(), log);
    } catch (const std::exception& e) {
      log->error("host mode: {}", e.what());
      return 1;
    }
    for (const auto& h : c.cfg.hosts) {
      host_relays.emplace_back(h, c.cfg.hosts, c.cfg.session,
                               *usb);
      host_statuses.push_back(&host_relays.back().status());
    }
  }

  int rc = 0;
  std::list<asio::cancellation_signal> stops;
  unsigned running = 0;
  auto start = [&](asio::awaitable<void> work, std::string name) {
    ++running;
    auto& stop = stops.emplace_back();
    asio::co_spawn(io, std::move(work), asio::bind_cancellation_slot(stop.slot(), [&, name](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const boost::system::system_error& ex) {
          // Cancelled by SIGTERM/SIGINT: Asio reports it as operation_aborted.
          if (ex.code() != asio::error::operation_aborted) {
            log->error("[{}] {}", name, ex.what());
            rc = 1;
            io.stop();  // a start-up error (no configfs, no UDC, address in use) ends the daemon
          }
        } catch (const std::exception& ex) {
          log->error("[{}] {}", name, ex.what());
          rc = 1;
          io.stop();
        }
      }
      if (--running == 0) io.stop();
    }));
  };
  for (auto& r : relays) start(r.run(), r.status().name);
  for (auto& h : host_relays) start(h.run(), h.status().name);
  if (usb) start(adbd_relay::watch_adb_devices(*usb, c.cfg.host_rescan, log), "host mode");
  runtime->start([&] { return adbd_relay::status_json(statuses, host_statuses); },
                 [&] { for (auto& s : stops) s.emit(asio::cancellation_type::terminal); },
                 "bridging " + std::to_string(relays.size()) + " guest(s), " +
                     std::to_string(host_relays.size()) + " host-mode listener(s)");
  asio::post(io, [&] {
    log->info("adbd-relay {} started: {} guest(s), {} host-mode listener(s), status on {}",
              VSOCKLIB_VERSION, relays.size(), host_relays.size(), c.cfg.control_socket);
  });
  io.run();
  runtime.reset();  // removes the status socket
  return rc;
}
