// vsock-soak run, the faults on a schedule: --restart-cmd and --flap-cmd (a command, the
// recovery clock starting when it returns), --drop-every (close one stream's connection),
// --pause-every (one stream stops reading for --pause-for) and --small-burst-every (one
// stream stops reading while it sends many small messages).
#include <spdlog/logger.h>

#include <fmt/format.h>

#include "client.hpp"
#include "command.hpp"

namespace vsock_soak::detail {

using vsocklib::error_code;
using vsocklib::use_tuple;

void soak_client::add_fault(fault_event f) {
  log_->info("fault at {:.1f} s: {} {}", f.t_s, f.kind, f.detail);
  if (r_.faults.size() < 10000) r_.faults.push_back(std::move(f));
  else ++r_.faults_not_listed;
}

// Waits D or until the run stops running; false when it stopped, or when a fault now
// could not recover (within the bound) before the drain begins.
asio::awaitable<bool> soak_client::sleep_while_running(clock::duration d) {
  // A wait begun after the stop would not be cut short: the run is over anyway.
  if (phase_ == phase::stopped) co_return false;
  asio::steady_timer t(io_, d);
  fault_timers_.insert(&t);
  co_await t.async_wait(use_tuple);
  fault_timers_.erase(&t);
  co_return phase_ == phase::running&& clock::now() + opt_.recovery_bound < start_ + opt_.duration;
}

asio::awaitable<void> soak_client::command_fault_loop(soak_client* c, std::string kind,
                                                      command_fault f) {
  for (;;) {
    if (!co_await c->sleep_while_running(f.every)) co_return;
    const auto t = clock::now();
    fault_event ev{c->since_start(t), kind, "", 0};
    ++c->commands_running_;
    try {
      auto res = co_await async_run_command(f.command, c->opt_.command_timeout, c->running_);
      ev.detail = res.describe();
      ev.took_ms = double(res.took.count());
    } catch (const std::exception& e) {
      ev.detail = e.what();
    }
    --c->commands_running_;
    if (c->phase_ == phase::stopped) co_return;
    // The clock starts when the command returns: the peer is meant to be back then, and
    // a command that keeps it down on purpose does not count against the bound.
    c->open_episode(kind, clock::now());
    if (!c->episodes_.empty()) {
      c->episodes_.back().broken += c->breaks_during_command_;
      c->breaks_during_command_ = 0;
    }
    c->add_fault(std::move(ev));
    // Streams waiting out a backoff delay retry now: the soak's own backoff is not part
    // of the path under test.
    for (auto& st : c->streams_) st->conn->retry_now();
  }
}

stream_state* soak_client::pick_connected() {
  std::vector<stream_state*> live;
  for (auto& s : streams_) {
    if (s->sock && !s->paused) live.push_back(s.get());
  }
  if (live.empty()) return nullptr;
  return live[std::uniform_int_distribution<std::size_t>(0, live.size() - 1)(rng_)];
}

asio::awaitable<void> soak_client::drop_loop(soak_client* c) {
  for (;;) {
    if (!co_await c->sleep_while_running(c->opt_.drop_every)) co_return;
    stream_state* st = c->pick_connected();
    if (!st) continue;
    c->open_episode(fmt::format("drop stream {}", st->id), clock::now());
    c->add_fault({c->since_start(clock::now()), "drop", fmt::format("stream {}", st->id), 0});
    st->dropped = true;
    error_code ignored;
    st->sock->close(ignored);
  }
}

// Stops ST's reader for D (with SMALL_BURST, its writer meanwhile sends small messages with
// the wider window); the recovery clock starts when it reads again.
asio::awaitable<void> soak_client::pause_stream(stream_state* st, clock::duration d,
                                                bool small_burst, std::string cause) {
  st->paused = true;
  st->small_burst = small_burst;
  st->wake.cancel();  // a writer waiting for room sees the burst's window now
  co_await sleep_while_running(d);
  st->small_burst = false;
  st->paused = false;
  st->last_progress = clock::now();
  st->resume.cancel();
  if (phase_ == phase::running) open_episode(std::move(cause), clock::now());
}

asio::awaitable<void> soak_client::pause_loop(soak_client* c) {
  for (;;) {
    if (!co_await c->sleep_while_running(c->opt_.pause_every)) co_return;
    stream_state* st = c->pick_connected();
    if (!st) continue;
    c->add_fault({c->since_start(clock::now()), "pause",
                  fmt::format("stream {} for {} ms", st->id, c->opt_.pause_for.count()), 0});
    co_await c->pause_stream(st, c->opt_.pause_for, false, fmt::format("pause stream {}", st->id));
  }
}

// While the stream's reader is paused its writer sends messages of small_burst_sizes with
// up to small_burst_window of them in flight; the window goes back to --window once the
// reader takes the echoes again, so the burst drains by itself.
asio::awaitable<void> soak_client::small_burst_loop(soak_client* c) {
  const auto& o = c->opt_;
  for (;;) {
    if (!co_await c->sleep_while_running(o.small_burst_every)) co_return;
    stream_state* st = c->pick_connected();
    if (!st) continue;
    c->add_fault({c->since_start(clock::now()), "small-burst",
                  fmt::format("stream {} for {} ms, up to {} messages of {} bytes", st->id,
                              o.small_burst_for.count(), o.small_burst_window,
                              o.small_burst_sizes.to_string()),
                  0});
    co_await c->pause_stream(st, o.small_burst_for, true,
                             fmt::format("small burst stream {}", st->id));
  }
}

}  // namespace vsock_soak::detail
