// A connector that keeps trying: exponential backoff with jitter between attempts, a
// deadline on each attempt, and a backoff that is reset only when the caller says the
// session it got was a working one. One connector serves byte streams and vsock-seqpacket
// records alike, so no program writes its own reconnect loop.
#pragma once

#include <chrono>
#include <cstdint>
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
  /// a vsock-seqpacket address.
  connector(address to, connector_options opt, std::shared_ptr<spdlog::logger> log,
            std::uint64_t seed = std::random_device{}());

  /// Connects, retrying with backoff until it succeeds or the awaiting coroutine is
  /// cancelled (then operation_aborted, promptly, also in the middle of a wait or an
  /// attempt). The first call tries at once; after a success that was not followed by
  /// session_proven(), the next call waits a backoff delay first, so a peer that accepts
  /// and drops at once is not hammered. errc::wrong_transport at once when the target is
  /// a vsock-seqpacket address.
  asio::awaitable<std::tuple<error_code, stream_socket>> async_connect();

  /// The same for a vsock-seqpacket target (errc::wrong_transport for any other).
  asio::awaitable<std::tuple<error_code, seqpacket_socket>> async_connect_seqpacket();

  /// The peer has shown a working session (e.g. a protocol handshake completed): the next
  /// connect starts again from an immediate attempt and the initial delay.
  void session_proven() noexcept;

  const address& target() const noexcept { return to_; }
  std::uint64_t attempts() const noexcept { return attempts_; }
  std::uint64_t failures() const noexcept { return failures_; }
  std::uint64_t successes() const noexcept { return successes_; }

 private:
  template <typename Socket, typename Attempt>
  asio::awaitable<std::tuple<error_code, Socket>> keep_trying(Attempt attempt);

  address to_;
  connector_options opt_;
  std::shared_ptr<spdlog::logger> log_;
  backoff backoff_;
  repeat_log failures_log_;
  bool wait_first_ = false;
  std::uint64_t attempts_ = 0;
  std::uint64_t failures_ = 0;
  std::uint64_t successes_ = 0;
};

}  // namespace vsocklib
