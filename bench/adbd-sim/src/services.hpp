// The services behind OPEN: shell:, exec:, sync:, sink:N, source:N, tcp:, abb:, abb_exec:.
// Private to adbd-sim.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "adb_stream.hpp"
#include "adbd_sim/connection.hpp"

namespace adbd_sim::detail {

enum class service_kind { shell, sync, sink, source, tcp, abb };

struct service_request {
  service_kind kind = service_kind::shell;
  std::string command;            ///< shell: the command line ("" = read commands from the stream)
  bool shell_v2 = false;          ///< shell, abb: the shell protocol's packets (shell,v2: and abb:)
  std::vector<std::string> args;  ///< abb, abb_exec: the arguments (NUL-separated on the wire)
  std::uint64_t count = 0;        ///< sink, source: bytes
  std::string host;               ///< tcp: where to connect (127.0.0.1 when not given)
  std::uint16_t port = 0;         ///< tcp
};

/// Parses an OPEN destination (without its NUL). nullopt, with WHY filled in, for services
/// adbd-sim does not offer; the connection then refuses the OPEN with CLSE.
std::optional<service_request> parse_service(std::string_view name, std::string& why);

/// Runs one service on S until it is done or S closes, then closes S.
asio::awaitable<void> run_service(std::shared_ptr<adb_stream> s, service_request req,
                                  const connection_config& cfg);

/// shell:CMD — /bin/sh -c CMD with stdin, stdout and stderr on the stream (raw, no pty).
asio::awaitable<void> run_shell(adb_stream& s, const std::string& command, const rooted_fs& files);

/// shell,v2:CMD — the same command, with stdin, stdout, stderr, the exit status and
/// close-stdin as shell protocol packets (no pty either).
asio::awaitable<void> run_shell_v2(adb_stream& s, const std::string& command,
                                   const rooted_fs& files);

/// The shell protocol (feature shell_v2): each packet is an id byte, a 32-bit little-endian
/// length and that many bytes.
namespace shell_packet {
inline constexpr std::uint8_t kStdin = 0;
inline constexpr std::uint8_t kStdout = 1;
inline constexpr std::uint8_t kStderr = 2;
inline constexpr std::uint8_t kExit = 3;        ///< one byte: the exit status
inline constexpr std::uint8_t kCloseStdin = 4;  ///< the host's stdin ended
inline constexpr std::uint8_t kWindowSize = 5;  ///< "rows cols xpixels ypixels" (pty only)
inline constexpr std::size_t kHeaderSize = 5;
}  // namespace shell_packet

/// Sends DATA as shell protocol packets of type ID, each in one WRTE (split when DATA would
/// not fit one). False when the stream is closed.
asio::awaitable<bool> send_shell_packet(adb_stream& s, std::uint8_t id,
                                        std::span<const std::byte> data);

/// abb:ARGS (shell protocol, with an exit status) and abb_exec:ARGS (raw): a simulated
/// Android Binder Bridge answering a few fixed `cmd`-style commands; see docs/adbd-sim.md.
asio::awaitable<void> run_abb(adb_stream& s, const std::vector<std::string>& args, bool shell_v2);

/// tcp:PORT, tcp:HOST:PORT — connects to HOST:PORT from the device and bridges the stream
/// to it, as adbd does for `adb forward tcp:X tcp:PORT`.
asio::awaitable<void> run_tcp(adb_stream& s, const std::string& host, std::uint16_t port);

/// sync: — adb's file sync protocol: v1 (STAT LIST SEND RECV QUIT) and v2 (STA2 LST2 LIS2
/// SND2 RCV2, with brotli, lz4 or zstd compression). CFG: the decompression bomb limit.
asio::awaitable<void> run_sync(adb_stream& s, const rooted_fs& files, const connection_config& cfg);

}  // namespace adbd_sim::detail
