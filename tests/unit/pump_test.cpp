// The pump over real Unix socketpairs, with faults injected by faulty_stream.
#include "vsocklib/pump.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include "faulty_stream.hpp"
#include "peers.hpp"
#include "run_coro.hpp"

namespace vsocklib {
namespace {

using namespace std::chrono_literals;
using asio::local::stream_protocol;
using test::faulty_stream;

struct pair_of_pairs {
  explicit pair_of_pairs(asio::io_context& io) : client(io), pump_a(io), pump_b(io), server(io) {
    asio::local::connect_pair(client, pump_a);
    asio::local::connect_pair(pump_b, server);
  }
  stream_protocol::socket client, pump_a, pump_b, server;
};

template <typename A, typename B>
asio::awaitable<void> run_pump(A& a, B& b, pump_options opt, pump_stats& out) {
  out = co_await async_pump(a, b, opt);
}

// client <-> [pump] <-> echo server: everything comes back, both directions finish.
asio::awaitable<void> echo_through_pump(pair_of_pairs& p, pump_options opt,
                                        const std::vector<std::byte>& data,
                                        std::vector<std::byte>& got, pump_stats& stats) {
  using namespace asio::experimental::awaitable_operators;
  error_code wec, rec;
  auto ex = co_await asio::this_coro::executor;
  asio::co_spawn(ex, test::echo_session(std::move(p.server)), asio::detached);
  co_await (run_pump(p.pump_a, p.pump_b, opt, stats) &&
                [](pair_of_pairs& p, const std::vector<std::byte>& data,
                   std::vector<std::byte>& got, error_code& wec,
                   error_code& rec) -> asio::awaitable<void> {
    got = co_await test::exchange(p.client, data, wec, rec);
  }(p, data, got, wec, rec));
  EXPECT_FALSE(wec) << wec.message();
  EXPECT_FALSE(rec) << rec.message();
}

TEST(Pump, MovesEveryByteBothWaysAndFinishes) {
  for (std::size_t chunk : {1u, 100u, 4096u, 65536u}) {
    asio::io_context io;
    pair_of_pairs p(io);
    auto data = test::random_bytes(chunk == 1 ? 20000 : 1 << 20, chunk);
    std::vector<std::byte> got;
    pump_stats stats;
    test::run_with_deadline(io, echo_through_pump(p, {chunk, 2}, data, got, stats));
    EXPECT_EQ(got, data) << "chunk " << chunk;
    EXPECT_EQ(stats.reason, pump_end::finished) << to_string(stats.reason);
    EXPECT_EQ(stats.a_to_b_bytes, data.size());
    EXPECT_EQ(stats.b_to_a_bytes, data.size());
    EXPECT_GE(stats.a_to_b_writes, data.size() / chunk);  // both sides bounded by default
  }
}

// The server sees end of stream while it can still answer: half-close crosses the pump.
asio::awaitable<void> half_close_server(stream_protocol::socket& s, std::size_t expect,
                                        std::vector<std::byte> reply, bool& saw_eof) {
  std::vector<std::byte> got;
  error_code rec, wec;
  co_await test::read_until_eof(s, got, rec);
  saw_eof = !rec && got.size() == expect;
  co_await test::write_all_then_shutdown(s, reply, 1000, wec);
}

asio::awaitable<void> half_close_scenario(pair_of_pairs& p, bool& server_saw_eof,
                                          std::vector<std::byte>& client_got, pump_stats& stats) {
  using namespace asio::experimental::awaitable_operators;
  auto request = test::random_bytes(100000, 7);
  auto reply = test::random_bytes(50000, 8);
  error_code wec, rec;
  co_await (run_pump(p.pump_a, p.pump_b, pump_options{}, stats) &&
                half_close_server(p.server, request.size(), reply, server_saw_eof) &&
                [](pair_of_pairs& p, std::vector<std::byte> request, std::vector<std::byte>& got,
                   error_code& wec, error_code& rec) -> asio::awaitable<void> {
    got = co_await test::exchange(p.client, request, wec, rec);
  }(p, request, client_got, wec, rec));
  EXPECT_EQ(client_got, reply);
}

TEST(Pump, PropagatesHalfClose) {
  asio::io_context io;
  pair_of_pairs p(io);
  bool saw_eof = false;
  std::vector<std::byte> got;
  pump_stats stats;
  test::run_with_deadline(io, half_close_scenario(p, saw_eof, got, stats));
  EXPECT_TRUE(saw_eof);
  EXPECT_EQ(stats.reason, pump_end::finished);
  EXPECT_EQ(stats.a_to_b_bytes, 100000u);
  EXPECT_EQ(stats.b_to_a_bytes, 50000u);
}

// half_close::linger towards B (a transport whose half-close is a full close): the server
// behind B answers late, or never ends its side.
asio::awaitable<void> lingering_server(stream_protocol::socket& s, std::size_t expect,
                                       std::vector<std::byte> reply, bool end_own_side,
                                       bool& eof_before_reply, bool& eof_at_end) {
  std::vector<std::byte> request(expect);
  co_await asio::async_read(s, asio::buffer(request), use_tuple);
  asio::steady_timer t(co_await asio::this_coro::executor, 100ms);
  co_await t.async_wait(use_tuple);  // a slow answer
  char probe;
  eof_before_reply = ::recv(s.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  error_code wec, rec;
  if (end_own_side) {
    co_await test::write_all_then_shutdown(s, reply, 1000, wec);
  } else {
    co_await asio::async_write(s, asio::buffer(reply), use_tuple);
  }
  std::vector<std::byte> rest;
  co_await test::read_until_eof(s, rest, rec);
  eof_at_end = !rec && rest.empty();
  if (!end_own_side) s.shutdown(asio::socket_base::shutdown_send, wec);
}

asio::awaitable<void> linger_scenario(pair_of_pairs& p, pump_options opt, bool end_own_side,
                                      bool& eof_before_reply, bool& eof_at_end,
                                      std::vector<std::byte>& client_got, pump_stats& stats) {
  using namespace asio::experimental::awaitable_operators;
  auto request = test::random_bytes(10000, 11);
  auto reply = test::random_bytes(30000, 12);
  error_code wec, rec;
  co_await (run_pump(p.pump_a, p.pump_b, opt, stats) &&
                lingering_server(p.server, request.size(), reply, end_own_side, eof_before_reply,
                                 eof_at_end) &&
                [](pair_of_pairs& p, std::vector<std::byte> request, std::vector<std::byte>& got,
                   error_code& wec, error_code& rec) -> asio::awaitable<void> {
    got = co_await test::exchange(p.client, request, wec, rec);
  }(p, request, client_got, wec, rec));
  EXPECT_EQ(client_got, reply);
}

TEST(Pump, LingerHoldsTheHalfCloseUntilThePeerEndsItsSide) {
  asio::io_context io;
  pair_of_pairs p(io);
  pump_options opt;
  opt.half_close_b = half_close::linger;
  opt.linger = 5s;  // far longer than the server takes: its end releases the hold
  bool eof_before_reply = true, eof_at_end = false;
  std::vector<std::byte> got;
  pump_stats stats;
  test::run_with_deadline(io,
                          linger_scenario(p, opt, true, eof_before_reply, eof_at_end, got, stats));
  EXPECT_FALSE(eof_before_reply) << "the half-close was passed on while the reply was pending";
  EXPECT_TRUE(eof_at_end);
  EXPECT_EQ(stats.reason, pump_end::finished);
  EXPECT_EQ(stats.lingered, 0u);
  EXPECT_LT(stats.duration, 4s);
}

TEST(Pump, LingerSendsTheHalfCloseOnceThePeerIsQuiet) {
  asio::io_context io;
  pair_of_pairs p(io);
  pump_options opt;
  opt.half_close_b = half_close::linger;
  opt.linger = 300ms;
  bool eof_before_reply = true, eof_at_end = false;
  std::vector<std::byte> got;
  pump_stats stats;
  test::run_with_deadline(io,
                          linger_scenario(p, opt, false, eof_before_reply, eof_at_end, got, stats));
  EXPECT_FALSE(eof_before_reply);
  EXPECT_TRUE(eof_at_end);
  EXPECT_EQ(stats.reason, pump_end::finished);
  EXPECT_EQ(stats.lingered, 1u);
}

TEST(Pump, PassSendsTheHalfCloseAtOnce) {
  asio::io_context io;
  pair_of_pairs p(io);
  bool eof_before_reply = false, eof_at_end = false;
  std::vector<std::byte> got;
  pump_stats stats;
  test::run_with_deadline(io,
                          linger_scenario(p, {}, true, eof_before_reply, eof_at_end, got, stats));
  EXPECT_TRUE(eof_before_reply);
  EXPECT_EQ(stats.lingered, 0u);
}

// A slow reader behind B: the pump must not read from A more than it has buffer for.
asio::awaitable<void> slow_reader(stream_protocol::socket& s, std::size_t& total) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  std::array<std::byte, 1024> buf;
  for (;;) {
    t.expires_after(200us);
    co_await t.async_wait(use_tuple);
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), use_tuple);
    total += n;
    if (ec) co_return;
  }
}

asio::awaitable<void> backpressure_scenario(pair_of_pairs& p, test::flow_meter& meter,
                                            std::size_t& received, pump_stats& stats,
                                            std::size_t& largest_read, std::size_t& largest_write) {
  using namespace asio::experimental::awaitable_operators;
  faulty_stream a(p.pump_a);
  faulty_stream b(p.pump_b);
  a.meter_as_source = &meter;
  b.meter_as_sink = &meter;
  auto data = test::random_bytes(1 << 20, 3);
  error_code wec;
  co_await (run_pump(a, b, pump_options{4096, 3}, stats) &&
            test::write_all_then_shutdown(p.client, data, 65536, wec) &&
            slow_reader(p.server, received));
  largest_read = a.largest_read;
  largest_write = b.largest_write;
}

TEST(Pump, BackpressureBoundsWhatIsReadAhead) {
  asio::io_context io;
  pair_of_pairs p(io);
  // Small socket buffers, so the slow reader really pushes back on the pump.
  p.pump_b.set_option(asio::socket_base::send_buffer_size(8192));
  p.server.set_option(asio::socket_base::receive_buffer_size(8192));
  test::flow_meter meter;
  std::size_t received = 0, largest_read = 0, largest_write = 0;
  pump_stats stats;
  p.server.shutdown(asio::socket_base::shutdown_send);  // B -> A is empty from the start
  test::run_with_deadline(
      io, backpressure_scenario(p, meter, received, stats, largest_read, largest_write), 60s);
  EXPECT_EQ(received, 1u << 20);
  EXPECT_EQ(meter.read_from_source, 1u << 20);
  EXPECT_LE(meter.max_ahead, 3u * 4096u) << "read further ahead than 3 chunks";
  EXPECT_GT(meter.max_ahead, 0u);
  EXPECT_LE(largest_read, 3u * 4096u) << "offered a read more than the ring";
  EXPECT_LE(largest_write, 4096u) << "wrote more than a chunk into a bounded side";
  EXPECT_EQ(stats.reason, pump_end::finished);
}

// Where the source delivers more than a chunk at a time, the pump reads it in one call and
// passes it on in one call to an unbounded side, but in chunks to a bounded one.
asio::awaitable<void> write_size_scenario(pair_of_pairs& p, pump_options opt,
                                          std::size_t& largest_write, pump_stats& stats) {
  using namespace asio::experimental::awaitable_operators;
  faulty_stream a(p.pump_a);
  faulty_stream b(p.pump_b);
  auto ex = co_await asio::this_coro::executor;
  asio::co_spawn(ex, test::echo_session(std::move(p.server)), asio::detached);
  const auto data = test::random_bytes(1 << 20, 8);
  std::vector<std::byte> got;
  error_code wec, rec;
  co_await (run_pump(a, b, opt, stats) && [](pair_of_pairs& p, const std::vector<std::byte>& data,
                                             std::vector<std::byte>& got, error_code& wec,
                                             error_code& rec) -> asio::awaitable<void> {
    got = co_await test::exchange(p.client, data, wec, rec);
  }(p, data, got, wec, rec));
  EXPECT_EQ(got, data);
  largest_write = std::max(a.largest_write, b.largest_write);
}

TEST(Pump, OnlyBoundedSidesGetChunkSizedWrites) {
  for (bool bounded : {true, false}) {
    asio::io_context io;
    pair_of_pairs p(io);
    pump_options opt{4096, 16};
    opt.bounded_a = opt.bounded_b = bounded;
    std::size_t largest_write = 0;
    pump_stats stats;
    test::run_with_deadline(io, write_size_scenario(p, opt, largest_write, stats));
    EXPECT_EQ(stats.reason, pump_end::finished);
    if (bounded) {
      EXPECT_LE(largest_write, 4096u);
      EXPECT_GE(stats.a_to_b_writes, (1u << 20) / 4096);
    } else {
      // The client writes 64 KiB at a time: the ring (64 KiB) fills beyond one chunk.
      EXPECT_GT(largest_write, 4096u);
      EXPECT_LE(largest_write, 16u * 4096u);
      EXPECT_LT(stats.a_to_b_writes, (1u << 20) / 4096);
    }
  }
}

asio::awaitable<void> fault_scenario(pair_of_pairs& p, bool fail_a_read, pump_stats& stats) {
  faulty_stream a(p.pump_a);
  faulty_stream b(p.pump_b);
  if (fail_a_read) {
    a.fail_read_at = 5;
  } else {
    b.fail_write_at = 5;
  }
  auto ex = co_await asio::this_coro::executor;
  // A client that keeps writing and an echo server: only the injected fault ends the pump.
  asio::co_spawn(ex, test::echo_session(std::move(p.server)), asio::detached);
  static const auto data = test::random_bytes(1 << 20, 4);
  static error_code ignored;
  asio::co_spawn(ex, test::write_all_then_shutdown(p.client, data, 4096, ignored), asio::detached);
  stats = co_await async_pump(a, b, pump_options{});
}

TEST(Pump, FailedReadOnAEndsWithAFailed) {
  asio::io_context io;
  pair_of_pairs p(io);
  pump_stats stats;
  test::run_with_deadline(io, fault_scenario(p, true, stats));
  EXPECT_EQ(stats.reason, pump_end::a_failed);
  EXPECT_EQ(stats.error, asio::error::connection_reset);
}

TEST(Pump, FailedWriteOnBEndsWithBFailed) {
  asio::io_context io;
  pair_of_pairs p(io);
  pump_stats stats;
  test::run_with_deadline(io, fault_scenario(p, false, stats));
  EXPECT_EQ(stats.reason, pump_end::b_failed);
  EXPECT_EQ(stats.error, asio::error::connection_reset);
  EXPECT_EQ(stats.a_to_b_writes, 4u);
}

asio::awaitable<void> short_write_scenario(pair_of_pairs& p, std::vector<std::byte>& got,
                                           const std::vector<std::byte>& data, pump_stats& stats) {
  using namespace asio::experimental::awaitable_operators;
  faulty_stream a(p.pump_a);
  faulty_stream b(p.pump_b);
  a.max_write = 100;
  b.max_write = 77;
  error_code wec, rec;
  auto ex = co_await asio::this_coro::executor;
  asio::co_spawn(ex, test::echo_session(std::move(p.server)), asio::detached);
  co_await (run_pump(a, b, pump_options{}, stats) &&
                [](pair_of_pairs& p, const std::vector<std::byte>& data,
                   std::vector<std::byte>& got, error_code& wec,
                   error_code& rec) -> asio::awaitable<void> {
    got = co_await test::exchange(p.client, data, wec, rec);
  }(p, data, got, wec, rec));
}

TEST(Pump, ShortWritesLoseNothing) {
  asio::io_context io;
  pair_of_pairs p(io);
  auto data = test::random_bytes(300000, 5);
  std::vector<std::byte> got;
  pump_stats stats;
  test::run_with_deadline(io, short_write_scenario(p, got, data, stats));
  EXPECT_EQ(got, data);
  EXPECT_EQ(stats.reason, pump_end::finished);
}

TEST(Pump, PeerResetMidStreamEndsThePump) {
  asio::io_context io;
  pair_of_pairs p(io);
  pump_stats stats;
  // The server vanishes with unread data: writes towards it fail, the pump reports side B.
  auto data = test::random_bytes(1 << 20, 6);
  error_code ignored;
  asio::co_spawn(io, test::write_all_then_shutdown(p.client, data, 65536, ignored), asio::detached);
  asio::steady_timer t(io, 20ms);
  t.async_wait([&](error_code) { p.server.close(); });
  test::run_with_deadline(io, run_pump(p.pump_a, p.pump_b, pump_options{}, stats));
  EXPECT_EQ(stats.reason, pump_end::b_failed) << to_string(stats.reason);
  EXPECT_TRUE(stats.error == asio::error::broken_pipe ||
              stats.error == asio::error::connection_reset)
      << stats.error.message();
}

// Cancelled while idle, and while data flows: Asio clears a coroutine's cancellation slot
// after each operation, so a pump that had moved data once used to miss the cancellation.
class PumpCancellation : public ::testing::TestWithParam<bool> {};

TEST_P(PumpCancellation, StopsPromptly) {
  asio::io_context io;
  pair_of_pairs p(io);  // the peers never end the stream: only cancellation ends this pump
  pump_stats stats;
  const bool flowing = GetParam();
  const auto data = flowing ? test::random_bytes(64 << 20, 9) : std::vector<std::byte>{};
  error_code ignored;
  if (flowing) {
    asio::co_spawn(io, test::write_all_then_shutdown(p.client, data, 65536, ignored),
                   asio::detached);
    asio::co_spawn(io, test::echo_session(std::move(p.server)), asio::detached);
  }
  bool done = false;
  asio::cancellation_signal stop;
  asio::co_spawn(io, run_pump(p.pump_a, p.pump_b, pump_options{}, stats),
                 asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e) {
                   done = true;
                   io.stop();  // the flowing peers would keep io busy
                   if (e) std::rethrow_exception(e);
                 }));
  io.run_for(50ms);
  EXPECT_FALSE(done);
  const auto t0 = std::chrono::steady_clock::now();
  stop.emit(asio::cancellation_type::terminal);
  io.run_for(2s);
  ASSERT_TRUE(done);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  EXPECT_EQ(stats.reason, pump_end::cancelled);
  if (flowing) {
    EXPECT_GT(stats.a_to_b_bytes, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(IdleAndFlowing, PumpCancellation, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "flowing" : "idle"; });

TEST(Pump, RejectsInvalidOptions) {
  EXPECT_TRUE(pump_options{}.validate().empty());
  EXPECT_NE(pump_options({0, 2}).validate().find("chunk size 0"), std::string::npos);
  EXPECT_NE(pump_options({(1 << 20) + 1, 2}).validate().find("outside"), std::string::npos);
  EXPECT_NE(pump_options({4096, 0}).validate().find("chunks in flight 0"), std::string::npos);
  EXPECT_NE(pump_options({4096, 65}).validate().find("chunks in flight 65"), std::string::npos);
  pump_options no_linger;
  no_linger.linger = 0ms;
  EXPECT_NE(no_linger.validate().find("linger 0 ms"), std::string::npos);

  asio::io_context io;
  pair_of_pairs p(io);
  pump_stats stats;
  test::run_with_deadline(io, run_pump(p.pump_a, p.pump_b, pump_options{0, 2}, stats));
  EXPECT_EQ(stats.reason, pump_end::invalid_options);
  EXPECT_EQ(stats.error, errc::invalid_option);
}

}  // namespace
}  // namespace vsocklib
