// One ADB session bridged between a USB function and the guest adbd's vsock stream.
//
// ADB over USB has framing rules a byte stream does not (see docs/adbd-relay.md):
//  device -> PC: the 24-byte header is its own transfer; the payload follows as transfers
//    that are multiples of wMaxPacketSize except the last, adding up to exactly
//    data_length; never a zero-length packet; never two messages in one transfer.
//  PC -> device: the header arrives as its own 24-byte transfer, the payload in transfers
//    after it; a zero-length packet follows payloads that are a multiple of wMaxPacketSize.
// Every header is validated (magic, command, data_length against the negotiated maximum);
// a bad one ends the session with a message that says what was wrong.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "usb_endpoint.hpp"

namespace spdlog {
class logger;
}

namespace adbd_relay {

struct session_options {
  /// Largest USB transfer and vsock read. 4 KiB is a multiple of every wMaxPacketSize
  /// (64, 512, 1024), so every piece but a payload's last is a whole number of packets.
  std::size_t chunk_size = 4096;
  /// USB transfers kept queued per direction (FunctionFS AIO). One leaves the UDC idle
  /// between a transfer's completion and the next submission; adbd keeps several.
  std::size_t usb_transfers_in_flight = 8;
};

enum class session_end {
  usb_failed,      ///< a USB transfer failed (unplug, DISABLE, reset): see error
  vsock_failed,    ///< the guest side closed or failed (adbd restart, reboot): see error
  usb_protocol,    ///< the PC sent something that is not ADB framing: see detail
  vsock_protocol,  ///< the guest sent something that is not ADB framing: see detail
  cancelled,
};

const char* to_string(session_end e) noexcept;

struct session_stats {
  std::uint64_t usb_to_vsock_bytes = 0;
  std::uint64_t vsock_to_usb_bytes = 0;
  std::uint64_t usb_to_vsock_messages = 0;
  std::uint64_t vsock_to_usb_messages = 0;
  /// The payload limit both sides agreed on in CNXN (4096 until they have).
  std::uint32_t max_payload = 0;
  std::chrono::steady_clock::duration duration{};
  session_end reason = session_end::cancelled;
  error_code error;
  std::string detail;  ///< for protocol errors: what was wrong, with the values
};

/// Bridges USB and VSOCK until either side ends or fails, keeping STATS current as it goes
/// (a status query may read it meanwhile). Memory: 2 x chunk_size buffers. Runs on the
/// awaiting coroutine's executor (one strand); cancelling it ends the session promptly.
asio::awaitable<void> run_session(usb_endpoint& usb, vsocklib::stream_socket& vsock,
                                  session_options opt, std::shared_ptr<spdlog::logger> log,
                                  session_stats& stats);

}  // namespace adbd_relay
