// vsock-soak run, private to the library: the client's state and its parts. One class,
// one single-threaded io_context; its member functions live in one file per job:
//   client.cpp          the run: start every task, the duration, the drain, stop, join
//   stream.cpp          one stream: connect (through its vsocklib::connector) + hello,
//                       then the writer and the reader that verifies echoes
//   reconnect_hook.cpp  --reconnect-hook: one run at a time, shared by waiting streams
//   faults.cpp          the fault schedules: restart, flap, drop, pause, small burst
//   recovery.cpp        errors, losses, corruption, and the recovery clock (episodes)
//   sampling.cpp        once a second: series, watched processes, watchdog, progress line
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "vsock_soak/histogram.hpp"
#include "vsock_soak/proc_sampler.hpp"
#include "vsock_soak/soak.hpp"
#include "vsocklib/asio.hpp"
#include "vsocklib/connector.hpp"
#include "vsocklib/repeat_log.hpp"

namespace vsock_soak::detail {

namespace asio = vsocklib::asio;
using clock = std::chrono::steady_clock;

enum class phase { running, draining, stopped };

struct sent_message {
  std::uint64_t seq;
  std::uint32_t length;
  clock::time_point sent_at;
};

// Why a connection ended, from the stream's point of view.
enum class end_reason { broken, stopping, error };

struct stream_state {
  stream_state(asio::io_context& io, std::uint32_t i, std::unique_ptr<vsocklib::connector> c)
      : id(i),
        conn(std::move(c)),
        wake(io, clock::time_point::max()),
        resume(io, clock::time_point::max()) {}
  std::uint32_t id;
  std::unique_ptr<vsocklib::connector> conn;     // its backoff is this stream's alone
  std::uint64_t next_send = 0;                   // seq of the next message to send
  std::uint64_t next_verify = 0;                 // seq whose echo comes next
  std::uint64_t verified_offset = 0;             // stream offset of next_verify's payload
  std::uint64_t send_limit = ~std::uint64_t{0};  // during the drain: no new messages
  std::deque<sent_message> inflight;
  vsocklib::stream_socket* sock = nullptr;  // while connected
  asio::steady_timer wake;    // event: the reader made room in the window / phase changed
  asio::steady_timer resume;  // event: a pause ended
  bool paused = false;
  bool small_burst = false;  // the small-packets fault: small messages, a wider window
  bool after_break = false;  // the next attempt follows a break or a failed attempt
  bool stalled = false;      // the watchdog closed the connection
  bool dropped = false;      // a drop fault closed the connection
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
  soak_client(const run_options& opt, std::shared_ptr<spdlog::logger> log);
  /// Runs the soak to its end: returns once every task it started has finished.
  results run();

 private:
  struct watched {
    watched_process proc;
    bool fixed_pid = false;
    std::uint64_t last_ticks = 0;
    bool have_ticks = false;
    long first_point = -1;  // index of the first sample after the warm-up (current pid)
  };
  using stream_result = std::tuple<vsocklib::error_code, vsocklib::stream_socket>;

  double since_start(clock::time_point t) const {
    return std::chrono::duration<double>(t - start_).count();
  }

  // client.cpp: the run
  static asio::awaitable<void> main_task(soak_client* c);
  static asio::awaitable<void> join_tasks(soak_client* c);
  static asio::awaitable<void> control(soak_client* c);
  static asio::awaitable<void> wait_for(soak_client* c, asio::steady_timer& event,
                                        clock::time_point deadline);
  bool drained() const;
  void check_drained();
  void stop_everything();
  void finish(clock::time_point end);

  // recovery.cpp
  void first_error(const std::string& what);
  void open_episode(std::string cause, clock::time_point at);
  void close_episode(const episode& e, clock::time_point end, bool recovered);
  void on_break(stream_state& st, const std::string& why);
  void on_verified(stream_state& st, clock::time_point sent_at);
  void record_corruption(stream_state& st, std::uint64_t seq, std::uint64_t offset, bool header,
                         std::string direction, std::string detail);
  void record_lost(stream_state& st, std::uint64_t from_seq, std::uint64_t to_seq,
                   const std::string& where);

  // stream.cpp
  std::uint64_t offset_of(const stream_state& st, std::uint64_t seq) const;
  static asio::awaitable<void> writer(soak_client* c, stream_state* st, vsocklib::stream_socket* s,
                                      bool* failed);
  static asio::awaitable<void> reader(soak_client* c, stream_state* st, vsocklib::stream_socket* s,
                                      end_reason* why);
  static asio::awaitable<vsocklib::error_code> hello(soak_client* c, stream_state* st,
                                                     vsocklib::stream_socket& s);
  static asio::awaitable<stream_result> attempt(soak_client* c, stream_state* st);
  static asio::awaitable<void> connect_stream(soak_client* c, stream_state* st,
                                              std::optional<vsocklib::stream_socket>& out);
  static asio::awaitable<void> until_not_needed(soak_client* c, stream_state* st);
  static asio::awaitable<void> stream_main(soak_client* c, stream_state* st);

  // reconnect_hook.cpp
  asio::awaitable<void> run_hook();
  static asio::awaitable<void> hook_task(soak_client* c);

  // faults.cpp
  void add_fault(fault_event f);
  asio::awaitable<bool> sleep_while_running(clock::duration d);
  static asio::awaitable<void> command_fault_loop(soak_client* c, std::string kind,
                                                  command_fault f);
  stream_state* pick_connected();
  static asio::awaitable<void> drop_loop(soak_client* c);
  asio::awaitable<void> pause_stream(stream_state* st, clock::duration d, bool small_burst,
                                     std::string cause);
  static asio::awaitable<void> pause_loop(soak_client* c);
  static asio::awaitable<void> small_burst_loop(soak_client* c);

  // sampling.cpp
  static std::string comm_of(pid_t p);
  void sample_processes(clock::time_point now);
  static void window_peaks(watched& w, double window_s);
  void watchdog(clock::time_point now);
  std::string status_text(clock::time_point now) const;
  static asio::awaitable<void> ticker(soak_client* c);
  void tick(clock::time_point now);
  void progress(clock::time_point now);

  const run_options& opt_;
  std::shared_ptr<spdlog::logger> log_;
  // Shared by the streams' connectors: an outage is logged once, not once per stream.
  std::shared_ptr<vsocklib::repeat_log> connect_log_;
  std::mt19937_64 rng_;
  asio::io_context io_{1};
  clock::time_point start_, end_;
  phase phase_ = phase::running;
  results r_;
  std::vector<std::unique_ptr<stream_state>> streams_;
  std::deque<episode> episodes_;
  std::vector<watched> watched_;
  asio::steady_timer* tick_wait_ = nullptr;     // the ticker's wait: cut short at stop
  std::set<asio::steady_timer*> fault_timers_;  // fault schedules: end when the drain begins
  unsigned commands_running_ = 0;               // fault commands in progress
  unsigned breaks_during_command_ = 0;
  std::set<pid_t> running_;
  asio::steady_timer hook_request_, hook_done_, phase_changed_;  // events
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

}  // namespace vsock_soak::detail
