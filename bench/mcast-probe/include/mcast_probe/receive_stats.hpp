// What a receiver counts: the datagrams of one run, by sequence number (distinct, lost,
// duplicated, out of order), the facts they arrived with, and whether those match the
// expectation. Pure bookkeeping: recv feeds it, the tests feed it by hand.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mcast_probe/net.hpp"
#include "mcast_probe/options.hpp"
#include "mcast_probe/wire.hpp"

namespace mcast_probe {

/// Distinct sequence numbers seen, as a bitmap that grows on demand. Bounded: sequences
/// past kMaxTracked are counted as received but not checked for duplicates.
class seq_set {
 public:
  static constexpr std::uint64_t kMaxTracked = 1ull << 27;  // 16 MiB of bits
  /// False if SEQ was already present.
  bool insert(std::uint64_t seq);

 private:
  std::vector<std::uint8_t> bits_;
};

/// Why arrival A differs from EXPECT ("TTL 7, expected 1"), or "" when it does not.
/// TTL is checked first, then TOS, then the source.
std::string mismatch(const expectation& expect, const arrival& a);

class receive_stats {
 public:
  /// RUN_ID: count only that run; nullopt: the run of the first datagram seen.
  receive_stats(std::optional<std::uint32_t> run_id, expectation expect);

  enum class outcome { other_run, fresh, duplicate };

  /// A datagram that is not a probe datagram.
  void add_foreign() { ++foreign_; }
  /// Probe datagram D, LEN bytes, that arrived AT with the facts A on interface IFACE.
  outcome add(const datagram& d, std::size_t len, const arrival& a, const std::string& iface,
              clock_type::time_point at);

  // Counters of the run.
  std::int64_t run_id() const { return run_id_; }  ///< -1 until a datagram picked it
  std::uint64_t unique() const { return unique_; }
  std::uint64_t duplicates() const { return dups_; }
  /// Distinct datagrams that arrived after one with a higher sequence number.
  std::uint64_t out_of_order() const { return reordered_; }
  std::uint64_t foreign() const { return foreign_; }
  std::uint64_t other_runs() const { return other_runs_; }
  std::uint64_t mismatches() const { return mismatches_; }
  std::uint64_t bytes() const { return bytes_; }
  // What they arrived with (sources and interfaces: the first 8 distinct).
  const std::set<std::string>& sources() const { return sources_; }
  const std::set<std::string>& interfaces() const { return ifaces_; }
  const std::set<int>& ttls() const { return ttls_; }
  const std::set<int>& toss() const { return toss_; }
  const std::string& text() const { return text_; }  ///< of the first datagram

  /// Lost datagrams: of EXPECTED when given, else the gaps between the lowest and the
  /// highest sequence number seen.
  std::uint64_t lost(std::optional<std::uint64_t> expected) const;
  /// From the first datagram of the run to the last.
  double seconds() const;
  /// Datagrams (duplicates included) per second over seconds(); 0 for fewer than two.
  double pps() const;
  /// Every reason the check failed, with EXPECTED as recv_options::count and TIMEOUT the
  /// seconds waited; empty when it passed.
  std::vector<std::string> failures(std::optional<std::uint64_t> expected, double timeout) const;

 private:
  static constexpr std::size_t kMaxListed = 8;  // sources/interfaces kept for the summary

  expectation expect_;
  seq_set seen_;
  std::int64_t run_id_;
  std::uint64_t unique_ = 0, dups_ = 0, reordered_ = 0, foreign_ = 0, other_runs_ = 0,
                mismatches_ = 0;
  std::uint64_t max_seq_ = 0, min_seq_ = UINT64_MAX, bytes_ = 0;
  std::set<std::string> sources_, ifaces_;
  std::set<int> ttls_, toss_;
  std::string first_mismatch_, text_;
  std::optional<clock_type::time_point> first_at_, last_at_;
};

}  // namespace mcast_probe
