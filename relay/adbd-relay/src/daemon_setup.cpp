#include "adbd_relay/daemon_setup.hpp"

#include <unistd.h>

#include <cerrno>
#include <system_error>

#include <spdlog/logger.h>

#include "adbd_relay/command_line.hpp"
#include "vsocklib/log.hpp"

namespace adbd_relay {

std::optional<vsocklib::privilege_spec> finish_config(config& cfg) {
  // Whatever fails here is the user's to fix in the file or the options: a usage error
  // (exit 2), not a start-up error.
  try {
    validate(cfg);
    vsocklib::log::setup(cfg.log_level);
    if (cfg.user.empty()) return std::nullopt;
    auto spec = vsocklib::parse_user_group(cfg.user);
    const auto ids = vsocklib::resolve_user(spec);
    for (auto& g : cfg.guests) g.gadget.owner = ids;
    return spec;
  } catch (const std::exception& e) {
    throw usage_error(e.what());
  }
}

void check_gadgets_reachable(const std::vector<std::string>& ffs_dirs, const std::string& user) {
  for (const auto& dir : ffs_dirs) {
    const std::string ep0 = dir + "/ep0";
    if (::access(ep0.c_str(), R_OK | W_OK) != 0) {
      throw std::system_error(errno, std::generic_category(),
                              "user " + user + " cannot open " + ep0 +
                                  " (every directory on the way must be searchable by it)");
    }
  }
}

bool prepare_and_drop(std::list<guest_relay>& relays, const vsocklib::privilege_spec& drop,
                      spdlog::logger& log) {
  try {
    for (auto& r : relays) r.prepare();
    vsocklib::drop_privileges(drop);
    check_gadgets_reachable(relays, drop.user);
  } catch (const std::system_error& e) {
    log.error("cannot set up and drop privileges to user {}: {}", drop.user, e.what());
    return false;
  }
  log.info(
      "running as user {} (uid {}) with no capabilities; gadgets are left in configfs "
      "at exit (adbd-relay --remove-gadgets takes them down)",
      drop.user, ::getuid());
  return true;
}

void check_gadgets_reachable(const std::list<guest_relay>& relays, const std::string& user) {
  std::vector<std::string> dirs;
  for (const auto& r : relays) dirs.push_back(r.gadget_ffs_dir());
  check_gadgets_reachable(dirs, user);
}

int remove_gadgets(const config& cfg, std::ostream& out, std::ostream& err) {
  int rc = 0;
  for (const auto& g : cfg.guests) {
    const auto problems = gadget::remove_left_over(g.gadget);
    if (problems.empty()) {
      out << "gadget " << g.gadget.name << ": removed (or not there)\n";
    } else {
      err << "adbd-relay: gadget " << g.gadget.name << ":\n" << problems;
      rc = 1;
    }
  }
  return rc;
}

}  // namespace adbd_relay
