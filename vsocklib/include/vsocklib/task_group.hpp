// Structured concurrency for the daemons and tools: coroutines started while their owner
// runs (guest sessions, LAN receivers, soak streams) join a group that the owner awaits,
// so none outlives the objects it uses, and a failing part stops its siblings instead of
// vanishing as a detached coroutine would. Thread safety: one io_context thread.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>

#include "vsocklib/asio.hpp"

namespace vsocklib {

/// Tasks end by themselves: their owner closes what they wait on (a socket, a timer), as
/// the endpoints' stop() does. Nothing is cancelled through the group. The group must
/// outlive its tasks: await join() before it goes.
class task_group {
 public:
  /// ON_FAILURE runs when a task ends with an exception (I/O errors are values here, so
  /// that is a bug or memory running out): the owner ends the other tasks there.
  explicit task_group(asio::any_io_executor ex, std::function<void()> on_failure = {});
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;

  /// Starts TASK on the group's executor; also while join() waits.
  void spawn(asio::awaitable<void> task);

  /// Returns once no task runs, then rethrows the first failure. Cancelling it does not
  /// end the tasks, so it keeps waiting for them: nothing outlives the group.
  asio::awaitable<void> join();

  std::size_t size() const noexcept { return running_; }

 private:
  void ended(std::exception_ptr e);

  asio::any_io_executor ex_;
  std::function<void()> on_failure_;
  asio::steady_timer idle_;  // never expires; cancelled to wake join() when the last task ends
  std::size_t running_ = 0;
  std::exception_ptr failure_;
};

/// Awaits PART; when it throws, calls STOP (which must end PART's siblings, so that an `&&`
/// of parts completes: the operators wait for every part) and rethrows. A daemon does not
/// go on with a part missing; it ends with the error and its service manager restarts it.
asio::awaitable<void> stop_all_on_failure(asio::awaitable<void> part, std::function<void()> stop);

}  // namespace vsocklib
