// vsock-mcast: the host and guest endpoints of the multicast tunnel, and the status query.
// Everything is in the library; this file reads options and runs it.
#include <linux/capability.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "config.hpp"
#include "guest.hpp"
#include "host.hpp"
#include "vsocklib/args.hpp"
#include "vsocklib/daemon.hpp"
#include "vsocklib/log.hpp"
#include "vsocklib/number.hpp"
#include "vsocklib/privileges.hpp"

#ifndef VSOCKLIB_VERSION
#define VSOCKLIB_VERSION "unknown"
#endif

namespace {

namespace asio = vsocklib::asio;
using namespace vsock_mcast;

constexpr const char* kUsage = R"(usage: vsock-mcast host  [OPTIONS]   the LAN side, serving guests
       vsock-mcast guest [OPTIONS]   inside a guest: a TUN interface tunnelled to the host
       vsock-mcast status [PATH]     print a running endpoint's status (JSON)
       vsock-mcast --version

Carries IPv4 multicast (and in l3 mode unicast) between a LAN and vsock-only guests, keeping
every datagram's source address, port, TTL and TOS. See `vsock-mcast host --help`,
`vsock-mcast guest --help`, vsock-mcast(8) and docs/vsock-mcast.md.
)";

constexpr const char* kHostUsage = R"(usage: vsock-mcast host [OPTIONS]

The host endpoint: a multicast group member on the LAN interfaces (no kernel multicast
routing, no TTL decrement), serving guests that connect on the listen addresses.

Options (lists may repeat; they add to the configuration file's)
  -c, --config FILE       configuration file ([host], [to-guest], [to-lan] sections)
  --listen ADDR           where guests connect: vsock-seqpacket:any:PORT (preferred),
                          vsock:any:PORT, hvsock:UDS_PATH:PORT, unix:PATH, tcp:HOST:PORT
  --lan IFNAME            a LAN interface to join groups on and send guest traffic out of
  --group GROUP[:PORT]    a static group: always joined, delivered to every guest
                          (only UDP port PORT when given)
  --mode mcast|l3         l3 also carries unicast for the guests' addresses (default mcast)
  --guest-address IPv4    l3: a guest address the host answers for on the LAN (proxy ARP)
  --allow-group CIDR      groups carried, both directions (default: 224.0.0.0/4 except
                          224.0.0.0/24, which is carried only when a CIDR inside it is given)
  --allow-port N[-M]      UDP destination ports carried, both directions (default: all)
  --allow-cid CID         vsock peers allowed to connect (default: any)
  --guest-to-guest        deliver a guest's multicast to the other guests that joined it
  --rate-limit PPS        per guest and direction, packets per second (default: no limit)
  --tun NAME              l3: the host's TUN interface (default vmc-host)
  --control PATH          status socket (default /run/vsock-mcast/host.sock)
  --user USER[:GROUP]     after set-up, become USER (in GROUP; default: USER's primary
                          group) keeping only CAP_NET_ADMIN and CAP_NET_RAW (docs/security.md)
  --log-level LEVEL       trace, debug, info, warn, error, off (default info)
  --check                 read the configuration, report what is wrong, and exit
  -h, --help              this text

Exit status: 0 on SIGTERM/SIGINT, 1 on a start-up error, 2 on a usage or configuration error.
)";

constexpr const char* kGuestUsage = R"(usage: vsock-mcast guest [OPTIONS]

The guest endpoint: creates the TUN interface, routes 224.0.0.0/4 through it, learns the
guest applications' group memberships from their IGMP reports, and tunnels it all to the
host endpoint, reconnecting with backoff when the host goes away.

Options
  -c, --config FILE       configuration file ([guest] section)
  --connect ADDR          the host endpoint: vsock-seqpacket:2:PORT (preferred), vsock:2:PORT,
                          unix:PATH, tcp:HOST:PORT
  --tun NAME              the TUN interface to create (required)
  --address IPv4/PREFIX   the TUN's address (l3: the guest's address in the LAN's subnet)
  --mode mcast|l3         l3 also carries unicast (default mcast); must match the host's
  --default-route         route everything through the TUN (default in l3)
  --no-default-route      do not (default in mcast)
  --name NAME             the guest's name in the host's logs and status (default: hostname)
  --control PATH          status socket (default /run/vsock-mcast/guest.sock)
  --user USER[:GROUP]     after set-up, become USER (in GROUP; default: USER's primary
                          group) keeping only CAP_NET_ADMIN (docs/security.md)
  --log-level LEVEL       trace, debug, info, warn, error, off (default info)
  --check                 read the configuration, report what is wrong, and exit
  -h, --help              this text

Exit status: 0 on SIGTERM/SIGINT, 1 on a start-up error, 2 on a usage or configuration error.
)";

[[noreturn]] void usage_error(const std::string& what, const char* sub = nullptr) {
  std::cerr << "vsock-mcast: " << what << "\n(try vsock-mcast " << (sub ? sub : "") << (sub ? " " : "")
            << "--help)\n";
  std::exit(2);
}

std::uint32_t number_arg(const std::string& opt, const std::string& text, unsigned long max) {
  return static_cast<std::uint32_t>(vsocklib::require_unsigned<config_error>(opt, text, 0, max));
}

struct common {
  std::vector<std::string> config_files;
  std::optional<std::string> control, log_level, user;
  bool check = false;
};

// Command-line options both endpoints share; false when A is not one of them.
bool common_option(common& c, const std::string& a, const std::function<std::string()>& value) {
  if (a == "-c" || a == "--config") c.config_files.push_back(value());
  else if (a == "--control") c.control = value();
  else if (a == "--log-level") c.log_level = value();
  else if (a == "--user") c.user = value();
  else if (a == "--check") c.check = true;
  else return false;
  return true;
}

// The command line's say over the file's, for the keys both endpoints share.
template <typename Config>
void apply_common(const common& c, Config& cfg) {
  if (c.control) cfg.control = *c.control;
  if (c.log_level) cfg.log_level = *c.log_level;
  if (c.user) cfg.user = *c.user;
}

// What each endpoint still needs once it runs (docs/security.md): netlink events make the
// host re-create routes and proxy entries and re-open raw sockets, and the guest bring its
// TUN and route back after a link change.
std::vector<int> capabilities_kept(const vsock_mcast::host_config&) { return {CAP_NET_ADMIN, CAP_NET_RAW}; }
std::vector<int> capabilities_kept(const vsock_mcast::guest_config&) { return {CAP_NET_ADMIN}; }

vsocklib::ini_document read_config(const std::string& path) {
  try {
    return vsocklib::read_ini_file(path);
  } catch (const vsocklib::ini_error& e) {
    usage_error(e.what());
  }
}

template <typename Apply>
void apply_files(const common& c, Apply apply) {
  for (const auto& f : c.config_files) {
    auto doc = read_config(f);
    try {
      apply(doc);
    } catch (const vsocklib::ini_error& e) {
      usage_error(e.what());
    }
  }
}

/// Runs ENDPOINT until SIGTERM/SIGINT, with its status socket and systemd notification.
template <typename Endpoint, typename Config>
int run(Config cfg, const char* what) {
  try {
    vsocklib::log::setup(cfg.log_level);
  } catch (const std::exception& e) {
    usage_error(e.what());
  }
  auto log = vsocklib::log::get("vsock-mcast");
  asio::io_context io(1);
  std::optional<Endpoint> endpoint;
  std::optional<vsocklib::daemon_runtime> runtime;
  try {
    endpoint.emplace(io, cfg);
    runtime.emplace(io, cfg.control, log);
  } catch (const std::exception& e) {
    log->error("cannot start the {} endpoint: {}", what, e.what());
    return 1;
  }
  if (!cfg.user.empty()) {
    // Set-up (TUN, raw sockets, listeners, status socket) is done and no thread exists yet.
    vsocklib::privilege_spec spec;
    try {
      spec = vsocklib::parse_user_group(cfg.user);
      spec.keep = capabilities_kept(cfg);
      vsocklib::drop_privileges(spec);
    } catch (const std::exception& e) {
      log->error("cannot drop privileges to user {}: {}", cfg.user, e.what());
      return 1;
    }
    std::string kept;
    for (int cap : spec.keep) kept += (kept.empty() ? "" : " ") + vsocklib::capability_name(cap);
    log->info("running as user {} (uid {}), keeping {}", cfg.user, ::getuid(), kept);
  }
  endpoint->start();
  runtime->start([&] { return endpoint->status_json(); }, [&] { endpoint->stop(); },
                 std::string(what) + " endpoint running");
  io.run();
  return 0;
}

int host_main(int argc, char** argv) {
  const auto args = vsocklib::split_option_values(argc, argv);
  common c;
  host_config cli;
  std::optional<mode> mode_opt;
  std::optional<std::uint32_t> rate;
  std::optional<std::string> tun;
  bool g2g = false;
  std::vector<std::string> allow_groups, allow_ports;
  try {
    for (std::size_t i = 2; i < args.size(); ++i) {
      std::string a = args[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= args.size()) usage_error(a + " needs a value", "host");
        return args[++i];
      };
      if (a == "-h" || a == "--help") {
        std::cout << kHostUsage;
        std::exit(0);
      } else if (common_option(c, a, value)) continue;
      else if (a == "--listen") cli.listen.push_back(vsocklib::parse_address(value()));
      else if (a == "--lan") cli.lan.push_back(value());
      else if (a == "--group") cli.groups.push_back(parse_static_group(value()));
      else if (a == "--mode") mode_opt = parse_mode(value());
      else if (a == "--guest-address") cli.guest_addresses.push_back(parse_unicast(value()));
      else if (a == "--allow-group") allow_groups.push_back(value());
      else if (a == "--allow-port") allow_ports.push_back(value());
      else if (a == "--allow-cid") cli.allowed_cids.push_back(number_arg(a, value(), vsocklib::kMaxCid));
      else if (a == "--guest-to-guest") g2g = true;
      else if (a == "--rate-limit") rate = number_arg(a, value(), 10'000'000);
      else if (a == "--tun") tun = value();
      else usage_error("unknown option " + a, "host");
    }
  } catch (const std::invalid_argument& e) {  // config_error, address_error
    usage_error(e.what(), "host");
  }
  host_config cfg;
  apply_files(c, [&](const vsocklib::ini_document& doc) { apply_host(doc, cfg); });
  auto append = [](auto& to, const auto& from) { to.insert(to.end(), from.begin(), from.end()); };
  append(cfg.listen, cli.listen);
  append(cfg.lan, cli.lan);
  append(cfg.groups, cli.groups);
  append(cfg.guest_addresses, cli.guest_addresses);
  append(cfg.allowed_cids, cli.allowed_cids);
  try {
    for (const auto& g : allow_groups) {
      cfg.to_guest.groups.push_back(parse_cidr(g));
      cfg.to_lan.groups.push_back(parse_cidr(g));
    }
    for (const auto& p : allow_ports) {
      cfg.to_guest.ports.push_back(parse_port_range(p));
      cfg.to_lan.ports.push_back(parse_port_range(p));
    }
    if (mode_opt) cfg.mode = *mode_opt;
    if (rate) cfg.rate_limit = *rate;
    if (tun) cfg.tun = *tun;
    if (g2g) cfg.guest_to_guest = true;
    apply_common(c, cfg);
    validate(cfg);
  } catch (const std::invalid_argument& e) {
    usage_error(e.what(), "host");
  }
  if (c.check) {
    std::cout << "configuration ok: host, mode " << (cfg.mode == mode::l3 ? "l3" : "mcast") << ", "
              << cfg.listen.size() << " listen address(es), " << cfg.lan.size() << " LAN interface(s), "
              << cfg.groups.size() << " static group(s)\n";
    return 0;
  }
  return run<host_endpoint>(std::move(cfg), "host");
}

int guest_main(int argc, char** argv) {
  const auto args = vsocklib::split_option_values(argc, argv);
  common c;
  guest_config cli;
  std::optional<mode> mode_opt;
  std::optional<bool> default_route;
  std::optional<std::string> name, tun;
  try {
    for (std::size_t i = 2; i < args.size(); ++i) {
      std::string a = args[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= args.size()) usage_error(a + " needs a value", "guest");
        return args[++i];
      };
      if (a == "-h" || a == "--help") {
        std::cout << kGuestUsage;
        std::exit(0);
      } else if (common_option(c, a, value)) continue;
      else if (a == "--connect") cli.connect = vsocklib::parse_address(value());
      else if (a == "--tun") tun = value();
      else if (a == "--address") cli.address = parse_interface_address(value());
      else if (a == "--mode") mode_opt = parse_mode(value());
      else if (a == "--default-route") default_route = true;
      else if (a == "--no-default-route") default_route = false;
      else if (a == "--name") name = value();
      else usage_error("unknown option " + a, "guest");
    }
  } catch (const std::invalid_argument& e) {
    usage_error(e.what(), "guest");
  }
  guest_config cfg;
  apply_files(c, [&](const vsocklib::ini_document& doc) { apply_guest(doc, cfg); });
  if (cli.connect) cfg.connect = cli.connect;
  if (tun) cfg.tun = *tun;
  if (cli.address) cfg.address = cli.address;
  if (mode_opt) cfg.mode = *mode_opt;
  if (default_route) cfg.default_route = default_route;
  if (name) cfg.name = *name;
  apply_common(c, cfg);
  try {
    validate(cfg);
  } catch (const std::invalid_argument& e) {
    usage_error(e.what(), "guest");
  }
  if (c.check) {
    std::cout << "configuration ok: guest, mode " << (cfg.mode == mode::l3 ? "l3" : "mcast")
              << ", TUN " << cfg.tun << ", host " << cfg.connect->to_string() << "\n";
    return 0;
  }
  return run<guest_endpoint>(std::move(cfg), "guest");
}

int status_main(int argc, char** argv) {
  std::vector<std::string> paths;
  if (argc > 2) {
    const std::string a = argv[2];
    if (a == "-h" || a == "--help") {
      std::cout << "usage: vsock-mcast status [PATH]\n\nPrints the status JSON of the endpoint "
                   "whose control socket is PATH (default: the host's, then the guest's).\n";
      return 0;
    }
    paths.push_back(a);
  } else {
    paths = {host_config{}.control, guest_config{}.control};
  }
  return vsocklib::print_status("vsock-mcast", "endpoint", paths);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage_error("a command is needed: host, guest or status");
  const std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help") {
    std::cout << kUsage;
    return 0;
  }
  if (cmd == "--version") {
    std::cout << "vsock-mcast " << VSOCKLIB_VERSION << "\n";
    return 0;
  }
  if (cmd == "host") return host_main(argc, argv);
  if (cmd == "guest") return guest_main(argc, argv);
  if (cmd == "status") return status_main(argc, argv);
  usage_error("unknown command " + cmd);
}
