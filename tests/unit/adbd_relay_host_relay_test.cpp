// A host-mode listener with libusb on the event loop, without a USB device: a connection is
// closed at once when its device is not attached, the refusals are counted, and the relay
// stops promptly when cancelled. (Serving a real device is the lab's job:
// tests/integration/adbd_relay_host_lab.sh.)
#include <gtest/gtest.h>

#include "host_relay.hpp"
#include "host_usb.hpp"
#include "run_coro.hpp"
#include "vsocklib/connect.hpp"
#include "vsocklib/log.hpp"

namespace adbd_relay {
namespace {

using vsocklib::use_tuple;
using namespace std::chrono_literals;

// Connects COUNT times; each connection must be closed by the relay without a byte.
asio::awaitable<void> connect_and_expect_close(const host_relay& r, int count,
                                               std::vector<error_code>& results) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  while (r.status().state != "listening") {  // bound after run() starts
    t.expires_after(1ms);
    co_await t.async_wait(use_tuple);
  }
  const auto at = vsocklib::parse_address(r.status().listen);
  for (int i = 0; i < count; ++i) {
    auto [ec, s] = co_await vsocklib::async_connect(at, 2s);
    EXPECT_FALSE(ec) << ec.message();
    if (ec) co_return;
    char byte;
    auto [rec, n] = co_await s.async_read_some(asio::buffer(&byte, 1), use_tuple);
    results.push_back(rec);
  }
}

asio::awaitable<void> scenario(host_relay& r, std::vector<error_code>& results) {
  using namespace asio::experimental::awaitable_operators;
  // run() never ends by itself: || cancels it once the client is done, as SIGTERM would.
  co_await (r.run() || connect_and_expect_close(r, 3, results));
}

TEST(HostRelay, ConnectionWithoutItsDeviceIsClosedAtOnceAndCounted) {
  asio::io_context io;
  host_usb usb(io.get_executor(), vsocklib::log::get("test"));
  auto cfg = default_host("t", vsocklib::parse_address("tcp:127.0.0.1:0"));
  cfg.serial = "no-device-has-this-serial";  // never matches, even with a phone attached
  host_relay r(cfg, {cfg}, {}, usb);
  std::vector<error_code> results;
  ASSERT_TRUE(vsocklib::test::run_with_deadline(io, scenario(r, results), 10s));
  ASSERT_EQ(results.size(), 3u);
  for (const auto& ec : results) EXPECT_EQ(ec, asio::error::eof) << ec.message();
  EXPECT_EQ(r.status().no_device, 3u);
  EXPECT_EQ(r.status().sessions, 0u);
}

}  // namespace
}  // namespace adbd_relay
