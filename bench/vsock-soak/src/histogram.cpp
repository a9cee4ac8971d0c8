#include "vsock_soak/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace vsock_soak {

std::size_t histogram::bucket_of(std::uint64_t us) noexcept {
  if (us < kSub) return static_cast<std::size_t>(us);
  int e = std::bit_width(us) - 1;  // us in [2^e, 2^(e+1))
  if (e > kMaxExponent) return kBuckets - 1;
  const std::uint64_t sub = (us >> (e - kSubBits)) & (kSub - 1);
  return kSub + static_cast<std::size_t>(e - kSubBits) * kSub + sub;
}

std::uint64_t histogram::bucket_upper(std::size_t i) noexcept {
  if (i < kSub) return i;
  const int e = static_cast<int>((i - kSub) / kSub) + kSubBits;
  const std::uint64_t sub = (i - kSub) % kSub;
  const std::uint64_t step = std::uint64_t{1} << (e - kSubBits);
  return (std::uint64_t{1} << e) + (sub + 1) * step - 1;
}

void histogram::record(std::uint64_t us) noexcept {
  ++buckets_[bucket_of(us)];
  ++count_;
  max_ = std::max(max_, us);
  min_ = std::min(min_, us);
}

void histogram::merge(const histogram& o) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  max_ = std::max(max_, o.max_);
  min_ = std::min(min_, o.min_);
}

std::uint64_t histogram::percentile(double q) const noexcept {
  if (count_ == 0) return 0;
  // Rank of the sample at fraction Q, 1-based: p99.9 of 1000 samples is the 999th.
  const auto rank =
      std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * double(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(bucket_upper(i), max_);
  }
  return max_;
}

}  // namespace vsock_soak
