#include "vsock_mcast/membership.hpp"

namespace vsock_mcast {

bool membership_table::held(std::uint32_t group) const {
  return static_.count(group) != 0 || joined_.count(group) != 0;
}

bool membership_table::add_static(std::uint32_t group) {
  const bool before = held(group);
  static_.insert(group);
  return !before;
}

bool membership_table::join(guest_id g, std::uint32_t group) {
  const bool before = held(group);
  joined_[group].insert(g);
  return !before;
}

bool membership_table::leave(guest_id g, std::uint32_t group) {
  auto it = joined_.find(group);
  if (it == joined_.end() || it->second.erase(g) == 0) return false;
  if (it->second.empty()) joined_.erase(it);
  return !held(group);
}

std::vector<std::uint32_t> membership_table::remove_guest(guest_id g) {
  std::vector<std::uint32_t> gone;
  for (auto it = joined_.begin(); it != joined_.end();) {
    it->second.erase(g);
    if (it->second.empty()) {
      const auto group = it->first;
      it = joined_.erase(it);
      if (!held(group)) gone.push_back(group);
    } else {
      ++it;
    }
  }
  return gone;
}

bool membership_table::wants(guest_id g, std::uint32_t group) const {
  if (static_.count(group)) return true;
  auto it = joined_.find(group);
  return it != joined_.end() && it->second.count(g) != 0;
}

bool membership_table::joined(guest_id g, std::uint32_t group) const {
  auto it = joined_.find(group);
  return it != joined_.end() && it->second.count(g) != 0;
}

std::vector<std::uint32_t> membership_table::lan_groups() const {
  std::set<std::uint32_t> all(static_);
  for (const auto& [group, guests] : joined_) all.insert(group);
  return {all.begin(), all.end()};
}

std::vector<std::uint32_t> membership_table::groups_of(guest_id g) const {
  std::vector<std::uint32_t> out;
  for (const auto& [group, guests] : joined_) {
    if (guests.count(g)) out.push_back(group);
  }
  return out;
}

std::vector<guest_id> membership_table::members(std::uint32_t group) const {
  auto it = joined_.find(group);
  if (it == joined_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

}  // namespace vsock_mcast
