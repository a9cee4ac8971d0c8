// Every line mcast-probe prints about its results: the --json summaries (one object on one
// line, what scripts such as bench/compare-mcast parse) and the lines for people.
#pragma once

#include <cstdint>
#include <string>

#include "mcast_probe/net.hpp"
#include "mcast_probe/options.hpp"
#include "mcast_probe/receive_stats.hpp"

namespace mcast_probe {

struct send_result {
  std::uint32_t run_id = 0;
  std::uint64_t sent = 0;
  std::uint64_t retries = 0;  ///< sends offered again after ENOBUFS/EAGAIN
  double seconds = 0;
  double pps() const { return seconds > 0 ? sent / seconds : 0; }
};

struct ping_result {
  std::uint64_t replies = 0;
  std::uint64_t wrong_source = 0;  ///< replies from another address than expected
  std::string last_from;           ///< "A:P" of the last reply, "" when none
  double rtt_median_us = 0;
  bool ok(const ping_options& o) const { return replies == o.count && wrong_source == 0; }
};

// Each returns its text with the newline that ends it.

/// send's summary: the JSON line, or the line for people (on stderr).
std::string send_json(const send_options& o, const send_result& r);
std::string send_text(const send_options& o, const send_result& r);

/// recv's summary; SOCKET_DROPS: what the receiving socket itself dropped.
std::string recv_json(const recv_options& o, const receive_stats& s, std::uint64_t socket_drops);
std::string recv_text(const receive_stats& s, std::optional<std::uint64_t> expected);
/// recv --each: one line per probe datagram of the run, one per foreign datagram.
std::string datagram_line(const datagram& d, std::size_t len, const arrival& a,
                          const std::string& iface, bool duplicate);
std::string foreign_line(std::size_t len, const arrival& a);
/// recv's FAIL lines, one per failure (on stderr).
std::string recv_failures(const recv_options& o, const receive_stats& s);

/// echo: one line per datagram answered.
std::string echo_line(std::size_t len, const arrival& a, const std::string& iface);

std::string ping_json(const ping_options& o, const ping_result& r);
std::string ping_text(const ping_options& o, const ping_result& r);
/// ping's FAIL lines (on stderr), "" when it passed.
std::string ping_failures(const ping_options& o, const ping_result& r);

}  // namespace mcast_probe
