// Reads and writes on a stream socket that complete at once when the socket is ready.
//
// Asio performs a read or write that can be done now inside async_*_some, but delivers its
// completion through the scheduler: the coroutine resumes only after one more pass of the
// event loop, which on Linux is one more epoll_wait. A pump that writes into vsock makes a
// write per 4 KiB chunk, so that pass doubled its system calls (docs/benchmarks.md). These
// try the system call first (MSG_DONTWAIT) and go on in the calling coroutine when it moved
// bytes; only a socket that is not ready waits, through the reactor, as Asio's own
// operations do.
//
// Each call is one sendmsg or recvmsg of at most the pieces given, so a caller that bounds
// its writes (vsock: address::kBoundedWrite) keeps its bound. One coroutine per direction
// of a socket; not for sockets used from several threads.
#pragma once

#include <cstddef>
#include <span>
#include <tuple>

#include "vsocklib/asio.hpp"

namespace vsocklib {

namespace detail {
/// The most pieces one call takes (the rest of a longer list waits for the next call).
inline constexpr std::size_t kMaxPieces = 128;
// One sendmsg / recvmsg with MSG_DONTWAIT of the pieces (empty pieces allowed). Returns
// the bytes moved; EC is set on failure, would_block when the socket is not ready, and
// eof when a read found the end of the stream.
std::size_t send_now(int fd, std::span<const asio::const_buffer> pieces, error_code& ec);
std::size_t receive_now(int fd, std::span<const asio::mutable_buffer> pieces, error_code& ec);

template <typename Socket, typename Buffer, typename Call>
asio::awaitable<std::tuple<error_code, std::size_t>> now_or_when_ready(
    Socket& s, std::span<const Buffer> pieces, asio::socket_base::wait_type wait, Call call) {
  if (asio::buffer_size(pieces) == 0) co_return std::tuple{error_code(), std::size_t{0}};
  for (;;) {
    error_code ec;
    const std::size_t n = call(s.native_handle(), pieces, ec);
    if (ec != asio::error::would_block) co_return std::tuple{ec, n};
    auto [wec] = co_await s.async_wait(wait, unslotted());
    if (wec) co_return std::tuple{wec, std::size_t{0}};
  }
}
}  // namespace detail

/// Writes some of PIECES, in order, into S: at once when there is room, else after waiting
/// for room. Errors come back as values; S.cancel() ends a wait with operation_aborted.
template <typename Protocol, typename Executor>
asio::awaitable<std::tuple<error_code, std::size_t>> async_write_now(
    asio::basic_stream_socket<Protocol, Executor>& s, std::span<const asio::const_buffer> pieces) {
  return detail::now_or_when_ready(s, pieces, asio::socket_base::wait_write, &detail::send_now);
}

/// Reads some bytes into PIECES, filling them in order: at once when some are there, else
/// after waiting for them. eof at the end of the stream.
template <typename Protocol, typename Executor>
asio::awaitable<std::tuple<error_code, std::size_t>> async_read_now(
    asio::basic_stream_socket<Protocol, Executor>& s,
    std::span<const asio::mutable_buffer> pieces) {
  return detail::now_or_when_ready(s, pieces, asio::socket_base::wait_read, &detail::receive_now);
}

/// Any other stream (test doubles, stdio): its own async_write_some / async_read_some.
template <typename Stream>
asio::awaitable<std::tuple<error_code, std::size_t>> async_write_now(
    Stream& s, std::span<const asio::const_buffer> pieces) {
  return s.async_write_some(pieces, unslotted());
}
template <typename Stream>
asio::awaitable<std::tuple<error_code, std::size_t>> async_read_now(
    Stream& s, std::span<const asio::mutable_buffer> pieces) {
  return s.async_read_some(pieces, unslotted());
}

}  // namespace vsocklib
