#include "vsocklib/task_group.hpp"

#include <utility>

#include <spdlog/logger.h>

namespace vsocklib {
namespace {

bool aborted(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const boost::system::system_error& ex) {
    return ex.code() == asio::error::operation_aborted;
  } catch (...) {
    return false;
  }
}

}  // namespace

task_group::task_group(asio::any_io_executor ex, std::function<void()> on_failure)
    : ex_(ex),
      on_failure_(std::move(on_failure)),
      idle_(ex, asio::steady_timer::time_point::max()) {}

void task_group::spawn(asio::awaitable<void> task) {
  ++running_;
  const auto stop = stops_.emplace(stops_.end());
  asio::co_spawn(ex_, std::move(task),
                 asio::bind_cancellation_slot(
                     stop->signal.slot(), [this, stop](std::exception_ptr e) { ended(stop, e); }));
}

void task_group::cancel_all() {
  // Emitting only cancels the tasks' pending operations, whose completions are posted: no
  // task ends (and leaves the list) during the loop. The iterator moves on first anyway.
  for (auto it = stops_.begin(); it != stops_.end();) {
    auto& stop = *it++;
    stop.emitted = true;
    stop.signal.emit(asio::cancellation_type::terminal);
  }
}

void task_group::ended(stop_list::iterator stop, std::exception_ptr e) {
  const bool cancelled = stop->emitted && e && aborted(e);
  // The task's thread is done with its slot once it calls this, as Asio's own parallel
  // group (which frees its signals at the same point) relies on.
  stops_.erase(stop);
  if (e && !cancelled && !failure_) {
    failure_ = e;
    if (on_failure_) on_failure_();
  }
  if (--running_ == 0) idle_.cancel();
}

asio::awaitable<void> task_group::join() {
  // A cancelled wait is only a wake-up: the tasks still run and are waited for.
  co_await asio::this_coro::throw_if_cancelled(false);
  while (running_ > 0) {
    idle_.expires_at(asio::steady_timer::time_point::max());
    co_await idle_.async_wait(use_tuple);
  }
  if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
}

asio::awaitable<void> logged_task(asio::awaitable<void> work, std::string name,
                                  std::shared_ptr<spdlog::logger> log) {
  try {
    co_await std::move(work);
  } catch (const boost::system::system_error& e) {
    if (e.code() == asio::error::operation_aborted) co_return;
    log->error("[{}] {}", name, e.what());
    throw;
  } catch (const std::exception& e) {
    log->error("[{}] {}", name, e.what());
    throw;
  }
}

asio::awaitable<void> stop_all_on_failure(asio::awaitable<void> part, std::function<void()> stop) {
  try {
    co_await std::move(part);
  } catch (...) {
    stop();
    throw;
  }
}

}  // namespace vsocklib
