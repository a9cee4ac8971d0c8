// vsock-pipe's command line.
#pragma once

#include <chrono>
#include <string>

#include "vsocklib/args.hpp"
#include "vsocklib/connect.hpp"
#include "vsocklib/listener.hpp"
#include "vsocklib/pump.hpp"

namespace vsock_pipe {

struct options {
  /// LEFT without its "listen:" prefix, and RIGHT, as given; parsed by make_plan.
  std::string left, right;
  bool listen = false;  ///< LEFT was listen:ADDRESS
  bool stdio = false;   ///< RIGHT is "-"
  bool once = false;
  bool retry = false;
  unsigned max_connections = 64;
  /// Sizes and linger from the command line; make_plan fills in the per-side settings.
  vsocklib::pump_options pump;
  std::chrono::milliseconds connect_timeout = vsocklib::kDefaultConnectTimeout;
  vsocklib::peer_policy policy;
  std::string log_level = "info";
  /// "auto", "pass" or "linger" (checked by parse_command_line).
  std::string half_close = "auto";
};

/// Thrown by parse_command_line and make_plan; what() says what is wrong.
using usage_error = vsocklib::usage_error;

struct command_line {
  enum class action { run, help, version } what = action::run;
  options opt;
};

/// Parses ARGV (argv[0] is the program's name; "--name=value" works as "--name value").
/// Never prints or exits: -h/--help and --version come back as the action, anything wrong
/// as usage_error naming the option and the text it rejected.
command_line parse_command_line(int argc, const char* const* argv);

/// The --help text.
extern const char* const kUsage;

}  // namespace vsock_pipe
