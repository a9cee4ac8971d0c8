// Host mode's ADB framing between an adb server's byte stream and a device's USB transfers.
// The USB side is a SOCK_SEQPACKET socketpair (one send = one transfer, a zero-length send
// a zero-length packet); the test plays the device on it and the adb server on a stream
// socketpair.
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "adb_protocol/protocol.hpp"
#include "adbd_relay/session.hpp"
#include "peers.hpp"
#include "run_coro.hpp"
#include "session_rig.hpp"
#include "vsocklib/log.hpp"

namespace adbd_relay {
namespace {

namespace adb = adb_protocol;
// The framing tests below count USB transfers of 4 KiB (the default is 16 KiB; the tests
// of the default's own sizes say so).
constexpr session_options k4KiBTransfers{.chunk_size = 4096, .usb_transfer_size = 4096};
using vsocklib::use_tuple;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using namespace test;

bytes concat(std::initializer_list<const bytes*> parts) {
  bytes out;
  for (const auto* p : parts) out.insert(out.end(), p->begin(), p->end());
  return out;
}

// The host role's names for the rig's peers.
struct rig : test::session_rig {
  using session_rig::session_rig;
  seqpacket::socket& device = usb_peer;
  vsocklib::stream_socket& server = stream_peer;
};

asio::awaitable<void> relay(rig& r) {
  co_await run_session(r.usb, r.relay_stream, usb_role::host, k4KiBTransfers,
                       vsocklib::log::get("test"), r.stats);
}

// The device's view: every transfer's size and bytes, until TRANSFERS have arrived; then
// the device goes away (as an unplug would), which ends the session.
asio::awaitable<void> device_receives(rig& r, std::size_t transfers,
                                      std::vector<std::size_t>& sizes, bytes& got) {
  bytes buf(1 << 20);
  for (std::size_t i = 0; i < transfers; ++i) {
    asio::socket_base::message_flags flags = 0;
    auto [ec, n] = co_await r.device.async_receive(asio::buffer(buf), flags, use_tuple);
    if (ec) break;
    sizes.push_back(n);
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  }
  r.device.close();
}

asio::awaitable<void> server_sends(rig& r, bytes stream) {
  co_await asio::async_write(r.server, asio::buffer(stream), use_tuple);
}

TEST(HostSession, ServerMessagesReachTheDeviceAsHeaderThenPacketsThenZlp) {
  asio::io_context io;
  rig r(io, 512);
  auto banner = vsocklib::test::random_bytes(100, 1);
  auto data = vsocklib::test::random_bytes(10000, 2);
  auto whole = vsocklib::test::random_bytes(4096, 3);  // a multiple of wMaxPacketSize
  auto cnxn = message(adb::kCnxn, adb::kVersion, adb::kMaxPayload, banner);
  auto wrte = message(adb::kWrte, 1, 2, data);
  auto wrte_whole = message(adb::kWrte, 1, 2, whole);
  auto okay = message(adb::kOkay, 1, 2, {});
  const bytes stream = concat({&cnxn, &wrte, &wrte_whole, &okay});  // one write: no framing hints

  std::vector<std::size_t> sizes;
  bytes got;
  vsocklib::test::run_with_deadline(
      io,
      [](rig& r, bytes s, std::vector<std::size_t>& sizes, bytes& got) -> asio::awaitable<void> {
        co_await (relay(r) && server_sends(r, std::move(s)) && device_receives(r, 10, sizes, got));
      }(r, stream, sizes, got));
  // Header alone; payload in 4 KiB pieces (whole packets) and a short last one; a payload
  // of whole packets is followed by a zero-length packet, as AOSP adb's host sends it.
  EXPECT_EQ(sizes, (std::vector<std::size_t>{24, 100, 24, 4096, 4096, 1808, 24, 4096, 0, 24}));
  EXPECT_EQ(got, stream);
  EXPECT_EQ(r.stats.stream_to_usb_messages, 4u);
  EXPECT_EQ(r.stats.stream_to_usb_bytes, stream.size());
  EXPECT_EQ(r.stats.zero_length_packets, 1u);
  EXPECT_EQ(r.stats.reason, session_end::usb_failed) << to_string(r.stats.reason, usb_role::host);
}

TEST(HostSession, ZlpFollowsWholePacketsOfTheEndpointsOwnSize) {
  asio::io_context io;
  rig r(io, 64);  // full speed: 64-byte packets
  auto p = vsocklib::test::random_bytes(128, 4);
  auto wrte = message(adb::kWrte, 1, 2, p);
  std::vector<std::size_t> sizes;
  bytes got;
  vsocklib::test::run_with_deadline(
      io,
      [](rig& r, bytes s, std::vector<std::size_t>& sizes, bytes& got) -> asio::awaitable<void> {
        co_await (relay(r) && server_sends(r, std::move(s)) && device_receives(r, 3, sizes, got));
      }(r, wrte, sizes, got));
  EXPECT_EQ(sizes, (std::vector<std::size_t>{24, 128, 0}));
}

// The device's transfers, as adbd (or the relay's gadget mode) sends them.
asio::awaitable<void> device_sends(rig& r, std::vector<bytes> transfers) {
  for (auto& t : transfers) co_await r.device.async_send(asio::buffer(t), 0, use_tuple);
}

asio::awaitable<void> server_reads(rig& r, std::size_t n, bytes& got) {
  got.resize(n);
  co_await asio::async_read(r.server, asio::buffer(got), use_tuple);
  r.device.close();
}

TEST(HostSession, DeviceTransfersReachTheServerAsOneStream) {
  asio::io_context io;
  rig r(io, 512);
  auto d1 = vsocklib::test::random_bytes(5000, 5);
  auto d2 = vsocklib::test::random_bytes(1024, 6);
  auto h1 = header_only(adb::make_header(adb::kWrte, 1, 2, d1, false));
  auto h2 = header_only(adb::make_header(adb::kOkay, 1, 2, {}, false));
  auto h3 = header_only(adb::make_header(adb::kWrte, 1, 2, d2, false));
  std::vector<bytes> transfers{
      h1,
      {d1.begin(), d1.begin() + 4096},
      {d1.begin() + 4096, d1.end()},  // header, 2 pieces
      h2,                             // no payload
      {},  // a stray zero-length packet: adb devices send none, and it carries nothing
      h3,
      d2};
  const bytes expected = concat({&h1, &d1, &h2, &h3, &d2});
  bytes got;
  vsocklib::test::run_with_deadline(
      io, [](rig& r, std::vector<bytes> t, std::size_t n, bytes& got) -> asio::awaitable<void> {
        co_await (relay(r) && device_sends(r, std::move(t)) && server_reads(r, n, got));
      }(r, transfers, expected.size(), got));
  EXPECT_EQ(got, expected);
  EXPECT_EQ(r.stats.usb_to_stream_messages, 3u);
  EXPECT_EQ(r.stats.usb_to_stream_bytes, expected.size());
  EXPECT_EQ(r.stats.reason, session_end::usb_failed) << to_string(r.stats.reason, usb_role::host);
}

TEST(HostSession, NegotiatedLimitAppliesToTheDevice) {
  asio::io_context io;
  rig r(io);
  // The adb server accepts 4096, the device 1 MiB: an 8 KiB payload from the device is over
  // the session's limit.
  auto server_cnxn = message(adb::kCnxn, adb::kVersion, 4096, vsocklib::test::random_bytes(10, 10));
  auto device_cnxn =
      message(adb::kCnxn, adb::kVersion, adb::kMaxPayload, vsocklib::test::random_bytes(10, 11));
  auto big = header_only(
      adb::make_header(adb::kWrte, 1, 2, vsocklib::test::random_bytes(8192, 12), false));
  std::vector<bytes> transfers{{device_cnxn.begin(), device_cnxn.begin() + 24},
                               {device_cnxn.begin() + 24, device_cnxn.end()},
                               big};
  bytes seen_by_server;
  vsocklib::test::run_with_deadline(
      io, [](rig& r, bytes cnxn, std::vector<bytes> t, bytes& seen) -> asio::awaitable<void> {
        // The server's CNXN reaches the device first (2 transfers), then the device answers.
        auto device = [](rig& r, std::vector<bytes> t) -> asio::awaitable<void> {
          bytes buf(4096);
          for (int i = 0; i < 2; ++i) {
            asio::socket_base::message_flags flags = 0;
            co_await r.device.async_receive(asio::buffer(buf), flags, use_tuple);
          }
          co_await device_sends(r, std::move(t));
        };
        auto server = [](rig& r, bytes cnxn, bytes& seen) -> asio::awaitable<void> {
          co_await server_sends(r, std::move(cnxn));
          seen.resize(24 + 10);
          co_await asio::async_read(r.server, asio::buffer(seen), use_tuple);
        };
        co_await (relay(r) && device(r, std::move(t)) && server(r, std::move(cnxn), seen));
      }(r, server_cnxn, transfers, seen_by_server));
  EXPECT_EQ(seen_by_server, device_cnxn);
  EXPECT_EQ(r.stats.reason, session_end::usb_protocol);
  EXPECT_NE(r.stats.detail.find("8192"), std::string::npos) << r.stats.detail;
}

}  // namespace
}  // namespace adbd_relay
