// The bounded bidirectional pump: moves bytes between two streams until both directions
// have ended or one side fails.
//
// Memory is fixed when the pump starts: each direction has a ring of chunk_size x
// chunks_in_flight bytes (64 KiB with the defaults), plus the coroutine frames. Nothing is
// allocated per chunk: the rings are reused and Asio's recycling allocator serves the
// operations.
//
// Syscalls: a read takes whatever the ring has free (one readv into up to two pieces); a
// write takes whatever the ring holds, except into a side marked bounded, where each write
// is at most chunk_size bytes. The 4 KiB bound exists for AF_VSOCK writes (the guest kernel
// builds a packet per write, up to the write's size); reads and writes into unix or tcp
// sockets need no such limit, and fewer, larger calls there are most of the pump's speed.
// A read or write that the socket can do at once continues without a pass through the
// event loop (io_now.hpp).
//
// Backpressure: a direction reads only into free ring space; space is freed as its bytes
// are written. A slow writer therefore stops the reads on its source.
//
// Half-close: end of stream on one side is passed on as shutdown(send) to the other side
// once every byte read before it has been written; the other direction keeps going. Some
// transports turn that shutdown into a full close (hybrid vsock: vhost-device-vsock and
// Firecracker close the guest's connection in both directions on a host-side EOF), so
// the peer's replies still in flight would be lost; half_close::linger holds the shutdown
// for them (docs/vsocklib.md has the table per transport).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "vsocklib/address.hpp"
#include "vsocklib/asio.hpp"
#include "vsocklib/error.hpp"
#include "vsocklib/io_now.hpp"
#include "vsocklib/stoppable.hpp"

namespace vsocklib {

/// How the pump passes end of stream on to a side.
enum class half_close {
  /// shutdown(send) as soon as everything before the end is written: the peer reads end
  /// of stream and its own direction keeps going.
  pass,
  /// For a side whose transport turns shutdown(send) into a full close, or loses the peer's
  /// later close after one (hybrid vsock devices): hold it until the peer ends its own
  /// direction (then shutdown(send)), or until that direction has been quiet for
  /// pump_options::linger; then close the side in both directions, which ends the pump.
  /// pump_stats::lingered counts the second case.
  linger,
};

struct pump_options {
  /// Largest write into a bounded side, in bytes, and the unit of the rings. 4 KiB keeps
  /// every vsock packet an order-0 page allocation in the kernel (see
  /// docs/architecture.md).
  std::size_t chunk_size = kBoundedWrite;
  /// Ring size per direction, in chunks. At least 2 lets one chunk be written while the
  /// next is read; 16 (64 KiB) lets reads and unbounded writes move up to 64 KiB per call,
  /// about twice the throughput of 2 between unix sockets (docs/benchmarks.md).
  unsigned chunks_in_flight = 16;
  /// Whether writes into side A / side B are bounded by chunk_size. Mark every AF_VSOCK or
  /// hybrid vsock side bounded; an unbounded side takes all buffered bytes per write.
  bool bounded_a = true;
  bool bounded_b = true;
  /// End of stream towards side A (from B) and towards side B (from A).
  half_close half_close_a = half_close::pass;
  half_close half_close_b = half_close::pass;
  /// For half_close::linger: how long the peer's direction must be quiet before the held
  /// shutdown goes out anyway (a peer that answers later than this loses its answer).
  std::chrono::milliseconds linger{1000};

  static constexpr std::chrono::milliseconds kMaxLinger{3'600'000};

  static constexpr std::size_t kMinChunk = 1;
  static constexpr std::size_t kMaxChunk = 1 << 20;
  static constexpr unsigned kMaxChunksInFlight = 64;

  /// Empty when valid, otherwise what is wrong.
  std::string validate() const;
};

/// Why a pump ended.
enum class pump_end {
  finished,         ///< both directions saw end of stream and passed it on
  a_failed,         ///< reading from or writing to side A failed (see error)
  b_failed,         ///< reading from or writing to side B failed (see error)
  cancelled,        ///< the awaiting coroutine was cancelled
  invalid_options,  ///< options did not validate; nothing was moved
};

const char* to_string(pump_end e) noexcept;

struct pump_stats {
  std::uint64_t a_to_b_bytes = 0;
  std::uint64_t b_to_a_bytes = 0;
  std::uint64_t a_to_b_writes = 0;  ///< write calls into B (each at most chunk_size if bounded)
  std::uint64_t b_to_a_writes = 0;
  std::chrono::steady_clock::duration duration{};
  pump_end reason = pump_end::finished;
  error_code error;  ///< the failure for a_failed / b_failed
  /// Held shutdowns (half_close::linger) sent because the peer's direction went quiet, not
  /// because it ended: the peer may have had more to send, and will find its side closed.
  unsigned lingered = 0;
};

namespace detail {

// One direction's byte ring, shared by its reader and writer coroutines. Both run on the
// pump's executor, so plain fields suffice; the timers serve as events (waiting on a timer
// that never expires, woken by cancel()). The reader fills [begin + filled, begin) and the
// writer drains [begin, begin + filled), modulo the ring's size; each changes `filled` only
// when its operation has completed, so the two regions never overlap.
struct pump_direction {
  pump_direction(const asio::any_io_executor& ex, std::span<std::byte> ring, std::size_t max_write)
      : ring(ring), max_write(max_write), reader_wake(ex), writer_wake(ex) {
    reader_wake.expires_at(asio::steady_timer::time_point::max());
    writer_wake.expires_at(asio::steady_timer::time_point::max());
  }
  std::span<std::byte> ring;
  std::size_t max_write;  // largest write into the destination
  std::size_t begin = 0;  // offset of the oldest unwritten byte
  std::size_t filled = 0;
  bool source_ended = false;
  std::chrono::steady_clock::time_point last_read{};  // of the source, for linger
  std::uint64_t bytes = 0;
  std::uint64_t writes = 0;
  asio::steady_timer reader_wake;
  asio::steady_timer writer_wake;

  using pieces = std::array<asio::mutable_buffer, 2>;

  // The ring region [from, from + n), n <= ring size, as up to two pieces.
  pieces region(std::size_t from, std::size_t n) {
    const std::size_t first = std::min(n, ring.size() - from);
    return {asio::mutable_buffer(ring.data() + from, first),
            asio::mutable_buffer(ring.data(), n - first)};
  }
  pieces free_space() { return region((begin + filled) % ring.size(), ring.size() - filled); }
  pieces next_write() { return region(begin, std::min(filled, max_write)); }
};

struct pump_shared {
  bool stopping = false;
  unsigned lingered = 0;
  pump_end reason = pump_end::finished;
  error_code error;
};

template <typename S>
void cancel_stream(S& s) {
  error_code ignored;
  s.cancel(ignored);
}

// Records the first reason only; later failures are consequences of the first.
template <typename A, typename B>
void pump_fail(pump_shared& sh, pump_direction& d1, pump_direction& d2, pump_end why, error_code ec,
               A& a, B& b) {
  if (!sh.stopping) {
    sh.stopping = true;
    sh.reason = why;
    sh.error = ec;
  }
  for (auto* d : {&d1, &d2}) {
    d->reader_wake.cancel();
    d->writer_wake.cancel();
  }
  cancel_stream(a);
  cancel_stream(b);
}

template <typename Src, typename A, typename B>
asio::awaitable<void> pump_reader(Src& src, pump_direction& d, pump_direction& other,
                                  pump_shared& sh, pump_end src_failed, A& a, B& b) {
  // Outside cancellation arrives through run_stoppable in async_pump, not as exceptions.
  co_await asio::this_coro::throw_if_cancelled(false);
  for (;;) {
    while (d.filled == d.ring.size() && !sh.stopping) {
      co_await d.reader_wake.async_wait(unslotted());
    }
    if (sh.stopping) co_return;
    const auto space = d.free_space();
    auto [ec, n] = co_await async_read_now(src, space);
    if (sh.stopping) co_return;
    if (ec == asio::error::eof) {
      d.source_ended = true;
      d.writer_wake.cancel();
      other.writer_wake.cancel();  // a writer holding its shutdown for this end (linger)
      co_return;
    }
    if (ec) {
      pump_fail(sh, d, other, src_failed, ec, a, b);
      co_return;
    }
    if (n == 0) continue;  // a zero-length read is not end of stream for every stream type
    d.last_read = std::chrono::steady_clock::now();
    d.filled += n;
    d.writer_wake.cancel();
  }
}

// half_close::linger: waits until OTHER (the direction out of dst's peer) has ended, or has
// read nothing for LINGER since the later of its last read and now; counts the second.
inline asio::awaitable<void> hold_shutdown(pump_direction& d, pump_direction& other,
                                           pump_shared& sh, std::chrono::milliseconds linger) {
  const auto start = std::chrono::steady_clock::now();
  while (!other.source_ended && !sh.stopping) {
    const auto quiet_until = std::max(other.last_read, start) + linger;
    if (std::chrono::steady_clock::now() >= quiet_until) {
      ++sh.lingered;
      co_return;
    }
    d.writer_wake.expires_at(quiet_until);
    co_await d.writer_wake.async_wait(unslotted());
  }
}

template <typename Dst, typename A, typename B>
asio::awaitable<void> pump_writer(Dst& dst, pump_direction& d, pump_direction& other,
                                  pump_shared& sh, pump_end dst_failed, half_close policy,
                                  std::chrono::milliseconds linger, A& a, B& b) {
  // Outside cancellation arrives through run_stoppable in async_pump, not as exceptions.
  co_await asio::this_coro::throw_if_cancelled(false);
  for (;;) {
    while (d.filled == 0 && !d.source_ended && !sh.stopping) {
      co_await d.writer_wake.async_wait(unslotted());
    }
    if (sh.stopping) co_return;
    if (d.filled == 0) {  // source ended and everything before it is written
      auto how = asio::socket_base::shutdown_send;
      if (policy == half_close::linger) {
        const unsigned before = sh.lingered;
        co_await hold_shutdown(d, other, sh, linger);
        if (sh.stopping) co_return;
        // The peer went quiet without ending: close both ways, so our read of it ends too
        // (a half-close here might never be answered).
        if (sh.lingered != before) how = asio::socket_base::shutdown_both;
      }
      error_code ec;
      dst.shutdown(how, ec);
      // ENOTCONN: the peer already went away entirely; the other direction will see it.
      if (ec && ec != asio::error::not_connected) {
        pump_fail(sh, d, other, dst_failed, ec, a, b);
      }
      co_return;
    }
    const auto w = d.next_write();
    const std::array<asio::const_buffer, 2> pieces{w[0], w[1]};
    auto [ec, n] = co_await async_write_now(dst, pieces);
    if (sh.stopping) co_return;
    if (ec) {
      pump_fail(sh, d, other, dst_failed, ec, a, b);
      co_return;
    }
    d.bytes += n;
    ++d.writes;
    d.begin = (d.begin + n) % d.ring.size();
    d.filled -= n;
    d.reader_wake.cancel();
  }
}

}  // namespace detail

/// Pumps A <-> B until both directions have ended (pump_end::finished) or one fails.
/// A and B are Asio-style streams: async_read_some, async_write_some, shutdown(what, ec)
/// and cancel(ec). Both must be used from the awaiting coroutine's executor only, which must
/// be single-threaded (a strand or a one-thread io_context). On failure both streams are
/// cancelled but not closed: the caller owns them and decides. Cancelling the awaiting
/// coroutine ends the pump promptly with pump_end::cancelled.
template <typename A, typename B>
asio::awaitable<pump_stats> async_pump(A& a, B& b, pump_options opt = {}) {
  using namespace asio::experimental::awaitable_operators;
  pump_stats stats;
  if (!opt.validate().empty()) {
    stats.reason = pump_end::invalid_options;
    stats.error = errc::invalid_option;
    co_return stats;
  }
  const auto start = std::chrono::steady_clock::now();
  auto ex = co_await asio::this_coro::executor;
  const std::size_t per_direction = opt.chunk_size * opt.chunks_in_flight;
  // One allocation for the connection's whole buffer budget.
  auto storage = std::make_unique<std::byte[]>(2 * per_direction);
  auto max_write = [&](bool bounded) { return bounded ? opt.chunk_size : per_direction; };
  detail::pump_direction ab(ex, {storage.get(), per_direction}, max_write(opt.bounded_b));
  detail::pump_direction ba(ex, {storage.get() + per_direction, per_direction},
                            max_write(opt.bounded_a));
  detail::pump_shared sh;

  // The operations are unslotted() (no allocation per chunk); outside cancellation reaches
  // them through run_stoppable, which then stops the pump the way a failure does.
  co_await run_stoppable(detail::pump_reader(a, ab, ba, sh, pump_end::a_failed, a, b) &&
                             detail::pump_writer(b, ab, ba, sh, pump_end::b_failed,
                                                 opt.half_close_b, opt.linger, a, b) &&
                             detail::pump_reader(b, ba, ab, sh, pump_end::b_failed, a, b) &&
                             detail::pump_writer(a, ba, ab, sh, pump_end::a_failed,
                                                 opt.half_close_a, opt.linger, a, b),
                         [&] { detail::pump_fail(sh, ab, ba, pump_end::cancelled, {}, a, b); });

  stats.a_to_b_bytes = ab.bytes;
  stats.b_to_a_bytes = ba.bytes;
  stats.a_to_b_writes = ab.writes;
  stats.b_to_a_writes = ba.writes;
  stats.reason = sh.stopping ? sh.reason : pump_end::finished;
  stats.error = sh.error;
  stats.lingered = sh.lingered;
  stats.duration = std::chrono::steady_clock::now() - start;
  co_return stats;
}

}  // namespace vsocklib
