#include "vsock_mcast/config.hpp"

#include <linux/capability.h>

#include "vsocklib/log.hpp"
#include "vsocklib/privileges.hpp"

#include "vsocklib/number.hpp"

namespace vsock_mcast {
namespace {

constexpr const char* kSections[] = {"host", "to-guest", "to-lan", "guest"};

/// Splits a list value on commas and blanks: "a, b c" -> a, b, c.
std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : v) {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

unsigned long number(const std::string& text, const std::string& what, unsigned long max) {
  return static_cast<unsigned long>(vsocklib::require_unsigned<config_error>(what, text, 0, max));
}

bool boolean(const std::string& text, const std::string& what) {
  if (text == "yes" || text == "true" || text == "on" || text == "1") return true;
  if (text == "no" || text == "false" || text == "off" || text == "0") return false;
  throw config_error(what + " needs yes or no, not \"" + text + "\"");
}

vsocklib::address address_value(const std::string& text) {
  try {
    return vsocklib::parse_address(text);
  } catch (const vsocklib::address_error& e) {
    throw config_error(e.what());
  }
}

void apply_allow(allowlist& a, const std::string& key, const std::string& v) {
  try {
    for (const auto& item : split_list(v)) {
      if (key == "allow_group") a.groups.push_back(parse_cidr(item));
      else a.ports.push_back(parse_port_range(item));
    }
  } catch (const filter_error& e) {
    throw config_error(key + ": " + e.what());
  }
}

bool apply_queue(queue_limits& q, const std::string& key, const std::string& v) {
  if (key == "queue_packets") {
    q.packets = number(v, key, 1 << 20);
    if (q.packets == 0) throw config_error("queue_packets must be at least 1");
  } else if (key == "queue_bytes") {
    q.bytes = number(v, key, 1ul << 30);
    if (q.bytes < kMaxRecord) {
      throw config_error("queue_bytes must hold the largest record (" + std::to_string(kMaxRecord) +
                         " bytes)");
    }
  } else {
    return false;
  }
  return true;
}

void check_sections(const vsocklib::ini_document& doc) {
  for (const auto& s : doc.sections) {
    bool known = false;
    for (const char* k : kSections) known = known || s.name == k;
    if (!known) {
      doc.fail(s.line, "unknown section [" + s.name +
                           "] (expected [host], [to-guest], [to-lan] or [guest])");
    }
  }
  for (const auto& e : doc.entries) {
    if (e.section.empty()) doc.fail(e.line, "\"" + e.key + "\" outside a section");
  }
}

// Runs F for each entry of SECTION, turning config_error into "FILE:LINE: ...".
template <typename F>
void each(const vsocklib::ini_document& doc, const std::string& section, F f) {
  for (const auto& e : doc.entries) {
    if (e.section != section) continue;
    try {
      if (!f(e.key, e.value))
        doc.fail(e.line, "unknown key \"" + e.key + "\" in [" + section + "]");
    } catch (const config_error& err) {
      doc.fail(e.line, err.what());
    }
  }
}

}  // namespace

mode parse_mode(const std::string& text) {
  if (text == "mcast") return mode::mcast;
  if (text == "l3") return mode::l3;
  throw config_error("mode must be mcast or l3, not \"" + text + "\"");
}

const char* mode_name(mode m) { return m == mode::l3 ? "l3" : "mcast"; }

static_group parse_static_group(const std::string& text) {
  static_group g;
  auto colon = text.find(':');
  if (!parse_ipv4(text.substr(0, colon), g.group) || !is_multicast(g.group)) {
    throw config_error("group \"" + text + "\" is not a multicast IPv4 address (224.0.0.0/4)");
  }
  if (colon != std::string::npos) {
    g.port = static_cast<std::uint16_t>(number(text.substr(colon + 1), "group port", 65535));
  }
  return g;
}

cidr parse_interface_address(const std::string& text) {
  cidr c;
  auto slash = text.find('/');
  if (!parse_ipv4(text.substr(0, slash), c.network)) {
    throw config_error("address \"" + text + "\" is not IPv4/PREFIX");
  }
  c.prefix = slash == std::string::npos
                 ? 32
                 : static_cast<unsigned>(number(text.substr(slash + 1), "prefix length", 32));
  if (is_multicast(c.network) || c.network == 0) {
    throw config_error("address \"" + text + "\" is not a unicast address");
  }
  return c;
}

std::uint32_t parse_unicast(const std::string& text) {
  std::uint32_t a = 0;
  if (!parse_ipv4(text, a) || is_multicast(a) || a == 0) {
    throw config_error("\"" + text + "\" is not a unicast IPv4 address");
  }
  return a;
}

void apply_host(const vsocklib::ini_document& doc, host_config& cfg) {
  check_sections(doc);
  each(doc, "host", [&](const std::string& k, const std::string& v) {
    if (k == "listen") {
      for (const auto& a : split_list(v)) cfg.listen.push_back(address_value(a));
    } else if (k == "lan") {
      for (const auto& i : split_list(v)) cfg.lan.push_back(i);
    } else if (k == "group") {
      for (const auto& g : split_list(v)) cfg.groups.push_back(parse_static_group(g));
    } else if (k == "mode") {
      cfg.mode = parse_mode(v);
    } else if (k == "guest_address") {
      for (const auto& a : split_list(v)) cfg.guest_addresses.push_back(parse_unicast(a));
    } else if (k == "allow_group" || k == "allow_port") {
      apply_allow(cfg.to_guest, k, v);
      apply_allow(cfg.to_lan, k, v);
    } else if (k == "allow_cid") {
      for (const auto& c : split_list(v)) {
        cfg.allowed_cids.push_back(
            static_cast<std::uint32_t>(number(c, "allow_cid", vsocklib::kMaxCid)));
      }
    } else if (k == "guest_to_guest") {
      cfg.guest_to_guest = boolean(v, k);
    } else if (k == "rate_limit") {
      cfg.rate_limit = static_cast<std::uint32_t>(number(v, k, 10'000'000));
    } else if (k == "lan_rcvbuf") {
      cfg.lan_rcvbuf = static_cast<std::uint32_t>(number(v, k, host_config::kMaxRcvbuf));
      if (cfg.lan_rcvbuf < host_config::kMinRcvbuf) {
        throw config_error("lan_rcvbuf must be " + std::to_string(host_config::kMinRcvbuf) + ".." +
                           std::to_string(host_config::kMaxRcvbuf) + " bytes");
      }
    } else if (k == "tun") {
      cfg.tun = v;
    } else if (k == "control") {
      cfg.control = v;
    } else if (k == "log_level") {
      cfg.log_level = v;
    } else if (k == "user") {
      cfg.user = v;
    } else {
      return apply_queue(cfg.queue, k, v);
    }
    return true;
  });
  for (auto direction : {std::pair{"to-guest", &cfg.to_guest}, std::pair{"to-lan", &cfg.to_lan}}) {
    // Not a structured binding: clang before 16 cannot capture one in the lambda below.
    const char* section = direction.first;
    auto* list = direction.second;
    bool replaced_groups = false, replaced_ports = false;
    each(doc, section, [&](const std::string& k, const std::string& v) {
      // A direction's own list replaces what [host] gave for both directions.
      if (k == "allow_group" && !replaced_groups) list->groups.clear(), replaced_groups = true;
      if (k == "allow_port" && !replaced_ports) list->ports.clear(), replaced_ports = true;
      if (k != "allow_group" && k != "allow_port") return false;
      apply_allow(*list, k, v);
      return true;
    });
  }
}

void apply_guest(const vsocklib::ini_document& doc, guest_config& cfg) {
  check_sections(doc);
  each(doc, "guest", [&](const std::string& k, const std::string& v) {
    if (k == "connect") {
      cfg.connect = address_value(v);
    } else if (k == "tun") {
      cfg.tun = v;
    } else if (k == "address") {
      cfg.address = parse_interface_address(v);
    } else if (k == "mode") {
      cfg.mode = parse_mode(v);
    } else if (k == "default_route") {
      cfg.default_route = boolean(v, k);
    } else if (k == "name") {
      cfg.name = v;
    } else if (k == "control") {
      cfg.control = v;
    } else if (k == "log_level") {
      cfg.log_level = v;
    } else if (k == "user") {
      cfg.user = v;
    } else {
      return apply_queue(cfg.queue, k, v);
    }
    return true;
  });
}

namespace {
// What both endpoints check alike: the user to become and the log level, so that --check
// reports them instead of a failed start.
void validate_common(const std::string& user, const std::string& log_level) {
  try {
    if (!user.empty()) vsocklib::parse_user_group(user);
    vsocklib::log::check_level(log_level);
  } catch (const std::invalid_argument& e) {
    throw config_error(e.what());
  }
}
}  // namespace

void validate(const host_config& cfg) {
  validate_common(cfg.user, cfg.log_level);
  if (cfg.listen.empty()) throw config_error("no listen address (listen = ... or --listen)");
  if (cfg.lan.empty()) throw config_error("no LAN interface (lan = ... or --lan)");
  for (const auto& l : cfg.lan) {
    if (l.empty() || l.size() >= 16) throw config_error("bad interface name \"" + l + "\"");
  }
  if (cfg.mode == mode::l3 && cfg.guest_addresses.empty()) {
    throw config_error(
        "mode l3 needs the guests' addresses (guest_address = ... or --guest-address)");
  }
  if (cfg.tun.empty() || cfg.tun.size() >= 16)
    throw config_error("bad tun name \"" + cfg.tun + "\"");
  for (const auto& g : cfg.groups) {
    if (!cfg.to_guest.allows_group(g.group) && !cfg.to_lan.allows_group(g.group)) {
      throw config_error("static group " + ipv4_to_string(g.group) + " is outside allow_group");
    }
  }
}

void validate(const guest_config& cfg) {
  validate_common(cfg.user, cfg.log_level);
  if (!cfg.connect) throw config_error("no host address (connect = ... or --connect)");
  if (auto why = vsocklib::connect_problem(*cfg.connect); !why.empty())
    throw config_error("connect: " + why);
  if (cfg.tun.empty()) throw config_error("no TUN name (tun = ... or --tun)");
  if (cfg.tun.size() >= 16)
    throw config_error("TUN name \"" + cfg.tun + "\" is longer than 15 characters");
  if (cfg.mode == mode::l3 && !cfg.address) {
    throw config_error("mode l3 needs the guest's address (address = IPv4/PREFIX or --address)");
  }
}

// Netlink events make the host re-create routes and proxy entries and re-open raw sockets,
// and the guest bring its TUN and route back after a link change.
std::vector<int> capabilities_kept(const host_config&) { return {CAP_NET_ADMIN, CAP_NET_RAW}; }
std::vector<int> capabilities_kept(const guest_config&) { return {CAP_NET_ADMIN}; }

}  // namespace vsock_mcast
