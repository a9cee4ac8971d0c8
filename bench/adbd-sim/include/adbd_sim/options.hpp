// adbd-sim's command line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "adb_protocol/protocol.hpp"
#include "vsocklib/address.hpp"
#include "vsocklib/args.hpp"
#include "vsocklib/listener.hpp"

namespace adbd_sim {

struct options {
  /// Where to listen; default vsock:any:5555, adbd's own port.
  std::vector<vsocklib::address> listen;
  /// sync: files and the shell's working directory; empty: a new temporary directory,
  /// removed at exit.
  std::string root;
  bool auth = false;
  std::uint32_t max_payload = adb_protocol::kMaxPayload;
  unsigned max_streams = 32;
  bool delayed_ack = true;  ///< advertise delayed_ack (--no-delayed-ack turns it off)
  /// A compressed push may expand to this many times its compressed size + 64 MiB; 0: no limit.
  std::uint32_t max_expansion = 1024;
  unsigned max_connections = 16;
  /// One-thread io_contexts; connections are spread over them round-robin.
  unsigned threads = 1;
  vsocklib::peer_policy policy;
  std::string log_level = "info";
};

/// Thrown by parse_command_line; what() says what is wrong.
using usage_error = vsocklib::usage_error;

struct command_line {
  enum class action { run, help, version } what = action::run;
  options opt;
};

/// Parses ARGV. Throws usage_error naming the bad option or value.
command_line parse_command_line(int argc, const char* const* argv);

/// The --help text.
extern const char* const kUsage;

}  // namespace adbd_sim
