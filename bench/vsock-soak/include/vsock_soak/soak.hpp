// vsock-soak's two roles: `run` drives verified traffic through a path and injects faults;
// `serve` is the far end that verifies and echoes. See docs/vsock-soak.md.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vsock_soak/frame.hpp"
#include "vsock_soak/results.hpp"
#include "vsocklib/address.hpp"
#include "vsocklib/listener.hpp"

namespace spdlog {
class logger;
}

namespace vsock_soak {

using std::chrono::milliseconds;

/// A fault that runs a command on a schedule (--restart-cmd, --flap-cmd).
struct command_fault {
  std::string command;
  milliseconds every{0};  ///< 0: never
};

enum class progress_mode { automatic, tty, lines, quiet };

struct run_options {
  vsocklib::address target;
  unsigned streams = 4;
  size_mix sizes;
  milliseconds duration{60'000};
  std::uint64_t seed = 1;
  /// Messages in flight per stream (sent, echo not yet verified).
  unsigned window = 4;

  command_fault restart;        ///< restarts the far peer
  command_fault flap;           ///< e.g. takes an interface down and up
  milliseconds drop_every{0};   ///< close one stream's connection from this side
  milliseconds pause_every{0};  ///< stop reading one stream for pause_for
  milliseconds pause_for{2000};
  /// The small-packets fault: one stream stops reading its echoes for small_burst_for
  /// while it keeps up to small_burst_window messages of small_burst_sizes in flight, so
  /// the far side's echoes queue as many small writes behind a reader that paused (since
  /// Linux 6.12.92 a vsock receiver resets a stream whose queued packets cost more than
  /// its window).
  milliseconds small_burst_every{0};
  milliseconds small_burst_for{3000};
  unsigned small_burst_window = 1024;
  size_mix small_burst_sizes{1, 600, {}};

  /// Run before reconnecting after a break (one run at a time, shared by all streams),
  /// e.g. "adb -s SERIAL wait-for-device forward tcp:X tcp:Y".
  std::string reconnect_hook;
  milliseconds command_timeout{60'000};  ///< bound on each fault command and hook run
  milliseconds connect_timeout{3000};    ///< each connect attempt, hello included

  std::vector<pid_t> watch_pids;
  std::vector<std::string> watch_names;
  milliseconds warmup{10'000};  ///< drift is measured from the first sample after this
  /// Growth = peak in the last window minus peak in the first window after the warm-up.
  milliseconds drift_window{10'000};
  std::optional<std::int64_t> max_rss_growth_kib;
  std::optional<std::int64_t> max_fd_growth;

  milliseconds recovery_bound{2000};
  /// No verified echo for this long while messages are in flight (and the stream is not
  /// paused on purpose): the connection is counted as stalled and re-established.
  milliseconds stall_timeout{10'000};
  /// After --duration, how long outstanding echoes may take to come back.
  milliseconds drain_timeout{10'000};

  std::string json_path;
  std::string html_path;
  progress_mode progress = progress_mode::automatic;
  std::string version = "unknown";
};

/// Runs a soak and returns what it found (results::failures filled by evaluate()).
/// Progress goes to stdout, logs to the logger. Start-up errors throw.
results run_soak(const run_options& opt, std::shared_ptr<spdlog::logger> log);

struct serve_options {
  std::vector<vsocklib::address> listen;
  vsocklib::peer_policy policy;
  unsigned max_connections = 256;
  /// Test hook: flip one byte of the echo of STREAM at payload OFFSET (once per process),
  /// to prove that the client reports corruption where it happened.
  std::optional<std::pair<std::uint32_t, std::uint64_t>> inject_corruption;
};

/// Serves until SIGINT/SIGTERM. Listener set-up errors throw.
void serve(const serve_options& opt, std::shared_ptr<spdlog::logger> log);

/// "10m", "20s", "500ms", "1h", or plain seconds ("90"). Throws std::invalid_argument.
milliseconds parse_duration(const std::string& text);

}  // namespace vsock_soak
