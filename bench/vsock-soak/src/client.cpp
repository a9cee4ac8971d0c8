// vsock-soak run: verified traffic on many streams, faults on a schedule, recoveries timed,
// processes sampled; one single-threaded io_context for all of it.
#include <spdlog/logger.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <ctime>
#include <deque>
#include <fstream>
#include <random>
#include <set>

#include "command.hpp"
#include "vsock_soak/proc_sampler.hpp"
#include "vsock_soak/soak.hpp"
#include "vsocklib/backoff.hpp"
#include "vsocklib/connect.hpp"
#include "vsocklib/error.hpp"
#include "vsocklib/repeat_log.hpp"

namespace vsock_soak {
namespace {

namespace asio = vsocklib::asio;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;
using vsocklib::error_code;
using vsocklib::use_tuple;

enum class phase { running, draining, stopped };

struct sent_message {
  std::uint64_t seq;
  std::uint32_t length;
  clock::time_point sent_at;
};

// Why a connection ended, from the stream's point of view.
enum class end_reason { broken, stopping, error };

struct stream_state {
  stream_state(asio::io_context& io, std::uint32_t i)
      : id(i), wake(io, clock::time_point::max()), resume(io, clock::time_point::max()) {}
  std::uint32_t id;
  std::uint64_t next_send = 0;    // seq of the next message to send
  std::uint64_t next_verify = 0;  // seq whose echo comes next
  std::uint64_t verified_offset = 0;  // stream offset of next_verify's payload
  std::uint64_t send_limit = ~std::uint64_t{0};  // during the drain: no new messages
  std::deque<sent_message> inflight;
  vsocklib::stream_socket* sock = nullptr;  // while connected
  asio::steady_timer wake;    // event: the reader made room in the window / phase changed
  asio::steady_timer resume;  // event: a pause ended
  bool paused = false;
  bool done = false;          // the coroutine finished
  bool stalled = false;       // the watchdog closed the connection
  bool dropped = false;       // a drop fault closed the connection
  clock::time_point last_progress = clock::now();
  std::vector<std::byte> out, in, scratch;
};

struct episode {
  clock::time_point start;
  std::string cause;
  std::vector<bool> pending;  // per stream: no message sent after start verified yet
  unsigned remaining = 0;
  unsigned broken = 0;
};

class soak_client {
 public:
  soak_client(const run_options& opt, std::shared_ptr<spdlog::logger> log)
      : opt_(opt),
        log_(std::move(log)),
        connect_log_(log_),
        rng_(opt.seed ^ 0x5eedfau),
        all_done_(io_, clock::time_point::max()),
        hook_done_(io_, clock::time_point::max()),
        phase_changed_(io_, clock::time_point::max()) {
    for (unsigned i = 0; i < opt.streams; ++i) streams_.push_back(std::make_unique<stream_state>(io_, i));
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

  results run() {
    start_ = clock::now();
    std::time_t now = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    r_.started_utc = buf;
    asio::co_spawn(io_, main_loop(this), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    io_.run();
    return std::move(r_);
  }

 private:
  struct watched {
    watched_process proc;
    bool fixed_pid = false;
    std::uint64_t last_ticks = 0;
    bool have_ticks = false;
    long first_point = -1;  // index of the first sample after the warm-up (current pid)
  };

  static std::string comm_of(pid_t p) {
    std::ifstream in("/proc/" + std::to_string(p) + "/comm");
    std::string s;
    std::getline(in, s);
    return s;
  }

  double since_start(clock::time_point t) const {
    return std::chrono::duration<double>(t - start_).count();
  }

  // ---- errors and recoveries ----

  void first_error(const std::string& what) {
    if (r_.first_error.empty()) r_.first_error = what;
    ++sec_errors_;
  }

  void open_episode(std::string cause, clock::time_point at) {
    episode e;
    e.start = at;
    e.cause = std::move(cause);
    // A stream paused on purpose cannot show recovery from something else until its own
    // pause ends (which is timed as a fault of its own), so it is not waited for.
    for (const auto& st : streams_) e.pending.push_back(!st->paused);
    e.remaining = static_cast<unsigned>(std::count(e.pending.begin(), e.pending.end(), true));
    if (e.remaining == 0) {
      close_episode(e, at, true);
      return;
    }
    episodes_.push_back(std::move(e));
  }

  void close_episode(const episode& e, clock::time_point end, bool recovered) {
    recovery rc;
    rc.start_s = since_start(e.start);
    rc.cause = e.cause;
    rc.streams_broken = e.broken;
    rc.duration_ms = std::chrono::duration<double, std::milli>(end - e.start).count();
    rc.recovered = recovered;
    if (recovered) {
      log_->info("recovered from {} at {:.1f} s in {:.0f} ms ({} connections broken)", rc.cause, rc.start_s,
                 rc.duration_ms, rc.streams_broken);
    }
    if (rc.recovered && rc.duration_ms > double(opt_.recovery_bound.count())) {
      log_->warn("recovery from {} took {:.0f} ms, over the {} ms bound", rc.cause, rc.duration_ms,
                 opt_.recovery_bound.count());
    }
    max_recovery_ms_ = std::max(max_recovery_ms_, rc.duration_ms);
    ++recoveries_total_;
    if (r_.recoveries.size() < 10000) r_.recoveries.push_back(std::move(rc));
    else ++r_.recoveries_not_listed;
  }

  void on_break(stream_state& st, const std::string& why) {
    ++r_.breaks;
    ++sec_breaks_;
    log_->debug("stream {}: connection lost at seq {}: {}", st.id, st.next_verify, why);
    // A break while a fault's command runs belongs to that fault, whose recovery is timed
    // from the command's return.
    if (commands_running_ > 0) {
      ++breaks_during_command_;
      return;
    }
    if (episodes_.empty()) open_episode("connection lost", clock::now());
    ++episodes_.back().broken;
  }

  void on_verified(stream_state& st, clock::time_point sent_at) {
    const auto now = clock::now();
    for (auto it = episodes_.begin(); it != episodes_.end();) {
      if (it->pending[st.id] && sent_at >= it->start) {
        it->pending[st.id] = false;
        if (--it->remaining == 0) {
          close_episode(*it, now, true);
          it = episodes_.erase(it);
          continue;
        }
      }
      ++it;
    }
  }

  void record_corruption(stream_state& st, std::uint64_t seq, std::uint64_t offset, bool header,
                         std::string direction, std::string detail) {
    ++r_.corruptions;
    const auto text = fmt::format("stream {}: corrupt data at offset {} (seq {}{}, {}): {}", st.id, offset, seq,
                                  header ? ", header" : "", direction, detail);
    log_->error("{}", text);
    first_error(text);
    if (!r_.first_corruption) r_.first_corruption = corruption{st.id, offset, seq, header, direction, detail};
  }

  void record_lost(stream_state& st, std::uint64_t from_seq, std::uint64_t to_seq, const std::string& where) {
    ++r_.gaps;
    std::uint64_t bytes = 0;
    for (auto s = from_seq; s < to_seq && s < from_seq + 100000; ++s) {
      bytes += message_length(opt_.seed, st.id, s, opt_.sizes);
    }
    r_.lost_messages += to_seq - from_seq;
    r_.lost_bytes += bytes;
    const auto text = fmt::format("stream {}: {} messages lost ({}): seq {} to {}", st.id, to_seq - from_seq,
                                  where, from_seq, to_seq - 1);
    log_->error("{}", text);
    first_error(text);
  }

  // ---- one stream ----

  // Offset in the stream of message SEQ (in flight), from the window's lengths.
  std::uint64_t offset_of(const stream_state& st, std::uint64_t seq) const {
    std::uint64_t off = st.verified_offset;
    for (const auto& m : st.inflight) {
      if (m.seq == seq) break;
      off += m.length;
    }
    return off;
  }

  static asio::awaitable<void> writer(soak_client* c, stream_state* st, vsocklib::stream_socket* s, bool* failed) {
    for (;;) {
      if (c->phase_ == phase::stopped) co_return;
      if (st->inflight.size() >= c->opt_.window || st->next_send >= st->send_limit) {
        co_await st->wake.async_wait(use_tuple);
        continue;
      }
      const std::uint64_t seq = st->next_send;
      const std::uint32_t len = message_length(c->opt_.seed, st->id, seq, c->opt_.sizes);
      st->out.resize(kHeaderSize + len);
      auto payload = std::span<std::byte>(st->out).subspan(kHeaderSize);
      fill_payload(c->opt_.seed, st->id, seq, payload);
      encode_header(frame_type::data, st->id, seq, payload, std::span<std::byte, kHeaderSize>(st->out.data(), kHeaderSize));
      // Counted in flight before the write completes: an echo can come back before
      // the write's completion handler runs.
      st->inflight.push_back({seq, len, clock::now()});
      ++st->next_send;
      auto [ec, n] = co_await asio::async_write(*s, asio::buffer(st->out), use_tuple);
      if (ec) {
        *failed = true;
        co_return;
      }
    }
  }

  static asio::awaitable<void> reader(soak_client* c, stream_state* st, vsocklib::stream_socket* s, end_reason* why) {
    auto& r = c->r_;
    std::array<std::byte, kHeaderSize> raw;
    std::uint32_t magic = 0;
    for (;;) {
      while (st->paused) co_await st->resume.async_wait(use_tuple);
      if (c->phase_ == phase::draining && st->inflight.empty() && st->next_send >= st->send_limit) {
        *why = end_reason::stopping;
        co_return;
      }
      auto [ec, n] = co_await asio::async_read(*s, asio::buffer(raw), use_tuple);
      if (ec) {
        *why = c->phase_ == phase::stopped ? end_reason::stopping : end_reason::broken;
        co_return;
      }
      const header h = decode_header(raw, magic);
      if (magic == kMagic && h.type == frame_type::problem && h.length <= 4096) {
        st->in.resize(h.length);
        std::tie(ec, n) = co_await asio::async_read(*s, asio::buffer(st->in), use_tuple);
        if (ec || h.length < 9) {
          *why = end_reason::broken;
          co_return;
        }
        const auto index = get_u64(st->in);
        const auto kind = static_cast<problem_kind>(st->in[8]);
        const std::string text(reinterpret_cast<const char*>(st->in.data()) + 9, h.length - 9);
        if (kind == problem_kind::gap) {
          c->record_lost(*st, h.seq, h.seq + 1, "seen by the server: " + text);
        } else {
          const bool hdr = index == kHeaderIndex;
          c->record_corruption(*st, h.seq, c->offset_of(*st, h.seq) + (hdr ? 0 : index), hdr, "to server", text);
        }
        *why = end_reason::error;
        co_return;
      }
      if (st->inflight.empty()) {
        ++r.duplicates;
        c->first_error(fmt::format("stream {}: a frame arrived with nothing in flight (seq field {})", st->id, h.seq));
        *why = end_reason::error;
        co_return;
      }
      const sent_message m = st->inflight.front();
      // A frame claiming to be the expected message with another length is damaged: do
      // not read a payload of a length that cannot be trusted.
      const bool bad_length = h.length > kMaxLength || (magic == kMagic && h.seq == m.seq && h.length != m.length);
      verdict v;
      if (magic != kMagic || bad_length) {
        v.what = verdict::kind::corrupt;
        v.index = kHeaderIndex;
        v.detail = magic != kMagic ? "bad magic" : fmt::format("length field {} (expected {})", h.length, m.length);
      } else {
        st->in.resize(h.length);
        std::tie(ec, n) = co_await asio::async_read(*s, asio::buffer(st->in), use_tuple);
        if (ec) {
          *why = c->phase_ == phase::stopped ? end_reason::stopping : end_reason::broken;
          co_return;
        }
        v = verify_data(c->opt_.seed, st->id, m.seq, m.length, magic, h, raw, st->in, st->scratch);
      }
      switch (v.what) {
        case verdict::kind::ok: {
          const auto now = clock::now();
          const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - m.sent_at).count();
          r.latency.record(static_cast<std::uint64_t>(us));
          c->sec_latency_.record(static_cast<std::uint64_t>(us));
          ++r.messages;
          r.bytes += m.length;
          ++c->sec_messages_;
          c->sec_bytes_ += m.length;
          st->inflight.pop_front();
          ++st->next_verify;
          st->verified_offset += m.length;
          st->last_progress = now;
          st->wake.cancel();
          c->on_verified(*st, m.sent_at);
          if (c->phase_ == phase::draining) c->check_drained();
          continue;
        }
        case verdict::kind::corrupt:
          c->record_corruption(*st, m.seq, st->verified_offset + (v.index == kHeaderIndex ? 0 : v.index),
                               v.index == kHeaderIndex, "echo", v.detail);
          break;
        case verdict::kind::gap:
          c->record_lost(*st, m.seq, v.got_seq, "echo: " + v.detail);
          break;
        case verdict::kind::duplicate:
          ++r.duplicates;
          c->first_error(fmt::format("stream {}: duplicate: {}", st->id, v.detail));
          break;
      }
      *why = end_reason::error;
      co_return;
    }
  }

  // Connects and says hello; false when either fails.
  static asio::awaitable<bool> establish(soak_client* c, stream_state* st, vsocklib::stream_socket& out) {
    using namespace asio::experimental::awaitable_operators;
    auto [ec, s] = co_await vsocklib::async_connect(c->opt_.target, c->opt_.connect_timeout);
    if (ec) {
      c->connect_log_.warn(fmt::format("connect to {}: {}", c->opt_.target.to_string(), ec.message()));
      co_return false;
    }
    std::vector<std::byte> hello(kHeaderSize + 16);
    auto payload = std::span<std::byte>(hello).subspan(kHeaderSize);
    put_u64(payload.first(8), c->opt_.seed);
    put_u64(payload.subspan(8, 8), st->verified_offset);
    encode_header(frame_type::hello, st->id, st->next_verify, payload,
                  std::span<std::byte, kHeaderSize>(hello.data(), kHeaderSize));
    std::tie(ec, std::ignore) = co_await asio::async_write(s, asio::buffer(hello), use_tuple);
    std::array<std::byte, kHeaderSize> raw;
    if (!ec) {
      // The hello's answer proves the whole path: a forwarder (adb forward, a relay) may
      // accept the connection and only then find that its far side is gone.
      asio::steady_timer t(co_await asio::this_coro::executor, c->opt_.connect_timeout);
      auto res = co_await (asio::async_read(s, asio::buffer(raw), use_tuple) || t.async_wait(use_tuple));
      if (res.index() == 1) ec = vsocklib::errc::connect_timeout;
      else ec = std::get<0>(std::get<0>(res));
    }
    std::uint32_t magic = 0;
    if (!ec) {
      const header h = decode_header(raw, magic);
      if (magic != kMagic || h.type != frame_type::hello_ok || h.stream != st->id || h.seq != st->next_verify) {
        c->connect_log_.warn(fmt::format("{}: the peer's answer to hello is not a vsock-soak hello_ok",
                                         c->opt_.target.to_string()));
        co_return false;
      }
    } else {
      c->connect_log_.warn(fmt::format("{}: no answer to hello: {}", c->opt_.target.to_string(), ec.message()));
      co_return false;
    }
    out = std::move(s);
    co_return true;
  }

  static asio::awaitable<void> stream_main(soak_client* c, stream_state* st) {
    using namespace asio::experimental::awaitable_operators;
    vsocklib::backoff bo({.initial = 20ms, .max = 500ms, .multiplier = 2.0, .jitter = 0.2}, c->opt_.seed + st->id);
    bool after_break = false;
    asio::steady_timer delay(co_await asio::this_coro::executor);
    while (c->phase_ != phase::stopped) {
      if (c->phase_ == phase::draining && st->inflight.empty() && st->next_send >= st->send_limit) break;
      if (after_break && !c->opt_.reconnect_hook.empty()) co_await c->run_hook();
      if (c->phase_ == phase::stopped) break;
      vsocklib::stream_socket s(c->io_);
      const bool ok = co_await establish(c, st, s);
      if (!ok) {
        ++c->r_.connect_failures;
        after_break = true;
        delay.expires_after(bo.next());
        c->delays_.insert(&delay);
        c->backoff_delays_.insert(&delay);
        co_await delay.async_wait(use_tuple);
        c->delays_.erase(&delay);
        c->backoff_delays_.erase(&delay);
        continue;
      }
      c->connect_log_.clear();
      if (after_break) ++c->r_.reconnects;
      after_break = false;
      // Resume from the first message whose echo was not verified: everything in flight
      // on the old connection is sent again.
      st->inflight.clear();
      st->next_send = st->next_verify;
      st->last_progress = clock::now();
      st->stalled = st->dropped = false;
      st->sock = &s;
      bool write_failed = false;
      end_reason why = end_reason::broken;
      co_await (writer(c, st, &s, &write_failed) || reader(c, st, &s, &why));
      st->sock = nullptr;
      error_code ignored;
      s.shutdown(asio::socket_base::shutdown_both, ignored);
      s.close(ignored);
      if (why == end_reason::stopping || c->phase_ == phase::stopped) continue;
      if (st->verified_offset > 0 || st->next_verify > 0) bo.reset();
      after_break = true;
      c->on_break(*st, st->stalled ? "stalled" : st->dropped ? "dropped by a fault" : why == end_reason::error ? "after an error" : "closed by the peer");
    }
    st->done = true;
    c->all_done_.cancel();
  }

  // ---- the reconnect hook: one run at a time, shared by every stream that waits ----

  asio::awaitable<void> run_hook() {
    const auto gen = hook_generation_;
    if (!hook_running_) {
      hook_running_ = true;
      asio::co_spawn(io_, hook_main(this), asio::detached);
    }
    while (hook_generation_ == gen && phase_ != phase::stopped) co_await hook_done_.async_wait(use_tuple);
  }

  static asio::awaitable<void> hook_main(soak_client* c) {
    try {
      auto res = co_await detail::async_run_command(c->opt_.reconnect_hook, c->opt_.command_timeout, c->running_);
      if (res.exit_status != 0) c->log_->warn("reconnect hook: {}", res.describe());
      else c->log_->debug("reconnect hook: {} in {} ms", res.describe(), res.took.count());
    } catch (const std::exception& e) {
      c->log_->error("reconnect hook: {}", e.what());
    }
    ++c->hook_generation_;
    c->hook_running_ = false;
    c->hook_done_.cancel();
  }

  // ---- faults ----

  void add_fault(fault_event f) {
    log_->info("fault at {:.1f} s: {} {}", f.t_s, f.kind, f.detail);
    if (r_.faults.size() < 10000) r_.faults.push_back(std::move(f));
    else ++r_.faults_not_listed;
  }

  // Waits D or until the run stops running; false when it stopped, or when a fault now
  // could not recover (within the bound) before the drain begins.
  asio::awaitable<bool> sleep_while_running(clock::duration d) {
    asio::steady_timer t(io_, d);
    fault_timers_.insert(&t);
    co_await t.async_wait(use_tuple);
    fault_timers_.erase(&t);
    co_return phase_ == phase::running && clock::now() + opt_.recovery_bound < start_ + opt_.duration;
  }

  static asio::awaitable<void> command_fault_loop(soak_client* c, std::string kind, command_fault f) {
    for (;;) {
      if (!co_await c->sleep_while_running(f.every)) co_return;
      const auto t = clock::now();
      fault_event ev{c->since_start(t), kind, "", 0};
      ++c->commands_running_;
      try {
        auto res = co_await detail::async_run_command(f.command, c->opt_.command_timeout, c->running_);
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
      for (auto* d : c->backoff_delays_) d->cancel();
    }
  }

  stream_state* pick_connected() {
    std::vector<stream_state*> live;
    for (auto& s : streams_) {
      if (s->sock && !s->paused) live.push_back(s.get());
    }
    if (live.empty()) return nullptr;
    return live[std::uniform_int_distribution<std::size_t>(0, live.size() - 1)(rng_)];
  }

  static asio::awaitable<void> drop_loop(soak_client* c) {
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

  static asio::awaitable<void> pause_loop(soak_client* c) {
    for (;;) {
      if (!co_await c->sleep_while_running(c->opt_.pause_every)) co_return;
      stream_state* st = c->pick_connected();
      if (!st) continue;
      c->add_fault({c->since_start(clock::now()), "pause", fmt::format("stream {} for {} ms", st->id, c->opt_.pause_for.count()), 0});
      st->paused = true;
      co_await c->sleep_while_running(c->opt_.pause_for);
      st->paused = false;
      st->last_progress = clock::now();
      st->resume.cancel();
      if (c->phase_ == phase::running) c->open_episode(fmt::format("pause stream {}", st->id), clock::now());
    }
  }

  // ---- once a second: series, processes, watchdog, progress ----

  void sample_processes(clock::time_point now) {
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
  static void window_peaks(watched& w, double window_s) {
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
    auto first_end = std::find_if(begin, p.points.end(), [&](const proc_point& x) { return x.t_s > t0 + window_s; });
    auto last_begin = std::find_if(begin, p.points.end(), [&](const proc_point& x) { return x.t_s >= t_end - window_s; });
    p.baseline = peak(begin, first_end);
    p.last = peak(last_begin, p.points.end());
    p.last->t_s = t_end;
  }

  void watchdog(clock::time_point now) {
    for (auto& st : streams_) {
      if (st->sock && !st->paused && !st->inflight.empty() && now - st->last_progress > opt_.stall_timeout) {
        ++r_.stalls;
        first_error(fmt::format("stream {}: no echo for {} ms with {} messages in flight", st->id,
                                opt_.stall_timeout.count(), st->inflight.size()));
        log_->error("stream {}: stalled (no echo for {} ms); reconnecting", st->id, opt_.stall_timeout.count());
        st->stalled = true;
        error_code ignored;
        st->sock->close(ignored);
      }
    }
  }

  std::string status_text(clock::time_point now) const {
    const double t = since_start(now);
    std::string s = fmt::format("[{:5.0f}/{:.0f} s] {}/s verified, {} total, p99 {}, errors {}, breaks {}, recoveries {} (max {:.0f} ms)",
                                t, std::chrono::duration<double>(opt_.duration).count(),
                                human_bytes(double(sec_bytes_last_)), human_bytes(double(r_.bytes)),
                                human_us(double(last_p99_)),
                                r_.corruptions + r_.gaps + r_.duplicates + r_.stalls, r_.breaks, recoveries_total_,
                                max_recovery_ms_);
    for (const auto& w : watched_) {
      if (w.proc.last) s += fmt::format(", {} {:.1f} MiB {} fds", w.proc.name, double(w.proc.last->rss_kib) / 1024, w.proc.last->fds);
    }
    if (phase_ == phase::draining) s += " (draining)";
    return s;
  }

  static asio::awaitable<void> ticker(soak_client* c) {
    asio::steady_timer t(c->io_);
    auto next = c->start_;
    while (c->phase_ != phase::stopped) {
      next += 1s;
      // After a stall (a starved VM), one long interval instead of a burst of catch-up ticks.
      if (next < clock::now()) next = clock::now() + 1s;
      t.expires_at(next);
      c->delays_.insert(&t);
      co_await t.async_wait(use_tuple);
      c->delays_.erase(&t);
      if (c->phase_ == phase::stopped) break;
      c->tick(clock::now());
    }
  }

  void tick(clock::time_point now) {
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

  void progress(clock::time_point now) {
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

  // ---- the run ----

  bool drained() const {
    for (auto& st : streams_) {
      if (!st->inflight.empty() || st->next_send < st->send_limit) return false;
    }
    return true;
  }
  void check_drained() {
    if (drained()) phase_changed_.cancel();
  }

  void stop_everything() {
    phase_ = phase::stopped;
    error_code ignored;
    for (auto& st : streams_) {
      if (st->sock) st->sock->close(ignored);
      st->wake.cancel();
      st->resume.cancel();
    }
    for (auto* t : delays_) t->cancel();
    for (auto* t : fault_timers_) t->cancel();
    for (pid_t p : running_) ::kill(-p, SIGKILL);
    hook_done_.cancel();
  }

  static asio::awaitable<void> wait_for(soak_client* c, asio::steady_timer& event, clock::time_point deadline) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer t(c->io_, deadline);
    co_await (event.async_wait(use_tuple) || t.async_wait(use_tuple));
  }

  static asio::awaitable<void> main_loop(soak_client* c) {
    auto& o = c->opt_;
    c->log_->info("soak of {}: {} streams, sizes {}, {} in flight each, seed {}, {} s", o.target.to_string(),
                  o.streams, o.sizes.to_string(), o.window, o.seed, std::chrono::duration<double>(o.duration).count());
    for (auto& st : c->streams_) asio::co_spawn(c->io_, stream_main(c, st.get()), asio::detached);
    asio::co_spawn(c->io_, ticker(c), asio::detached);
    if (o.restart.every.count() > 0) asio::co_spawn(c->io_, command_fault_loop(c, "restart", o.restart), asio::detached);
    if (o.flap.every.count() > 0) asio::co_spawn(c->io_, command_fault_loop(c, "flap", o.flap), asio::detached);
    if (o.drop_every.count() > 0) asio::co_spawn(c->io_, drop_loop(c), asio::detached);
    if (o.pause_every.count() > 0) asio::co_spawn(c->io_, pause_loop(c), asio::detached);

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
    while (!c->drained() && clock::now() < drain_deadline) co_await wait_for(c, c->phase_changed_, drain_deadline);
    const auto end = clock::now();
    c->stop_everything();
    for (;;) {
      bool all = true;
      for (auto& st : c->streams_) all = all && st->done;
      if (all) break;
      co_await wait_for(c, c->all_done_, clock::now() + 5s);
    }
    c->finish(end);
  }

  void finish(clock::time_point end) {
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
    io_.stop();
  }

  const run_options& opt_;
  std::shared_ptr<spdlog::logger> log_;
  vsocklib::repeat_log connect_log_;
  std::mt19937_64 rng_;
  asio::io_context io_{1};
  clock::time_point start_;
  phase phase_ = phase::running;
  results r_;
  std::vector<std::unique_ptr<stream_state>> streams_;
  std::deque<episode> episodes_;
  std::vector<watched> watched_;
  std::set<asio::steady_timer*> delays_;        // backoff waits, the ticker: cut short at stop
  std::set<asio::steady_timer*> fault_timers_;  // fault schedules: end when the drain begins
  std::set<asio::steady_timer*> backoff_delays_;  // streams waiting to reconnect
  unsigned commands_running_ = 0;               // fault commands in progress
  unsigned breaks_during_command_ = 0;
  std::set<pid_t> running_;
  asio::steady_timer all_done_, hook_done_, phase_changed_;
  bool hook_running_ = false;
  std::uint64_t hook_generation_ = 0;
  histogram sec_latency_;
  std::uint64_t sec_bytes_ = 0, sec_messages_ = 0, sec_errors_ = 0, sec_breaks_ = 0;
  std::uint64_t sec_bytes_last_ = 0, last_p99_ = 0, recoveries_total_ = 0;
  double max_recovery_ms_ = 0;
  double last_tick_s_ = 0;
  unsigned ticks_since_line_ = 0;
  bool tty_ = false;
};

}  // namespace

results run_soak(const run_options& opt, std::shared_ptr<spdlog::logger> log) {
  if (opt.streams == 0 || opt.window == 0) throw std::invalid_argument("--streams and --window must be at least 1");
  soak_client c(opt, std::move(log));
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
    throw std::invalid_argument("\"" + text + "\" is not a duration (e.g. 90, 20s, 500ms, 10m, 1h)");
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
