// Who wants which group: the static groups of the configuration plus each connected
// guest's joins. Decides when the host endpoint joins or leaves a group on the LAN and which
// guests a LAN datagram goes to. Pure; thread safety: none.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

namespace vsock_mcast {

using guest_id = std::uint64_t;

class membership_table {
 public:
  /// A static group: joined on the LAN from start to end, delivered to every guest.
  /// Returns true when the LAN membership begins with it.
  bool add_static(std::uint32_t group);

  /// Guest G joined GROUP. Returns true when the host must now join GROUP on the LAN (no one
  /// wanted it before). A repeated join changes nothing.
  bool join(guest_id g, std::uint32_t group);
  /// Guest G left GROUP. Returns true when the host must now leave GROUP on the LAN.
  bool leave(guest_id g, std::uint32_t group);
  /// Guest G is gone: all its joins end. Returns the groups the host must leave on the LAN.
  std::vector<std::uint32_t> remove_guest(guest_id g);

  /// True when a LAN datagram to GROUP goes to guest G (static or joined).
  bool wants(guest_id g, std::uint32_t group) const;
  /// True when guest G itself joined GROUP.
  bool joined(guest_id g, std::uint32_t group) const;
  /// Every group the host holds on the LAN (static and joined), ascending.
  std::vector<std::uint32_t> lan_groups() const;
  bool is_static(std::uint32_t group) const { return static_.count(group) != 0; }
  /// The groups guest G joined, ascending.
  std::vector<std::uint32_t> groups_of(guest_id g) const;
  /// The guests that joined GROUP (not counting static delivery).
  std::vector<guest_id> members(std::uint32_t group) const;

 private:
  bool held(std::uint32_t group) const;
  std::set<std::uint32_t> static_;
  std::map<std::uint32_t, std::set<guest_id>> joined_;  // group -> guests
};

}  // namespace vsock_mcast
