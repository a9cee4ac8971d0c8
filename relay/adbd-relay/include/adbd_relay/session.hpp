// One ADB session bridged between USB transfers and a byte stream, in either role:
//
//  usb_role::device (gadget mode): the PC's adb is the USB host; the stream goes to the
//    guest's adbd (vsock).
//  usb_role::host (host mode): an ADB device is on USB and the relay is its host; the
//    stream comes from an adb server (`adb connect`).
//
// ADB over USB has framing rules a byte stream does not (see docs/adbd-relay.md):
//  - a message's 24-byte header is its own transfer; the payload follows as transfers that
//    are whole wMaxPacketSize multiples except the last, adding up to exactly data_length;
//    never two messages in one transfer;
//  - devices never send a zero-length packet; the host sends one after a payload that is a
//    multiple of wMaxPacketSize (the device reads without knowing the size, and only a
//    short packet ends its transfer: AOSP adb's should_perform_zero_transfer). A
//    zero-length packet read from USB is skipped.
// Every header is validated both ways (magic, command, data_length against the negotiated
// maximum); a bad one ends the session with a message that says what was wrong. STLS is
// refused both ways: adb over USB has no TLS, and the relay cannot frame a TLS stream.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adbd_relay/usb_endpoint.hpp"

namespace spdlog {
class logger;
}

namespace adbd_relay {

/// Which end of the USB link the relay is.
enum class usb_role { device, host };

struct session_options {
  /// Largest write into the stream (the guest's vsock connection, or an adb server's):
  /// 4 KiB keeps every vsock packet the guest's kernel builds an order-0 allocation.
  /// A header rides in the same write as its payload's first bytes.
  std::size_t chunk_size = 4096;
  /// Largest USB transfer, independent of chunk_size: a multiple of 512, so of every
  /// wMaxPacketSize (64, 512, 1024), and every piece but a payload's last is a whole
  /// number of packets. Fewer, larger transfers cost fewer completions per byte; 16 KiB
  /// is what AOSP's adbd queues.
  std::size_t usb_transfer_size = 16384;
  /// USB transfers kept queued per direction (gadget mode, FunctionFS AIO). One leaves the
  /// UDC idle between a transfer's completion and the next submission; adbd keeps several.
  std::size_t usb_transfers_in_flight = 8;
  /// Device role: how long bytes queued towards the PC may wait with none taken before the
  /// session ends as session_end::pc_not_reading (0: never). A live adb reads at once (its
  /// flow control is per stream, by OKAY), so waiting means its server died or hangs; a new
  /// server would otherwise read the old session's queued bytes, give up, and never get
  /// its CNXN through.
  std::chrono::milliseconds pc_read_timeout{5000};
};

enum class session_end {
  usb_failed,       ///< a USB transfer failed (unplug, DISABLE, reset, stall): see error
  stream_failed,    ///< the stream closed or failed (adbd restart, adb server gone): see error
  usb_protocol,     ///< the USB peer sent something that is not ADB framing: see detail
  stream_protocol,  ///< the stream peer sent something that is not ADB framing: see detail
  /// Device role: the PC sent a new CNXN after the session had carried traffic (its adb
  /// server restarted, or another client took the device). The old session's bytes still
  /// queued towards the PC must not reach it, so the session ends and the CNXN, in
  /// session_stats::next_session, starts the next one on a new guest connection.
  pc_new_session,
  /// Device role: bytes queued towards the PC waited pc_read_timeout with none taken.
  pc_not_reading,
  cancelled,
};

/// Says who failed in ROLE's words ("protocol error from the guest", "USB device failed").
const char* to_string(session_end e, usb_role role) noexcept;
bool is_protocol_error(session_end e) noexcept;

struct session_stats {
  std::uint64_t usb_to_stream_bytes = 0;  ///< headers and payloads, as written
  std::uint64_t stream_to_usb_bytes = 0;
  std::uint64_t usb_to_stream_messages = 0;
  std::uint64_t stream_to_usb_messages = 0;
  std::uint64_t zero_length_packets = 0;  ///< sent (host role) after whole-packet payloads
  /// The payload limit both sides agreed on in CNXN (4096 until they have).
  std::uint32_t max_payload = 0;
  std::chrono::steady_clock::duration duration{};
  session_end reason = session_end::cancelled;
  error_code error;
  std::string detail;  ///< for protocol errors: what was wrong, with the values
  /// With pc_new_session: the PC's CNXN (header and payload), for the next session.
  std::vector<std::byte> next_session;
  /// With pc_new_session: bytes of a CNXN attempt the PC abandoned for another, dropped
  /// (see collect_pc_cnxn in session.cpp).
  std::uint64_t pc_bytes_dropped = 0;
};

/// Tells a USB peer that stopped reading from a slow one, from samples of its progress:
/// stalled once bytes have been queued for LIMIT with none taken meanwhile. The time runs
/// from the first sample that saw bytes waiting, so it errs towards waiting longer.
class read_stall_watch {
 public:
  using clock = std::chrono::steady_clock;
  explicit read_stall_watch(clock::duration limit) : limit_(limit) {}
  bool stalled(write_progress p, clock::time_point now);

 private:
  clock::duration limit_;
  std::optional<clock::time_point> since_;  // bytes waiting, nothing taken since
  std::uint64_t taken_ = 0;
};

/// Bridges USB and STREAM until either side ends or fails, keeping STATS current as it goes
/// (a status query may read it meanwhile). Memory: 2 x usb_transfer_size buffers. Runs on the
/// awaiting coroutine's executor (one strand); cancelling it ends the session promptly (it
/// cancels USB and the stream and waits for their pending operations, so both may be
/// released when it returns). FIRST, when not empty, is a previous session's next_session:
/// a whole message from the USB peer, written to the stream before anything else.
asio::awaitable<void> run_session(usb_endpoint& usb, vsocklib::stream_socket& stream, usb_role role,
                                  session_options opt, std::shared_ptr<spdlog::logger> log,
                                  session_stats& stats, std::vector<std::byte> first = {});

}  // namespace adbd_relay
