#include "adbd_relay/task_supervisor.hpp"

#include <spdlog/logger.h>

namespace adbd_relay {

namespace asio = vsocklib::asio;

task_supervisor::task_supervisor(asio::io_context& io, std::shared_ptr<spdlog::logger> log)
    : io_(io), log_(std::move(log)) {}

void task_supervisor::start(asio::awaitable<void> work, std::string name) {
  ++running_;
  auto& stop = stops_.emplace_back();
  asio::co_spawn(
      io_, std::move(work),
      asio::bind_cancellation_slot(
          stop.slot(), [this, name = std::move(name)](std::exception_ptr e) { ended(name, e); }));
}

void task_supervisor::stop_all() {
  for (auto& s : stops_) s.emit(asio::cancellation_type::terminal);
}

void task_supervisor::ended(const std::string& name, std::exception_ptr e) {
  if (e) {
    try {
      std::rethrow_exception(e);
    } catch (const boost::system::system_error& ex) {
      // Cancelled by stop_all(): Asio reports it as operation_aborted.
      if (ex.code() != asio::error::operation_aborted) {
        log_->error("[{}] {}", name, ex.what());
        failed_ = true;
        io_.stop();
      }
    } catch (const std::exception& ex) {
      log_->error("[{}] {}", name, ex.what());
      failed_ = true;
      io_.stop();
    }
  }
  if (--running_ == 0) io_.stop();
}

}  // namespace adbd_relay
