// Exponential backoff with jitter and a cap.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>

namespace vsocklib {

struct backoff_options {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{5000};  ///< the cap, jitter included
  double multiplier = 2.0;
  /// Each delay is drawn uniformly from [d * (1 - jitter), d], so that many relays
  /// restarted together do not reconnect in lock-step.
  double jitter = 0.2;

  /// Empty when valid, otherwise what is wrong.
  std::string validate() const;
};

/// Produces the delays. Deterministic for a given seed. Thread safety: none (one per user).
class backoff {
 public:
  explicit backoff(backoff_options opt = {}, std::uint64_t seed = std::random_device{}());

  /// The delay before the next attempt; grows until it reaches the cap.
  std::chrono::milliseconds next();
  /// Back to the initial delay.
  void reset() noexcept;
  /// Delays handed out since the last reset.
  unsigned attempts() const noexcept { return attempts_; }

 private:
  backoff_options opt_;
  std::mt19937_64 rng_;
  double current_ms_;
  unsigned attempts_ = 0;
};

}  // namespace vsocklib
