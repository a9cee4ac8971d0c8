// Fault injection on the USB side of a relay session: the usb_endpoint seam fails the N-th
// transfer with each error FunctionFS (or a USB controller) can give, splits a transfer in
// two, or writes one short. Each case must end with the data intact, or with the session
// ended cleanly (the right session_end, run_session returning) and nothing duplicated or
// reordered: the bytes that crossed are exactly the transfers before the fault.
// (Faults on the vsock side of the pump: tests/unit/pump_test.cpp.)
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

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
using namespace test;

// Fails, splits or shortens the N-th transfer (1-based; 0 never) of a real endpoint.
class faulty_usb_endpoint final : public usb_endpoint {
 public:
  explicit faulty_usb_endpoint(usb_endpoint& inner) : inner_(inner) {}

  std::size_t fail_read_at = 0;
  std::size_t fail_write_at = 0;
  error_code fail_with;
  /// Fail without suspending (as an endpoint that refuses a transfer before submitting
  /// it, e.g. io_submit failing, or a transfer after cancel()). By default a failure
  /// completes later on the executor, as a transfer that was submitted and failed.
  bool fail_at_once = false;
  std::size_t split_read_at = 0;   ///< that transfer arrives as two reads (halves)
  std::size_t short_write_at = 0;  ///< that write moves only its first half, and says so

  asio::awaitable<std::tuple<error_code, std::size_t>> async_read(
      asio::mutable_buffer buf) override {
    ++reads_;
    if (!held_.empty()) {
      const std::size_t n = std::min(held_.size(), buf.size());
      std::memcpy(buf.data(), held_.data(), n);
      held_.clear();
      co_return std::tuple{error_code{}, n};
    }
    if (reads_ == fail_read_at) {
      if (!fail_at_once)
        co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
      co_return std::tuple{fail_with, std::size_t{0}};
    }
    auto [ec, n] = co_await inner_.async_read(buf);
    if (!ec && reads_ == split_read_at && n > 1) {
      const auto* p = static_cast<const std::byte*>(buf.data());
      held_.assign(p + n / 2, p + n);
      n /= 2;
    }
    co_return std::tuple{ec, n};
  }

  asio::awaitable<std::tuple<error_code, std::size_t>> async_write(
      asio::const_buffer buf) override {
    ++writes_;
    if (writes_ == fail_write_at) {
      if (!fail_at_once)
        co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
      co_return std::tuple{fail_with, std::size_t{0}};
    }
    if (writes_ == short_write_at && buf.size() > 1) buf = asio::buffer(buf, buf.size() / 2);
    co_return co_await inner_.async_write(buf);
  }

  void cancel() override { inner_.cancel(); }
  std::size_t max_packet_size() const override { return inner_.max_packet_size(); }

 private:
  usb_endpoint& inner_;
  std::size_t reads_ = 0;
  std::size_t writes_ = 0;
  bytes held_;
};

// The header of a message carrying PAYLOAD, alone.
bytes header(std::uint32_t cmd, std::uint32_t a0, std::uint32_t a1, const bytes& payload) {
  return header_only(adb::make_header(cmd, a0, a1, payload, false));
}

// The device role's names for the rig's peers, and the fault seam over its endpoint.
struct rig : test::session_rig {
  explicit rig(asio::io_context& io) : session_rig(io), faulty(usb) {}
  seqpacket::socket& pc = usb_peer;
  vsocklib::stream_socket& guest = stream_peer;
  vsocklib::stream_socket& relay_vsock = relay_stream;
  faulty_usb_endpoint faulty;
};

asio::awaitable<void> session(rig& r) {
  co_await run_session(r.faulty, r.relay_vsock, usb_role::device, k4KiBTransfers,
                       vsocklib::log::get("test"), r.stats);
}

// ---------------------------------------------------------------- PC -> guest (reads)

// What the PC sends, transfer by transfer, as adb's libusb backend does: a header, its
// payload in pieces, a zero-length packet after a payload of whole packets.
struct pc_traffic {
  std::vector<bytes> transfers;
  std::vector<bool> is_header;
};

pc_traffic pc_transfers() {
  const auto d1 = vsocklib::test::random_bytes(5000, 11);
  const auto d3 = vsocklib::test::random_bytes(4096, 12);
  const auto d4 = vsocklib::test::random_bytes(100, 13);
  pc_traffic t;
  auto add = [&t](bytes b, bool h) {
    t.transfers.push_back(std::move(b));
    t.is_header.push_back(h);
  };
  add(header(adb::kWrte, 1, 2, d1), true);
  add({d1.begin(), d1.begin() + 4096}, false);
  add({d1.begin() + 4096, d1.end()}, false);
  add(header(adb::kOkay, 1, 2, {}), true);
  add(header(adb::kWrte, 1, 2, d3), true);
  add(d3, false);
  add({}, false);  // zero-length packet
  add(header(adb::kWrte, 1, 2, d4), true);
  add(d4, false);
  return t;
}

// The stream the guest must see when the transfers before FAULT_AT (1-based) arrived: a
// header that expects a payload waits to go out with the payload's first piece.
bytes guest_expects(const pc_traffic& t, std::size_t fault_at) {
  bytes out, held;
  for (std::size_t i = 0; i + 1 < fault_at && i < t.transfers.size(); ++i) {
    const auto& x = t.transfers[i];
    if (t.is_header[i]) {
      const auto h =
          adb::decode(std::span<const std::byte, adb::kHeaderSize>(x.data(), adb::kHeaderSize));
      if (h.data_length == 0) {
        out.insert(out.end(), x.begin(), x.end());
      } else {
        held = x;
      }
    } else if (!x.empty()) {
      out.insert(out.end(), held.begin(), held.end());
      held.clear();
      out.insert(out.end(), x.begin(), x.end());
    }
  }
  return out;
}

asio::awaitable<void> pc_sends_then_leaves(rig& r, std::vector<bytes> transfers) {
  for (auto& t : transfers) co_await r.pc.async_send(asio::buffer(t), 0, use_tuple);
  error_code ignored;
  r.pc.shutdown(asio::socket_base::shutdown_send, ignored);  // the PC unplugs
}

asio::awaitable<void> pc_to_guest(rig& r, std::vector<bytes> transfers) {
  using namespace asio::experimental::awaitable_operators;
  co_await (session(r) && pc_sends_then_leaves(r, std::move(transfers)));
  r.relay_vsock.close();  // what guest_relay does after a session: the guest sees EOF
}

// Runs the PC's transfers through a session whose endpoint is set up by ARM; returns what
// the guest received.
template <typename Arm>
bytes run_pc_to_guest(const pc_traffic& t, Arm arm, session_stats& stats) {
  asio::io_context io;
  rig r(io);
  arm(r.faulty);
  if (!vsocklib::test::run_with_deadline(io, pc_to_guest(r, t.transfers), std::chrono::seconds(10)))
    return {};
  bytes got;
  error_code ec;
  std::array<std::byte, 4096> buf;
  while (std::size_t n = r.guest.read_some(asio::buffer(buf), ec))
    got.insert(got.end(), buf.begin(), buf.begin() + n);
  stats = r.stats;
  return got;
}

class UsbReadFault : public ::testing::TestWithParam<int> {};

TEST_P(UsbReadFault, EndsTheSessionWithExactlyTheTransfersBefore) {
  const error_code fault(GetParam(), asio::error::get_system_category());
  const auto t = pc_transfers();
  for (std::size_t at = 1; at <= t.transfers.size(); ++at) {
    SCOPED_TRACE("fault on read " + std::to_string(at) + ": " + fault.message());
    session_stats stats;
    const auto got = run_pc_to_guest(
        t,
        [&](faulty_usb_endpoint& f) {
          f.fail_read_at = at;
          f.fail_with = fault;
        },
        stats);
    EXPECT_EQ(stats.reason, session_end::usb_failed) << to_string(stats.reason, usb_role::device);
    EXPECT_EQ(stats.error, fault);
    EXPECT_EQ(got, guest_expects(t, at));
  }
}

// The errors a FunctionFS transfer (read/write or AIO) can end with: interrupted or
// would-block (which an endpoint retries itself; if one gets through, the session must
// still end cleanly), memory and buffer exhaustion, the host resetting or the function
// being disabled (ESHUTDOWN is what FunctionFS gives after DISABLE or unbind).
INSTANTIATE_TEST_SUITE_P(Errno, UsbReadFault,
                         ::testing::Values(EINTR, EAGAIN, ENOMEM, ENOBUFS, ECONNRESET, ESHUTDOWN),
                         [](const auto& info) { return std::string(strerrorname_np(info.param)); });

TEST(UsbFault, APayloadTransferSplitInTwoLosesNothing) {
  const auto t = pc_transfers();
  for (std::size_t at = 1; at <= t.transfers.size(); ++at) {
    if (t.is_header[at - 1] || t.transfers[at - 1].empty()) continue;
    SCOPED_TRACE("split read " + std::to_string(at));
    session_stats stats;
    const auto got = run_pc_to_guest(
        t, [&](faulty_usb_endpoint& f) { f.split_read_at = at; }, stats);
    EXPECT_EQ(got, guest_expects(t, t.transfers.size() + 1));
    // It ended because the PC left, not because of the split.
    EXPECT_EQ(stats.reason, session_end::usb_failed);
    EXPECT_EQ(stats.error, asio::error::shut_down);
  }
}

TEST(UsbFault, AHeaderTransferSplitInTwoIsAProtocolErrorAndNothingOfItPasses) {
  const auto t = pc_transfers();
  for (std::size_t at = 1; at <= t.transfers.size(); ++at) {
    if (!t.is_header[at - 1]) continue;
    SCOPED_TRACE("split header read " + std::to_string(at));
    session_stats stats;
    const auto got = run_pc_to_guest(
        t, [&](faulty_usb_endpoint& f) { f.split_read_at = at; }, stats);
    EXPECT_EQ(stats.reason, session_end::usb_protocol);
    EXPECT_NE(stats.detail.find("got 12 bytes"), std::string::npos) << stats.detail;
    EXPECT_EQ(got, guest_expects(t, at));
  }
}

// When the very first USB read fails without suspending, usb_to_stream ends the session
// (cancelling the stream) before stream_to_usb has started; stream_to_usb must then not
// start a read nobody would cancel (the session used to hang here until the guest sent
// or closed). An AIO endpoint whose io_submit fails (EAGAIN, ENOMEM) does exactly this.
TEST(UsbFault, AFirstReadThatFailsAtOnceEndsTheSession) {
  const auto t = pc_transfers();
  session_stats stats;
  const auto got = run_pc_to_guest(
      t,
      [](faulty_usb_endpoint& f) {
        f.fail_read_at = 1;
        f.fail_with = error_code(ENOMEM, asio::error::get_system_category());
        f.fail_at_once = true;
      },
      stats);
  EXPECT_EQ(stats.reason, session_end::usb_failed) << to_string(stats.reason, usb_role::device);
  EXPECT_TRUE(got.empty());
}

// ---------------------------------------------------------------- guest -> PC (writes)

// CNXN with a banner, a WRTE of 10000 bytes, an OKAY: the PC must see them as the
// transfers 24, 100, 24, 4096, 4096, 1808, 24.
bytes guest_stream(std::vector<bytes>& transfers) {
  const auto banner = vsocklib::test::random_bytes(100, 21);
  const auto data = vsocklib::test::random_bytes(10000, 22);
  transfers = {header(adb::kCnxn, adb::kVersion, adb::kMaxPayload, banner),
               banner,
               header(adb::kWrte, 1, 2, data),
               {data.begin(), data.begin() + 4096},
               {data.begin() + 4096, data.begin() + 8192},
               {data.begin() + 8192, data.end()},
               header(adb::kOkay, 1, 2, {})};
  bytes stream;
  for (const auto& x : transfers) stream.insert(stream.end(), x.begin(), x.end());
  return stream;
}

// The guest writes its messages and closes its side: a session without a fault ends
// there (vsock_failed, eof), after every transfer; a fault comes first.
asio::awaitable<void> guest_writes(rig& r, bytes stream) {
  co_await asio::async_write(r.guest, asio::buffer(stream), use_tuple);
  error_code ignored;
  r.guest.shutdown(asio::socket_base::shutdown_send, ignored);
}

asio::awaitable<void> guest_to_pc(rig& r, bytes stream) {
  using namespace asio::experimental::awaitable_operators;
  co_await (session(r) && guest_writes(r, std::move(stream)));
}

// Runs the guest's stream through a session set up by ARM; returns the PC's transfers.
template <typename Arm>
std::vector<bytes> run_guest_to_pc(const bytes& stream, Arm arm, session_stats& stats) {
  asio::io_context io;
  rig r(io);
  arm(r.faulty);
  if (!vsocklib::test::run_with_deadline(io, guest_to_pc(r, stream), std::chrono::seconds(10)))
    return {};
  r.usb.socket().close();  // the gadget goes away: the PC reads what was sent, then EOF
  std::vector<bytes> got;
  std::array<std::byte, 8192> buf;
  for (;;) {
    error_code ec;
    asio::socket_base::message_flags flags = 0;
    const auto n = r.pc.receive(asio::buffer(buf), 0, flags, ec);
    if (ec || n == 0) break;
    got.emplace_back(buf.begin(), buf.begin() + n);
  }
  stats = r.stats;
  return got;
}

class UsbWriteFault : public ::testing::TestWithParam<int> {};

TEST_P(UsbWriteFault, EndsTheSessionWithExactlyTheTransfersBefore) {
  const error_code fault(GetParam(), asio::error::get_system_category());
  std::vector<bytes> transfers;
  const auto stream = guest_stream(transfers);
  for (std::size_t at = 1; at <= transfers.size(); ++at) {
    SCOPED_TRACE("fault on write " + std::to_string(at) + ": " + fault.message());
    session_stats stats;
    const auto got = run_guest_to_pc(
        stream,
        [&](faulty_usb_endpoint& f) {
          f.fail_write_at = at;
          f.fail_with = fault;
        },
        stats);
    EXPECT_EQ(stats.reason, session_end::usb_failed) << to_string(stats.reason, usb_role::device);
    EXPECT_EQ(stats.error, fault);
    EXPECT_EQ(got,
              std::vector<bytes>(transfers.begin(), transfers.begin() + static_cast<long>(at) - 1));
  }
}

INSTANTIATE_TEST_SUITE_P(Errno, UsbWriteFault,
                         ::testing::Values(EINTR, EAGAIN, ENOMEM, ENOBUFS, ECONNRESET, ESHUTDOWN),
                         [](const auto& info) { return std::string(strerrorname_np(info.param)); });

TEST(UsbFault, NoFaultDeliversEveryTransfer) {
  // The baseline the fault cases are measured against.
  std::vector<bytes> transfers;
  const auto stream = guest_stream(transfers);
  session_stats stats;
  EXPECT_EQ(run_guest_to_pc(
                stream, [](faulty_usb_endpoint&) {}, stats),
            transfers);
  EXPECT_EQ(stats.reason, session_end::stream_failed);
  EXPECT_EQ(stats.error, asio::error::eof);
}

// A transfer that moved only part of its bytes (a short write) cannot be completed by a
// second transfer (that would end the PC's read early), so the session ends, usb_failed,
// after it; before, the PC got a truncated header or payload and lost the framing.
TEST(UsbFault, AShortWriteEndsTheSessionAfterIt) {
  std::vector<bytes> transfers;
  const auto stream = guest_stream(transfers);
  for (std::size_t at = 1; at <= transfers.size(); ++at) {
    SCOPED_TRACE("short write " + std::to_string(at));
    session_stats stats;
    const auto got = run_guest_to_pc(
        stream, [&](faulty_usb_endpoint& f) { f.short_write_at = at; }, stats);
    EXPECT_EQ(stats.reason, session_end::usb_failed) << to_string(stats.reason, usb_role::device);
    EXPECT_TRUE(stats.error);
    // The transfers before, then the half that did go out, then nothing.
    auto want =
        std::vector<bytes>(transfers.begin(), transfers.begin() + static_cast<long>(at) - 1);
    const auto& half = transfers[at - 1];
    want.emplace_back(half.begin(), half.begin() + static_cast<long>(half.size() / 2));
    EXPECT_EQ(got, want);
  }
}

// ---------------------------------------------------------------- vsock side

// The PC sends a message; the guest's adbd crashes with it unread. A Unix stream socket
// closed with unread data resets its peer, so the relay's next vsock read fails with
// ECONNRESET, as a guest kernel's reset would.
asio::awaitable<void> guest_crashes_with_data_unread(rig& r) {
  const auto okay = header(adb::kOkay, 1, 2, {});
  co_await r.pc.async_send(asio::buffer(okay), 0, use_tuple);
  co_await r.guest.async_wait(asio::socket_base::wait_read, use_tuple);
  r.guest.close();
}

asio::awaitable<void> guest_reset(rig& r) {
  using namespace asio::experimental::awaitable_operators;
  co_await (session(r) && guest_crashes_with_data_unread(r));
}

TEST(UsbFault, GuestResetEndsTheSessionAsVsockFailed) {
  asio::io_context io;
  rig r(io);
  ASSERT_TRUE(vsocklib::test::run_with_deadline(io, guest_reset(r), std::chrono::seconds(10)));
  EXPECT_EQ(r.stats.reason, session_end::stream_failed)
      << to_string(r.stats.reason, usb_role::device);
  EXPECT_EQ(r.stats.error, asio::error::connection_reset) << r.stats.error.message();
  EXPECT_EQ(r.stats.usb_to_stream_bytes, adb::kHeaderSize);
}

}  // namespace
}  // namespace adbd_relay
