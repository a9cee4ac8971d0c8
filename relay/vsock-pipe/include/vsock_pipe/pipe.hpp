// vsock-pipe's run: LEFT's connections (or the one connection to it) pumped to RIGHT.
#pragma once

#include <memory>

#include "vsock_pipe/options.hpp"
#include "vsocklib/address.hpp"
#include "vsocklib/asio.hpp"

namespace spdlog {
class logger;
}

namespace vsock_pipe {

/// The options with both sides parsed, and the pump settings each side's transport needs.
struct plan {
  options opt;
  vsocklib::address left;
  vsocklib::address right;  ///< empty when RIGHT is standard input/output
};

/// OPT's addresses parsed and checked: each side vsock-pipe connects to (RIGHT, and LEFT
/// unless it listens) must name a peer. Fills opt.pump's half_close_* (--half-close, where
/// "auto" means linger towards hvsock) and bounded_* (one chunk per write into vsock and
/// hvsock). Throws usage_error.
plan make_plan(options opt);

/// One run's state. Not thread-safe: every coroutine on it runs on one single-threaded
/// io_context.
struct shared_state {
  shared_state(const vsocklib::asio::any_io_executor& ex, plan p,
               std::shared_ptr<spdlog::logger> log);

  options opt;
  vsocklib::address left, right;
  std::shared_ptr<spdlog::logger> log;
  unsigned active = 0;  ///< connections being served
  bool failed = false;  ///< a connect, accept or pump failed: exit status 1
  // Woken when a connection ends and --max-connections frees up.
  vsocklib::asio::steady_timer slot_freed;
};

/// Listens on LEFT and serves each connection (--once: the first) with its own connection
/// to RIGHT, or connects both sides and pumps once. Failures are logged and set st.failed.
vsocklib::asio::awaitable<void> run(shared_state& st);

}  // namespace vsock_pipe
