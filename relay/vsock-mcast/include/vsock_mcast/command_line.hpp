// vsock-mcast's command line: which subcommand, and for host and guest the configuration the
// files and the options give together. Nothing here prints or exits, so tests can check
// every outcome; main.cpp does the printing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "vsock_mcast/config.hpp"
#include "vsocklib/args.hpp"

namespace vsock_mcast {

/// A usage or configuration error (exit status 2). what() names the option or "FILE:LINE"
/// and the text that is wrong.
/// usage_error::command() is the subcommand whose --help the message points to ("host",
/// "guest"), or empty for the program's own --help.
using usage_error = vsocklib::usage_error;

struct command_line {
  enum class action {
    help,     ///< print usage_text(command)
    version,  ///< print the version
    status,   ///< print the status of the first of status_paths that answers
    check,    ///< print check_report() of the host or guest configuration
    run,      ///< run the host or guest endpoint
  };
  action what = action::help;
  /// "host", "guest", "status", or empty (the program itself: --help, --version).
  std::string command;
  host_config host;    ///< command "host": the configuration files, then the options
  guest_config guest;  ///< command "guest": likewise
  std::vector<std::string> status_paths;
};

/// Parses ARGV (argv[1] is the subcommand), reading the configuration files it names.
/// Throws usage_error.
command_line parse_command_line(int argc, const char* const* argv);

/// The --help text of COMMAND ("", "host", "guest" or "status").
const char* usage_text(std::string_view command);

/// What --check prints for a valid configuration (one line, with its newline).
std::string check_report(const host_config& cfg);
std::string check_report(const guest_config& cfg);

}  // namespace vsock_mcast
