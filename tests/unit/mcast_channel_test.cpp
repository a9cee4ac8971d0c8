// vsock-mcast's record channel over a seqpacket and a stream socketpair: valid records
// cross, malformed ones are skipped and named, a peer that keeps sending garbage is cut
// off, and the send queue is bounded.
#include <sys/socket.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "mcast_test_packets.hpp"
#include "run_coro.hpp"
#include "vsock_mcast/channel.hpp"

namespace vsock_mcast {
namespace {

using bytes = std::vector<std::uint8_t>;
using seqpacket = asio::generic::seq_packet_protocol;
using stream = asio::generic::stream_protocol;

struct pair_of_channels {
  std::unique_ptr<channel> a;
  int raw_b = -1;  // the peer, written raw so tests can send garbage
};

pair_of_channels make(asio::io_context& io, bool seq, queue_limits limits = {}) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, (seq ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC, 0, fds), 0);
  pair_of_channels p;
  if (seq) {
    p.a = std::make_unique<channel>(
        seqpacket::socket(io, seqpacket(AF_UNIX, SOCK_SEQPACKET), fds[0]), limits);
  } else {
    p.a = std::make_unique<channel>(stream::socket(io, stream(AF_UNIX, SOCK_STREAM), fds[0]),
                                    limits, SIZE_MAX);
  }
  p.raw_b = fds[1];
  return p;
}

void raw_send(int fd, const bytes& b) {
  ASSERT_EQ(::send(fd, b.data(), b.size(), 0), static_cast<ssize_t>(b.size()));
}

bytes join(std::uint32_t g) {
  bytes b;
  encode_membership(record_type::join, g, b);
  return b;
}

asio::awaitable<void> read_n(channel& c, std::vector<channel::read_result>& out, std::size_t n) {
  while (out.size() < n) {
    out.push_back(co_await c.read());
    if (out.back().ec || out.back().fatal) co_return;
  }
}

class McastChannel : public ::testing::TestWithParam<bool> {};

TEST_P(McastChannel, MalformedRecordsAreSkippedAndNamed) {
  asio::io_context io;
  auto p = make(io, GetParam());
  bytes bad_body = {1, 3, 0, 4, 10, 0, 0, 1};  // JOIN of a unicast address: body malformed
  raw_send(p.raw_b, join(0xEFFF0001));
  raw_send(p.raw_b, bad_body);
  raw_send(p.raw_b, join(0xEFFF0002));
  std::vector<channel::read_result> got;
  ASSERT_TRUE(vsocklib::test::run_with_deadline(io, read_n(*p.a, got, 3)));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].error, decode_error::none);
  EXPECT_EQ(got[0].rec.group, 0xEFFF0001u);
  EXPECT_EQ(got[1].error, decode_error::not_multicast);
  EXPECT_FALSE(got[1].fatal);
  EXPECT_EQ(got[2].error, decode_error::none);
  EXPECT_EQ(got[2].rec.group, 0xEFFF0002u);
  ::close(p.raw_b);
}

TEST_P(McastChannel, APeerThatKeepsSendingGarbageIsCutOff) {
  asio::io_context io;
  auto p = make(io, GetParam());
  bytes bad_body = {1, 3, 0, 4, 10, 0, 0, 1};
  for (unsigned i = 0; i < kMaxConsecutiveMalformed; ++i) raw_send(p.raw_b, bad_body);
  std::vector<channel::read_result> got;
  ASSERT_TRUE(vsocklib::test::run_with_deadline(io, read_n(*p.a, got, 100)));
  ASSERT_EQ(got.size(), kMaxConsecutiveMalformed);
  EXPECT_TRUE(got.back().fatal);
  ::close(p.raw_b);
}

TEST_P(McastChannel, EndOfPeerIsEof) {
  asio::io_context io;
  auto p = make(io, GetParam());
  ::close(p.raw_b);
  std::vector<channel::read_result> got;
  ASSERT_TRUE(vsocklib::test::run_with_deadline(io, read_n(*p.a, got, 1)));
  EXPECT_EQ(got[0].ec, asio::error::eof);
}

asio::awaitable<void> write_then_close(channel& c) { co_await c.run_writer(); }

TEST_P(McastChannel, WriterSendsQueuedRecordsInOrder) {
  asio::io_context io;
  auto p = make(io, GetParam());
  for (std::uint32_t i = 0; i < 100; ++i) {
    ASSERT_TRUE(p.a->send(std::make_shared<bytes>(join(0xEFFF0000 + i))));
  }
  asio::co_spawn(io, write_then_close(*p.a), asio::detached);
  io.run_for(std::chrono::milliseconds(200));
  // Read the peer's side raw and decode: 100 JOINs in order, records intact.
  bytes all(100 * 8 + 1);
  std::size_t have = 0;
  while (have < 800) {
    auto n = ::recv(p.raw_b, all.data() + have, all.size() - have, MSG_DONTWAIT);
    ASSERT_GT(n, 0);
    if (GetParam()) {
      ASSERT_EQ(n, 8);  // one record per message
    }
    have += static_cast<std::size_t>(n);
  }
  for (std::uint32_t i = 0; i < 100; ++i) {
    auto r = decode(std::span(all).subspan(i * 8, 8), true);
    ASSERT_EQ(r.error, decode_error::none);
    EXPECT_EQ(r.rec.group, 0xEFFF0000 + i);
  }
  EXPECT_EQ(p.a->queued_packets(), 0u);
  EXPECT_EQ(p.a->queued_bytes(), 0u);
  p.a->close();
  io.run_for(std::chrono::milliseconds(50));
  ::close(p.raw_b);
}

// A stream channel into vsock writes at most max_write bytes per call, records spanning
// writes where they must. The channel's socket is a SOCK_SEQPACKET socketpair treated as a
// stream, so that each write arrives as one message whose size the test can see.
TEST(McastChannelStream, EveryWriteIsAtMostMaxWriteAndRecordsStayWhole) {
  asio::io_context io;
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  constexpr std::size_t kMaxWrite = 4096;
  channel ch(stream::socket(io, stream(AF_UNIX, SOCK_STREAM), fds[0]), {}, kMaxWrite);
  // 1500-byte datagrams and JOINs mixed: records straddle the 4 KiB boundaries.
  bytes expected;
  for (std::uint32_t i = 0; i < 40; ++i) {
    const auto fill = static_cast<std::uint8_t>(i);
    const shared_record framed =
        i % 3 == 0
            ? std::make_shared<bytes>(join(0xEFFF0000 + i))
            : data_record(test::udp_packet(0x0A000001, 0xEFFF0001, 1000, 5000, bytes(1472, fill)));
    expected.insert(expected.end(), framed->begin(), framed->end());
    ASSERT_TRUE(ch.send(framed));
  }
  asio::co_spawn(io, write_then_close(ch), asio::detached);
  io.run_for(std::chrono::milliseconds(200));
  bytes all;
  std::size_t writes = 0, largest = 0;
  bytes msg(65536);
  for (;;) {
    auto n = ::recv(fds[1], msg.data(), msg.size(), MSG_DONTWAIT);
    if (n <= 0) break;
    ++writes;
    largest = std::max(largest, static_cast<std::size_t>(n));
    all.insert(all.end(), msg.begin(), msg.begin() + n);
  }
  EXPECT_EQ(all, expected);  // every byte, in order
  EXPECT_LE(largest, kMaxWrite);
  EXPECT_EQ(largest, kMaxWrite);  // batches were gathered up to the bound, not one per record
  EXPECT_LT(writes, 40u);
  ch.close();
  io.run_for(std::chrono::milliseconds(50));
  ::close(fds[1]);
}

TEST_P(McastChannel, QueueIsBoundedInRecordsAndBytes) {
  asio::io_context io;
  auto p = make(io, GetParam(), queue_limits{4, kMaxRecord + 16});
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(p.a->send(std::make_shared<bytes>(join(0xEFFF0001))));
  EXPECT_FALSE(p.a->send(std::make_shared<bytes>(join(0xEFFF0001))));  // 5th record
  EXPECT_EQ(p.a->queued_packets(), 4u);

  auto q =
      make(io, GetParam(), queue_limits{100, kMaxRecord + 12});  // one largest record and one JOIN
  EXPECT_TRUE(q.a->send(std::make_shared<bytes>(kMaxRecord, 0)));
  EXPECT_TRUE(q.a->send(std::make_shared<bytes>(join(0xEFFF0001))));
  EXPECT_FALSE(q.a->send(std::make_shared<bytes>(join(0xEFFF0001))));  // over the byte bound
  q.a->close();
  EXPECT_FALSE(q.a->send(std::make_shared<bytes>(join(0xEFFF0001))));  // closed
  EXPECT_EQ(q.a->queued_bytes(), 0u);
  ::close(p.raw_b);
  ::close(q.raw_b);
}

INSTANTIATE_TEST_SUITE_P(Transports, McastChannel, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "seqpacket" : "stream"; });

TEST(McastChannelStream, ABadHeaderEndsTheStream) {
  asio::io_context io;
  auto p = make(io, false);
  raw_send(p.raw_b, {7, 3, 0, 4, 239, 0, 0, 1});  // version 7: the length cannot be trusted
  std::vector<channel::read_result> got;
  ASSERT_TRUE(vsocklib::test::run_with_deadline(io, read_n(*p.a, got, 5)));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].error, decode_error::bad_version);
  EXPECT_TRUE(got[0].fatal);
  ::close(p.raw_b);
}

asio::awaitable<void> feed(int fd, bytes all, std::size_t piece) {
  // Written from the io_context's thread, between reads, in pieces of odd sizes.
  asio::steady_timer t(co_await asio::this_coro::executor);
  for (std::size_t at = 0; at < all.size(); at += piece) {
    const auto n = std::min(piece, all.size() - at);
    EXPECT_EQ(::send(fd, all.data() + at, n, 0), static_cast<ssize_t>(n));
    t.expires_after(std::chrono::microseconds(1));
    co_await t.async_wait(vsocklib::use_tuple);
  }
  ::shutdown(fd, SHUT_WR);
}

// Records split anywhere by the stream, small and largest ones mixed, all come out whole
// and in order (the buffer is compacted as it fills).
TEST(McastChannelStream, RecordsSplitAnywhereComeOutWhole) {
  asio::io_context io;
  auto p = make(io, false);
  int sz = 4 << 20;
  ::setsockopt(p.raw_b, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  bytes all;
  std::vector<std::size_t> sizes;
  for (std::size_t i = 0; i < 40; ++i) {
    const std::size_t payload = i % 4 == 3 ? kMaxBody - 28 : 10 + i;
    auto pkt = test::udp_packet(0x0A000001, 0xEFFF0001, 1, 2,
                                bytes(payload, static_cast<std::uint8_t>(i)));
    encode_data(pkt, all);
    sizes.push_back(pkt.size());
  }
  asio::co_spawn(io, feed(p.raw_b, all, 7919), asio::detached);
  std::vector<channel::read_result> got;
  std::vector<std::size_t> got_sizes;
  auto collect = [](channel& c, std::vector<std::size_t>& out) -> asio::awaitable<void> {
    for (;;) {
      auto r = co_await c.read();
      if (r.ec) co_return;
      EXPECT_EQ(r.error, decode_error::none) << to_string(r.error);
      if (r.error != decode_error::none) co_return;
      EXPECT_EQ(r.rec.packet[r.rec.packet.size() - 1], static_cast<std::uint8_t>(out.size()));
      out.push_back(r.rec.packet.size());
    }
  };
  ASSERT_TRUE(vsocklib::test::run_with_deadline(io, collect(*p.a, got_sizes)));
  EXPECT_EQ(got_sizes, sizes);
  ::close(p.raw_b);
}

TEST(McastChannelSeqpacket, ATooLongMessageIsRefused) {
  asio::io_context io;
  auto p = make(io, true);
  // A header claiming the largest body, followed by more than that.
  bytes big(kMaxRecord + 10, 0);
  big[0] = 1;
  big[1] = 2;
  big[2] = 0xFF;
  big[3] = 0xFF;
  int sz = 1 << 20;
  ::setsockopt(p.raw_b, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  raw_send(p.raw_b, big);
  std::vector<channel::read_result> got;
  ASSERT_TRUE(vsocklib::test::run_with_deadline(io, read_n(*p.a, got, 1)));
  EXPECT_EQ(got[0].error, decode_error::length_mismatch);
  ::close(p.raw_b);
}

}  // namespace
}  // namespace vsock_mcast
