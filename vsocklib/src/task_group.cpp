#include "vsocklib/task_group.hpp"

#include <utility>

namespace vsocklib {

task_group::task_group(asio::any_io_executor ex, std::function<void()> on_failure)
    : ex_(ex),
      on_failure_(std::move(on_failure)),
      idle_(ex, asio::steady_timer::time_point::max()) {}

void task_group::spawn(asio::awaitable<void> task) {
  ++running_;
  asio::co_spawn(ex_, std::move(task), [this](std::exception_ptr e) { ended(e); });
}

void task_group::ended(std::exception_ptr e) {
  if (e && !failure_) {
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

asio::awaitable<void> stop_all_on_failure(asio::awaitable<void> part, std::function<void()> stop) {
  try {
    co_await std::move(part);
  } catch (...) {
    stop();
    throw;
  }
}

}  // namespace vsocklib
