// The test rig for one relay session (adbd_relay::run_session), in either USB role: the USB
// side is a SOCK_SEQPACKET socketpair (one send = one transfer, socket_usb_endpoint.hpp),
// the stream side a socketpair; the test plays both peers. Plus the ADB message builders
// the session tests share.
//
//   usb_role::device: usb_peer is the PC's adb, stream_peer the guest's adbd
//   usb_role::host:   usb_peer is the ADB device, stream_peer the adb server
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <vector>

#include "adb_protocol/protocol.hpp"
#include "adbd_relay/session.hpp"
#include "socket_usb_endpoint.hpp"

namespace adbd_relay::test {

using bytes = std::vector<std::byte>;
using seqpacket = asio::generic::seq_packet_protocol;

/// H's 24 wire bytes.
inline bytes header_only(adb_protocol::message_header h) {
  bytes out(adb_protocol::kHeaderSize);
  adb_protocol::encode(
      h, std::span<std::byte, adb_protocol::kHeaderSize>(out.data(), adb_protocol::kHeaderSize));
  return out;
}

/// A whole message: its header (checksum zero, as adb since version 0x01000001 sends) and
/// PAYLOAD.
inline bytes message(std::uint32_t cmd, std::uint32_t a0, std::uint32_t a1, const bytes& payload) {
  bytes out = header_only(adb_protocol::make_header(cmd, a0, a1, payload, false));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

/// MSG as USB transfers, cut at the offsets CUTS. Call it outside coroutines: GCC 12
/// cannot keep an initializer_list in a coroutine frame.
inline std::vector<bytes> split(const bytes& msg, std::initializer_list<std::ptrdiff_t> cuts) {
  std::vector<bytes> out;
  std::ptrdiff_t from = 0;
  for (auto c : cuts) {
    out.emplace_back(msg.begin() + from, msg.begin() + c);
    from = c;
  }
  out.emplace_back(msg.begin() + from, msg.end());
  return out;
}

struct session_rig {
  /// MAX_PACKET is the USB side's wMaxPacketSize. STREAM_TYPE SOCK_SEQPACKET keeps the
  /// relay's stream writes apart, so a test can see their sizes (the relay then must not
  /// read from the stream side).
  explicit session_rig(asio::io_context& io, std::size_t max_packet = 512,
                       int stream_type = SOCK_STREAM)
      : usb_peer(io), stream_peer(io), relay_stream(io), usb(make_usb(io, max_packet)) {
    int fds[2];
    if (::socketpair(AF_UNIX, stream_type, 0, fds) != 0) throw std::runtime_error("socketpair");
    const asio::generic::stream_protocol protocol(AF_UNIX, stream_type);
    stream_peer = vsocklib::stream_socket(io, protocol, fds[0]);
    relay_stream = vsocklib::stream_socket(io, protocol, fds[1]);
  }

  seqpacket::socket usb_peer;
  vsocklib::stream_socket stream_peer;
  vsocklib::stream_socket relay_stream;
  socket_usb_endpoint usb;
  session_stats stats;

 private:
  socket_usb_endpoint make_usb(asio::io_context& io, std::size_t max_packet) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) != 0) throw std::runtime_error("socketpair");
    usb_peer = seqpacket::socket(io, seqpacket(AF_UNIX, SOCK_SEQPACKET), fds[0]);
    return socket_usb_endpoint(seqpacket::socket(io, seqpacket(AF_UNIX, SOCK_SEQPACKET), fds[1]),
                               max_packet);
  }
};

}  // namespace adbd_relay::test
