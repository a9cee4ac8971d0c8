// A latency histogram with fixed buckets: bounded memory whatever the run's length.
#pragma once

#include <array>
#include <cstdint>

namespace vsock_soak {

/// Log-linear buckets over microseconds: exact below 16 us, then 16 buckets per power of
/// two, so any percentile is reported within 1/16 (6.25 %) of the true value, up to about
/// 12 days. 4.9 KiB per histogram. Thread safety: none.
class histogram {
 public:
  static constexpr int kSubBits = 4;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kMaxExponent = 40;
  static constexpr std::size_t kBuckets = kSub + (kMaxExponent - kSubBits + 1) * kSub;

  void record(std::uint64_t us) noexcept;
  void merge(const histogram& other) noexcept;
  void clear() noexcept { *this = histogram{}; }

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t max() const noexcept { return max_; }
  std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
  /// The value below which fraction Q (0..1) of the samples lie: the upper edge of the
  /// bucket holding that rank, capped at max(). 0 when empty.
  std::uint64_t percentile(double q) const noexcept;

  static std::size_t bucket_of(std::uint64_t us) noexcept;
  /// Largest value that falls into bucket I.
  static std::uint64_t bucket_upper(std::size_t i) noexcept;

 private:
  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = ~std::uint64_t{0};
};

}  // namespace vsock_soak
