#include "mcast_probe/receive_stats.hpp"

#include <algorithm>

namespace mcast_probe {

bool seq_set::insert(std::uint64_t seq) {
  if (seq >= kMaxTracked) return true;
  if (seq / 8 >= bits_.size())
    bits_.resize(std::max<std::size_t>(seq / 8 + 1, bits_.size() * 2), 0);
  const auto mask = static_cast<std::uint8_t>(1u << (seq % 8));
  if (bits_[seq / 8] & mask) return false;
  bits_[seq / 8] |= mask;
  return true;
}

std::string mismatch(const expectation& expect, const arrival& a) {
  if (expect.ttl && a.ttl != *expect.ttl)
    return "TTL " + std::to_string(a.ttl) + ", expected " + std::to_string(*expect.ttl);
  if (expect.tos && a.tos != *expect.tos)
    return "TOS " + std::to_string(a.tos) + ", expected " + std::to_string(*expect.tos);
  if (const auto& s = expect.source; s && (a.from.sin_addr.s_addr != s->sin_addr.s_addr ||
                                           (expect.source_port && a.from.sin_port != s->sin_port)))
    return "source " + to_string(a.from) + ", expected " +
           (expect.source_port ? to_string(*s) : to_string(s->sin_addr));
  return {};
}

receive_stats::receive_stats(std::optional<std::uint32_t> run_id, expectation expect)
    : expect_(std::move(expect)), run_id_(run_id ? static_cast<std::int64_t>(*run_id) : -1) {}

receive_stats::outcome receive_stats::add(const datagram& d, std::size_t len, const arrival& a,
                                          const std::string& iface, clock_type::time_point at) {
  if (run_id_ < 0) run_id_ = d.run_id;
  if (d.run_id != run_id_) {
    ++other_runs_;
    return outcome::other_run;
  }
  last_at_ = at;
  if (!first_at_) first_at_ = at;
  bytes_ += len;
  const bool fresh = seen_.insert(d.seq);
  if (!fresh) {
    ++dups_;
  } else {
    if (unique_ > 0 && d.seq < max_seq_) ++reordered_;
    ++unique_;
    max_seq_ = std::max(max_seq_, d.seq);
    min_seq_ = std::min(min_seq_, d.seq);
  }
  if (text_.empty()) text_ = d.text;
  if (sources_.size() < kMaxListed) sources_.insert(to_string(a.from));
  if (ifaces_.size() < kMaxListed) ifaces_.insert(iface);
  ttls_.insert(a.ttl);
  toss_.insert(a.tos);
  if (const std::string why = mismatch(expect_, a); !why.empty() && mismatches_++ == 0)
    first_mismatch_ = "seq " + std::to_string(d.seq) + ": " + why;
  return fresh ? outcome::fresh : outcome::duplicate;
}

std::uint64_t receive_stats::lost(std::optional<std::uint64_t> expected) const {
  if (expected) return *expected > unique_ ? *expected - unique_ : 0;
  if (unique_ > 0) return max_seq_ - min_seq_ + 1 - unique_;
  return 0;
}

double receive_stats::seconds() const {
  return first_at_ && last_at_ ? std::chrono::duration<double>(*last_at_ - *first_at_).count() : 0;
}

double receive_stats::pps() const {
  const double span = seconds();
  return span > 0 ? (unique_ + dups_ - 1) / span : 0;
}

std::vector<std::string> receive_stats::failures(std::optional<std::uint64_t> expected,
                                                 double timeout) const {
  std::vector<std::string> f;
  if (expected && *expected == 0 && unique_ + dups_ > 0)
    f.push_back("expected no datagram, got " + std::to_string(unique_ + dups_));
  else if (expected && *expected > 0 && unique_ < *expected)
    f.push_back("expected " + std::to_string(*expected) + " datagrams, got " +
                std::to_string(unique_) + " (" + std::to_string(lost(expected)) + " lost)");
  else if (!expected && unique_ == 0)
    f.push_back("no datagram arrived within " + std::to_string(timeout) + " s");
  if (dups_ > 0) f.push_back(std::to_string(dups_) + " duplicate datagrams");
  if (mismatches_ > 0)
    f.push_back(std::to_string(mismatches_) +
                " datagrams differ from the expectation, first: " + first_mismatch_);
  return f;
}

}  // namespace mcast_probe
