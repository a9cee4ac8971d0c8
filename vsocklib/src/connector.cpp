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
                     std::uint64_t seed, std::shared_ptr<repeat_log> failure_log)
    : to_(std::move(to)),
      opt_(opt),
      log_(std::move(log)),
      backoff_(opt.backoff, seed),
      failures_log_(failure_log ? std::move(failure_log) : std::make_shared<repeat_log>(log_)) {
  if (auto why = opt_.backoff.validate(); !why.empty()) throw std::invalid_argument(why);
  if (opt_.connect_timeout.count() <= 0) {
    throw std::invalid_argument("connect timeout must be positive");
  }
  if (!to_.is_stream() && to_.kind != transport::vsock_seqpacket) {
    throw std::invalid_argument("a connector needs a stream or vsock-seqpacket address, not " +
                                to_.to_string());
  }
}

void connector::session_proven() noexcept {
  wait_first_ = false;
  backoff_.reset();
}

void connector::retry_now() noexcept {
  wait_first_ = false;
  if (waiting_) waiting_->cancel();
}

template <typename Socket, typename Attempt>
asio::awaitable<std::tuple<error_code, Socket>> connector::keep_trying(Attempt attempt) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  // Read once per call: retry_now() during an attempt must not skip the wait after it.
  bool wait = wait_first_;
  try {
    for (;;) {
      if (wait) {
        const auto delay = backoff_.next();
        ++waits_;
        last_delay_ = delay;
        log_->debug("next attempt to {} in {} ms", to_.to_string(), delay.count());
        timer.expires_after(delay);
        waiting_ = &timer;
        co_await timer.async_wait(use_tuple);  // operation_aborted from retry_now() too
        waiting_ = nullptr;
        if (cancelled(co_await asio::this_coro::cancellation_state)) {
          co_return std::tuple{error_code(asio::error::operation_aborted), Socket(ex)};
        }
      }
      wait = true;
      wait_first_ = true;
      ++attempts_;
      auto [ec, s] = co_await attempt();
      if (cancelled(co_await asio::this_coro::cancellation_state)) {
        co_return std::tuple{error_code(asio::error::operation_aborted), Socket(ex)};
      }
      if (!ec) {
        ++successes_;
        wait_first_ = true;  // even if retry_now() came during the attempt
        if (failures_log_->repeats() > 0) {
          failures_log_->clear();  // logs how often the last failure repeated
          log_->info("connected to {}", to_.to_string());
        } else {
          log_->debug("connected to {}", to_.to_string());
        }
        co_return std::tuple{ec, std::move(s)};
      }
      ++failures_;
      failures_log_->warn("connect to " + to_.to_string() + " failed: " + ec.message());
    }
  } catch (const boost::system::system_error& e) {
    waiting_ = nullptr;
    // A cancelled coroutine throws operation_aborted at its next co_await; report it as a
    // value like every other outcome.
    if (e.code() != asio::error::operation_aborted) throw;
  }
  co_return std::tuple{error_code(asio::error::operation_aborted), Socket(ex)};
}

asio::awaitable<std::tuple<error_code, stream_socket>> connector::async_connect() {
  if (!to_.is_stream()) {
    co_return std::tuple{make_error_code(errc::wrong_transport),
                         stream_socket(co_await asio::this_coro::executor)};
  }
  co_return co_await keep_trying<stream_socket>(
      [this] { return vsocklib::async_connect(to_, opt_.connect_timeout); });
}

asio::awaitable<std::tuple<error_code, stream_socket>> connector::async_connect(
    stream_attempt attempt) {
  if (!to_.is_stream()) {
    co_return std::tuple{make_error_code(errc::wrong_transport),
                         stream_socket(co_await asio::this_coro::executor)};
  }
  co_return co_await keep_trying<stream_socket>(std::move(attempt));
}

asio::awaitable<std::tuple<error_code, stream_socket>> connector::async_connect_once() {
  if (!to_.is_stream()) {
    co_return std::tuple{make_error_code(errc::wrong_transport),
                         stream_socket(co_await asio::this_coro::executor)};
  }
  co_return co_await vsocklib::async_connect(to_, opt_.connect_timeout);
}

asio::awaitable<std::tuple<error_code, seqpacket_socket>> connector::async_connect_seqpacket() {
  if (to_.kind != transport::vsock_seqpacket) {
    co_return std::tuple{make_error_code(errc::wrong_transport),
                         seqpacket_socket(co_await asio::this_coro::executor)};
  }
  co_return co_await keep_trying<seqpacket_socket>(
      [this] { return vsocklib::async_connect_seqpacket(to_, opt_.connect_timeout); });
}

}  // namespace vsocklib
