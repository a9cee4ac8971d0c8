// Who the host joins groups for, and which guests a LAN datagram fans out to.
#include <gtest/gtest.h>

#include "vsock_mcast/membership.hpp"

namespace vsock_mcast {
namespace {

constexpr std::uint32_t kG1 = 0xEFFF0001, kG2 = 0xEFFF0002, kS = 0xE0F4E0F5;

TEST(McastMembership, FirstJoinAndLastLeaveChangeTheLan) {
  membership_table t;
  EXPECT_TRUE(t.join(1, kG1));    // the host must join
  EXPECT_FALSE(t.join(2, kG1));   // already held
  EXPECT_FALSE(t.join(1, kG1));   // repeated
  EXPECT_FALSE(t.leave(1, kG1));  // guest 2 still wants it
  EXPECT_FALSE(t.leave(1, kG1));  // not a member any more: no change
  EXPECT_TRUE(t.leave(2, kG1));   // the last one: the host leaves
  EXPECT_TRUE(t.lan_groups().empty());
}

TEST(McastMembership, FanOutFollowsMembership) {
  membership_table t;
  t.join(1, kG1);
  t.join(2, kG2);
  EXPECT_TRUE(t.wants(1, kG1));
  EXPECT_FALSE(t.wants(2, kG1));
  EXPECT_TRUE(t.wants(2, kG2));
  EXPECT_EQ(t.members(kG1), (std::vector<guest_id>{1}));
  EXPECT_EQ(t.lan_groups(), (std::vector<std::uint32_t>{kG1, kG2}));
  EXPECT_EQ(t.groups_of(2), (std::vector<std::uint32_t>{kG2}));
}

TEST(McastMembership, StaticGroupsGoToEveryoneAndStay) {
  membership_table t;
  EXPECT_TRUE(t.add_static(kS));
  EXPECT_FALSE(t.add_static(kS));
  EXPECT_TRUE(t.wants(7, kS));
  EXPECT_FALSE(t.join(1, kS));   // already held (static)
  EXPECT_FALSE(t.leave(1, kS));  // static: the host stays
  EXPECT_TRUE(t.is_static(kS));
  EXPECT_EQ(t.lan_groups(), (std::vector<std::uint32_t>{kS}));
}

TEST(McastMembership, RemovingAGuestLeavesOnlyItsLastGroups) {
  membership_table t;
  t.add_static(kS);
  t.join(1, kG1);
  t.join(1, kG2);
  t.join(1, kS);
  t.join(2, kG2);
  EXPECT_EQ(t.remove_guest(1), (std::vector<std::uint32_t>{kG1}));
  EXPECT_FALSE(t.joined(1, kG2));
  EXPECT_TRUE(t.joined(2, kG2));
  EXPECT_EQ(t.lan_groups(), (std::vector<std::uint32_t>{kS, kG2}));  // ascending
  EXPECT_EQ(t.remove_guest(2), (std::vector<std::uint32_t>{kG2}));
  EXPECT_TRUE(t.remove_guest(3).empty());
}

}  // namespace
}  // namespace vsock_mcast
