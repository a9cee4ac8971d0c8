// The relay's ADB framing between USB transfers and the vsock byte stream. The USB side is
// a SOCK_SEQPACKET socketpair (one send = one transfer), the guest side a stream
// socketpair; the test plays the PC and the guest's adbd.
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
using namespace test;

// The device role's names for the rig's peers.
struct rig : test::session_rig {
  using session_rig::session_rig;
  seqpacket::socket& pc = usb_peer;
  vsocklib::stream_socket& guest = stream_peer;
  vsocklib::stream_socket& relay_vsock = relay_stream;
};

asio::awaitable<void> relay(rig& r) {
  co_await run_session(r.usb, r.relay_vsock, usb_role::device, k4KiBTransfers,
                       vsocklib::log::get("test"), r.stats);
}

// The PC's view: transfer sizes and bytes, until the relay drops the USB side.
asio::awaitable<void> pc_receive(rig& r, std::size_t transfers, std::vector<std::size_t>& sizes,
                                 std::vector<std::byte>& bytes) {
  std::vector<std::byte> buf(1 << 20);
  for (std::size_t i = 0; i < transfers; ++i) {
    asio::socket_base::message_flags flags = 0;
    auto [ec, n] = co_await r.pc.async_receive(asio::buffer(buf), flags, use_tuple);
    if (ec) co_return;
    sizes.push_back(n);
    bytes.insert(bytes.end(), buf.begin(), buf.begin() + n);
  }
}

asio::awaitable<void> guest_to_pc(rig& r, std::vector<std::byte> stream, std::size_t transfers,
                                  std::vector<std::size_t>& sizes, std::vector<std::byte>& bytes) {
  using namespace asio::experimental::awaitable_operators;
  co_await asio::async_write(r.guest, asio::buffer(stream), use_tuple);
  co_await pc_receive(r, transfers, sizes, bytes);
  r.guest.close();  // ends the session
}

TEST(RelaySession, GuestMessagesReachThePcAsHeaderThenWholePackets) {
  asio::io_context io;
  rig r(io, 512);
  auto banner = vsocklib::test::random_bytes(100, 1);
  auto data = vsocklib::test::random_bytes(10000, 2);
  auto cnxn = message(adb::kCnxn, adb::kVersion, adb::kMaxPayload, banner);
  auto wrte = message(adb::kWrte, 1, 2, data);
  std::vector<std::byte> stream = cnxn;
  stream.insert(stream.end(), wrte.begin(), wrte.end());  // one write: no hint of framing

  std::vector<std::size_t> sizes;
  std::vector<std::byte> bytes;
  using namespace asio::experimental::awaitable_operators;
  vsocklib::test::run_with_deadline(
      io,
      [](rig& r, std::vector<std::byte> s, std::vector<std::size_t>& sizes,
         std::vector<std::byte>& bytes) -> asio::awaitable<void> {
        co_await (relay(r) && guest_to_pc(r, std::move(s), 6, sizes, bytes));
      }(r, stream, sizes, bytes));
  // Header alone; payload in 4 KiB pieces (multiples of 512) and a short last one; no ZLP.
  EXPECT_EQ(sizes, (std::vector<std::size_t>{24, 100, 24, 4096, 4096, 1808}));
  EXPECT_EQ(bytes, stream);
  EXPECT_EQ(r.stats.stream_to_usb_messages, 2u);
  EXPECT_EQ(r.stats.stream_to_usb_bytes, stream.size());
  EXPECT_EQ(r.stats.reason, session_end::stream_failed);
  EXPECT_EQ(r.stats.error, asio::error::eof);
}

asio::awaitable<void> relay_with_defaults(rig& r) {
  co_await run_session(r.usb, r.relay_vsock, usb_role::device, {}, vsocklib::log::get("test"),
                       r.stats);
}

TEST(RelaySession, DefaultUsbTransfersAre16KiB) {
  asio::io_context io;
  rig r(io, 512);
  auto data = vsocklib::test::random_bytes(40000, 31);
  auto cnxn = message(adb::kCnxn, adb::kVersion, adb::kMaxPayload, {});
  auto wrte = message(adb::kWrte, 1, 2, data);
  std::vector<std::byte> stream = cnxn;
  stream.insert(stream.end(), wrte.begin(), wrte.end());
  std::vector<std::size_t> sizes;
  std::vector<std::byte> bytes;
  vsocklib::test::run_with_deadline(
      io,
      [](rig& r, std::vector<std::byte> s, std::vector<std::size_t>& sizes,
         std::vector<std::byte>& bytes) -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        co_await (relay_with_defaults(r) && guest_to_pc(r, std::move(s), 5, sizes, bytes));
      }(r, stream, sizes, bytes));
  EXPECT_EQ(sizes, (std::vector<std::size_t>{24, 24, 16384, 16384, 7232}));
  EXPECT_EQ(bytes, stream);
}

// The PC's transfers, as adb's libusb backend sends them.
asio::awaitable<void> pc_send(rig& r, std::vector<std::vector<std::byte>> transfers) {
  for (auto& t : transfers) co_await r.pc.async_send(asio::buffer(t), 0, use_tuple);
}

asio::awaitable<void> guest_read(rig& r, std::size_t n, std::vector<std::byte>& got) {
  got.resize(n);
  co_await asio::async_read(r.guest, asio::buffer(got), use_tuple);
  r.pc.close();
}

TEST(RelaySession, PcTransfersReachTheGuestAsOneStream) {
  asio::io_context io;
  rig r(io, 512);
  auto d1 = vsocklib::test::random_bytes(5000, 3);
  auto d2 = vsocklib::test::random_bytes(4096, 4);
  auto h1 = header_only(adb::make_header(adb::kWrte, 1, 2, d1, false));
  auto h2 = header_only(adb::make_header(adb::kOkay, 1, 2, {}, false));
  auto h3 = header_only(adb::make_header(adb::kWrte, 1, 2, d2, false));
  std::vector<std::vector<std::byte>> transfers{
      h1,
      {d1.begin(), d1.begin() + 4096},
      {d1.begin() + 4096, d1.end()},  // header, 2 reads
      h2,                             // no payload
      h3,
      d2,
      {}};  // a payload of whole packets is followed by a zero-length packet
  std::vector<std::byte> expected;
  for (auto* part : {&h1, &d1, &h2, &h3, &d2})
    expected.insert(expected.end(), part->begin(), part->end());

  std::vector<std::byte> got;
  vsocklib::test::run_with_deadline(
      io,
      [](rig& r, std::vector<std::vector<std::byte>> t, std::size_t n,
         std::vector<std::byte>& got) -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        co_await (relay(r) && pc_send(r, std::move(t)) && guest_read(r, n, got));
      }(r, transfers, expected.size(), got));
  EXPECT_EQ(got, expected);
  EXPECT_EQ(r.stats.usb_to_stream_messages, 3u);
  EXPECT_EQ(r.stats.reason, session_end::usb_failed) << to_string(r.stats.reason, usb_role::device);
}

// The guest's records (SOCK_SEQPACKET rig): one per relay write, until the PC goes away.
asio::awaitable<void> guest_records(rig& r, std::size_t n, std::vector<std::size_t>& sizes,
                                    std::vector<std::byte>& got) {
  std::vector<std::byte> buf(1 << 20);
  while (got.size() < n) {
    auto [ec, k] = co_await r.guest.async_read_some(asio::buffer(buf), use_tuple);
    if (ec) break;
    sizes.push_back(k);
    got.insert(got.end(), buf.begin(), buf.begin() + k);
  }
  r.pc.close();
}

TEST(RelaySession, LargeUsbTransfersReachTheGuestInWritesOfAtMostAChunk) {
  asio::io_context io;
  rig r(io, 512, SOCK_SEQPACKET);
  auto d = vsocklib::test::random_bytes(16384, 32);  // one 16 KiB transfer, then a ZLP
  auto small = vsocklib::test::random_bytes(100, 33);
  auto h1 = header_only(adb::make_header(adb::kWrte, 1, 2, d, false));
  auto h2 = header_only(adb::make_header(adb::kWrte, 1, 2, small, false));
  std::vector<std::vector<std::byte>> transfers{h1, d, {}, h2, small};
  std::vector<std::byte> expected;
  for (auto* part : {&h1, &d, &h2, &small})
    expected.insert(expected.end(), part->begin(), part->end());
  std::vector<std::size_t> sizes;
  std::vector<std::byte> got;
  vsocklib::test::run_with_deadline(
      io,
      [](rig& r, std::vector<std::vector<std::byte>> t, std::size_t n,
         std::vector<std::size_t>& sizes, std::vector<std::byte>& got) -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        co_await (relay_with_defaults(r) && pc_send(r, std::move(t)) &&
                  guest_records(r, n, sizes, got));
      }(r, transfers, expected.size(), sizes, got));
  EXPECT_EQ(got, expected);
  // The header rides with the first 4072 payload bytes; no write above 4 KiB.
  EXPECT_EQ(sizes, (std::vector<std::size_t>{4096, 4096, 4096, 4096, 24, 124}));
}

asio::awaitable<void> guest_sends(rig& r, std::vector<std::byte> bytes) {
  co_await asio::async_write(r.guest, asio::buffer(bytes), use_tuple);
}

TEST(RelaySession, OversizedPayloadAfterNegotiationIsRejected) {
  asio::io_context io;
  rig r(io);
  // PC accepts 4096, the guest 1 MiB: the session's limit is 4096.
  auto pc_cnxn = message(adb::kCnxn, adb::kVersion, 4096, vsocklib::test::random_bytes(10, 5));
  auto guest_cnxn =
      message(adb::kCnxn, adb::kVersion, adb::kMaxPayload, vsocklib::test::random_bytes(10, 6));
  auto big =
      header_only(adb::make_header(adb::kWrte, 1, 2, vsocklib::test::random_bytes(8192, 7), false));
  std::vector<std::vector<std::byte>> transfers{{pc_cnxn.begin(), pc_cnxn.begin() + 24},
                                                {pc_cnxn.begin() + 24, pc_cnxn.end()}};
  vsocklib::test::run_with_deadline(
      io,
      [](rig& r, std::vector<std::vector<std::byte>> t, std::vector<std::byte> guest_cnxn,
         std::vector<std::byte> big) -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        auto pc = [](rig& r, std::vector<std::vector<std::byte>> t,
                     std::vector<std::byte> big) -> asio::awaitable<void> {
          co_await pc_send(r, std::move(t));
          // Wait for the guest's CNXN (header + banner) before sending the oversized message.
          std::vector<std::size_t> sizes;
          std::vector<std::byte> bytes;
          co_await pc_receive(r, 2, sizes, bytes);
          co_await r.pc.async_send(asio::buffer(big), 0, use_tuple);
        };
        // The guest answers the PC's CNXN (34 bytes) with its own, as adbd does.
        auto guest = [](rig& r, std::vector<std::byte> cnxn) -> asio::awaitable<void> {
          std::vector<std::byte> pc_cnxn(34);
          co_await asio::async_read(r.guest, asio::buffer(pc_cnxn), use_tuple);
          co_await guest_sends(r, std::move(cnxn));
        };
        co_await (relay(r) && guest(r, std::move(guest_cnxn)) &&
                  pc(r, std::move(t), std::move(big)));
      }(r, transfers, guest_cnxn, big));
  EXPECT_EQ(r.stats.reason, session_end::usb_protocol)
      << to_string(r.stats.reason, usb_role::device);
  EXPECT_NE(r.stats.detail.find("8192"), std::string::npos) << r.stats.detail;
  EXPECT_EQ(r.stats.max_payload, 4096u);
}

// The PC and guest shake hands and the guest sends one OKAY (traffic past the handshake);
// then the PC sends LATER, as transfers. Returns when the session has ended.
void handshake_then(asio::io_context& io, rig& r, std::vector<std::vector<std::byte>> later) {
  auto pc_cnxn =
      message(adb::kCnxn, adb::kVersion, adb::kMaxPayload, vsocklib::test::random_bytes(10, 8));
  auto guest_msgs =
      message(adb::kCnxn, adb::kVersion, adb::kMaxPayload, vsocklib::test::random_bytes(10, 9));
  auto okay = message(adb::kOkay, 1, 2, {});
  guest_msgs.insert(guest_msgs.end(), okay.begin(), okay.end());
  // Cut outside the coroutines: GCC 12 cannot keep an initializer_list in a coroutine frame.
  auto first = split(pc_cnxn, {24});
  using transfers = std::vector<std::vector<std::byte>>;
  vsocklib::test::run_with_deadline(
      io,
      [](rig& r, transfers first, std::vector<std::byte> guest_msgs,
         transfers later) -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        auto pc = [](rig& r, transfers first, transfers later) -> asio::awaitable<void> {
          co_await pc_send(r, std::move(first));
          std::vector<std::size_t> sizes;
          std::vector<std::byte> bytes;
          co_await pc_receive(r, 3, sizes, bytes);  // the guest's CNXN and OKAY
          co_await pc_send(r, std::move(later));
        };
        auto guest = [](rig& r, std::vector<std::byte> msgs) -> asio::awaitable<void> {
          std::vector<std::byte> pc_cnxn(34);
          co_await asio::async_read(r.guest, asio::buffer(pc_cnxn), use_tuple);
          co_await guest_sends(r, std::move(msgs));
        };
        co_await (relay(r) && guest(r, std::move(guest_msgs)) &&
                  pc(r, std::move(first), std::move(later)));
      }(r, first, guest_msgs, std::move(later)));
}

// The next session on a new guest connection, starting from the last one's next_session;
// returns the first N bytes the guest reads.
std::vector<std::byte> next_session_delivers(asio::io_context& io, rig& r, std::size_t n) {
  asio::local::stream_protocol::socket a(io), b(io);
  asio::local::connect_pair(a, b);
  r.guest = vsocklib::stream_socket(io, asio::generic::stream_protocol(AF_UNIX, SOCK_STREAM),
                                    a.release());
  r.relay_vsock = vsocklib::stream_socket(io, asio::generic::stream_protocol(AF_UNIX, SOCK_STREAM),
                                          b.release());
  std::vector<std::byte> got(n);
  r.usb.reopen();
  io.restart();
  vsocklib::test::run_with_deadline(
      io,
      [](rig& r, std::vector<std::byte> first,
         std::vector<std::byte>& got) -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        co_await (run_session(r.usb, r.relay_vsock, usb_role::device, k4KiBTransfers,
                              vsocklib::log::get("test"), r.stats, std::move(first)) &&
                  guest_read(r, got.size(), got));
      }(r, std::move(r.stats.next_session), got));
  return got;
}

// The PC's adb restarts mid-session (e.g. killed during a pull): its new CNXN must not be
// answered with the old session's bytes. The session reads the whole CNXN and ends, and
// the next session, on a new guest connection, delivers it first.
TEST(RelaySession, ANewCnxnFromThePcStartsTheNextSessionWithIt) {
  asio::io_context io;
  rig r(io);
  auto again = message(adb::kCnxn, adb::kVersion, 4096, vsocklib::test::random_bytes(300, 10));
  handshake_then(io, r, split(again, {24, 124}));  // its payload in two transfers
  EXPECT_EQ(r.stats.reason, session_end::pc_new_session)
      << to_string(r.stats.reason, usb_role::device);
  EXPECT_EQ(r.stats.next_session, again);
  EXPECT_EQ(r.stats.usb_to_stream_messages, 1u)
      << "the new CNXN must not reach the old guest connection";
  EXPECT_EQ(r.stats.pc_bytes_dropped, 0u);

  EXPECT_EQ(next_session_delivers(io, r, again.size()), again);
  EXPECT_EQ(r.stats.usb_to_stream_messages, 1u);
}

// Seen with Debian's adb 29: the new server's first read met the old session's data, it
// gave up on its first CNXN after part of the payload and sent CNXN again.
TEST(RelaySession, AnAbandonedCnxnAttemptIsDroppedForTheNextOne) {
  asio::io_context io;
  rig r(io);
  auto attempt = message(adb::kCnxn, adb::kVersion, 4096, vsocklib::test::random_bytes(119, 11));
  auto again = message(adb::kCnxn, adb::kVersion, 4096, vsocklib::test::random_bytes(119, 12));
  auto later = split(attempt, {24});
  later.back().resize(96);  // the first attempt's payload, cut short
  for (auto& t : split(again, {24})) later.push_back(t);
  handshake_then(io, r, std::move(later));
  EXPECT_EQ(r.stats.reason, session_end::pc_new_session)
      << to_string(r.stats.reason, usb_role::device);
  EXPECT_EQ(r.stats.pc_bytes_dropped, 24u + 96u);

  EXPECT_EQ(next_session_delivers(io, r, again.size()), again);
}

// adb sends CNXN again when the guest has not answered past the handshake: that is adb's
// own retry, and it goes to the guest within the session.
TEST(RelaySession, ACnxnRepeatedDuringTheHandshakeStaysInTheSession) {
  asio::io_context io;
  rig r(io);
  auto pc_cnxn =
      message(adb::kCnxn, adb::kVersion, adb::kMaxPayload, vsocklib::test::random_bytes(10, 13));
  auto guest_cnxn =
      message(adb::kCnxn, adb::kVersion, adb::kMaxPayload, vsocklib::test::random_bytes(10, 14));
  auto transfers = split(pc_cnxn, {24});
  for (auto& t : split(pc_cnxn, {24})) transfers.push_back(t);
  std::vector<std::byte> got;
  using transfer_list = std::vector<std::vector<std::byte>>;
  vsocklib::test::run_with_deadline(
      io,
      [](rig& r, transfer_list t, std::vector<std::byte> guest_cnxn,
         std::vector<std::byte>& got) -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        auto guest = [](rig& r, std::vector<std::byte> cnxn,
                        std::vector<std::byte>& got) -> asio::awaitable<void> {
          got.resize(68);
          co_await asio::async_read(r.guest, asio::buffer(got.data(), 34), use_tuple);
          co_await guest_sends(r, std::move(cnxn));
          co_await asio::async_read(r.guest, asio::buffer(got.data() + 34, 34), use_tuple);
          r.pc.close();
        };
        co_await (relay(r) && guest(r, std::move(guest_cnxn), got) && pc_send(r, std::move(t)));
      }(r, transfers, guest_cnxn, got));
  std::vector<std::byte> twice = pc_cnxn;
  twice.insert(twice.end(), pc_cnxn.begin(), pc_cnxn.end());
  EXPECT_EQ(got, twice);
  EXPECT_NE(r.stats.reason, session_end::pc_new_session);
}

// Seen with Debian's adb 29 after a restart: a first CNXN attempt abandoned after its
// header, before the guest had answered anything. The guest gets the retry whole, and the
// session goes on.
TEST(RelaySession, ACnxnAbandonedDuringTheHandshakeIsReplacedByTheRetry) {
  asio::io_context io;
  rig r(io);
  auto attempt =
      message(adb::kCnxn, adb::kVersion, adb::kMaxPayload, vsocklib::test::random_bytes(119, 15));
  auto retry =
      message(adb::kCnxn, adb::kVersion, adb::kMaxPayload, vsocklib::test::random_bytes(119, 16));
  auto transfers = split(attempt, {24});
  transfers.pop_back();  // the attempt's payload never comes
  for (auto& t : split(retry, {24})) transfers.push_back(t);
  std::vector<std::byte> got(retry.size());
  using transfer_list = std::vector<std::vector<std::byte>>;
  vsocklib::test::run_with_deadline(
      io, [](rig& r, transfer_list t, std::vector<std::byte>& got) -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        auto guest = [](rig& r, std::vector<std::byte>& got) -> asio::awaitable<void> {
          co_await asio::async_read(r.guest, asio::buffer(got), use_tuple);
          r.pc.close();
        };
        co_await (relay(r) && guest(r, got) && pc_send(r, std::move(t)));
      }(r, transfers, got));
  EXPECT_EQ(got, retry);
  EXPECT_EQ(r.stats.pc_bytes_dropped, 24u);
  EXPECT_EQ(r.stats.usb_to_stream_messages, 1u);
  EXPECT_FALSE(is_protocol_error(r.stats.reason)) << r.stats.detail;
}

// The PC's adb died mid-pull: what the relay queued towards it is never taken. The session
// ends after pc_read_timeout, so that a new adb server does not read those stale bytes.
TEST(RelaySession, APcThatStopsReadingEndsTheSession) {
  asio::io_context io;
  rig r(io);
  auto wrte = message(adb::kWrte, 1, 2, vsocklib::test::random_bytes(3000, 17));
  session_options opt = k4KiBTransfers;
  opt.pc_read_timeout = 40ms;
  vsocklib::test::run_with_deadline(
      io, [](rig& r, std::vector<std::byte> m, session_options opt) -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        co_await asio::async_write(r.guest, asio::buffer(m), use_tuple);
        co_await run_session(r.usb, r.relay_vsock, usb_role::device, opt,
                             vsocklib::log::get("test"), r.stats);
      }(r, wrte, opt));
  EXPECT_EQ(r.stats.reason, session_end::pc_not_reading)
      << to_string(r.stats.reason, usb_role::device);
  EXPECT_NE(r.stats.detail.find("3024 bytes queued towards the PC"), std::string::npos)
      << r.stats.detail;
  EXPECT_FALSE(is_protocol_error(r.stats.reason));
}

// Found by the relay_session fuzzer: the session ended (here by the PC's malformed message)
// while a read from the guest had taken part of a header, and the guest then said nothing.
// The read must stop with the session, not wait for the rest of the header.
TEST(RelaySession, AnEndWhileTheGuestSentPartOfAHeaderStillEndsTheSession) {
  for (int round = 0; round < 20; ++round) {  // the end lands between the read's pieces
    asio::io_context io;
    rig r(io);
    auto bad = header_only(adb::make_header(adb::kCnxn, 0x01000001, 4096, {}, false));
    bad[20] = std::byte{0};  // the magic no longer matches the command
    r.pc.send(asio::buffer(bad), 0);
    const std::byte one{'O'};
    asio::write(r.guest, asio::buffer(&one, 1));  // and nothing more: the guest stays silent
    ASSERT_TRUE(vsocklib::test::run_with_deadline(io, relay(r), 5s)) << "round " << round;
    EXPECT_TRUE(is_protocol_error(r.stats.reason)) << to_string(r.stats.reason, usb_role::device);
  }
}

TEST(ReadStallWatch, StallsOnlyWhenBytesWaitTheWholeLimitWithNoneTaken) {
  using clock = read_stall_watch::clock;
  const clock::time_point t0{};
  read_stall_watch w(1000ms);
  EXPECT_FALSE(w.stalled({0, 0}, t0));
  EXPECT_FALSE(w.stalled({100, 100}, t0 + 5000ms)) << "nothing waiting is never a stall";
  EXPECT_FALSE(w.stalled({200, 100}, t0 + 6000ms));  // bytes wait from here
  EXPECT_FALSE(w.stalled({300, 100}, t0 + 6999ms));
  EXPECT_TRUE(w.stalled({300, 100}, t0 + 7000ms));
  EXPECT_FALSE(w.stalled({300, 150}, t0 + 7500ms)) << "the peer took some: the time starts again";
  EXPECT_FALSE(w.stalled({300, 150}, t0 + 8400ms));
  EXPECT_TRUE(w.stalled({300, 150}, t0 + 8500ms));
  EXPECT_FALSE(w.stalled({300, 300}, t0 + 9000ms));
  EXPECT_FALSE(w.stalled({400, 300}, t0 + 9100ms)) << "waiting again starts a new time";
  EXPECT_FALSE(w.stalled({400, 300}, t0 + 10000ms));
  EXPECT_TRUE(w.stalled({400, 300}, t0 + 10100ms));
}

}  // namespace
}  // namespace adbd_relay

namespace adbd_relay {
namespace {

asio::awaitable<void> forever() {
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(1));
  co_await t.async_wait(use_tuple);
}

asio::awaitable<void> session_or_forever(rig& r) {
  using namespace asio::experimental::awaitable_operators;
  co_await (run_session(r.usb, r.relay_vsock, usb_role::device, k4KiBTransfers,
                        vsocklib::log::get("test"), r.stats) ||
            forever());
}

TEST(RelaySession, CancellationEndsAnIdleSessionPromptly) {
  asio::io_context io;
  rig r(io);  // neither the PC nor the guest sends anything
  bool done = false;
  asio::cancellation_signal stop;
  asio::co_spawn(
      io, session_or_forever(r),
      asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr) { done = true; }));
  // Some traffic first, so the transfers have run at least once.
  auto okay = header_only(adb::make_header(adb::kOkay, 1, 2, {}, false));
  r.pc.send(asio::buffer(okay), 0);
  asio::write(r.guest, asio::buffer(okay));
  io.run_for(50ms);
  std::vector<std::byte> got(24);
  asio::read(r.guest, asio::buffer(got));
  EXPECT_EQ(got, okay);
  ASSERT_FALSE(done);
  stop.emit(asio::cancellation_type::terminal);
  io.run_for(1s);
  EXPECT_TRUE(done);
  EXPECT_EQ(r.stats.reason, session_end::cancelled);
}

}  // namespace
}  // namespace adbd_relay
