// A connector that keeps trying: exponential backoff with jitter between attempts, a
// deadline on each attempt, and a backoff that is reset only when the caller says the
// session it got was a working one. One connector serves byte streams and vsock-seqpacket
// records alike, so no program writes its own reconnect loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <tuple>

#include "vsocklib/address.hpp"
#include "vsocklib/asio.hpp"
#include "vsocklib/backoff.hpp"
#include "vsocklib/connect.hpp"
#include "vsocklib/repeat_log.hpp"

namespace spdlog {
class logger;
}

namespace vsocklib {

struct connector_options {
  backoff_options backoff;
  std::chrono::milliseconds connect_timeout = kDefaultConnectTimeout;
};

/// Thread safety: one coroutine at a time, on one strand.
class connector {
 public:
  /// Throws std::invalid_argument when OPT does not validate or TO is neither a stream nor
  /// a vsock-seqpacket address. FAILURE_LOG is where failed attempts are logged (once,
  /// then with a count): connectors that share one (e.g. a program's parallel streams to
  /// one target) log an outage once instead of once each; null: a log of its own.
  connector(address to, connector_options opt, std::shared_ptr<spdlog::logger> log,
            std::uint64_t seed = std::random_device{}(),
            std::shared_ptr<repeat_log> failure_log = nullptr);

  /// Connects, retrying with backoff until it succeeds or the awaiting coroutine is
  /// cancelled (then operation_aborted, promptly, also in the middle of a wait or an
  /// attempt). The first call tries at once; after a success that was not followed by
  /// session_proven(), the next call waits a backoff delay first, so a peer that accepts
  /// and drops at once is not hammered. errc::wrong_transport at once when the target is
  /// a vsock-seqpacket address.
  asio::awaitable<std::tuple<error_code, stream_socket>> async_connect();

  /// One attempt as the caller makes it: typically async_connect_once() and then a protocol
  /// handshake, so that a peer that accepts but does not answer is a failed attempt.
  using stream_attempt = std::function<asio::awaitable<std::tuple<error_code, stream_socket>>()>;

  /// As async_connect(), each attempt being ATTEMPT: an error from it counts, is logged and
  /// is retried with backoff like a failed connect. Cancellation reaches ATTEMPT too.
  asio::awaitable<std::tuple<error_code, stream_socket>> async_connect(stream_attempt attempt);

  /// One plain attempt to target() within the connect timeout, for a stream_attempt to
  /// build on; no retry, no backoff, not counted.
  asio::awaitable<std::tuple<error_code, stream_socket>> async_connect_once();

  /// The same for a vsock-seqpacket target (errc::wrong_transport for any other).
  asio::awaitable<std::tuple<error_code, seqpacket_socket>> async_connect_seqpacket();

  /// The peer has shown a working session (e.g. a protocol handshake completed): the next
  /// connect starts again from an immediate attempt and the initial delay.
  void session_proven() noexcept;

  /// Skips the current backoff delay: a call waiting one makes its next attempt now; with
  /// no call waiting, the next call attempts at once (as after session_proven()). Unlike
  /// session_proven() the delays keep growing. For callers that know the peer is worth
  /// trying now (e.g. a restart they caused has finished). An attempt in progress is not
  /// affected, nor is the wait after it.
  void retry_now() noexcept;

  const address& target() const noexcept { return to_; }
  std::uint64_t attempts() const noexcept { return attempts_; }
  std::uint64_t failures() const noexcept { return failures_; }
  std::uint64_t successes() const noexcept { return successes_; }
  /// Backoff waits begun, and the delay of the last one: what the connector decided,
  /// observable without a clock (tests, status documents).
  std::uint64_t waits() const noexcept { return waits_; }
  std::chrono::milliseconds last_delay() const noexcept { return last_delay_; }

 private:
  template <typename Socket, typename Attempt>
  asio::awaitable<std::tuple<error_code, Socket>> keep_trying(Attempt attempt);

  address to_;
  connector_options opt_;
  std::shared_ptr<spdlog::logger> log_;
  backoff backoff_;
  std::shared_ptr<repeat_log> failures_log_;
  asio::steady_timer* waiting_ = nullptr;  // the backoff wait in progress, for retry_now()
  bool wait_first_ = false;
  std::uint64_t attempts_ = 0;
  std::uint64_t failures_ = 0;
  std::uint64_t successes_ = 0;
  std::uint64_t waits_ = 0;
  std::chrono::milliseconds last_delay_{0};
};

}  // namespace vsocklib
