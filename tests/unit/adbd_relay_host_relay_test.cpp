// A host-mode listener with libusb on the event loop, without a USB device: a connection is
// closed at once when its device is not attached, the refusals are counted, and the relay
// stops promptly when cancelled. (Serving a real device is the lab's job:
// tests/integration/adbd_relay_host_lab.sh.)
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "adbd_relay/control.hpp"
#include "adbd_relay/usb_host.hpp"
#include "adbd_relay/usb_host_relay.hpp"
#include "run_coro.hpp"
#include "vsocklib/connect.hpp"
#include "vsocklib/log.hpp"

namespace adbd_relay {
namespace {

using vsocklib::use_tuple;
using namespace std::chrono_literals;

// Connects COUNT times; each connection must be closed by the relay without a byte.
asio::awaitable<void> connect_and_expect_close(const usb_host_relay& r, int count,
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

asio::awaitable<void> scenario(usb_host_relay& r, std::vector<error_code>& results) {
  using namespace asio::experimental::awaitable_operators;
  // run() never ends by itself: || cancels it once the client is done, as SIGTERM would.
  co_await (r.run() || connect_and_expect_close(r, 3, results));
}

TEST(HostRelay, ConnectionWithoutItsDeviceIsClosedAtOnceAndCounted) {
  asio::io_context io;
  usb_host usb(io.get_executor(), vsocklib::log::get("test"));
  auto cfg = default_host("t", vsocklib::parse_address("tcp:127.0.0.1:0"));
  cfg.serial = "no-device-has-this-serial";  // never matches, even with a phone attached
  usb_host_relay r(cfg, {cfg}, {}, usb);
  std::vector<error_code> results;
  ASSERT_TRUE(vsocklib::test::run_with_deadline(io, scenario(r, results), 10s));
  ASSERT_EQ(results.size(), 3u);
  for (const auto& ec : results) EXPECT_EQ(ec, asio::error::eof) << ec.message();
  EXPECT_EQ(r.status().no_device, 3u);
  EXPECT_EQ(r.status().sessions, 0u);
}

// The status document is JSON, and each guest and listener stays on one line: people read
// it that way and the lab scripts grep a guest's line.
TEST(Status, IsJsonWithOneLinePerGuestAndListener) {
  guest_status g;
  g.name = "guest0";
  g.address = "vsock:3:5555";
  g.udc = "dummy_udc.0";
  g.state = "bridging";
  g.sessions = 2;
  g.usb_to_vsock_bytes = 100;
  g.current.usb_to_stream_bytes = 5;
  g.last_error = "guest said \"no\"\n";
  usb_host_status h;
  h.name = "host0";
  h.listen = "vsock:any:5555";
  h.sessions = 1;
  h.busy = 3;
  const std::string text = status_json({&g}, {&h});
  const auto doc = boost::json::parse(text);
  const auto& guest = doc.at("guests").at(0);
  EXPECT_EQ(guest.at("name").as_string(), "guest0");
  EXPECT_EQ(guest.at("usb_to_vsock_bytes").to_number<std::uint64_t>(), 105u);
  EXPECT_EQ(guest.at("last_error").as_string(), "guest said \"no\"\n");
  EXPECT_EQ(doc.at("hosts").at(0).at("busy").to_number<std::uint64_t>(), 3u);
  EXPECT_NE(text.find("\n    {\"name\": \"guest0\", \"address\": \"vsock:3:5555\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\"sessions\": 1, \"no_device\": 0, \"busy\": 3"), std::string::npos) << text;
  EXPECT_TRUE(status_json({}, {}).starts_with("{\n  \"guests\": [],\n  \"hosts\": []\n}"));
}

}  // namespace
}  // namespace adbd_relay
