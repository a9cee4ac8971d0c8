// The library's building blocks composed into a one-connection relay, over every stream
// transport: listener -> async_connect -> async_pump, with an echo service behind it.
#include <unistd.h>

#include <gtest/gtest.h>

#include "hvsock_mux.hpp"
#include "peers.hpp"
#include "run_coro.hpp"
#include "temp_dir.hpp"
#include "vsock_available.hpp"
#include "vsocklib/connect.hpp"
#include "vsocklib/connector.hpp"
#include "vsocklib/listener.hpp"
#include "vsocklib/log.hpp"
#include "vsocklib/pump.hpp"

namespace vsocklib {
namespace {

using namespace std::chrono_literals;

// A vsock port per process, so parallel test runs in one guest do not collide.
std::uint32_t vsock_port(std::uint32_t offset) { return 20000 + (::getpid() % 20000) * 2 + offset; }

// Where a service listens and how a client reaches it, for one transport.
struct endpoint_pair {
  std::string listen;
  std::string connect;  // empty: the listener's local address
};

class Transport : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "vsock") VSOCKLIB_REQUIRE_VSOCK_LOOPBACK();
  }

  // A service reached through the transport; N distinguishes several in one test.
  // hvsock: the host connects through the multiplexer's socket, which the test serves.
  endpoint_pair service(int n) {
    const std::string& t = GetParam();
    if (t == "hvsock") {
      auto mux = dir_.file("mux" + std::to_string(n));
      return {"unix:" + mux, "hvsock:" + mux + ":5555"};
    }
    return same_both_ways(n);
  }

  // Where a relay listens for clients. hvsock: the listening form, which the VMM connects to
  // for guest-initiated connections (a plain Unix connect to <path>_<port>).
  endpoint_pair front(int n) {
    if (GetParam() == "hvsock") {
      auto uds = dir_.file("v" + std::to_string(n) + ".sock");
      return {"hvsock:" + uds + ":6000", "unix:" + uds + "_6000"};
    }
    return same_both_ways(n);
  }

  endpoint_pair same_both_ways(int n) {
    const std::string& t = GetParam();
    if (t == "tcp") return {"tcp:127.0.0.1:0", ""};
    if (t == "vsock") {
      auto port = std::to_string(vsock_port(n));
      return {"vsock:any:" + port, "vsock:1:" + port};
    }
    return {"unix:" + dir_.file("s" + std::to_string(n)), ""};
  }

  address connect_address(const endpoint_pair& e, const listener& l) {
    return e.connect.empty() ? l.local_address() : parse_address(e.connect);
  }

  test::temp_dir dir_;
  std::shared_ptr<spdlog::logger> log_ = log::get("test");
};

// Serves one connection to its end (B must outlive it: the session is awaited, not detached).
asio::awaitable<void> serve_echo(listener& l, bool hvsock, test::hvsock_behaviour& b) {
  auto [ec, s, peer] = co_await l.async_accept();
  if (ec) co_return;
  if (hvsock) {
    co_await test::hvsock_mux_session(std::move(s), b);
  } else {
    co_await test::echo_session(std::move(s));
  }
}

asio::awaitable<void> relay_one(listener& front, address backend, pump_stats& stats) {
  auto [ec, s, peer] = co_await front.async_accept();
  EXPECT_FALSE(ec) << ec.message();
  auto [cec, b] = co_await async_connect(backend, 5s);
  EXPECT_FALSE(cec) << "connect " << backend.to_string() << ": " << cec.message();
  if (ec || cec) co_return;
  stats = co_await async_pump(s, b);
}

asio::awaitable<void> client(address to, const std::vector<std::byte>& data,
                             std::vector<std::byte>& got) {
  auto [ec, s] = co_await async_connect(to, 5s);
  EXPECT_FALSE(ec) << "connect " << to.to_string() << ": " << ec.message();
  if (ec) co_return;
  error_code wec, rec;
  got = co_await test::exchange(s, data, wec, rec);
  EXPECT_FALSE(wec) << wec.message();
  EXPECT_FALSE(rec) << rec.message();
}

asio::awaitable<void> relay_scenario(listener& echo, bool hvsock, test::hvsock_behaviour& b,
                                     listener& front, address backend, address front_addr,
                                     const std::vector<std::byte>& data,
                                     std::vector<std::byte>& got, pump_stats& stats) {
  using namespace asio::experimental::awaitable_operators;
  co_await (serve_echo(echo, hvsock, b) && relay_one(front, backend, stats) &&
            client(front_addr, data, got));
}

TEST_P(Transport, RelayCarriesEveryByteBothWays) {
  asio::io_context io;
  const bool hvsock = GetParam() == "hvsock";
  auto echo_ep = service(0);
  auto front_ep = front(1);
  listener echo(io.get_executor(), parse_address(echo_ep.listen), {}, log_);
  listener front(io.get_executor(), parse_address(front_ep.listen), {}, log_);
  test::hvsock_behaviour b;
  auto data = test::random_bytes(2 << 20, 11);
  std::vector<std::byte> got;
  pump_stats stats;
  test::run_with_deadline(io,
                          relay_scenario(echo, hvsock, b, front, connect_address(echo_ep, echo),
                                         connect_address(front_ep, front), data, got, stats),
                          60s);
  EXPECT_TRUE(got == data) << "got " << got.size() << " of " << data.size() << " bytes back";
  EXPECT_EQ(stats.reason, pump_end::finished)
      << to_string(stats.reason) << " " << stats.error.message();
  EXPECT_EQ(stats.a_to_b_bytes, data.size());
  EXPECT_EQ(stats.b_to_a_bytes, data.size());
  if (hvsock) {
    // The front hop is unix (the mux's socket), the backend hop did the handshake.
    EXPECT_EQ(b.request_seen, "CONNECT 5555");
  }
}

asio::awaitable<void> connect_expect_failure(address to, error_code& ec) {
  auto [e, s] = co_await async_connect(to, 2s);
  ec = e;
}

TEST_P(Transport, ConnectToNothingFailsClearly) {
  asio::io_context io;
  address to;
  if (GetParam() == "tcp") {
    // A port that was just free: bind, note it, close.
    listener l(io.get_executor(), parse_address("tcp:127.0.0.1:0"), {}, log_);
    to = l.local_address();
  } else {
    auto ep = service(7);
    to = parse_address(ep.connect.empty() ? ep.listen : ep.connect);
  }
  error_code ec;
  test::run_with_deadline(io, connect_expect_failure(to, ec));
  EXPECT_TRUE(ec) << to.to_string() << " connected to nothing";
  EXPECT_NE(ec, make_error_code(errc::connect_timeout)) << "should fail at once, not time out";
}

asio::awaitable<void> late_listener_scenario(connector& c, endpoint_pair ep,
                                             std::shared_ptr<spdlog::logger> log,
                                             error_code& result, bool hvsock) {
  using namespace asio::experimental::awaitable_operators;
  auto ex = co_await asio::this_coro::executor;
  // The listener appears 300 ms after the connector started trying.
  auto open_later = [](asio::any_io_executor ex, endpoint_pair ep,
                       std::shared_ptr<spdlog::logger> log, bool hvsock) -> asio::awaitable<void> {
    asio::steady_timer t(ex, 300ms);
    co_await t.async_wait(use_tuple);
    listener l(ex, parse_address(ep.listen), {}, log);
    test::hvsock_behaviour b;
    co_await serve_echo(l, hvsock, b);
  };
  auto connect = [](connector& c, error_code& result) -> asio::awaitable<void> {
    auto [ec, s] = co_await c.async_connect();
    result = ec;
    // Close at once: the echo side then ends too.
  };
  co_await (open_later(ex, ep, log, hvsock) && connect(c, result));
}

TEST_P(Transport, ConnectorFindsAListenerThatAppearsLater) {
  asio::io_context io;
  auto ep = service(3);
  address to = parse_address(ep.connect.empty() ? ep.listen : ep.connect);
  if (GetParam() == "tcp") {
    listener probe(io.get_executor(), to, {}, log_);
    to = probe.local_address();
    ep.listen = to.to_string();
  }
  connector_options opt;
  opt.backoff = {20ms, 100ms, 2.0, 0.2};
  opt.connect_timeout = 1s;
  connector c(to, opt, log_, 1);
  error_code result = asio::error::would_block;
  test::run_with_deadline(io, late_listener_scenario(c, ep, log_, result, GetParam() == "hvsock"));
  EXPECT_FALSE(result) << result.message();
  EXPECT_GT(c.attempts(), 1u);
  EXPECT_EQ(c.successes(), 1u);
}

INSTANTIATE_TEST_SUITE_P(AllStreams, Transport, ::testing::Values("unix", "tcp", "hvsock", "vsock"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace vsocklib
