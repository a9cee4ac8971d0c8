// vsock-soak run, once a second: the series point, the watched processes' samples (and
// their growth, peak to peak), the stall watchdog, and the progress line.
#include <spdlog/logger.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "client.hpp"

namespace vsock_soak::detail {

using namespace std::chrono_literals;
using vsocklib::error_code;
using vsocklib::use_tuple;

std::string soak_client::comm_of(pid_t p) {
  std::ifstream in("/proc/" + std::to_string(p) + "/comm");
  std::string s;
  std::getline(in, s);
  return s;
}

void soak_client::sample_processes(clock::time_point now) {
  const double t = since_start(now);
  const long hz = ::sysconf(_SC_CLK_TCK);
  for (auto& w : watched_) {
    auto& p = w.proc;
    std::optional<proc_sample> s;
    if (p.pid > 0) s = sample_process(p.pid);
    if (!s && !w.fixed_pid) {
      // The name's process was restarted (or has not started yet): follow the new one.
      if (auto pid = find_process(p.name, ::getpid()); pid && *pid != p.pid) {
        if (p.pid > 0) {
          ++p.restarts;
          log_->info("{}: pid {} is gone, now watching pid {}", p.name, p.pid, *pid);
        }
        p.pid = *pid;
        p.baseline.reset();
        w.first_point = -1;
        w.have_ticks = false;
        s = sample_process(p.pid);
      }
    }
    if (!s) {
      ++p.missing_samples;
      continue;
    }
    proc_point pt{t, s->rss_kib, s->fds, s->threads, 0};
    if (w.have_ticks && !p.points.empty()) {
      const double dt = t - last_tick_s_;
      if (dt > 0) pt.cpu_pct = 100.0 * double(s->cpu_ticks - w.last_ticks) / double(hz) / dt;
    }
    w.last_ticks = s->cpu_ticks;
    w.have_ticks = true;
    if (!p.baseline && now - start_ >= opt_.warmup) p.baseline = pt;
    p.last = pt;
    if (p.baseline && w.first_point < 0) w.first_point = static_cast<long>(p.points.size());
    p.points.push_back(pt);
    if (p.points.size() > kMaxPoints) {
      halve(p.points);
      if (w.first_point > 0) w.first_point /= 2;
    }
  }
}

// Growth is measured peak to peak: the largest sample in the first --drift-window after
// the warm-up against the largest in the last one. A daemon's fd count moves with its
// state (a relay between guest sessions holds fewer), so two single samples taken at
// different moments of a restart cycle would show a "growth" that is not a leak.
void soak_client::window_peaks(watched& w, double window_s) {
  auto& p = w.proc;
  if (w.first_point < 0 || w.first_point >= static_cast<long>(p.points.size())) {
    p.baseline.reset();
    return;
  }
  auto peak = [](auto first, auto last) {
    proc_point m = *first;
    for (auto it = first; it != last; ++it) {
      m.rss_kib = std::max(m.rss_kib, it->rss_kib);
      m.fds = std::max(m.fds, it->fds);
      m.threads = std::max(m.threads, it->threads);
    }
    return m;
  };
  const auto begin = p.points.begin() + w.first_point;
  const double t0 = begin->t_s, t_end = p.points.back().t_s;
  auto first_end = std::find_if(begin, p.points.end(),
                                [&](const proc_point& x) { return x.t_s > t0 + window_s; });
  auto last_begin = std::find_if(begin, p.points.end(),
                                 [&](const proc_point& x) { return x.t_s >= t_end - window_s; });
  p.baseline = peak(begin, first_end);
  p.last = peak(last_begin, p.points.end());
  p.last->t_s = t_end;
}

void soak_client::watchdog(clock::time_point now) {
  for (auto& st : streams_) {
    if (st->sock && !st->paused && !st->inflight.empty() &&
        now - st->last_progress > opt_.stall_timeout) {
      ++r_.stalls;
      first_error(fmt::format("stream {}: no echo for {} ms with {} messages in flight", st->id,
                              opt_.stall_timeout.count(), st->inflight.size()));
      log_->error("stream {}: stalled (no echo for {} ms); reconnecting", st->id,
                  opt_.stall_timeout.count());
      st->stalled = true;
      error_code ignored;
      st->sock->close(ignored);
    }
  }
}

std::string soak_client::status_text(clock::time_point now) const {
  const double t = since_start(now);
  std::string s = fmt::format(
      "[{:5.0f}/{:.0f} s] {}/s verified, {} total, p99 {}, errors {}, breaks {}, recoveries {} "
      "(max {:.0f} ms)",
      t, std::chrono::duration<double>(opt_.duration).count(), human_bytes(double(sec_bytes_last_)),
      human_bytes(double(r_.bytes)), human_us(double(last_p99_)),
      r_.corruptions + r_.gaps + r_.duplicates + r_.stalls, r_.breaks, recoveries_total_,
      max_recovery_ms_);
  for (const auto& w : watched_) {
    if (w.proc.last)
      s += fmt::format(", {} {:.1f} MiB {} fds", w.proc.name, double(w.proc.last->rss_kib) / 1024,
                       w.proc.last->fds);
  }
  if (phase_ == phase::draining) s += " (draining)";
  return s;
}

asio::awaitable<void> soak_client::ticker(soak_client* c) {
  asio::steady_timer t(c->io_);
  auto next = c->start_;
  while (c->phase_ != phase::stopped) {
    next += 1s;
    // After a stall (a starved VM), one long interval instead of a burst of catch-up ticks.
    if (next < clock::now()) next = clock::now() + 1s;
    t.expires_at(next);
    c->tick_wait_ = &t;
    co_await t.async_wait(use_tuple);
    c->tick_wait_ = nullptr;
    if (c->phase_ == phase::stopped) break;
    c->tick(clock::now());
  }
}

void soak_client::tick(clock::time_point now) {
  series_point p;
  p.t_s = since_start(now);
  p.interval_s = p.t_s - last_tick_s_;
  p.bytes = sec_bytes_;
  p.messages = sec_messages_;
  p.p50_us = sec_latency_.percentile(0.5);
  p.p99_us = sec_latency_.percentile(0.99);
  p.p999_us = sec_latency_.percentile(0.999);
  p.max_us = sec_latency_.max();
  p.errors = sec_errors_;
  p.breaks = sec_breaks_;
  r_.series.push_back(p);
  if (r_.series.size() > kMaxPoints) halve(r_.series);
  sec_bytes_last_ = sec_bytes_;
  last_p99_ = p.p99_us;
  sec_bytes_ = sec_messages_ = sec_errors_ = sec_breaks_ = 0;
  sec_latency_.clear();
  sample_processes(now);
  last_tick_s_ = p.t_s;
  if (phase_ == phase::running) watchdog(now);
  progress(now);
}

void soak_client::progress(clock::time_point now) {
  if (opt_.progress == progress_mode::quiet) return;
  if (tty_) {
    std::fputs(("\r" + status_text(now) + "\x1b[K").c_str(), stdout);
    std::fflush(stdout);
  } else if (++ticks_since_line_ >= 10) {
    ticks_since_line_ = 0;
    std::puts(status_text(now).c_str());
    std::fflush(stdout);
  }
}

}  // namespace vsock_soak::detail
