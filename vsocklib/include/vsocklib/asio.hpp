// The one project header that includes Boost.Asio.
//
// Asio is compiled once (src/asio_impl.cpp, BOOST_ASIO_SEPARATE_COMPILATION) so that every
// other translation unit only parses declarations. The macros below must be identical in
// every translation unit; the vsocklib target also exports them as compile definitions, so
// a consumer that includes Asio on its own still agrees with the compiled library.
#pragma once

#ifndef BOOST_ASIO_SEPARATE_COMPILATION
#define BOOST_ASIO_SEPARATE_COMPILATION 1
#endif
#ifndef BOOST_ASIO_NO_DEPRECATED
#define BOOST_ASIO_NO_DEPRECATED 1
#endif
#ifndef BOOST_ASIO_NO_TS_EXECUTORS
#define BOOST_ASIO_NO_TS_EXECUTORS 1
#endif

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/generic/seq_packet_protocol.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace vsocklib {

namespace asio = boost::asio;
using boost::system::error_code;

/// Every connected byte stream the library hands out, whatever its transport (vsock,
/// hybrid vsock after its handshake, unix, tcp). Thread safety: as any Asio socket.
using stream_socket = asio::generic::stream_protocol::socket;

/// A connected record socket (AF_VSOCK SOCK_SEQPACKET): one send is one receive.
using seqpacket_socket = asio::generic::seq_packet_protocol::socket;

/// Completion token used throughout: errors come back as values, never as exceptions.
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// use_tuple for an operation that carries no per-operation cancellation slot. For loops
/// that stop their own operations (cancel() on the I/O objects) and run per chunk: with a
/// slot, Asio stores a cancellation handler per operation, and operations of different
/// kinds need handlers of different sizes, so alternating them allocates on the heap every
/// time (docs/architecture.md, "The pump"). Pair it with run_stoppable (stoppable.hpp) so
/// that outside cancellation still reaches the loop.
inline auto unslotted() {
  return asio::bind_cancellation_slot(asio::cancellation_slot(), use_tuple);
}

}  // namespace vsocklib
