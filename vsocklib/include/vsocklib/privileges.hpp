// Least privilege for daemons: after set-up (configfs writes, FunctionFS mount, binding
// listeners, opening TUN), become an unprivileged user and keep only the capabilities the
// running daemon still needs. docs/security.md names them for each daemon.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace vsocklib {

/// Who to become and what to keep.
struct privilege_spec {
  std::string user;   ///< a user name, or a numeric uid
  std::string group;  ///< a group name or numeric gid; empty: the user's primary group
  /// Capability numbers (CAP_NET_ADMIN, ...; see capability_from_name) that stay effective
  /// and permitted. Everything else leaves all sets, and the bounding set too when the
  /// process may change it (CAP_SETPCAP), so it cannot come back through exec either.
  std::vector<int> keep;
};

/// Thrown by drop_privileges; what() names the step that failed, code() the system error.
class privilege_error : public std::system_error {
 public:
  using std::system_error::system_error;
};

/// The largest uid a peer can have: (uid_t)-1 means "no user".
inline constexpr uid_t kMaxUid = static_cast<uid_t>(-1) - 1;

/// The ids SPEC names: its user's uid and its group's gid (the user's primary group when
/// no group is named). Throws privilege_error for an unknown user or group. For set-up
/// that must hand files to the user before the switch (FunctionFS mount options, chown).
struct user_ids {
  uid_t uid;
  gid_t gid;
};
user_ids resolve_user(const privilege_spec& spec);

/// "USER" or "USER:GROUP" (chown(1)'s spelling, as daemons take it in --user and the
/// configuration's `user`) -> a spec that keeps no capability. Throws std::invalid_argument
/// for an empty user or group.
privilege_spec parse_user_group(std::string_view text);

/// "CAP_NET_ADMIN" or "net_admin" (any case) -> CAP_NET_ADMIN; nullopt for unknown names.
std::optional<int> capability_from_name(std::string_view name);

/// CAP_NET_ADMIN -> "cap_net_admin" (the spelling of capabilities(7) and systemd);
/// "cap_<number>" for numbers this build does not know.
std::string capability_name(int cap);

/// Switches the process to SPEC.user/SPEC.group with no supplementary groups, keeping the
/// capabilities in SPEC.keep, and sets no_new_privs. Throws privilege_error naming the
/// step that failed; the process may then be half-way, so the caller should exit.
/// Keeping a capability the process does not have is an error. Capabilities are per
/// thread: call it before starting any thread (spdlog's async sinks included), so that
/// every later thread inherits the reduced sets.
void drop_privileges(const privilege_spec& spec);

}  // namespace vsocklib
