// Outside cancellation for coroutines whose operations are unslotted().
//
// Asio delivers a coroutine's cancellation through the cancellation slot of the operation
// it is awaiting, and clears that slot after every operation, so a handler installed once
// does not survive the first completed operation. Loops that start their operations
// unslotted (to keep the per-chunk path free of allocations) therefore hear of outside
// cancellation through a watcher instead: one timer wait, cancelled along with the caller,
// that then calls the loop's own stop function.
#pragma once

#include "vsocklib/asio.hpp"

namespace vsocklib {

namespace detail {

inline asio::awaitable<void> mark_finished(asio::awaitable<void> work, bool& finished) {
  co_await std::move(work);
  finished = true;
}

template <typename Stop>
asio::awaitable<void> stop_when_cancelled(const bool& finished, Stop stop) {
  asio::steady_timer never(co_await asio::this_coro::executor,
                           asio::steady_timer::time_point::max());
  co_await never.async_wait(use_tuple);
  // Woken either by outside cancellation (WORK still running: stop it) or because WORK
  // finished and || cancels this side (nothing to stop).
  if (!finished) stop();
}

}  // namespace detail

/// Awaits WORK. If the awaiting coroutine is cancelled from outside before WORK finishes,
/// calls STOP, which must make WORK finish promptly (e.g. by cancelling its I/O objects),
/// and still waits for WORK, so nothing WORK uses is released early.
template <typename Stop>
asio::awaitable<void> run_stoppable(asio::awaitable<void> work, Stop stop) {
  using namespace asio::experimental::awaitable_operators;
  bool finished = false;
  co_await (detail::mark_finished(std::move(work), finished) ||
            detail::stop_when_cancelled(finished, std::move(stop)));
}

}  // namespace vsocklib
