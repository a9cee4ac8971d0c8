// The decisions main makes around the relays, as functions tests can call: the parsed
// configuration made ready to run, the checks of a privilege drop, and --remove-gadgets.
#pragma once

#include <list>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "adbd_relay/config.hpp"
#include "adbd_relay/guest_relay.hpp"
#include "vsocklib/privileges.hpp"

namespace spdlog {
class logger;
}

namespace adbd_relay {

/// Checks CFG as a whole (validate), sets the process's log level to CFG.log_level, and
/// resolves CFG.user: every guest's gadget is handed to that user's ids, and the result is
/// whom to become once set-up is done (nullopt: stay root). Throws usage_error (from
/// command_line.hpp) with the configuration's, the level's or the user's error.
std::optional<vsocklib::privilege_spec> finish_config(config& cfg);

/// After the privilege drop, the ep0 under each of FFS_DIRS must still open for USER: the
/// FunctionFS files are the user's, but each directory on the way must let it through.
/// Throws std::system_error naming the first file that does not.
void check_gadgets_reachable(const std::vector<std::string>& ffs_dirs, const std::string& user);
/// The same for prepared relays (guest_relay::prepare()).
void check_gadgets_reachable(const std::list<guest_relay>& relays, const std::string& user);

/// The privilege drop, in its order: everything that needs root first (each relay's
/// gadget; the status socket is bound before this), then the switch to DROP, before any
/// thread exists (host mode's libusb starts one), then check_gadgets_reachable. Logs the
/// outcome on LOG; false (logged) when a step failed and the daemon must not run.
bool prepare_and_drop(std::list<guest_relay>& relays, const vsocklib::privilege_spec& drop,
                      spdlog::logger& log);

/// --remove-gadgets: takes down what a relay that ran as a user left in configfs, each
/// configured guest's gadget. Reports each gadget on OUT, or its problems on ERR; returns
/// the exit status (1 when any gadget is still there).
int remove_gadgets(const config& cfg, std::ostream& out, std::ostream& err);

}  // namespace adbd_relay
