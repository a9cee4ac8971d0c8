#include "vsocklib/backoff.hpp"

#include <algorithm>

namespace vsocklib {

std::string backoff_options::validate() const {
  if (initial.count() <= 0) return "backoff initial delay must be positive";
  if (max < initial) return "backoff cap must be at least the initial delay";
  if (multiplier < 1.0) return "backoff multiplier must be at least 1";
  if (jitter < 0.0 || jitter >= 1.0) return "backoff jitter must be in [0, 1)";
  return {};
}

backoff::backoff(backoff_options opt, std::uint64_t seed)
    : opt_(opt), rng_(seed), current_ms_(static_cast<double>(opt.initial.count())) {}

std::chrono::milliseconds backoff::next() {
  const double cap = static_cast<double>(opt_.max.count());
  const double base = std::min(current_ms_, cap);
  std::uniform_real_distribution<double> pick(base * (1.0 - opt_.jitter), base);
  const auto delay = std::chrono::milliseconds(static_cast<std::int64_t>(pick(rng_)));
  current_ms_ = std::min(current_ms_ * opt_.multiplier, cap);
  ++attempts_;
  return std::max(delay, std::chrono::milliseconds(1));
}

void backoff::reset() noexcept {
  current_ms_ = static_cast<double>(opt_.initial.count());
  attempts_ = 0;
}

}  // namespace vsocklib
