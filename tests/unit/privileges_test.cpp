// drop_privileges for real: a forked child (so the test process keeps root) drops to
// "nobody" and reports what the kernel says about it in /proc/self/status.
#include "vsocklib/privileges.hpp"

#include <linux/capability.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "vsocklib/unique_fd.hpp"

namespace vsocklib {
namespace {

// "CapEff" -> its hex value from /proc/self/status, "Uid" -> "65534\t65534\t65534\t65534".
std::string status_field(const std::string& name) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(name + ":", 0) == 0) {
      auto v = line.substr(name.size() + 1);
      const auto start = v.find_first_not_of(" \t");
      return start == std::string::npos ? "" : v.substr(start);
    }
  }
  return "?";
}

// Runs BODY in a child; its return value (empty = success) comes back through a pipe.
std::string in_child(const std::function<std::string()>& body) {
  int p[2];
  if (::pipe(p) != 0) return "pipe failed";
  vsocklib::unique_fd from_child(p[0]), to_parent(p[1]);
  pid_t pid = ::fork();
  if (pid == 0) {
    from_child.reset();
    std::string r;
    try {
      r = body();
    } catch (const std::exception& e) {
      r = std::string("exception: ") + e.what();
    }
    [[maybe_unused]] auto n = ::write(to_parent.get(), r.data(), r.size());
    ::_exit(0);
  }
  to_parent.reset();
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(from_child.get(), buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  from_child.reset();
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status)) return "child died: " + out;
  return out;
}

void require_root() {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (CI and these machines run as root)";
}

TEST(Privileges, CapabilityNames) {
  EXPECT_EQ(capability_from_name("CAP_NET_ADMIN"), CAP_NET_ADMIN);
  EXPECT_EQ(capability_from_name("net_raw"), CAP_NET_RAW);
  EXPECT_EQ(capability_from_name("Cap_Sys_Admin"), CAP_SYS_ADMIN);
  EXPECT_EQ(capability_from_name("cap_checkpoint_restore"), CAP_CHECKPOINT_RESTORE);
  EXPECT_EQ(capability_from_name("net_admin_please"), std::nullopt);
  EXPECT_EQ(capability_from_name(""), std::nullopt);
  EXPECT_EQ(capability_name(CAP_NET_ADMIN), "cap_net_admin");
  EXPECT_EQ(capability_name(63), "cap_63");
}

TEST(Privileges, ParsesUserAndGroup) {
  EXPECT_EQ(parse_user_group("nobody").user, "nobody");
  EXPECT_EQ(parse_user_group("nobody").group, "");
  const auto both = parse_user_group("adbd-relay:plugdev");
  EXPECT_EQ(both.user, "adbd-relay");
  EXPECT_EQ(both.group, "plugdev");
  EXPECT_TRUE(both.keep.empty());
  for (const char* bad : {"", ":plugdev", "nobody:"}) {
    EXPECT_THROW(parse_user_group(bad), std::invalid_argument) << bad;
  }
}

TEST(Privileges, ResolvesUsersAndGroupsWithoutSwitching) {
  // nobody and nogroup are 65534 on Debian; root is 0 everywhere.
  const auto nobody = resolve_user({"nobody", "", {}});
  EXPECT_EQ(nobody.uid, 65534u);
  EXPECT_EQ(resolve_user({"root", "", {}}).gid, 0u);
  EXPECT_EQ(resolve_user({"nobody", "root", {}}).gid, 0u);
  const auto numeric = resolve_user({"12345", "54321", {}});
  EXPECT_EQ(numeric.uid, 12345u);
  EXPECT_EQ(numeric.gid, 54321u);
  EXPECT_THROW(resolve_user({"no-such-user-vsocklib", "", {}}), privilege_error);
  EXPECT_THROW(resolve_user({"12345", "", {}}), privilege_error);  // no passwd entry, no group
  EXPECT_EQ(::geteuid(), ::getuid());                              // nothing switched
}

TEST(Privileges, DropsToNobodyKeepingOnlyNetAdmin) {
  require_root();
  auto r = in_child([] {
    drop_privileges({"nobody", "", {CAP_NET_ADMIN}});
    const std::string want_caps = "0000000000001000";  // bit 12
    std::string why;
    if (status_field("Uid") != "65534\t65534\t65534\t65534") why += " Uid " + status_field("Uid");
    if (status_field("Gid") != "65534\t65534\t65534\t65534") why += " Gid " + status_field("Gid");
    if (status_field("Groups") != "") why += " Groups " + status_field("Groups");
    if (status_field("CapEff") != want_caps) why += " CapEff " + status_field("CapEff");
    if (status_field("CapPrm") != want_caps) why += " CapPrm " + status_field("CapPrm");
    if (status_field("CapInh") != "0000000000000000") why += " CapInh " + status_field("CapInh");
    if (status_field("CapBnd") != want_caps) why += " CapBnd " + status_field("CapBnd");
    if (status_field("NoNewPrivs") != "1") why += " NoNewPrivs " + status_field("NoNewPrivs");
    // No way back.
    if (::setuid(0) == 0) why += " setuid(0) succeeded";
    return why;
  });
  EXPECT_EQ(r, "");
}

TEST(Privileges, NumericIdsAndNoCapabilities) {
  require_root();
  auto r = in_child([] {
    drop_privileges({"12345", "54321", {}});
    std::string why;
    if (status_field("Uid") != "12345\t12345\t12345\t12345") why += " Uid " + status_field("Uid");
    if (status_field("Gid") != "54321\t54321\t54321\t54321") why += " Gid " + status_field("Gid");
    if (status_field("CapEff") != "0000000000000000") why += " CapEff " + status_field("CapEff");
    return why;
  });
  EXPECT_EQ(r, "");
}

TEST(Privileges, ErrorsNameWhatIsWrong) {
  require_root();
  auto r = in_child([] {
    std::string why;
    try {
      drop_privileges({"no-such-user-vsocklib", "", {}});
      why += " unknown user accepted;";
    } catch (const privilege_error& e) {
      if (std::string(e.what()).find("no user \"no-such-user-vsocklib\"") == std::string::npos)
        why += e.what();
    }
    try {
      drop_privileges({"nobody", "no-such-group-vsocklib", {}});
      why += " unknown group accepted;";
    } catch (const privilege_error& e) {
      if (std::string(e.what()).find("no group") == std::string::npos) why += e.what();
    }
    // Once unprivileged, a capability cannot be asked back.
    drop_privileges({"nobody", "", {}});
    try {
      drop_privileges({"nobody", "", {CAP_NET_ADMIN}});
      why += " kept a capability it did not have;";
    } catch (const privilege_error& e) {
      if (std::string(e.what()).find("cannot keep cap_net_admin") == std::string::npos)
        why += e.what();
    }
    return why;
  });
  EXPECT_EQ(r, "");
}

}  // namespace
}  // namespace vsocklib
