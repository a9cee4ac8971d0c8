#include "vsock_mcast/stats.hpp"

#include <boost/json/value.hpp>

namespace vsock_mcast {

boost::json::object drop_counters::json() const {
  boost::json::object out;
  for (const auto& [reason, n] : by_reason_) out[reason] = n;
  return out;
}

}  // namespace vsock_mcast
