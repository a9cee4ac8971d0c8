// Samples a process under test from /proc: resident memory, open file descriptors,
// threads and CPU time. Parsing is split from reading so tests can feed it text.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vsock_soak {

struct proc_sample {
  std::uint64_t rss_kib = 0;    ///< VmRSS
  std::uint64_t fds = 0;        ///< entries of /proc/PID/fd
  std::uint64_t threads = 0;    ///< Threads
  std::uint64_t cpu_ticks = 0;  ///< utime + stime, in clock ticks (sysconf(_SC_CLK_TCK))
};

/// VmRSS (KiB) and Threads from /proc/PID/status text; nullopt when either is missing
/// (a zombie has no VmRSS).
std::optional<proc_sample> parse_status(std::string_view status);

/// utime + stime from /proc/PID/stat text. The command name (field 2) is in parentheses
/// and may itself hold spaces and ')', so fields are counted after the last ')'.
std::optional<std::uint64_t> parse_stat_cpu(std::string_view stat);

/// Reads all of the above for PID; nullopt when the process is gone or unreadable.
std::optional<proc_sample> sample_process(pid_t pid);

/// The first process whose /proc/PID/comm equals NAME (the kernel truncates comm to 15
/// characters; NAME is compared truncated the same way), skipping EXCLUDE; nullopt if none.
std::optional<pid_t> find_process(const std::string& name, pid_t exclude = 0);

}  // namespace vsock_soak
