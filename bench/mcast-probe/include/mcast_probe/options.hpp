// mcast-probe's command line: a command (send, recv, echo, ping) and its options.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <string>

#include "vsocklib/args.hpp"

namespace mcast_probe {

/// Thrown by parse_command_line; what() names the option and the text.
using usage_error = vsocklib::usage_error;

struct send_options {
  sockaddr_in group{};  ///< G:PORT, multicast or unicast
  int ttl = 1;          ///< what discovery stacks send
  int tos = 0;
  std::uint64_t count = 10;
  std::uint64_t size = 64;              ///< UDP payload bytes, at least kHeader + text
  std::uint64_t rate = 0;               ///< datagrams/s; 0: as fast as possible
  std::string interface;                ///< outgoing interface, or empty
  std::optional<in_addr> source;        ///< source address (excludes interface)
  std::uint16_t port_from = 0;          ///< source port; 0: any
  std::optional<std::uint32_t> run_id;  ///< nullopt: a random one
  std::string text;
  bool loop = true;  ///< IP_MULTICAST_LOOP
  bool json = false;
};

/// What every received datagram must show (recv --expect-*); unset members are not checked.
struct expectation {
  std::optional<int> ttl, tos;
  std::optional<sockaddr_in> source;
  bool source_port = false;  ///< --expect-source named a port too
};

struct recv_options {
  sockaddr_in group{};
  std::string interface;  ///< where to join; empty: the route's choice
  /// Datagrams expected: stop once this many distinct ones arrived. 0: none may arrive;
  /// nullopt: at least one must.
  std::optional<std::uint64_t> count;
  std::optional<std::uint32_t> run_id;  ///< nullopt: the first run seen
  double timeout = 10;
  double idle = 0;      ///< stop this long after the last datagram; 0: off
  double linger = 0.3;  ///< keep counting after count is reached, to catch duplicates
  expectation expect;
  bool each = false;
  bool json = false;
};

struct echo_options {
  std::uint16_t port = 0;
  in_addr bind{htonl(INADDR_ANY)};
  std::optional<std::uint64_t> count;
  double timeout = 30;
};

struct ping_options {
  sockaddr_in to{};
  std::optional<in_addr> source;
  in_addr expect_source{};  ///< the replies' source; defaults to the address of to
  std::uint64_t count = 3;
  double wait = 1;  ///< seconds per reply
  bool json = false;
};

struct command_line {
  enum class action { help, version, send, recv, echo, ping } what = action::help;
  send_options send;  ///< filled for action::send
  recv_options recv;  ///< filled for action::recv
  echo_options echo;  ///< filled for action::echo
  ping_options ping;  ///< filled for action::ping
};

/// Parses ARGV (argv[0] is the program's name; "--name=value" works as "--name value").
/// Never prints or exits: help (-h/--help/help as the command, or -h/--help anywhere after
/// it) and --version come back as the action, anything wrong as usage_error.
command_line parse_command_line(int argc, const char* const* argv);

/// The --help text.
extern const char* const kUsage;

}  // namespace mcast_probe
