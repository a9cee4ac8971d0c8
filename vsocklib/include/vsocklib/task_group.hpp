// Structured concurrency for the daemons and tools: coroutines started while their owner
// runs (guest sessions, LAN receivers, soak streams, status answers, a daemon's relays)
// join a group that the owner awaits, so none outlives the objects it uses, and a failing
// part stops its siblings instead of vanishing as a detached coroutine would.
// Thread safety: one io_context thread.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include "vsocklib/asio.hpp"

namespace spdlog {
class logger;
}

namespace vsocklib {

/// Tasks end by themselves: their owner closes what they wait on (a socket, a timer), as
/// the endpoints' stop() does, or, for tasks that run until cancelled, cancel_all(). The
/// group must outlive its tasks: await join() before it goes.
class task_group {
 public:
  /// ON_FAILURE runs when a task ends with an exception (I/O errors are values here, so
  /// that is a bug, memory running out, or a set-up error of a task that throws): the
  /// owner ends the other tasks there. Except for the cancellation cancel_all() asked for:
  /// a task it cancelled that ends with operation_aborted (what a co_await throws in a
  /// cancelled coroutine) has not failed.
  explicit task_group(asio::any_io_executor ex, std::function<void()> on_failure = {});
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;

  /// Starts TASK on the group's executor; also while join() waits.
  void spawn(asio::awaitable<void> task);

  /// Emits terminal cancellation to every task still running (tasks spawned later are not
  /// affected), for tasks that run until cancelled. They end with operation_aborted (not a
  /// failure), or however they handle it; join() still waits for each.
  void cancel_all();

  /// Returns once no task runs, then rethrows the first failure. Cancelling it does not
  /// end the tasks, so it keeps waiting for them: nothing outlives the group. (A co_await
  /// throws before join() starts when the awaiting coroutine is already cancelled and
  /// throws on cancellation, so an owner that may be cancelled turns that off first:
  /// this_coro::throw_if_cancelled(false).)
  asio::awaitable<void> join();

  std::size_t size() const noexcept { return running_; }

 private:
  struct task_stop {
    asio::cancellation_signal signal;
    bool emitted = false;  // cancel_all() cancelled the task
  };
  using stop_list = std::list<task_stop>;

  void ended(stop_list::iterator stop, std::exception_ptr e);

  asio::any_io_executor ex_;
  std::function<void()> on_failure_;
  asio::steady_timer idle_;  // never expires; cancelled to wake join() when the last task ends
  // One per running task, its signal bound to the task's cancellation slot. A list: a
  // signal cannot move, and the task's slot points into it.
  stop_list stops_;
  std::size_t running_ = 0;
  std::exception_ptr failure_;
};

/// Awaits WORK, a task known by NAME: an exception is logged on LOG as "[NAME] what" and
/// rethrown, except operation_aborted, the end of a cancelled task, which ends it quietly.
asio::awaitable<void> logged_task(asio::awaitable<void> work, std::string name,
                                  std::shared_ptr<spdlog::logger> log);

/// Awaits PART; when it throws, calls STOP (which must end PART's siblings, so that an `&&`
/// of parts completes: the operators wait for every part) and rethrows. A daemon does not
/// go on with a part missing; it ends with the error and its service manager restarts it.
asio::awaitable<void> stop_all_on_failure(asio::awaitable<void> part, std::function<void()> stop);

}  // namespace vsocklib
