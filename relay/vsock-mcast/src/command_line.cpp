#include "vsock_mcast/command_line.hpp"

#include <optional>

#include "vsocklib/args.hpp"

namespace vsock_mcast {
namespace {

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

constexpr const char* kStatusUsage =
    "usage: vsock-mcast status [PATH]\n\nPrints the status JSON of the endpoint whose control "
    "socket is PATH (default: the host's, then the guest's).\n";

// The value parsers' messages name the value ("group \"x\" is not ...") but not always the
// option it came from; a user with a long command line needs both.
std::string naming(const std::string& option, const std::string& message) {
  if (message.find(option) != std::string::npos) return message;
  return option + ": " + message;
}

// The options both endpoints take, held apart until the files are read: they override them.
struct common {
  std::vector<std::string> config_files;
  std::optional<std::string> control, log_level, user;
  bool check = false;
};

// Takes the current option when it is one both endpoints share; false otherwise.
bool common_option(vsocklib::arg_reader& in, common& c) {
  const std::string& a = in.option();
  if (a == "-c" || a == "--config") c.config_files.push_back(in.value());
  else if (a == "--control") c.control = in.value();
  else if (a == "--log-level") c.log_level = in.value();
  else if (a == "--user") c.user = in.value();
  else if (a == "--check") c.check = true;
  else return false;
  return true;
}

// The command line's say over the files', for the keys both endpoints share.
template <typename Config>
void apply_common(const common& c, Config& cfg) {
  if (c.control) cfg.control = *c.control;
  if (c.log_level) cfg.log_level = *c.log_level;
  if (c.user) cfg.user = *c.user;
}

// Applies each -c file in the order given, so a later file's scalars win. File errors say
// "FILE:LINE", which is where to look, so they point to the program's --help, not the
// subcommand's.
template <typename Config, typename Apply>
void apply_files(const common& c, Config& cfg, Apply apply) {
  for (const auto& f : c.config_files) {
    try {
      apply(vsocklib::read_ini_file(f), cfg);
    } catch (const vsocklib::ini_error& e) {
      throw usage_error(e.what());
    }
  }
}

command_line parse_host(std::vector<std::string> args) {
  command_line cl;
  cl.command = "host";
  common c;
  host_config cli;  // only its lists: they are appended to the files' lists
  std::optional<mode> mode_opt;
  std::optional<std::uint32_t> rate;
  std::optional<std::string> tun;
  bool g2g = false;
  std::vector<std::string> allow_groups, allow_ports;
  vsocklib::arg_reader in(std::move(args), 2, cl.command);  // args[1] is the subcommand
  while (in.next()) {
    const std::string& a = in.option();
    if (in.is_help()) return cl;
    try {
      if (common_option(in, c)) continue;
      else if (a == "--listen") cli.listen.push_back(vsocklib::parse_address(in.value()));
      else if (a == "--lan") cli.lan.push_back(in.value());
      else if (a == "--group") cli.groups.push_back(parse_static_group(in.value()));
      else if (a == "--mode") mode_opt = parse_mode(in.value());
      else if (a == "--guest-address") cli.guest_addresses.push_back(parse_unicast(in.value()));
      else if (a == "--allow-group") allow_groups.push_back(in.value());
      else if (a == "--allow-port") allow_ports.push_back(in.value());
      else if (a == "--allow-cid")
        cli.allowed_cids.push_back(in.number<std::uint32_t>(0, vsocklib::kMaxCid));
      else if (a == "--guest-to-guest") g2g = true;
      else if (a == "--rate-limit") rate = in.number<std::uint32_t>(0, 10'000'000);
      else if (a == "--tun") tun = in.value();
      else in.unknown();
    } catch (const usage_error&) {
      throw;
    } catch (const std::invalid_argument& e) {  // config_error, address_error
      in.fail(naming(a, e.what()));
    }
  }
  host_config& cfg = cl.host;
  apply_files(c, cfg, apply_host);
  auto append = [](auto& to, const auto& from) { to.insert(to.end(), from.begin(), from.end()); };
  append(cfg.listen, cli.listen);
  append(cfg.lan, cli.lan);
  append(cfg.groups, cli.groups);
  append(cfg.guest_addresses, cli.guest_addresses);
  append(cfg.allowed_cids, cli.allowed_cids);
  // The allow lists are parsed here, not in the loop, so that a broken file is reported
  // before a broken --allow-group, whichever comes first on the command line.
  try {
    for (const auto& g : allow_groups) {
      try {
        cfg.to_guest.groups.push_back(parse_cidr(g));
        cfg.to_lan.groups.push_back(parse_cidr(g));
      } catch (const filter_error& e) {
        throw usage_error(naming("--allow-group", e.what()), cl.command);
      }
    }
    for (const auto& p : allow_ports) {
      try {
        cfg.to_guest.ports.push_back(parse_port_range(p));
        cfg.to_lan.ports.push_back(parse_port_range(p));
      } catch (const filter_error& e) {
        throw usage_error(naming("--allow-port", e.what()), cl.command);
      }
    }
    if (mode_opt) cfg.mode = *mode_opt;
    if (rate) cfg.rate_limit = *rate;
    if (tun) cfg.tun = *tun;
    if (g2g) cfg.guest_to_guest = true;
    apply_common(c, cfg);
    validate(cfg);
  } catch (const usage_error&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw usage_error(e.what(), cl.command);
  }
  cl.what = c.check ? command_line::action::check : command_line::action::run;
  return cl;
}

command_line parse_guest(std::vector<std::string> args) {
  command_line cl;
  cl.command = "guest";
  common c;
  guest_config cli;
  std::optional<mode> mode_opt;
  std::optional<bool> default_route;
  std::optional<std::string> name, tun;
  vsocklib::arg_reader in(std::move(args), 2, cl.command);  // args[1] is the subcommand
  while (in.next()) {
    const std::string& a = in.option();
    if (in.is_help()) return cl;
    try {
      if (common_option(in, c)) continue;
      else if (a == "--connect") cli.connect = vsocklib::parse_address(in.value());
      else if (a == "--tun") tun = in.value();
      else if (a == "--address") cli.address = parse_interface_address(in.value());
      else if (a == "--mode") mode_opt = parse_mode(in.value());
      else if (a == "--default-route") default_route = true;
      else if (a == "--no-default-route") default_route = false;
      else if (a == "--name") name = in.value();
      else in.unknown();
    } catch (const usage_error&) {
      throw;
    } catch (const std::invalid_argument& e) {
      in.fail(naming(a, e.what()));
    }
  }
  guest_config& cfg = cl.guest;
  apply_files(c, cfg, apply_guest);
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
    throw usage_error(e.what(), cl.command);
  }
  cl.what = c.check ? command_line::action::check : command_line::action::run;
  return cl;
}

}  // namespace

command_line parse_command_line(int argc, const char* const* argv) {
  if (argc < 2) throw usage_error("a command is needed: host, guest or status");
  // The subcommand and status's PATH are taken as typed: only options have a "=value" form.
  const std::string cmd = argv[1];
  command_line cl;
  if (cmd == "-h" || cmd == "--help") return cl;
  if (cmd == "--version") {
    cl.what = command_line::action::version;
    return cl;
  }
  if (cmd == "host") return parse_host(vsocklib::split_option_values(argc, argv));
  if (cmd == "guest") return parse_guest(vsocklib::split_option_values(argc, argv));
  if (cmd != "status") throw usage_error("unknown command " + cmd);
  cl.command = cmd;
  if (argc > 2) {
    const std::string a = argv[2];
    if (a == "-h" || a == "--help") return cl;
    if (argc > 3) {
      throw usage_error("status takes one PATH, not also \"" + std::string(argv[3]) + "\"",
                        "status");
    }
    cl.status_paths.push_back(a);
  } else {
    cl.status_paths = {host_config{}.control, guest_config{}.control};
  }
  cl.what = command_line::action::status;
  return cl;
}

const char* usage_text(std::string_view command) {
  if (command == "host") return kHostUsage;
  if (command == "guest") return kGuestUsage;
  if (command == "status") return kStatusUsage;
  return kUsage;
}

std::string check_report(const host_config& cfg) {
  return std::string("configuration ok: host, mode ") + mode_name(cfg.mode) + ", " +
         std::to_string(cfg.listen.size()) + " listen address(es), " +
         std::to_string(cfg.lan.size()) + " LAN interface(s), " +
         std::to_string(cfg.groups.size()) + " static group(s)\n";
}

std::string check_report(const guest_config& cfg) {
  return std::string("configuration ok: guest, mode ") + mode_name(cfg.mode) + ", TUN " + cfg.tun +
         ", host " + (cfg.connect ? cfg.connect->to_string() : "none") + "\n";
}

}  // namespace vsock_mcast
