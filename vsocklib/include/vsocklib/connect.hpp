// One connect attempt to any address, bounded by a deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>
#include <tuple>

#include "vsocklib/address.hpp"
#include "vsocklib/asio.hpp"

namespace vsocklib {

/// Default bound on one connect attempt, handshake included.
inline constexpr std::chrono::milliseconds kDefaultConnectTimeout{5000};

/// Connects to a stream address (vsock, hvsock, unix, tcp). For hvsock the handshake is done
/// before this completes, and the socket carries the guest port's byte stream. Errors:
/// errc::connect_timeout when TIMEOUT passes, errc::wrong_transport for vsock-seqpacket,
/// errc::hvsock_* for handshake failures, errc::listener_queue_full when a Unix listener's
/// accept queue stayed full until TIMEOUT (until then the attempt waits for room, as a
/// blocking connect would), otherwise the system's error.
/// Runs on the calling coroutine's executor.
asio::awaitable<std::tuple<error_code, stream_socket>> async_connect(
    const address& to, std::chrono::milliseconds timeout = kDefaultConnectTimeout);

/// Connects to a vsock-seqpacket address; errc::wrong_transport for any other kind.
asio::awaitable<std::tuple<error_code, seqpacket_socket>> async_connect_seqpacket(
    const address& to, std::chrono::milliseconds timeout = kDefaultConnectTimeout);

/// The hybrid vsock handshake on an already connected Unix stream: writes "CONNECT PORT\n"
/// and reads exactly one answer line (never past its newline, so no guest bytes are
/// consumed). On success HOST_PORT holds the number the multiplexer answered, which is not
/// always the requested port. No deadline of its own: async_connect bounds it.
asio::awaitable<error_code> async_hvsock_handshake(stream_socket& s, std::uint32_t port,
                                                   std::uint32_t& host_port);

/// The multiplexer's answer LINE to "CONNECT PORT" (without its newline), read leniently:
/// "OK", blanks, a decimal number; a trailing '\r' or text is tolerated. On success
/// HOST_PORT is that number, or 0 when there is none. errc::hvsock_refused when LINE does
/// not start with "OK". Pure: what async_hvsock_handshake uses, and what the fuzzer feeds.
error_code parse_hvsock_reply(std::string_view line, std::uint32_t& host_port);

}  // namespace vsocklib
