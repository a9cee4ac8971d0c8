// What a soak run found, and its three renderings: the JSON results, the self-contained
// HTML report and the one-line summary.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vsock_soak/histogram.hpp"

namespace vsock_soak {

/// One interval of the run (1 s, or more after downsampling, see kMaxPoints).
struct series_point {
  double t_s = 0;           ///< end of the interval, seconds since the start
  double interval_s = 1;    ///< the interval's length
  std::uint64_t bytes = 0;  ///< payload bytes whose echo was verified
  std::uint64_t messages = 0;
  std::uint64_t p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
  std::uint64_t errors = 0;  ///< corruptions, gaps, duplicates, stalls
  std::uint64_t breaks = 0;  ///< connections that broke
};

struct proc_point {
  double t_s = 0;
  std::uint64_t rss_kib = 0;
  std::uint64_t fds = 0;
  std::uint64_t threads = 0;
  double cpu_pct = 0;  ///< of one CPU, over the interval
};

/// A process under test (--watch-pid / --watch-name).
struct watched_process {
  std::string name;       ///< comm, or "pid N"
  pid_t pid = 0;          ///< the current one
  unsigned restarts = 0;  ///< times a new pid took over the name
  std::vector<proc_point> points;
  /// During the run: the first sample after the warm-up and the latest one. In results:
  /// the peaks of the first and of the last --drift-window (see rss_growth).
  std::optional<proc_point> baseline;
  std::optional<proc_point> last;
  std::uint64_t missing_samples = 0;  ///< seconds in which it could not be read
};

/// From a fault (or an unscheduled break) until every stream has verified the echo of a
/// message sent after it.
struct recovery {
  double start_s = 0;
  std::string cause;  ///< "restart", "flap", "drop stream 3", "pause stream 1", "connection lost"
  unsigned streams_broken = 0;  ///< connections that broke during it
  double duration_ms = 0;       ///< until recovered (or until the run ended)
  bool recovered = false;
};

struct fault_event {
  double t_s = 0;
  std::string kind;
  std::string detail;  ///< command exit status, the stream chosen, ...
  double took_ms = 0;  ///< how long the fault's command ran
};

struct corruption {
  std::uint32_t stream = 0;
  std::uint64_t offset = 0;  ///< byte offset in the stream's payload bytes
  std::uint64_t seq = 0;
  bool header = false;    ///< the frame header was damaged (offset = where its payload starts)
  std::string direction;  ///< "echo" (seen by the client) or "to server" (seen by the server)
  std::string detail;
};

struct results {
  // What was asked.
  std::string version;
  std::string target;
  unsigned streams = 0;
  std::string sizes;
  std::uint64_t seed = 0;
  unsigned window = 0;
  double duration_s = 0;
  double recovery_bound_ms = 0;
  std::optional<std::int64_t> max_rss_growth_kib;
  std::optional<std::int64_t> max_fd_growth;
  double warmup_s = 0;
  double drift_window_s = 0;
  std::string started_utc;

  // What happened.
  double elapsed_s = 0;
  std::uint64_t messages = 0, bytes = 0;  ///< verified echoes
  std::uint64_t lost_messages = 0, lost_bytes = 0;
  std::uint64_t corruptions = 0, gaps = 0, duplicates = 0, stalls = 0;
  std::uint64_t breaks = 0, reconnects = 0, connect_failures = 0;
  std::optional<corruption> first_corruption;
  std::string first_error;  ///< first error of any kind, as text
  histogram latency;
  std::vector<series_point> series;
  std::vector<recovery> recoveries;
  std::uint64_t recoveries_not_listed = 0;
  std::vector<fault_event> faults;
  std::uint64_t faults_not_listed = 0;
  std::vector<watched_process> processes;

  /// Why the run failed; empty when it passed. Filled by evaluate().
  std::vector<std::string> failures;

  bool passed() const { return failures.empty(); }
};

/// Series longer than this are halved by merging neighbours (bounded memory for any run
/// length; a 24 h run keeps 2 s points).
inline constexpr std::size_t kMaxPoints = 4096;

/// Merges neighbouring points pairwise: sums for counts, max for latency percentiles and
/// process figures (a conservative view), mean for CPU.
void halve(std::vector<series_point>& s);
void halve(std::vector<proc_point>& s);

/// RSS growth (KiB) and fd growth of P: last minus baseline; nullopt without a baseline.
std::optional<std::int64_t> rss_growth(const watched_process& p);
std::optional<std::int64_t> fd_growth(const watched_process& p);

/// Fills R.failures from the totals, recoveries and bounds.
void evaluate(results& r);

std::string to_json(const results& r);
/// One self-contained HTML file: the JSON embedded, charts drawn by inline script as SVG,
/// no external resources.
std::string to_html(const results& r);
/// "vsock-soak: PASS ..." on one line.
std::string summary_line(const results& r);

/// "1.2 MB", "3.4 GB" (decimal units, as throughput figures usually are).
std::string human_bytes(double b);
/// "850 us", "12.3 ms", "1.42 s".
std::string human_us(double us);

}  // namespace vsock_soak
