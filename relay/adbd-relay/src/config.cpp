#include "adbd_relay/config.hpp"

#include "vsocklib/ini.hpp"
#include "vsocklib/number.hpp"
#include "vsocklib/privileges.hpp"

#include <set>

namespace adbd_relay {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

struct line_context {
  const std::string& source;
  int line;
  [[noreturn]] void fail(const std::string& what) const {
    throw config_error(source + ":" + std::to_string(line) + ": " + what);
  }
};

unsigned long parse_number(const line_context& at, std::string_view key, std::string_view v,
                           unsigned long max) {
  auto n = vsocklib::parse_unsigned(v, 0, max, vsocklib::number_base::decimal_or_hex);
  if (!n) at.fail(vsocklib::number_error_text(key, v, 0, max));
  return static_cast<unsigned long>(*n);
}

// "3, 4" -> {3, 4}
template <typename T>
std::vector<T> parse_list(const line_context& at, std::string_view key, std::string_view v,
                          unsigned long max) {
  std::vector<T> out;
  while (!v.empty()) {
    auto comma = v.find(',');
    auto item = trim(v.substr(0, comma));
    out.push_back(static_cast<T>(parse_number(at, key, item, max)));
    v.remove_prefix(comma == std::string_view::npos ? v.size() : comma + 1);
  }
  return out;
}

bool parse_bool(const line_context& at, std::string_view key, std::string_view v) {
  if (v == "true" || v == "yes" || v == "1") return true;
  if (v == "false" || v == "no" || v == "0") return false;
  at.fail(std::string(key) + " needs true or false, not \"" + std::string(v) + "\"");
}

}  // namespace

usb_host_config default_host(const std::string& name, vsocklib::address listen) {
  usb_host_config h;
  h.name = name;
  h.listen = std::move(listen);
  return h;
}

guest_config default_guest(const std::string& name, vsocklib::address address) {
  guest_config g;
  g.name = name;
  g.address = std::move(address);
  g.gadget.name = "adbd-relay-" + name;
  g.gadget.serial = name;
  return g;
}

void parse_config(std::string_view text, const std::string& source, config& cfg) {
  vsocklib::ini_document doc;
  try {
    doc = vsocklib::parse_ini(text, source);
  } catch (const vsocklib::ini_error& e) {
    throw config_error(e.what());
  }
  enum class section { none, relay, guest, host } current = section::none;
  guest_config* guest = nullptr;
  bool guest_has_address = false;
  usb_host_config* host = nullptr;
  bool host_has_listen = false;
  line_context at{source, 0};
  // A section's required key must have come by the time the next section (or the end).
  auto finish_section = [&] {
    if (guest && !guest_has_address) at.fail("[guest " + guest->name + "] has no address");
    if (host && !host_has_listen) at.fail("[host " + host->name + "] has no listen address");
  };
  // "[KIND NAME]": a new entry of LIST named NAME, made by MAKE; a second NAME is an error.
  auto add_named = [&](auto& list, const std::string& kind, std::string_view rest,
                       auto make) -> auto& {
    const auto n = std::string(trim(rest));
    for (const auto& x : list) {
      if (x.name == n) at.fail(kind + " \"" + n + "\" is defined twice");
    }
    list.push_back(make(n, {}));
    return list.back();
  };
  auto open_section = [&](const std::string& name) {
    finish_section();
    guest = nullptr;
    host = nullptr;
    if (name == "relay") {
      current = section::relay;
    } else if (name.starts_with("host ")) {
      host = &add_named(cfg.hosts, "host", std::string_view(name).substr(5), default_host);
      host_has_listen = false;
      current = section::host;
    } else if (name.starts_with("guest ")) {
      guest = &add_named(cfg.guests, "guest", std::string_view(name).substr(6), default_guest);
      guest_has_address = false;
      current = section::guest;
    } else if (name == "host" || name == "guest") {
      at.fail("[" + name + "] needs a name, e.g. [" + name +
              (name == "host" ? " phone]" : " android]"));
    } else {
      at.fail("unknown section [" + name + "] (expected [relay], [guest NAME] or [host NAME])");
    }
  };
  auto apply = [&](std::string_view key, const std::string& v) {
    const std::string_view value = v;
    if (current == section::relay) {
      if (key == "log_level") cfg.log_level = v;
      else if (key == "control_socket") cfg.control_socket = v;
      else if (key == "user") cfg.user = v;
      else if (key == "usb_transfers_in_flight") {
        cfg.session.usb_transfers_in_flight = parse_number(at, key, value, 64);
        if (cfg.session.usb_transfers_in_flight == 0)
          at.fail("usb_transfers_in_flight must be 1..64");
      } else if (key == "chunk_size") {
        cfg.session.chunk_size = parse_number(at, key, value, 1 << 20);
        if (cfg.session.chunk_size < 512) at.fail("chunk_size must be 512..1048576");
      } else if (key == "usb_transfer_size") {
        cfg.session.usb_transfer_size = parse_number(at, key, value, 1 << 20);
        if (cfg.session.usb_transfer_size < 512 || cfg.session.usb_transfer_size % 512 != 0) {
          at.fail(
              "usb_transfer_size must be a multiple of 512 (the high-speed packet size), at least "
              "512");
        }
      } else if (key == "pc_read_timeout_ms") {
        cfg.session.pc_read_timeout =
            std::chrono::milliseconds(parse_number(at, key, value, 600000));
      } else if (key == "connect_timeout_ms") {
        cfg.connect.connect_timeout =
            std::chrono::milliseconds(parse_number(at, key, value, 600000));
      } else if (key == "backoff_initial_ms") {
        cfg.connect.backoff.initial =
            std::chrono::milliseconds(parse_number(at, key, value, 600000));
      } else if (key == "backoff_max_ms") {
        cfg.connect.backoff.max = std::chrono::milliseconds(parse_number(at, key, value, 3600000));
      } else if (key == "host_rescan_ms") {
        cfg.host_rescan = std::chrono::milliseconds(parse_number(at, key, value, 600000));
        if (cfg.host_rescan.count() < 10) at.fail("host_rescan_ms must be at least 10");
      } else {
        at.fail("unknown key \"" + std::string(key) + "\" in [relay]");
      }
    } else if (current == section::guest) {
      auto& g = *guest;
      if (key == "address") {
        try {
          g.address = vsocklib::parse_address(value);
        } catch (const vsocklib::address_error& e) {
          at.fail(e.what());
        }
        if (!g.address.is_stream())
          at.fail("address must be a stream address (vsock:CID:PORT, ...)");
        guest_has_address = true;
      } else if (key == "udc") g.gadget.udc = v;
      else if (key == "serial") g.gadget.serial = v;
      else if (key == "gadget") g.gadget.name = v;
      else if (key == "function") g.gadget.function = v;
      else if (key == "ffs_dir") g.gadget.ffs_dir = v;
      else if (key == "manufacturer") g.gadget.manufacturer = v;
      else if (key == "product") g.gadget.product = v;
      else if (key == "vendor_id")
        g.gadget.vendor_id = static_cast<std::uint16_t>(parse_number(at, key, value, 0xffff));
      else if (key == "product_id")
        g.gadget.product_id = static_cast<std::uint16_t>(parse_number(at, key, value, 0xffff));
      else at.fail("unknown key \"" + std::string(key) + "\" in [guest " + g.name + "]");
    } else if (current == section::host) {
      auto& h = *host;
      if (key == "listen") {
        try {
          h.listen = vsocklib::parse_address(value);
        } catch (const vsocklib::address_error& e) {
          at.fail(e.what());
        }
        if (!h.listen.is_stream())
          at.fail("listen must be a stream address (vsock:any:PORT, tcp:..., unix:...)");
        host_has_listen = true;
      } else if (key == "serial") h.serial = v;
      else if (key == "path") h.path = v;
      else if (key == "allowed_cids")
        h.peers.allowed_cids = parse_list<std::uint32_t>(at, key, value, vsocklib::kMaxCid);
      else if (key == "allowed_uids")
        h.peers.allowed_uids = parse_list<uid_t>(at, key, value, vsocklib::kMaxUid);
      else if (key == "allow_remote_tcp") h.peers.allow_remote_tcp = parse_bool(at, key, value);
      else at.fail("unknown key \"" + std::string(key) + "\" in [host " + h.name + "]");
    } else {
      at.fail("\"" + std::string(key) +
              "\" outside a section ([relay], [guest NAME] or [host NAME])");
    }
  };
  // The reader lists sections and entries apart, each in file order: walk both by line, so
  // a section is opened (and the previous one finished) before its first entry.
  auto next_section = doc.sections.begin();
  for (const auto& e : doc.entries) {
    for (; next_section != doc.sections.end() && next_section->line < e.line; ++next_section) {
      at.line = next_section->line;
      open_section(next_section->name);
    }
    at.line = e.line;
    apply(e.key, e.value);
  }
  for (; next_section != doc.sections.end(); ++next_section) {
    at.line = next_section->line;
    open_section(next_section->name);
  }
  finish_section();
}

// Why NAME cannot be one directory name under configfs (and /run/adbd-relay), or "": the
// relay creates, links and at exit removes configfs/<gadget>/functions/ffs.<function> as
// root, so "../x" or "a/b" would reach outside the gadget's own tree.
std::string path_component_problem(const std::string& name) {
  if (name.empty()) return "is empty";
  if (name == "." || name == "..") return "is \"" + name + "\"";
  if (name.size() > 200) return "is longer than 200 bytes";
  for (const unsigned char c : name) {
    if (c == '/' || c < 0x20 || c == 0x7f) {
      return "\"" + name + "\" holds a '/' or a control character";
    }
  }
  return {};
}

void validate(const config& cfg) {
  if (cfg.guests.empty() && cfg.hosts.empty()) {
    throw config_error(
        "nothing to serve: no guest configured ([guest NAME] or --guest) and no host-mode "
        "listener ([host NAME] or --host-listen)");
  }
  // Two sections that both take "the first ADB device" would fight over it.
  const usb_host_config* any = nullptr;
  for (const auto& h : cfg.hosts) {
    if (!h.matches_any_device()) continue;
    if (any) {
      throw config_error("hosts \"" + any->name + "\" and \"" + h.name +
                         "\" both take the first ADB device; give one a serial or path");
    }
    any = &h;
  }
  std::set<std::string> gadgets, udcs;
  for (const auto& g : cfg.guests) {
    if (auto why = vsocklib::connect_problem(g.address); !why.empty()) {
      throw config_error("guest \"" + g.name + "\": " + why);
    }
    // The kernel refuses USB strings over 126 bytes, but only when the gadget is created.
    for (const auto& [key, text] :
         {std::pair{"serial", &g.gadget.serial}, std::pair{"manufacturer", &g.gadget.manufacturer},
          std::pair{"product", &g.gadget.product}}) {
      if (text->empty() || text->size() > 126) {
        throw config_error("guest \"" + g.name + "\": " + key +
                           " must be 1 to 126 bytes (a USB string), not " +
                           std::to_string(text->size()));
      }
    }
    // The function's name defaults to the gadget's (gadget.cpp).
    for (const auto& [key, text] :
         {std::pair{"gadget", &g.gadget.name}, std::pair{"function", &g.gadget.function}}) {
      if (text->empty() && text == &g.gadget.function) continue;
      if (auto why = path_component_problem(*text); !why.empty()) {
        throw config_error("guest \"" + g.name + "\": " + key + " " + why +
                           " (it names a directory under configfs)");
      }
    }
    if (!g.gadget.ffs_dir.empty() && g.gadget.ffs_dir.front() != '/') {
      throw config_error("guest \"" + g.name + "\": ffs_dir \"" + g.gadget.ffs_dir +
                         "\" must be an absolute path");
    }
    if (!gadgets.insert(g.gadget.name).second) {
      throw config_error("guests share the gadget name \"" + g.gadget.name + "\"");
    }
    // One gadget per UDC: a second guest needs a second UDC (adb takes one ADB interface
    // per device).
    if (!g.gadget.udc.empty() && !udcs.insert(g.gadget.udc).second) {
      throw config_error("guests share the UDC \"" + g.gadget.udc + "\"; each guest needs its own");
    }
  }
  if (cfg.guests.size() > 1) {
    for (const auto& g : cfg.guests) {
      if (g.gadget.udc.empty()) {
        throw config_error("guest \"" + g.name +
                           "\" needs udc = ... when several guests are configured");
      }
    }
  }
  if (!cfg.user.empty()) {
    try {
      vsocklib::parse_user_group(cfg.user);
    } catch (const std::invalid_argument& e) {
      throw config_error(e.what());
    }
  }
  if (auto why = cfg.connect.backoff.validate(); !why.empty()) throw config_error(why);
}

}  // namespace adbd_relay
