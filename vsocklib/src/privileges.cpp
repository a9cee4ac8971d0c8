#include "vsocklib/privileges.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <limits>
#include <stdexcept>

#include "vsocklib/number.hpp"

namespace vsocklib {
namespace {

// capabilities(7) names, indexed by number (linux/capability.h).
constexpr std::array<std::string_view, 41> kNames{"chown",
                                                  "dac_override",
                                                  "dac_read_search",
                                                  "fowner",
                                                  "fsetid",
                                                  "kill",
                                                  "setgid",
                                                  "setuid",
                                                  "setpcap",
                                                  "linux_immutable",
                                                  "net_bind_service",
                                                  "net_broadcast",
                                                  "net_admin",
                                                  "net_raw",
                                                  "ipc_lock",
                                                  "ipc_owner",
                                                  "sys_module",
                                                  "sys_rawio",
                                                  "sys_chroot",
                                                  "sys_ptrace",
                                                  "sys_pacct",
                                                  "sys_admin",
                                                  "sys_boot",
                                                  "sys_nice",
                                                  "sys_resource",
                                                  "sys_time",
                                                  "sys_tty_config",
                                                  "mknod",
                                                  "lease",
                                                  "audit_write",
                                                  "audit_control",
                                                  "setfcap",
                                                  "mac_override",
                                                  "mac_admin",
                                                  "syslog",
                                                  "wake_alarm",
                                                  "block_suspend",
                                                  "audit_read",
                                                  "perfmon",
                                                  "bpf",
                                                  "checkpoint_restore"};

[[noreturn]] void fail(const std::string& what, int err) {
  throw privilege_error(err, std::generic_category(), what);
}

// The kernel's two 32-bit words per set (_LINUX_CAPABILITY_VERSION_3), as 64-bit masks.
struct cap_sets {
  std::uint64_t effective = 0, permitted = 0, inheritable = 0;
};

cap_sets get_caps() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2]{};
  if (::syscall(SYS_capget, &hdr, d) != 0) fail("capget", errno);
  auto join = [](std::uint32_t lo, std::uint32_t hi) { return std::uint64_t{hi} << 32 | lo; };
  return {join(d[0].effective, d[1].effective), join(d[0].permitted, d[1].permitted),
          join(d[0].inheritable, d[1].inheritable)};
}

void set_caps(const cap_sets& c) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2]{};
  for (int i = 0; i < 2; ++i) {
    d[i].effective = static_cast<std::uint32_t>(c.effective >> (32 * i));
    d[i].permitted = static_cast<std::uint32_t>(c.permitted >> (32 * i));
    d[i].inheritable = static_cast<std::uint32_t>(c.inheritable >> (32 * i));
  }
  if (::syscall(SYS_capset, &hdr, d) != 0) fail("capset", errno);
}

// The running kernel's highest capability, which may be above or below this build's.
int last_cap() {
  std::ifstream f("/proc/sys/kernel/cap_last_cap");
  int n = -1;
  if (f >> n && n >= 0 && n < 64) return n;
  return CAP_LAST_CAP;
}

std::optional<std::uint64_t> number(std::string_view s) {
  return parse_unsigned(s, 0, std::numeric_limits<std::uint64_t>::max());
}

}  // namespace

privilege_spec parse_user_group(std::string_view text) {
  privilege_spec spec;
  const auto colon = text.find(':');
  spec.user = std::string(text.substr(0, colon));
  if (colon != std::string_view::npos) spec.group = std::string(text.substr(colon + 1));
  if (spec.user.empty() || (colon != std::string_view::npos && spec.group.empty())) {
    throw std::invalid_argument("user \"" + std::string(text) + "\" is not USER or USER:GROUP");
  }
  return spec;
}

user_ids resolve_user(const privilege_spec& spec) {
  user_ids out{};
  std::vector<char> buf(16384);
  if (auto n = number(spec.user)) {
    out.uid = static_cast<uid_t>(*n);
    passwd pw{}, *res = nullptr;
    // A numeric uid need not have a passwd entry, but then a group must be named.
    if (::getpwuid_r(out.uid, &pw, buf.data(), buf.size(), &res) == 0 && res) {
      out.gid = pw.pw_gid;
    } else if (spec.group.empty()) {
      fail("uid " + spec.user + " has no passwd entry; name a group", ENOENT);
    }
  } else {
    passwd pw{}, *res = nullptr;
    int err = ::getpwnam_r(spec.user.c_str(), &pw, buf.data(), buf.size(), &res);
    if (!res) fail("no user \"" + spec.user + "\"", err ? err : ENOENT);
    out.uid = pw.pw_uid;
    out.gid = pw.pw_gid;
  }
  if (spec.group.empty()) return out;
  if (auto n = number(spec.group)) {
    out.gid = static_cast<gid_t>(*n);
  } else {
    group gr{}, *res = nullptr;
    int err = ::getgrnam_r(spec.group.c_str(), &gr, buf.data(), buf.size(), &res);
    if (!res) fail("no group \"" + spec.group + "\"", err ? err : ENOENT);
    out.gid = gr.gr_gid;
  }
  return out;
}

std::optional<int> capability_from_name(std::string_view name) {
  std::string lower;
  for (char c : name)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  std::string_view n(lower);
  if (n.substr(0, 4) == "cap_") n.remove_prefix(4);
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == n) return static_cast<int>(i);
  }
  return std::nullopt;
}

std::string capability_name(int cap) {
  if (cap >= 0 && static_cast<std::size_t>(cap) < kNames.size()) {
    return "cap_" + std::string(kNames[static_cast<std::size_t>(cap)]);
  }
  return "cap_" + std::to_string(cap);
}

void drop_privileges(const privilege_spec& spec) {
  const user_ids to = resolve_user(spec);
  const int last = last_cap();
  std::uint64_t keep = 0;
  for (int c : spec.keep) {
    if (c < 0 || c > last)
      fail("capability " + std::to_string(c) + " is unknown to this kernel", EINVAL);
    keep |= std::uint64_t{1} << c;
  }
  const cap_sets now = get_caps();
  for (int c : spec.keep) {
    if (!(now.permitted >> c & 1)) {
      fail("cannot keep " + capability_name(c) + ": the process does not have it", EPERM);
    }
  }

  // Without KEEPCAPS, leaving uid 0 clears the permitted set and nothing could be kept.
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) fail("prctl(PR_SET_KEEPCAPS)", errno);
  // The bounding set limits what any later exec could gain; trimming it needs CAP_SETPCAP,
  // which a systemd unit's CapabilityBoundingSet may already have removed (then the unit
  // has bounded it).
  if (now.effective >> CAP_SETPCAP & 1) {
    for (int c = 0; c <= last; ++c) {
      if (!(keep >> c & 1) && ::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0) {
        fail("prctl(PR_CAPBSET_DROP, " + capability_name(c) + ")", errno);
      }
    }
  }
  // Groups first: once the uid is not 0, CAP_SETGID is gone from the effective set.
  if (::setgroups(0, nullptr) != 0) fail("setgroups (clearing supplementary groups)", errno);
  if (::setresgid(to.gid, to.gid, to.gid) != 0)
    fail("setresgid(" + std::to_string(to.gid) + ")", errno);
  if (::setresuid(to.uid, to.uid, to.uid) != 0)
    fail("setresuid(" + std::to_string(to.uid) + ")", errno);
  // The uid switch emptied the effective set; make the kept ones effective again and let
  // every other capability go from the permitted set for good.
  set_caps({keep, keep, 0});
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) fail("prctl(PR_SET_KEEPCAPS, 0)", errno);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("prctl(PR_SET_NO_NEW_PRIVS)", errno);

  // Trust, but verify: no way back to what was dropped.
  uid_t r, e, s;
  if (::getresuid(&r, &e, &s) != 0 || r != to.uid || e != to.uid || s != to.uid) {
    fail("uid did not change to " + std::to_string(to.uid), EPERM);
  }
  const cap_sets after = get_caps();
  if (after.permitted != keep || after.effective != keep) {
    fail("capabilities after the switch are not the ones asked for", EPERM);
  }
}

}  // namespace vsocklib
