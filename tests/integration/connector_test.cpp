// The reconnecting connector: cancellation, logging of repeated failures, and when the
// backoff is reset.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <array>
#include <sstream>

#include "peers.hpp"
#include "run_coro.hpp"
#include "temp_dir.hpp"
#include "vsock_available.hpp"
#include "vsocklib/connector.hpp"
#include "vsocklib/error.hpp"
#include "vsocklib/listener.hpp"
#include "vsocklib/log.hpp"

namespace vsocklib {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<spdlog::logger> capture_logger(std::ostringstream& out) {
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
  auto l = std::make_shared<spdlog::logger>("captured", sink);
  l->set_pattern("%l %v");
  l->set_level(spdlog::level::info);
  return l;
}

int count_lines(const std::string& text, const std::string& needle) {
  int n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

// Runs IO until DONE() holds (checked every 10 ms of io time) or 20 s have passed: waits
// for a count to be reached instead of counting what a fixed time allowed.
template <typename Pred>
bool run_until(asio::io_context& io, Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!done() && std::chrono::steady_clock::now() < deadline) io.run_for(10ms);
  return done();
}

asio::awaitable<void> connect_once(connector& c, error_code& ec) {
  auto [e, s] = co_await c.async_connect();
  ec = e;
}

TEST(Connector, CancelStopsItPromptly) {
  asio::io_context io;
  test::temp_dir dir;
  std::ostringstream logs;
  connector_options opt;
  opt.backoff = {50ms, 200ms, 2.0, 0.0};
  connector c(parse_address("unix:" + dir.file("nobody")), opt, capture_logger(logs), 1);
  error_code ec;
  bool done = false;
  asio::cancellation_signal stop;
  asio::co_spawn(io, connect_once(c, ec),
                 asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e) {
                   done = true;
                   if (e) std::rethrow_exception(e);
                 }));
  ASSERT_TRUE(run_until(io, [&] { return c.attempts() > 3; }));
  EXPECT_FALSE(done);
  stop.emit(asio::cancellation_type::terminal);
  // Promptly: with the handlers already due, before any timer could expire.
  io.poll();
  ASSERT_TRUE(done) << "cancelling must not wait for the backoff delay";
  EXPECT_EQ(ec, asio::error::operation_aborted);
}

asio::awaitable<void> fail_then_succeed(connector& c, listener*& l, address at,
                                        std::shared_ptr<spdlog::logger> log, error_code& ec) {
  using namespace asio::experimental::awaitable_operators;
  auto open_later = [](listener*& l, address at,
                       std::shared_ptr<spdlog::logger> log) -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer t(ex, 400ms);
    co_await t.async_wait(use_tuple);
    l = new listener(ex, at, {}, log);
  };
  co_await (open_later(l, at, log) && connect_once(c, ec));
}

TEST(Connector, RepeatedFailuresAreLoggedOnceWithACount) {
  asio::io_context io;
  test::temp_dir dir;
  std::ostringstream logs;
  connector_options opt;
  opt.backoff = {10ms, 20ms, 2.0, 0.0};
  const auto at = parse_address("unix:" + dir.file("late"));
  connector c(at, opt, capture_logger(logs), 1);
  listener* l = nullptr;
  error_code ec;
  test::run_with_deadline(io, fail_then_succeed(c, l, at, log::get("test"), ec));
  std::unique_ptr<listener> owner(l);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_GE(c.failures(), 10u);
  const auto text = logs.str();
  EXPECT_EQ(count_lines(text, "warning connect to " + at.to_string() + " failed"), 2)
      << "first failure and the reminder at 10, nothing per attempt:\n"
      << text;
  EXPECT_EQ(count_lines(text, "repeated " + std::to_string(c.failures()) + " times"), 1) << text;
}

asio::awaitable<void> accept_forever(listener& l) {
  for (;;) {
    auto [ec, s, p] = co_await l.async_accept();
    if (ec) co_return;
  }
}

// What one async_connect() did: the backoff waits it began, the last delay, and the time
// it took (checked from below only: a timer never fires early, but a busy machine may run
// it late, so no upper bound on time is asserted).
struct connect_record {
  std::uint64_t waits = 0;
  std::chrono::milliseconds delay{0};
  std::chrono::steady_clock::duration took{};
};

asio::awaitable<void> recorded_connect(connector& c, connect_record& r) {
  const auto waits = c.waits();
  const auto t0 = std::chrono::steady_clock::now();
  auto [ec, s] = co_await c.async_connect();
  EXPECT_FALSE(ec) << ec.message();
  r = {c.waits() - waits, c.last_delay(), std::chrono::steady_clock::now() - t0};
}

asio::awaitable<void> reconnect_scenario(connector& c, listener& l, connect_record (&r)[3]) {
  using namespace asio::experimental::awaitable_operators;
  auto connects = [](connector& c, listener& l, connect_record(&r)[3]) -> asio::awaitable<void> {
    co_await recorded_connect(c, r[0]);  // first ever: at once
    co_await recorded_connect(c, r[1]);  // session not proven: waits a backoff delay
    c.session_proven();
    co_await recorded_connect(c, r[2]);  // proven: at once again
    l.close();
  };
  co_await (accept_forever(l) && connects(c, l, r));
}

TEST(Connector, BackoffResetsOnlyAfterAProvenSession) {
  asio::io_context io;
  test::temp_dir dir;
  listener l(io.get_executor(), parse_address("unix:" + dir.file("s")), {}, log::get("test"));
  connector_options opt;
  opt.backoff = {300ms, 1000ms, 2.0, 0.0};
  connector c(l.local_address(), opt, log::get("test"), 1);
  connect_record r[3];
  ASSERT_TRUE(test::run_with_deadline(io, reconnect_scenario(c, l, r)));
  EXPECT_EQ(r[0].waits, 0u);
  EXPECT_EQ(r[1].waits, 1u) << "a peer that drops at once must not be hammered";
  EXPECT_EQ(r[1].delay, 300ms);
  EXPECT_GE(r[1].took, 300ms);
  EXPECT_EQ(r[2].waits, 0u);
  EXPECT_EQ(c.successes(), 3u);
}

asio::awaitable<void> retry_now_scenario(connector& c, address at, std::unique_ptr<listener>& l,
                                         error_code& ec) {
  using namespace asio::experimental::awaitable_operators;
  auto open_and_retry = [](connector& c, address at,
                           std::unique_ptr<listener>& l) -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer t(ex, 200ms);  // the first attempt has failed; a long wait is under way
    co_await t.async_wait(use_tuple);
    l = std::make_unique<listener>(ex, at, peer_policy{}, log::get("test"));
    c.retry_now();
  };
  co_await (open_and_retry(c, at, l) && connect_once(c, ec));
}

// A caller that knows the peer is back (the soak's fault command returned) cuts the
// backoff wait short instead of sitting it out.
TEST(Connector, RetryNowCutsAWaitShort) {
  asio::io_context io;
  test::temp_dir dir;
  connector_options opt;
  // A wait far longer than the test's deadline: only retry_now() can end it in time.
  opt.backoff = {600s, 600s, 2.0, 0.0};
  const auto at = parse_address("unix:" + dir.file("later"));
  connector c(at, opt, log::get("test"), 1);
  std::unique_ptr<listener> l;
  error_code ec;
  ASSERT_TRUE(test::run_with_deadline(io, retry_now_scenario(c, at, l, ec)));
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(c.waits(), 1u);
  EXPECT_EQ(c.attempts(), 2u);
  EXPECT_EQ(c.failures(), 1u);
}

asio::awaitable<void> retry_without_reset(connector& c, listener& l, connect_record (&r)[4]) {
  using namespace asio::experimental::awaitable_operators;
  auto connects = [](connector& c, listener& l, connect_record(&r)[4]) -> asio::awaitable<void> {
    co_await recorded_connect(c, r[0]);  // at once
    co_await recorded_connect(c, r[1]);  // not proven: the initial delay (300 ms)
    c.retry_now();
    co_await recorded_connect(c, r[2]);  // at once
    co_await recorded_connect(c, r[3]);  // not reset: the next delay (600 ms), not 300 ms
    l.close();
  };
  co_await (accept_forever(l) && connects(c, l, r));
}

TEST(Connector, RetryNowWhenIdleSkipsOneWaitButKeepsTheDelaysGrowing) {
  asio::io_context io;
  test::temp_dir dir;
  listener l(io.get_executor(), parse_address("unix:" + dir.file("s")), {}, log::get("test"));
  connector_options opt;
  opt.backoff = {300ms, 2000ms, 2.0, 0.0};
  connector c(l.local_address(), opt, log::get("test"), 1);
  connect_record r[4];
  ASSERT_TRUE(test::run_with_deadline(io, retry_without_reset(c, l, r)));
  EXPECT_EQ(r[0].waits, 0u);
  EXPECT_EQ(r[1].waits, 1u);
  EXPECT_EQ(r[1].delay, 300ms);
  EXPECT_GE(r[1].took, 300ms);
  EXPECT_EQ(r[2].waits, 0u);
  EXPECT_EQ(r[3].waits, 1u);
  EXPECT_EQ(r[3].delay, 600ms);
  EXPECT_GE(r[3].took, 600ms);
}

// An attempt that connects and then has the peer answer a handshake; the peer here accepts
// and closes, so the handshake fails the first FAILS times.
struct handshake_state {
  connector* c;
  int fails;
  int handshakes = 0;
};

asio::awaitable<std::tuple<error_code, stream_socket>> attempt_with_handshake(handshake_state* h) {
  auto [ec, s] = co_await h->c->async_connect_once();
  if (!ec && h->handshakes++ < h->fails) ec = make_error_code(errc::connect_timeout);
  co_return std::tuple{ec, std::move(s)};
}

asio::awaitable<void> handshake_until_connected(connector& c, handshake_state& h, listener& l,
                                                error_code& ec) {
  auto [e, s] = co_await c.async_connect([&h] { return attempt_with_handshake(&h); });
  ec = e;
  l.close();
}

asio::awaitable<void> connect_with_handshake(connector& c, handshake_state& h, listener& l,
                                             error_code& ec) {
  using namespace asio::experimental::awaitable_operators;
  co_await (accept_forever(l) && handshake_until_connected(c, h, l, ec));
}

TEST(Connector, AFailedHandshakeIsAFailedAttempt) {
  asio::io_context io;
  test::temp_dir dir;
  std::ostringstream logs;
  listener l(io.get_executor(), parse_address("unix:" + dir.file("s")), {}, log::get("test"));
  connector_options opt;
  opt.backoff = {10ms, 20ms, 2.0, 0.0};
  connector c(l.local_address(), opt, capture_logger(logs), 1);
  handshake_state h{&c, 3};
  error_code ec;
  ASSERT_TRUE(test::run_with_deadline(io, connect_with_handshake(c, h, l, ec)));
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(h.handshakes, 4);
  EXPECT_EQ(c.attempts(), 4u);
  EXPECT_EQ(c.failures(), 3u);
  EXPECT_EQ(c.successes(), 1u);
  EXPECT_EQ(
      count_lines(logs.str(), "warning connect to " + l.local_address().to_string() + " failed"), 1)
      << logs.str();
}

asio::awaitable<std::tuple<error_code, stream_socket>> attempt_that_hangs() {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer t(ex, 10s);
  co_await t.async_wait(use_tuple);
  co_return std::tuple{error_code{}, stream_socket(ex)};
}

asio::awaitable<void> connect_hanging(connector& c, error_code& ec) {
  auto [e, s] = co_await c.async_connect([] { return attempt_that_hangs(); });
  ec = e;
}

TEST(Connector, CancelReachesTheCallersAttempt) {
  asio::io_context io;
  connector c(parse_address("unix:/nonexistent/s"), {}, log::get("test"), 1);
  error_code ec;
  bool done = false;
  asio::cancellation_signal stop;
  asio::co_spawn(io, connect_hanging(c, ec),
                 asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e) {
                   done = true;
                   if (e) std::rethrow_exception(e);
                 }));
  io.run_for(100ms);
  EXPECT_FALSE(done);
  stop.emit(asio::cancellation_type::terminal);
  io.poll();  // promptly: the attempt's 10 s timer must not be waited for
  ASSERT_TRUE(done);
  EXPECT_EQ(ec, asio::error::operation_aborted);
  EXPECT_EQ(c.failures(), 0u);
}

asio::awaitable<void> connect_both(connector& a, connector& b, error_code& ea, error_code& eb) {
  using namespace asio::experimental::awaitable_operators;
  co_await (connect_once(a, ea) && connect_once(b, eb));
}

// Parallel connectors to one target (the soak's streams) log an outage once, not once each.
TEST(Connector, ASharedFailureLogLogsAnOutageOnce) {
  asio::io_context io;
  test::temp_dir dir;
  std::ostringstream logs;
  auto log = capture_logger(logs);
  auto shared = std::make_shared<repeat_log>(log);
  connector_options opt;
  opt.backoff = {50ms, 100ms, 2.0, 0.0};  // few enough attempts for no reminder at 10
  const auto at = parse_address("unix:" + dir.file("nobody"));
  connector a(at, opt, log, 1, shared), b(at, opt, log, 2, shared);
  error_code ea, eb;
  asio::co_spawn(io, connect_both(a, b, ea, eb), asio::detached);  // never connects
  ASSERT_TRUE(run_until(io, [&] { return a.failures() + b.failures() >= 4; }));
  EXPECT_EQ(count_lines(logs.str(), "warning connect to " + at.to_string() + " failed"), 1)
      << logs.str();
}

TEST(Connector, RejectsBadOptions) {
  connector_options bad;
  bad.backoff.jitter = 2;
  EXPECT_THROW(connector(parse_address("unix:/x"), bad, log::get("test")), std::invalid_argument);
  connector_options no_timeout;
  no_timeout.connect_timeout = 0ms;
  EXPECT_THROW(connector(parse_address("unix:/x"), no_timeout, log::get("test")),
               std::invalid_argument);
}

asio::awaitable<void> wrong_calls(connector& stream, connector& records, error_code& a,
                                  error_code& b) {
  auto [ea, sa] = co_await stream.async_connect_seqpacket();
  a = ea;
  auto [eb, sb] = co_await records.async_connect();
  b = eb;
}

// A stream target asked for records, or the reverse, is a caller's mistake: said at once,
// not retried forever.
TEST(Connector, TheWrongKindOfSocketIsRefusedAtOnce) {
  asio::io_context io;
  connector stream(parse_address("unix:/nonexistent/s"), {}, log::get("test"));
  connector records(parse_address("vsock-seqpacket:1:2"), {}, log::get("test"));
  error_code a, b;
  ASSERT_TRUE(test::run_with_deadline(io, wrong_calls(stream, records, a, b)));
  EXPECT_EQ(a, make_error_code(errc::wrong_transport));
  EXPECT_EQ(b, make_error_code(errc::wrong_transport));
  EXPECT_EQ(stream.attempts() + records.attempts(), 0u);
}

asio::awaitable<void> record_sessions(connector& c, seqpacket_listener& l, int& records) {
  for (int session = 0; session < 2; ++session) {
    auto [ec, s] = co_await c.async_connect_seqpacket();
    EXPECT_FALSE(ec) << ec.message();
    if (ec) co_return;
    auto [aec, peer, info] = co_await l.async_accept();
    EXPECT_FALSE(aec) << aec.message();
    if (aec) co_return;
    const std::string text = "record " + std::to_string(session);
    co_await peer.async_send(asio::buffer(text), 0, use_tuple);
    std::array<char, 64> buf;
    asio::socket_base::message_flags flags = 0;
    auto [rec, n] = co_await s.async_receive(asio::buffer(buf), flags, use_tuple);
    if (!rec && std::string(buf.data(), n) == text) ++records;
    c.session_proven();
  }
}

// Real AF_VSOCK SOCK_SEQPACKET (lab): the connector that vsock-mcast's guest uses for its
// record transport connects, and connects again after a session.
TEST(VsockSeqpacketConnector, ConnectsAgainAfterASession) {
  VSOCKLIB_REQUIRE_VSOCK_LOOPBACK();
  const std::string port = std::to_string(40000 + (::getpid() + 7) % 20000);
  asio::io_context io;
  seqpacket_listener l(io.get_executor(), parse_address("vsock-seqpacket:any:" + port), {},
                       log::get("test"));
  connector c(parse_address("vsock-seqpacket:1:" + port), {}, log::get("test"));
  int records = 0;
  ASSERT_TRUE(test::run_with_deadline(io, record_sessions(c, l, records)));
  EXPECT_EQ(records, 2);
  EXPECT_EQ(c.successes(), 2u);
}

}  // namespace
}  // namespace vsocklib
