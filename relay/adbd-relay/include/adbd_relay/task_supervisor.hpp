// The daemon's long-running tasks (one per guest, one per host-mode listener, host mode's
// device watcher) on its one io_context, and the rule for when the daemon ends: at the first
// task that fails, or when the last one has ended.
#pragma once

#include <exception>
#include <list>
#include <memory>
#include <string>

#include "vsocklib/asio.hpp"

namespace spdlog {
class logger;
}

namespace adbd_relay {

/// Thread safety: none; use it on the io_context's one thread (or before it runs). It must
/// outlive the io_context's run(): each task's completion refers to it.
class task_supervisor {
 public:
  task_supervisor(vsocklib::asio::io_context& io, std::shared_ptr<spdlog::logger> log);
  task_supervisor(const task_supervisor&) = delete;
  task_supervisor& operator=(const task_supervisor&) = delete;

  /// Spawns WORK on the io_context; NAME prefixes its error in the log. A task that fails
  /// (an exception other than cancellation) makes exit_status() 1 and stops the io_context:
  /// a relay that cannot start (no configfs, no UDC, address in use) ends the daemon. When
  /// the last task has ended, the io_context stops as well.
  void start(vsocklib::asio::awaitable<void> work, std::string name);

  /// Cancels every task (terminal cancellation), as SIGTERM and SIGINT do.
  void stop_all();

  /// Tasks started and not yet ended.
  unsigned running() const noexcept { return running_; }

  /// 1 once a task has failed, else 0.
  int exit_status() const noexcept { return failed_ ? 1 : 0; }

 private:
  void ended(const std::string& name, std::exception_ptr e);

  vsocklib::asio::io_context& io_;
  std::shared_ptr<spdlog::logger> log_;
  // A list: a cancellation_signal cannot move, and each task's slot points into its own.
  std::list<vsocklib::asio::cancellation_signal> stops_;
  unsigned running_ = 0;
  bool failed_ = false;
};

}  // namespace adbd_relay
