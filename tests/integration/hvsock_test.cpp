// The hybrid vsock handshake against a stand-in multiplexer behaving as Firecracker and
// Cloud Hypervisor do, including the ways it says no.
#include <gtest/gtest.h>

#include "hvsock_mux.hpp"
#include "run_coro.hpp"
#include "temp_dir.hpp"
#include "vsocklib/connect.hpp"
#include "vsocklib/error.hpp"
#include "vsocklib/log.hpp"

namespace vsocklib {
namespace {

using namespace std::chrono_literals;

class Hvsock : public ::testing::Test {
 protected:
  asio::io_context io_;
  test::temp_dir dir_;
  std::string mux_path_ = dir_.file("v.sock");
  listener mux_{io_.get_executor(), parse_address("unix:" + mux_path_), {}, log::get("test")};
  test::hvsock_behaviour b_;
};

asio::awaitable<void> connect_and_read(address to, std::chrono::milliseconds timeout,
                                       error_code& ec, std::string& first_bytes) {
  auto [e, s] = co_await async_connect(to, timeout);
  ec = e;
  if (e) co_return;
  // Whatever the mux sent right after the OK line must still be there.
  std::string buf(64, '\0');
  auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), use_tuple);
  first_bytes = buf.substr(0, n);
}

asio::awaitable<void> scenario(listener& mux, test::hvsock_behaviour& b, address to,
                               std::chrono::milliseconds timeout, error_code& ec,
                               std::string& first) {
  using namespace asio::experimental::awaitable_operators;
  co_await (test::hvsock_mux(mux, b) && connect_and_read(to, timeout, ec, first));
}

TEST_F(Hvsock, HandshakeKeepsBytesThatFollowTheAnswer) {
  b_.greeting = "hello from the guest";
  b_.host_port = 1073741825;  // not the requested port: must still be accepted
  error_code ec;
  std::string first;
  test::run_with_deadline(
      io_, scenario(mux_, b_, parse_address("hvsock:" + mux_path_ + ":52"), 2s, ec, first));
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(b_.request_seen, "CONNECT 52");
  EXPECT_EQ(first, "hello from the guest");
}

// A client that writes as soon as it can: nothing may leave before the OK line, since a
// device (vhost-device-vsock, measured) drops bytes that come with or before the request.
asio::awaitable<void> connect_and_write_at_once(address to, error_code& ec, std::string& echoed) {
  auto [e, s] = co_await async_connect(to, 2s);
  ec = e;
  if (e) co_return;
  const std::string data = "sent as soon as connect returned";
  co_await asio::async_write(s, asio::buffer(data), use_tuple);
  echoed.assign(data.size(), '\0');
  co_await asio::async_read(s, asio::buffer(echoed), use_tuple);
}

asio::awaitable<void> early_data_scenario(listener& mux, test::hvsock_behaviour& b, address to,
                                          error_code& ec, std::string& echoed) {
  using namespace asio::experimental::awaitable_operators;
  co_await (test::hvsock_mux(mux, b) && connect_and_write_at_once(to, ec, echoed));
}

TEST_F(Hvsock, NothingIsSentBeforeTheAnswer) {
  b_.answer_delay = 200ms;
  error_code ec;
  std::string echoed;
  test::run_with_deadline(
      io_, early_data_scenario(mux_, b_, parse_address("hvsock:" + mux_path_ + ":52"), ec, echoed));
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(b_.bytes_early, 0u);
  EXPECT_EQ(echoed, "sent as soon as connect returned");
}

TEST_F(Hvsock, MultiplexerClosingWithoutAnswerIsNoAnswer) {
  b_.mode = test::hvsock_behaviour::close_silently;
  error_code ec;
  std::string first;
  test::run_with_deadline(
      io_, scenario(mux_, b_, parse_address("hvsock:" + mux_path_ + ":52"), 2s, ec, first));
  EXPECT_EQ(ec, errc::hvsock_no_answer) << ec.message();
}

TEST_F(Hvsock, OtherAnswerIsRefused) {
  b_.mode = test::hvsock_behaviour::answer_garbage;
  error_code ec;
  std::string first;
  test::run_with_deadline(
      io_, scenario(mux_, b_, parse_address("hvsock:" + mux_path_ + ":52"), 2s, ec, first));
  EXPECT_EQ(ec, errc::hvsock_refused) << ec.message();
}

TEST_F(Hvsock, EndlessAnswerLineIsRejected) {
  b_.mode = test::hvsock_behaviour::answer_too_long;
  error_code ec;
  std::string first;
  test::run_with_deadline(
      io_, scenario(mux_, b_, parse_address("hvsock:" + mux_path_ + ":52"), 2s, ec, first));
  EXPECT_EQ(ec, errc::hvsock_reply_too_long) << ec.message();
}

asio::awaitable<void> timeout_scenario(listener& mux, test::hvsock_behaviour& b, address to,
                                       error_code& ec) {
  auto ex = co_await asio::this_coro::executor;
  asio::co_spawn(ex, test::hvsock_mux(mux, b), asio::detached);
  auto [e, s] = co_await async_connect(to, 200ms);
  ec = e;
}

TEST_F(Hvsock, SilentMultiplexerHitsTheDeadline) {
  b_.mode = test::hvsock_behaviour::never_answer;
  error_code ec;
  const auto t0 = std::chrono::steady_clock::now();
  test::run_with_deadline(
      io_, timeout_scenario(mux_, b_, parse_address("hvsock:" + mux_path_ + ":52"), ec), 5s);
  EXPECT_EQ(ec, errc::connect_timeout) << ec.message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

asio::awaitable<void> accept_one(listener& l, peer_info& peer) {
  auto [ec, s, p] = co_await l.async_accept();
  EXPECT_FALSE(ec);
  peer = p;
}

asio::awaitable<void> guest_initiated(listener& l, std::string path, peer_info& peer) {
  using namespace asio::experimental::awaitable_operators;
  auto dial = [](std::string path) -> asio::awaitable<void> {
    auto [ec, s] = co_await async_connect(parse_address("unix:" + path));
    EXPECT_FALSE(ec) << ec.message();
  };
  co_await (accept_one(l, peer) && dial(path));
}

TEST_F(Hvsock, ListeningFormBindsPathUnderscorePort) {
  // Guest-initiated connections arrive where the VMM looks: <uds_path>_<port>.
  listener l(io_.get_executor(), parse_address("hvsock:" + mux_path_ + ":1234"), {},
             log::get("test"));
  peer_info peer;
  test::run_with_deadline(io_, guest_initiated(l, mux_path_ + "_1234", peer));
  EXPECT_EQ(peer.description.rfind("unix:uid=", 0), 0u) << peer.description;
}

}  // namespace
}  // namespace vsocklib
