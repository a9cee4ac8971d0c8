// adbd-relay's command line: the options, the configuration file they name, and what the
// user asked for. Kept out of main so tests reach every option and every error.
#pragma once

#include <string>
#include <string_view>

#include "adbd_relay/config.hpp"
#include "vsocklib/args.hpp"

namespace adbd_relay {

/// A usage or configuration error (exit status 2); what() names the option and the bad text
/// ("--host-allow-cid: ..."), or the file and line of a configuration error.
using usage_error = vsocklib::usage_error;

struct command_line {
  enum class action { run, status, check, remove_gadgets, help, version };
  action what = action::run;
  /// The configuration files (-c) with the command line's guests and hosts after theirs,
  /// and its --log-level, --control and --user over theirs.
  config cfg;
  /// The socket --status asks: its own value, else cfg.control_socket.
  std::string status_path;
};

/// Parses ARGV (argv[0] is the program), reading each -c file as it comes. -h/--help and
/// --version end parsing where they stand. Throws usage_error; never prints or exits.
command_line parse_command_line(int argc, const char* const* argv);

/// The --help text.
std::string_view usage_text();

}  // namespace adbd_relay
