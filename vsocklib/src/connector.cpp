#include "vsocklib/connector.hpp"

#include <stdexcept>

#include <spdlog/logger.h>

#include "vsocklib/error.hpp"

namespace vsocklib {
namespace {

bool cancelled(const asio::cancellation_state& cs) {
  return cs.cancelled() != asio::cancellation_type::none;
}

}  // namespace

connector::connector(address to, connector_options opt, std::shared_ptr<spdlog::logger> log,
                     std::uint64_t seed)
    : to_(std::move(to)),
      opt_(opt),
      log_(std::move(log)),
      backoff_(opt.backoff, seed),
      failures_log_(log_) {
  if (auto why = opt_.backoff.validate(); !why.empty()) throw std::invalid_argument(why);
  if (opt_.connect_timeout.count() <= 0) {
    throw std::invalid_argument("connect timeout must be positive");
  }
  if (!to_.is_stream()) {
    throw std::invalid_argument("a connector needs a stream address, not " + to_.to_string());
  }
}

void connector::session_proven() noexcept {
  wait_first_ = false;
  backoff_.reset();
}

asio::awaitable<std::tuple<error_code, stream_socket>> connector::async_connect() {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  try {
    for (;;) {
      if (wait_first_) {
        const auto delay = backoff_.next();
        log_->debug("next attempt to {} in {} ms", to_.to_string(), delay.count());
        timer.expires_after(delay);
        co_await timer.async_wait(use_tuple);
        if (cancelled(co_await asio::this_coro::cancellation_state)) {
          co_return std::tuple{error_code(asio::error::operation_aborted), stream_socket(ex)};
        }
      }
      wait_first_ = true;
      ++attempts_;
      auto [ec, s] = co_await vsocklib::async_connect(to_, opt_.connect_timeout);
      if (cancelled(co_await asio::this_coro::cancellation_state)) {
        co_return std::tuple{error_code(asio::error::operation_aborted), stream_socket(ex)};
      }
      if (!ec) {
        ++successes_;
        if (failures_log_.repeats() > 0) {
          failures_log_.clear();  // logs how often the last failure repeated
          log_->info("connected to {}", to_.to_string());
        } else {
          log_->debug("connected to {}", to_.to_string());
        }
        co_return std::tuple{ec, std::move(s)};
      }
      ++failures_;
      failures_log_.warn("connect to " + to_.to_string() + " failed: " + ec.message());
    }
  } catch (const boost::system::system_error& e) {
    // A cancelled coroutine throws operation_aborted at its next co_await; report it as a
    // value like every other outcome.
    if (e.code() != asio::error::operation_aborted) throw;
  }
  co_return std::tuple{error_code(asio::error::operation_aborted), stream_socket(ex)};
}

}  // namespace vsocklib
