// Runs a shell command without blocking the event loop: fault commands and the reconnect
// hook. Private to vsock-soak.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <set>
#include <string>

#include "vsocklib/asio.hpp"

namespace vsock_soak::detail {

struct command_result {
  int exit_status = -1;  ///< exit code; -N when killed by signal N
  bool timed_out = false;
  std::chrono::milliseconds took{0};
  std::string describe() const;
};

/// Runs `/bin/sh -c COMMAND` in its own process group, stdin from /dev/null and stdout on
/// our stderr (stdout carries the progress line). After TIMEOUT the group is killed.
/// RUNNING holds the pids of commands in progress, so a stopping run can kill them.
/// Throws std::system_error when the shell cannot be started.
vsocklib::asio::awaitable<command_result> async_run_command(const std::string& command,
                                                            std::chrono::milliseconds timeout,
                                                            std::set<pid_t>& running);

}  // namespace vsock_soak::detail
