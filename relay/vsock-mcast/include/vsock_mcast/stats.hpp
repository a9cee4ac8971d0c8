// Counters shown in the status JSON.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace boost::json {
class object;
}

namespace vsock_mcast {

/// Dropped packets or records by reason ("echo", "duplicate", "queue_full", ...).
class drop_counters {
 public:
  void add(std::string_view reason) {
    auto it = by_reason_.find(reason);
    if (it == by_reason_.end()) it = by_reason_.emplace(std::string(reason), 0).first;
    ++it->second;
    ++total_;
  }
  std::uint64_t total() const noexcept { return total_; }
  std::uint64_t count(std::string_view reason) const {
    auto it = by_reason_.find(reason);
    return it == by_reason_.end() ? 0 : it->second;
  }
  /// {"echo": 3, ...}
  boost::json::object json() const;

 private:
  std::map<std::string, std::uint64_t, std::less<>> by_reason_;
  std::uint64_t total_ = 0;
};

}  // namespace vsock_mcast
