#include "stats.hpp"

namespace vsock_mcast {

std::string drop_counters::json() const {
  std::string out = "{";
  bool first = true;
  for (const auto& [reason, n] : by_reason_) {
    if (!first) out += ", ";
    first = false;
    out += json_string(reason) + ": " + std::to_string(n);
  }
  return out + "}";
}

}  // namespace vsock_mcast
