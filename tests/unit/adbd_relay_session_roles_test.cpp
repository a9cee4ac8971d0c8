// What a relay session does the same in both USB roles (session.hpp): every header is
// validated on both sides and a bad one ends the session naming it, in the role's words;
// a header is its own USB transfer; a payload transfer may not run past its header's
// length; the stream peer closing, or cancellation, ends the session.
// (Role-specific framing: adbd_relay_session_test.cpp (device), adbd_relay_host_session_test.cpp.)
#include <gtest/gtest.h>

#include "peers.hpp"
#include "run_coro.hpp"
#include "session_rig.hpp"
#include "vsocklib/log.hpp"

namespace adbd_relay {
namespace {

namespace adb = adb_protocol;
using namespace test;
using namespace std::chrono_literals;
using vsocklib::use_tuple;

constexpr session_options k4KiBTransfers{.chunk_size = 4096, .usb_transfer_size = 4096};

class SessionInEitherRole : public ::testing::TestWithParam<usb_role> {
 public:  // the tests' coroutines call in through a pointer
  usb_role role() const { return GetParam(); }
  const char* usb_peer_name() const { return role() == usb_role::device ? "the PC" : "the device"; }

  asio::awaitable<void> relay(session_rig& r) {
    co_await run_session(r.usb, r.relay_stream, role(), k4KiBTransfers, vsocklib::log::get("test"),
                         r.stats);
  }

  // The USB peer sends TRANSFERS, then goes away (as an unplug would).
  session_stats usb_peer_sends(std::vector<bytes> transfers) {
    asio::io_context io;
    session_rig r(io);
    vsocklib::test::run_with_deadline(
        io,
        [](SessionInEitherRole* t, session_rig& r,
           std::vector<bytes> transfers) -> asio::awaitable<void> {
          using namespace asio::experimental::awaitable_operators;
          auto peer = [](session_rig& r, std::vector<bytes> transfers) -> asio::awaitable<void> {
            for (auto& x : transfers) co_await r.usb_peer.async_send(asio::buffer(x), 0, use_tuple);
            r.usb_peer.close();
          };
          co_await (t->relay(r) && peer(r, std::move(transfers)));
        }(this, r, std::move(transfers)));
    return r.stats;
  }

  // The stream peer writes BYTES; the session must end on them by itself.
  session_stats stream_peer_sends(bytes b) {
    asio::io_context io;
    session_rig r(io);
    vsocklib::test::run_with_deadline(
        io, [](SessionInEitherRole* t, session_rig& r, bytes b) -> asio::awaitable<void> {
          using namespace asio::experimental::awaitable_operators;
          auto peer = [](session_rig& r, bytes b) -> asio::awaitable<void> {
            co_await asio::async_write(r.stream_peer, asio::buffer(b), use_tuple);
          };
          co_await (t->relay(r) && peer(r, std::move(b)));
        }(this, r, std::move(b)));
    return r.stats;
  }
};

TEST_P(SessionInEitherRole, BadMagicFromTheUsbPeerEndsTheSessionNamingIt) {
  auto h = adb::make_header(adb::kWrte, 1, 2, {}, false);
  h.magic = 0x12345678;
  const auto stats = usb_peer_sends({header_only(h)});
  EXPECT_EQ(stats.reason, session_end::usb_protocol);
  EXPECT_EQ(to_string(stats.reason, role()), std::string("protocol error from ") + usb_peer_name());
  EXPECT_NE(stats.detail.find("0x12345678"), std::string::npos) << stats.detail;
  EXPECT_EQ(stats.usb_to_stream_bytes, 0u);
}

TEST_P(SessionInEitherRole, AHeaderMustBeItsOwnTransfer) {
  const auto m =
      message(adb::kWrte, 1, 2, vsocklib::test::random_bytes(76, 7));  // 100 bytes in one
  const auto stats = usb_peer_sends({m});
  EXPECT_EQ(stats.reason, session_end::usb_protocol);
  EXPECT_EQ(stats.detail, std::string("expected a 24-byte header transfer from ") +
                              usb_peer_name() + ", got 100 bytes");
  EXPECT_EQ(stats.usb_to_stream_bytes, 0u);
}

TEST_P(SessionInEitherRole, APayloadTransferLongerThanItsHeaderSaysIsRejected) {
  const auto h =
      header_only(adb::make_header(adb::kWrte, 1, 2, vsocklib::test::random_bytes(100, 8), false));
  const auto stats = usb_peer_sends({h, vsocklib::test::random_bytes(512, 9)});
  EXPECT_EQ(stats.reason, session_end::usb_protocol);
  EXPECT_NE(stats.detail.find("payload transfer of 512 bytes, but only 100 were left"),
            std::string::npos)
      << stats.detail;
}

TEST_P(SessionInEitherRole, AnUnknownCommandFromTheStreamPeerNeverReachesUsb) {
  auto h = adb::make_header(adb::kWrte, 1, 2, {}, false);
  h.command = 0x41414141;  // "AAAA"
  h.magic = h.command ^ 0xffffffff;
  const auto stats = stream_peer_sends(header_only(h));
  EXPECT_EQ(stats.reason, session_end::stream_protocol);
  EXPECT_EQ(to_string(stats.reason, role()),
            std::string(role() == usb_role::device ? "protocol error from the guest"
                                                   : "protocol error from the adb server"));
  EXPECT_NE(stats.detail.find("0x41414141"), std::string::npos) << stats.detail;
  EXPECT_EQ(stats.stream_to_usb_bytes, 0u);
}

// adb over USB has no TLS, and a TLS stream cannot be framed.
TEST_P(SessionInEitherRole, StlsFromTheStreamPeerNeverReachesUsb) {
  const auto stats = stream_peer_sends(message(adb::kStls, 0x01000000, 0, {}));
  EXPECT_EQ(stats.reason, session_end::stream_protocol);
  EXPECT_NE(stats.detail.find("STLS"), std::string::npos) << stats.detail;
  EXPECT_EQ(stats.stream_to_usb_bytes, 0u);
}

TEST_P(SessionInEitherRole, TheStreamPeerClosingEndsTheSession) {
  asio::io_context io;
  session_rig r(io);
  vsocklib::test::run_with_deadline(
      io, [](SessionInEitherRole* t, session_rig& r) -> asio::awaitable<void> {
        r.stream_peer.close();
        co_await t->relay(r);
      }(this, r));
  EXPECT_EQ(r.stats.reason, session_end::stream_failed);
  EXPECT_EQ(r.stats.error, asio::error::eof);
}

TEST_P(SessionInEitherRole, CancellingAnIdleSessionEndsItPromptly) {
  asio::io_context io;
  session_rig r(io);  // neither peer sends anything
  const auto start = std::chrono::steady_clock::now();
  vsocklib::test::run_with_deadline(
      io,
      [](SessionInEitherRole* t, session_rig& r) -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        asio::steady_timer soon(co_await asio::this_coro::executor, 50ms);
        co_await (t->relay(r) || soon.async_wait(use_tuple));
      }(this, r),
      5s);
  EXPECT_EQ(r.stats.reason, session_end::cancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

INSTANTIATE_TEST_SUITE_P(Roles, SessionInEitherRole,
                         ::testing::Values(usb_role::device, usb_role::host),
                         [](const ::testing::TestParamInfo<usb_role>& p) {
                           return p.param == usb_role::device ? "device" : "host";
                         });

}  // namespace
}  // namespace adbd_relay
