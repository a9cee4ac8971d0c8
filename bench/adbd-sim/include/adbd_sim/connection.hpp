// One ADB connection as the device sees it: CNXN (and optionally AUTH) handshake, the
// stream table with per-stream flow control, and the services behind OPEN.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "adb_protocol/protocol.hpp"
#include "vsocklib/asio.hpp"

namespace spdlog {
class logger;
}

namespace adbd_sim {

class rooted_fs;

/// The features adbd-sim advertises in its banner: only what it implements. shell_v2: the
/// shell protocol (shell,v2: and abb:). cmd: makes adb install stream the APK, which it
/// then does through abb_exec (there is no cmd binary in the shell). stat_v2, ls_v2: STA2/LST2 and
/// LIS2/DNT2 in sync:. fixed_push_mkdir: SEND creates missing parent directories. abb, abb_exec: a
/// simulated binder bridge. sendrecv_v2: SND2/RCV2; sendrecv_v2_brotli, _lz4, _zstd: their data
/// compressed (decoded on push, encoded on pull; see sync_codec.hpp); sendrecv_v2_dry_run_send:
/// SND2's dry-run flag.
inline constexpr const char* kFeatures =
    "shell_v2,cmd,stat_v2,ls_v2,fixed_push_mkdir,abb,abb_exec,sendrecv_v2,sendrecv_v2_brotli,"
    "sendrecv_v2_lz4,sendrecv_v2_zstd,sendrecv_v2_dry_run_send";

/// The CNXN banner: "device::ro.product.name=adbd-sim;...;features=<kFeatures>", with
/// ",delayed_ack" appended when DELAYED_ACK.
std::string device_banner(bool delayed_ack = true);

struct connection_config {
  /// Where sync: reads and writes files, and the shell's working directory. Required.
  std::shared_ptr<const rooted_fs> files;
  /// Require AUTH: send a token, answer every signature with a new token (adbd-sim cannot
  /// verify RSA signatures), and accept the host's public key as a user tapping "Allow"
  /// would. The full unknown-key flow of a real device.
  bool auth = false;
  /// The largest payload adbd-sim accepts and sends; the session uses min(this, host's).
  std::uint32_t max_payload = adb_protocol::kMaxPayload;
  /// Open streams per connection; further OPENs are refused with CLSE.
  unsigned max_streams = 32;
  std::shared_ptr<spdlog::logger> log;
  /// Advertise delayed_ack, as a current adbd does: when the host advertises it too, OPEN
  /// and OKAY carry windows and several WRTEs may be in flight per stream.
  bool delayed_ack = true;
  /// Decompression bomb limit for compressed pushes (SND2 with brotli, lz4 or zstd): the
  /// decompressed size may exceed the compressed size at most MAX_EXPANSION times plus
  /// EXPANSION_ALLOWANCE bytes; beyond that the push is cut off with FAIL, logged and
  /// counted (sync_statistics().bombs_cut_off). 0: no limit.
  std::uint32_t max_expansion = 1024;
  std::uint64_t expansion_allowance = std::uint64_t{64} << 20;
};

/// How a connection ended.
struct connection_summary {
  bool online = false;            ///< the handshake completed at least once
  bool protocol_error = false;    ///< the peer sent something invalid; we reset the connection
  std::string reason;             ///< "peer closed", "read: Connection reset by peer", or the error
  std::uint32_t version = 0;      ///< negotiated protocol version
  std::uint32_t max_payload = 0;  ///< negotiated maximum payload
  std::uint64_t messages_in = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t streams_opened = 0;
  std::uint64_t streams_refused = 0;
};

/// Serves one connection until the peer closes it, an I/O error, or a protocol error (which
/// resets only this connection, logged with what was wrong). Returns after every service of
/// the connection has finished (shell children are reaped). Must run on a single-threaded
/// executor (a one-thread io_context or a strand); the connection's services run there too.
///
/// Memory bound (see docs/adbd-sim.md): 64 KiB read buffer + per open stream at most
/// 2 x max_payload (one WRTE received, one being sent), 4 x max_payload with delayed_ack
/// (a ring of our grant + one WRTE, two output buffers), + 32 KiB for a shell v2 stream,
/// + a queue of at most 4 x max_streams + 64 headers.
vsocklib::asio::awaitable<connection_summary> async_serve_connection(vsocklib::stream_socket socket,
                                                                     connection_config config,
                                                                     std::string peer);

}  // namespace adbd_sim
