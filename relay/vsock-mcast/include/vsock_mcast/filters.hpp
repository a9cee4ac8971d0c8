// The tunnel's guards against loops and storms: allowlists, the duplicate filter and the
// rate limiter (docs/vsock-mcast.md, "Loops and storms"). Pure: time is passed in, so the
// tests own it. Thread safety: none (one io_context thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vsock_mcast {

/// The filters' clock, read once or twice per datagram: CLOCK_MONOTONIC_COARSE, the time
/// of the last timer tick (1 to 4 ms old). The duplicate window and the rate limiter need
/// no finer time, and this read is a memory read in the vDSO on every clocksource, where a
/// precise one can be a system call: with the lab guest's HPET about 1 us, a fifth of the
/// host endpoint's CPU per datagram (docs/benchmarks.md).
struct coarse_clock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<coarse_clock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept;
};
using clock = coarse_clock;

/// An IPv4 prefix, host byte order.
struct cidr {
  std::uint32_t network = 0;
  unsigned prefix = 32;
  bool contains(std::uint32_t addr) const noexcept {
    return prefix == 0 || ((addr ^ network) >> (32 - prefix)) == 0;
  }
  friend bool operator==(const cidr&, const cidr&) = default;
};

struct port_range {
  std::uint16_t first = 0, last = 0;
  friend bool operator==(const port_range&, const port_range&) = default;
};

/// Thrown by the parsers below; what() names the text and what is wrong.
class filter_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// "239.255.0.0/16" or "239.255.0.1" (a /32). Throws filter_error.
cidr parse_cidr(std::string_view text);
/// "7400" or "7400-7500". Throws filter_error.
port_range parse_port_range(std::string_view text);

/// Groups and UDP destination ports allowed in one direction.
struct allowlist {
  std::vector<cidr> groups;       ///< empty: every group outside 224.0.0.0/24
  std::vector<port_range> ports;  ///< empty: every port

  /// 224.0.0.0/24 (link-local control traffic) only when an entry inside it covers GROUP,
  /// so that "224.0.0.0/4" does not carry IGMP or routing protocols by accident.
  bool allows_group(std::uint32_t group) const noexcept;
  bool allows_port(std::uint16_t port) const noexcept;
};

/// Remembers packet fingerprints for WINDOW, at most CAPACITY of them (the oldest are
/// forgotten first when full), and says whether a fingerprint was seen within the window.
class dup_filter {
 public:
  static constexpr std::size_t kDefaultCapacity = 1024;
  static constexpr std::chrono::milliseconds kDefaultWindow{500};

  explicit dup_filter(std::size_t capacity = kDefaultCapacity,
                      clock::duration window = kDefaultWindow);

  /// True when FP was seen within the window (a duplicate); records FP either way.
  bool seen(std::uint64_t fp, clock::time_point now);
  std::size_t size() const noexcept { return index_.size(); }

 private:
  struct entry {
    std::uint64_t fp;
    clock::time_point at;
  };
  void expire(clock::time_point now);
  std::size_t capacity_;
  clock::duration window_;
  std::vector<entry> ring_;  // fixed capacity, FIFO by time
  std::size_t head_ = 0, count_ = 0;
  std::unordered_map<std::uint64_t, clock::time_point> index_;  // latest time per fp
};

/// Token bucket: RATE packets per second, a burst of one second's worth. RATE 0: unlimited.
class rate_limiter {
 public:
  explicit rate_limiter(std::uint32_t rate = 0) : rate_(rate), tokens_(rate) {}
  /// True when a packet may pass now (and takes a token).
  bool allow(clock::time_point now) noexcept;
  std::uint32_t rate() const noexcept { return rate_; }

 private:
  std::uint32_t rate_;
  double tokens_;
  clock::time_point last_{};
  bool started_ = false;
};

}  // namespace vsock_mcast
