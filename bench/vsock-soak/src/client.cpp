// vsock-soak run: verified traffic on many streams, faults on a schedule, recoveries timed,
// processes sampled; one single-threaded io_context for all of it. This file holds the
// run itself: every task it starts is joined before the results are written.
#include "client.hpp"
#include "vsocklib/task_group.hpp"

#include <spdlog/logger.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <ctime>
#include <stdexcept>

namespace vsock_soak {
namespace detail {

using namespace std::chrono_literals;
using vsocklib::error_code;
using vsocklib::use_tuple;

namespace {

// The soak's own backoff between connect attempts: short, because it is not part of the
// path under test (fault commands cut it short, see faults.cpp).
vsocklib::connector_options stream_connector_options(const run_options& opt) {
  vsocklib::connector_options o;
  o.backoff = {.initial = 20ms, .max = 500ms, .multiplier = 2.0, .jitter = 0.2};
  // The connector insists on a positive bound; --connect-timeout 0 (every attempt fails
  // at once) stays as good as before with 1 ms.
  o.connect_timeout = std::max(opt.connect_timeout, milliseconds(1));
  return o;
}

}  // namespace

soak_client::soak_client(const run_options& opt, std::shared_ptr<spdlog::logger> log)
    : opt_(opt),
      log_(std::move(log)),
      connect_log_(std::make_shared<vsocklib::repeat_log>(log_)),
      rng_(opt.seed ^ 0x5eedfau),
      hook_request_(io_, clock::time_point::max()),
      hook_done_(io_, clock::time_point::max()),
      phase_changed_(io_, clock::time_point::max()) {
  for (unsigned i = 0; i < opt.streams; ++i) {
    auto conn = std::make_unique<vsocklib::connector>(opt.target, stream_connector_options(opt),
                                                      log_, opt.seed + i, connect_log_);
    streams_.push_back(std::make_unique<stream_state>(io_, i, std::move(conn)));
  }
  for (pid_t p : opt.watch_pids) {
    watched w;
    w.proc.pid = p;
    w.fixed_pid = true;
    auto comm = comm_of(p);
    w.proc.name = comm.empty() ? "pid " + std::to_string(p) : comm;
    watched_.push_back(std::move(w));
  }
  for (const auto& n : opt.watch_names) {
    watched w;
    w.proc.name = n;
    w.proc.pid = find_process(n, ::getpid()).value_or(0);
    watched_.push_back(std::move(w));
  }
  tty_ = opt.progress == progress_mode::tty ||
         (opt.progress == progress_mode::automatic && ::isatty(STDOUT_FILENO));
}

results soak_client::run() {
  start_ = clock::now();
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  r_.started_utc = buf;
  asio::co_spawn(io_, main_task(this), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io_.run();
  return std::move(r_);
}

asio::awaitable<void> soak_client::main_task(soak_client* c) {
  using namespace asio::experimental::awaitable_operators;
  auto& o = c->opt_;
  c->log_->info("soak of {}: {} streams, sizes {}, {} in flight each, seed {}, {} s",
                o.target.to_string(), o.streams, o.sizes.to_string(), o.window, o.seed,
                std::chrono::duration<double>(o.duration).count());
  // The tasks end when control() stops everything; the results are written once all
  // have finished, so none outlives the run or the objects it uses.
  co_await (join_tasks(c) && control(c));
  c->finish(c->end_);
}

// Starts every task of the run and waits for all of them.
asio::awaitable<void> soak_client::join_tasks(soak_client* c) {
  auto& o = c->opt_;
  vsocklib::task_group tasks(co_await asio::this_coro::executor);
  for (auto& st : c->streams_) tasks.spawn(stream_main(c, st.get()));
  tasks.spawn(ticker(c));
  if (!o.reconnect_hook.empty()) tasks.spawn(hook_task(c));
  if (o.restart.every.count() > 0) tasks.spawn(command_fault_loop(c, "restart", o.restart));
  if (o.flap.every.count() > 0) tasks.spawn(command_fault_loop(c, "flap", o.flap));
  if (o.drop_every.count() > 0) tasks.spawn(drop_loop(c));
  if (o.pause_every.count() > 0) tasks.spawn(pause_loop(c));
  if (o.small_burst_every.count() > 0) tasks.spawn(small_burst_loop(c));
  co_await tasks.join();
}

// The run's schedule: --duration (or a signal), the drain, then stop.
asio::awaitable<void> soak_client::control(soak_client* c) {
  auto& o = c->opt_;
  asio::signal_set signals(c->io_, SIGINT, SIGTERM);
  bool interrupted = false;
  {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer t(c->io_, o.duration);
    auto res = co_await (t.async_wait(use_tuple) || signals.async_wait(use_tuple));
    if (res.index() == 1) {
      interrupted = true;
      c->log_->warn("interrupted: draining and writing the results");
    }
  }
  // Drain: no new messages; what is in flight must still come back (over reconnects).
  c->phase_ = phase::draining;
  for (auto& st : c->streams_) {
    st->send_limit = st->next_send;
    st->wake.cancel();
  }
  for (auto* t : c->fault_timers_) t->cancel();  // fault loops end
  const auto drain_deadline = clock::now() + (interrupted ? 1s : o.drain_timeout);
  while (!c->drained() && clock::now() < drain_deadline)
    co_await wait_for(c, c->phase_changed_, drain_deadline);
  c->end_ = clock::now();
  c->stop_everything();
}

bool soak_client::drained() const {
  for (auto& st : streams_) {
    if (!st->inflight.empty() || st->next_send < st->send_limit) return false;
  }
  return true;
}

void soak_client::check_drained() {
  if (drained()) phase_changed_.cancel();
}

// Ends every task promptly: each one checks phase_ after any wait, and every wait it can
// be in is cut short here (sockets closed, events and timers cancelled, commands killed).
void soak_client::stop_everything() {
  phase_ = phase::stopped;
  error_code ignored;
  for (auto& st : streams_) {
    if (st->sock) st->sock->close(ignored);
    st->wake.cancel();  // also ends a connect in progress (until_not_needed)
    st->resume.cancel();
  }
  if (tick_wait_) tick_wait_->cancel();
  for (auto* t : fault_timers_) t->cancel();
  for (pid_t p : running_) ::kill(-p, SIGKILL);
  hook_request_.cancel();
  hook_done_.cancel();
}

asio::awaitable<void> soak_client::wait_for(soak_client* c, asio::steady_timer& event,
                                            clock::time_point deadline) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer t(c->io_, deadline);
  co_await (event.async_wait(use_tuple) || t.async_wait(use_tuple));
}

void soak_client::finish(clock::time_point end) {
  r_.elapsed_s = since_start(end);
  // What never came back verified is lost.
  for (auto& st : streams_) {
    if (st->next_verify < st->send_limit) {
      record_lost(*st, st->next_verify, st->send_limit, "never echoed before the end of the drain");
    }
  }
  for (const auto& e : episodes_) close_episode(e, end, false);
  episodes_.clear();
  for (auto& w : watched_) {
    window_peaks(w, std::chrono::duration<double>(opt_.drift_window).count());
    r_.processes.push_back(std::move(w.proc));
  }
  if (tty_ && opt_.progress != progress_mode::quiet) std::fputs("\n", stdout);
  evaluate(r_);
}

}  // namespace detail

results run_soak(const run_options& opt, std::shared_ptr<spdlog::logger> log) {
  if (opt.streams == 0 || opt.window == 0)
    throw std::invalid_argument("--streams and --window must be at least 1");
  detail::soak_client c(opt, std::move(log));
  results r = c.run();
  r.version = opt.version;
  r.target = opt.target.to_string();
  r.streams = opt.streams;
  r.sizes = opt.sizes.to_string();
  r.seed = opt.seed;
  r.window = opt.window;
  r.duration_s = std::chrono::duration<double>(opt.duration).count();
  r.recovery_bound_ms = double(opt.recovery_bound.count());
  r.max_rss_growth_kib = opt.max_rss_growth_kib;
  r.max_fd_growth = opt.max_fd_growth;
  r.warmup_s = std::chrono::duration<double>(opt.warmup).count();
  r.drift_window_s = std::chrono::duration<double>(opt.drift_window).count();
  evaluate(r);
  return r;
}

milliseconds parse_duration(const std::string& text) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument("\"" + text +
                                "\" is not a duration (e.g. 90, 20s, 500ms, 10m, 1h)");
  }
  const std::string unit = text.substr(used);
  double ms = 0;
  if (unit.empty() || unit == "s") ms = v * 1000;
  else if (unit == "ms") ms = v;
  else if (unit == "m" || unit == "min") ms = v * 60'000;
  else if (unit == "h") ms = v * 3'600'000;
  else throw std::invalid_argument("\"" + text + "\": unknown unit \"" + unit + "\" (ms, s, m, h)");
  if (!(ms >= 0) || ms > 1e12) throw std::invalid_argument("\"" + text + "\" is out of range");
  return milliseconds(static_cast<std::int64_t>(std::llround(ms)));
}

}  // namespace vsock_soak
