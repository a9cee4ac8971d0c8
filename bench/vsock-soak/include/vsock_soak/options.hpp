// vsock-soak's command line: `run` or `serve`, their options, and --config files.
#pragma once

#include <string>
#include <vector>

#include "vsock_soak/soak.hpp"
#include "vsocklib/args.hpp"

namespace vsock_soak {

/// Thrown by parse_command_line and read_config; what() names the option and the text.
using usage_error = vsocklib::usage_error;

struct command_line {
  enum class action { run, serve, help, version } what = action::help;
  run_options run;      ///< filled for action::run
  serve_options serve;  ///< filled for action::serve
  std::string log_level = "info";
};

/// Parses ARGV (argv[0] is the program's name; "--name=value" works as "--name value"):
/// the command, then its options, with those of a --config file placed before the command
/// line's own so that these win. Never prints or exits: -h/--help and --version come back
/// as the action, anything wrong as usage_error. run.version is left for the caller.
command_line parse_command_line(int argc, const char* const* argv);

/// The "name value" lines of the --config file PATH as arguments ("--name", "value");
/// blank lines and "#" comments are skipped. Throws usage_error when PATH cannot be read.
std::vector<std::string> read_config(const std::string& path);

/// The --help text.
extern const char* const kUsage;

}  // namespace vsock_soak
