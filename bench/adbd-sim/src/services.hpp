// The services behind OPEN: shell:, exec:, sync:, sink:N, source:N, tcp:. Private to adbd-sim.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "adb_stream.hpp"
#include "adbd_sim/connection.hpp"

namespace adbd_sim::detail {

enum class service_kind { shell, sync, sink, source, tcp };

struct service_request {
  service_kind kind = service_kind::shell;
  std::string command;      ///< shell: the command line ("" = read commands from the stream)
  std::uint64_t count = 0;  ///< sink, source: bytes
  std::string host;         ///< tcp: where to connect (127.0.0.1 when not given)
  std::uint16_t port = 0;   ///< tcp
};

/// Parses an OPEN destination (without its NUL). nullopt, with WHY filled in, for services
/// adbd-sim does not offer; the connection then refuses the OPEN with CLSE.
std::optional<service_request> parse_service(std::string_view name, std::string& why);

/// Runs one service on S until it is done or S closes, then closes S.
asio::awaitable<void> run_service(std::shared_ptr<adb_stream> s, service_request req,
                                  const connection_config& cfg);

/// shell:CMD — /bin/sh -c CMD with stdin, stdout and stderr on the stream (raw, no pty).
asio::awaitable<void> run_shell(adb_stream& s, const std::string& command, const rooted_fs& files);

/// tcp:PORT, tcp:HOST:PORT — connects to HOST:PORT from the device and bridges the stream
/// to it, as adbd does for `adb forward tcp:X tcp:PORT`.
asio::awaitable<void> run_tcp(adb_stream& s, const std::string& host, std::uint16_t port);

/// sync: — STAT, LIST, SEND, RECV, QUIT of adb's file sync protocol (version 1).
asio::awaitable<void> run_sync(adb_stream& s, const rooted_fs& files);

}  // namespace adbd_sim::detail
