// vsock-soak run, --reconnect-hook: run before reconnecting after a break. One run at a
// time, shared by every stream that waits: streams that break together (a far-peer
// restart) cause one run, not one each.
#include <spdlog/logger.h>

#include "client.hpp"
#include "command.hpp"

namespace vsock_soak::detail {

using vsocklib::use_tuple;

// Waits for a run of the hook that starts after this call (or is starting now).
asio::awaitable<void> soak_client::run_hook() {
  const auto gen = hook_generation_;
  if (!hook_running_) {
    hook_running_ = true;
    hook_request_.cancel();
  }
  while (hook_generation_ == gen && phase_ != phase::stopped) {
    co_await hook_done_.async_wait(use_tuple);
    // The waiting stream's connect was cancelled (stop, or nothing left to send).
    const auto cs = co_await asio::this_coro::cancellation_state;  // not in the condition (GCC 12)
    if (cs.cancelled() != asio::cancellation_type::none) co_return;
  }
}

// The one task that runs the hook, on request. It is a task of its own (not run by the
// stream that asked) so that a stream cancelled while waiting does not cancel the run the
// others wait for, and so that a command in progress is always waited for (stop kills it).
asio::awaitable<void> soak_client::hook_task(soak_client* c) {
  for (;;) {
    while (!c->hook_running_ && c->phase_ != phase::stopped)
      co_await c->hook_request_.async_wait(use_tuple);
    if (c->phase_ == phase::stopped) co_return;
    try {
      auto res =
          co_await async_run_command(c->opt_.reconnect_hook, c->opt_.command_timeout, c->running_);
      if (res.exit_status != 0) c->log_->warn("reconnect hook: {}", res.describe());
      else c->log_->debug("reconnect hook: {} in {} ms", res.describe(), res.took.count());
    } catch (const std::exception& e) {
      c->log_->error("reconnect hook: {}", e.what());
    }
    ++c->hook_generation_;
    c->hook_running_ = false;
    c->hook_done_.cancel();
  }
}

}  // namespace vsock_soak::detail
