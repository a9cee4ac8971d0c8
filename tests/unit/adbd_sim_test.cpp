// adbd-sim's connection over a Unix socketpair, with a fake host written against the
// adb_protocol library: handshake, AUTH, flow control, stream bookkeeping, the services,
// and protocol errors that must reset the connection. The real adb client is exercised by
// tests/integration/adbd_sim_test.sh.
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <gtest/gtest.h>
#include <lz4frame.h>
#include <zstd.h>

#include "adb_protocol/protocol.hpp"
#include "adbd_sim/connection.hpp"
#include "adbd_sim/options.hpp"
#include "adbd_sim/pattern.hpp"
#include "adbd_sim/rooted_fs.hpp"
#include "adbd_sim/sync_codec.hpp"
#include "argv.hpp"
#include "run_coro.hpp"
#include "temp_dir.hpp"
#include "vsocklib/log.hpp"

namespace adbd_sim {
namespace {

namespace adb = adb_protocol;
namespace asio = vsocklib::asio;
namespace test = vsocklib::test;
using namespace std::chrono_literals;
using vsocklib::error_code;
using vsocklib::use_tuple;
using unix_socket = asio::local::stream_protocol::socket;

std::vector<std::byte> bytes(std::string_view s) {
  auto b = std::as_bytes(std::span<const char>(s.data(), s.size()));
  return {b.begin(), b.end()};
}

std::string text(const std::vector<std::byte>& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// "name\0", as adb sends service names.
std::vector<std::byte> service(std::string_view name) {
  auto b = bytes(name);
  b.push_back(std::byte{0});
  return b;
}

void put32(std::vector<std::byte>& v, std::uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(static_cast<std::byte>(x >> (8 * i)));
}

std::uint32_t get32(const std::vector<std::byte>& v, std::size_t at) {
  std::uint32_t x = 0;
  for (int i = 0; i < 4; ++i) x |= static_cast<std::uint32_t>(v[at + i]) << (8 * i);
  return x;
}

struct message {
  adb::message_header h;
  std::vector<std::byte> payload;
};

// The host side of the connection, speaking through the protocol library.
class fake_host {
 public:
  explicit fake_host(unix_socket s) : s_(std::move(s)), buf_(65536) {}

  asio::awaitable<void> send(std::uint32_t cmd, std::uint32_t a0, std::uint32_t a1,
                             std::span<const std::byte> payload = {}) {
    co_await send_raw(frame(cmd, a0, a1, payload));
  }

  static std::vector<std::byte> frame(std::uint32_t cmd, std::uint32_t a0, std::uint32_t a1,
                                      std::span<const std::byte> payload = {}) {
    std::vector<std::byte> out(adb::kHeaderSize);
    adb::encode(adb::make_header(cmd, a0, a1, payload, true),
                std::span<std::byte, adb::kHeaderSize>(out.data(), adb::kHeaderSize));
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
  }

  asio::awaitable<void> send_raw(std::vector<std::byte> data) {
    auto [ec, n] = co_await asio::async_write(s_, asio::buffer(data), use_tuple);
    EXPECT_FALSE(ec) << ec.message();
  }

  /// The next message; nullopt at end of stream (or a framing error, which fails the test).
  asio::awaitable<std::optional<message>> recv() {
    for (;;) {
      while (!in_.empty()) {
        auto ev = framer_.next(in_);
        if (ev.kind == adb::framer::event_kind::error) {
          ADD_FAILURE() << "device sent a bad header: " << framer_.error().message;
          co_return std::nullopt;
        }
        if (ev.kind == adb::framer::event_kind::header) cur_ = {ev.header, {}};
        if (ev.kind == adb::framer::event_kind::payload) {
          cur_.payload.insert(cur_.payload.end(), ev.payload.begin(), ev.payload.end());
        }
        if (ev.message_complete) co_return std::move(cur_);
      }
      auto [ec, n] = co_await s_.async_read_some(asio::buffer(buf_), use_tuple);
      if (ec) co_return std::nullopt;
      in_ = std::span<const std::byte>(buf_.data(), n);
    }
  }

  /// recv(), or nullopt when nothing complete arrives within T.
  asio::awaitable<std::optional<message>> recv_within(std::chrono::milliseconds t) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(co_await asio::this_coro::executor, t);
    auto r = co_await (recv() || timer.async_wait(use_tuple));
    if (r.index() == 0) co_return std::get<0>(std::move(r));
    co_return std::nullopt;
  }

  /// recv() that must produce COMMAND.
  asio::awaitable<message> expect(std::uint32_t command) {
    auto m = co_await recv_within(5s);
    if (!m) {
      ADD_FAILURE() << "expected " << adb::command_name(command) << ", got nothing";
      co_return message{};
    }
    EXPECT_EQ(adb::command_name(m->h.command), adb::command_name(command)) << adb::to_string(m->h);
    co_return std::move(*m);
  }

  asio::awaitable<void> connect(std::uint32_t version = adb::kVersion,
                                std::uint32_t max_payload = adb::kMaxPayload) {
    co_await send(adb::kCnxn, version, max_payload, bytes("host::features=shell_v2,cmd"));
    auto m = co_await expect(adb::kCnxn);
    EXPECT_EQ(text(m.payload), device_banner());
  }

  /// OPEN; returns the device's id for the stream (0 when refused with CLSE).
  asio::awaitable<std::uint32_t> open(std::uint32_t local, std::string_view name) {
    co_await send(adb::kOpen, local, 0, service(name));
    auto m = co_await recv_within(5s);
    if (!m) co_return 0;
    EXPECT_EQ(m->h.arg1, local);
    if (m->h.command == adb::kClse) {
      EXPECT_EQ(m->h.arg0, 0u);
      co_return 0;
    }
    EXPECT_EQ(m->h.command, adb::kOkay) << adb::to_string(m->h);
    EXPECT_NE(m->h.arg0, 0u);
    co_return m->h.arg0;
  }

  /// Collects a stream's WRTEs, acknowledging each, until its CLSE. OKAYS_DUE: OKAYs for
  /// our own WRTEs still to come; the device may send its output before them.
  asio::awaitable<std::vector<std::byte>> read_stream(std::uint32_t local, std::uint32_t remote,
                                                      int okays_due = 0) {
    std::vector<std::byte> got;
    for (;;) {
      auto m = co_await recv_within(5s);
      if (!m) {
        ADD_FAILURE() << "stream ended without CLSE";
        co_return got;
      }
      EXPECT_EQ(m->h.arg1, local);
      EXPECT_EQ(m->h.arg0, remote);
      if (m->h.command == adb::kOkay && okays_due > 0) {
        --okays_due;
        continue;
      }
      if (m->h.command == adb::kClse) {
        EXPECT_EQ(okays_due, 0) << "CLSE before the OKAY of our WRTE";
        co_return got;
      }
      EXPECT_EQ(m->h.command, adb::kWrte) << adb::to_string(m->h);
      got.insert(got.end(), m->payload.begin(), m->payload.end());
      co_await send(adb::kOkay, local, remote);
    }
  }

  void close() {
    error_code ignored;
    s_.close(ignored);
  }

 private:
  unix_socket s_;
  std::vector<std::byte> buf_;
  std::span<const std::byte> in_;
  adb::framer framer_;
  message cur_;
};

asio::awaitable<void> run_device(vsocklib::stream_socket s, connection_config cfg,
                                 connection_summary& out, bool& done) {
  out = co_await async_serve_connection(std::move(s), std::move(cfg), "test");
  done = true;
}

// A device on one end of a socketpair, the fake host on the other.
struct rig {
  explicit rig(bool auth = false, std::uint32_t max_payload = adb::kMaxPayload,
               unsigned max_streams = 32, bool delayed_ack = true,
               std::uint32_t max_expansion = 1024, std::uint64_t expansion_allowance = 64 << 20)
      : host(make_pair()) {
    std::filesystem::create_directory(dir.file("root"));
    files = std::make_shared<rooted_fs>(dir.file("root"));
    connection_config cfg{
        files, auth, max_payload, max_streams, vsocklib::log::get("adbd-sim-test"), delayed_ack};
    cfg.max_expansion = max_expansion;
    cfg.expansion_allowance = expansion_allowance;
    asio::co_spawn(io, run_device(std::move(device_side), cfg, summary, device_done),
                   asio::detached);
  }

  unix_socket make_pair() {
    unix_socket a(io), b(io);
    asio::local::connect_pair(a, b);
    device_side =
        vsocklib::stream_socket(io, asio::generic::stream_protocol(AF_UNIX, 0), b.release());
    return a;
  }

  /// Reads (and drops) whatever the device still sends until it closes the connection,
  /// then waits for its connection to end: what a protocol error must lead to.
  asio::awaitable<void> drain_until_closed() {
    for (;;) {  // (not "while (co_await ...)": GCC 12 miscompiles that)
      auto m = co_await host.recv_within(5s);
      if (!m) break;
    }
    co_await wait_device_done();
  }

  /// Waits (bounded) until the device's connection has ended.
  asio::awaitable<void> wait_device_done() {
    asio::steady_timer t(co_await asio::this_coro::executor);
    for (int i = 0; i < 500 && !device_done; ++i) {
      t.expires_after(10ms);
      co_await t.async_wait(use_tuple);
    }
    EXPECT_TRUE(device_done) << "the connection did not end";
  }

  asio::io_context io;
  test::temp_dir dir;
  std::shared_ptr<rooted_fs> files;
  vsocklib::stream_socket device_side{io};
  fake_host host;
  connection_summary summary;
  bool device_done = false;
};

// ---------------------------------------------------------------------------------------
// Handshake

asio::awaitable<void> handshake_scenario(rig& r) {
  // protocol.txt: messages before CNXN are ignored.
  co_await r.host.send(adb::kOpen, 1, 0, service("source:10"));
  co_await r.host.send(adb::kCnxn, adb::kVersion, adb::kMaxPayload, bytes("host::"));
  auto m = co_await r.host.expect(adb::kCnxn);
  EXPECT_EQ(m.h.arg0, adb::kVersion);
  EXPECT_EQ(m.h.arg1, adb::kMaxPayload);
  EXPECT_EQ(text(m.payload), device_banner());
  // CNXN carries a checksum whatever the version: the host may still be at kVersionMin.
  EXPECT_EQ(m.h.data_check, adb::checksum(m.payload));
  EXPECT_FALSE(co_await r.host.recv_within(100ms)) << "the early OPEN was answered";
}

TEST(AdbdSimConnection, HandshakeAnswersWithTheBannerAndIgnoresEarlierMessages) {
  rig r;
  test::run_with_deadline(r.io, handshake_scenario(r));
  EXPECT_NE(device_banner().find("device::ro.product.name=adbd-sim;"), std::string::npos);
  EXPECT_NE(
      device_banner().find(";features=shell_v2,cmd,stat_v2,ls_v2,fixed_push_mkdir,abb,abb_exec,"
                           "sendrecv_v2,sendrecv_v2_brotli,sendrecv_v2_lz4,sendrecv_v2_zstd,"
                           "sendrecv_v2_dry_run_send"),
      std::string::npos);
}

asio::awaitable<void> old_version_scenario(rig& r, std::vector<message>& wrtes) {
  co_await r.host.send(adb::kCnxn, adb::kVersionMin, 4096, bytes("host::"));
  auto m = co_await r.host.expect(adb::kCnxn);
  EXPECT_EQ(m.h.arg0, adb::kVersionMin);
  EXPECT_EQ(m.h.arg1, 4096u);
  auto id = co_await r.host.open(7, "source:10000");
  for (;;) {
    auto w = co_await r.host.recv_within(5s);
    if (!w || w->h.command != adb::kWrte) break;
    wrtes.push_back(*w);
    co_await r.host.send(adb::kOkay, 7, id);
  }
}

TEST(AdbdSimConnection, NegotiatesTheSmallerVersionAndPayloadWithChecksums) {
  rig r;
  std::vector<message> wrtes;
  test::run_with_deadline(r.io, old_version_scenario(r, wrtes));
  ASSERT_EQ(wrtes.size(), 3u);  // 10000 bytes in WRTEs of at most 4096
  std::size_t total = 0;
  for (auto& w : wrtes) {
    EXPECT_LE(w.payload.size(), 4096u);
    // Below kVersionSkipChecksum every message carries the byte sum.
    EXPECT_EQ(w.h.data_check, adb::checksum(w.payload));
    total += w.payload.size();
  }
  EXPECT_EQ(total, 10000u);
}

asio::awaitable<void> auth_scenario(rig& r) {
  co_await r.host.send(adb::kCnxn, adb::kVersion, adb::kMaxPayload, bytes("host::"));
  auto t1 = co_await r.host.expect(adb::kAuth);
  EXPECT_EQ(t1.h.arg0, adb::kAuthToken);
  EXPECT_EQ(t1.payload.size(), adb::kAuthTokenSize);
  EXPECT_EQ(t1.h.data_check, adb::checksum(t1.payload));
  // A signature cannot be checked: another token, as for an unknown key.
  co_await r.host.send(adb::kAuth, adb::kAuthSignature, 0, std::vector<std::byte>(256));
  auto t2 = co_await r.host.expect(adb::kAuth);
  EXPECT_EQ(t2.h.arg0, adb::kAuthToken);
  EXPECT_NE(t2.payload, t1.payload) << "tokens must be fresh";
  co_await r.host.send(adb::kOpen, 3, 0, service("source:1"));
  EXPECT_FALSE(co_await r.host.recv_within(200ms)) << "OPEN answered before authentication";
  co_await r.host.send(adb::kAuth, adb::kAuthRsaPublicKey, 0, service("QAAAAKey= user@host"));
  auto c = co_await r.host.expect(adb::kCnxn);
  EXPECT_EQ(text(c.payload), device_banner());
  auto id = co_await r.host.open(3, "source:5");
  EXPECT_NE(id, 0u);
  EXPECT_EQ((co_await r.host.read_stream(3, id)).size(), 5u);
}

TEST(AdbdSimConnection, AuthTokenSignaturePublicKey) {
  rig r(/*auth=*/true);
  test::run_with_deadline(r.io, auth_scenario(r));
}

// ---------------------------------------------------------------------------------------
// Streams and flow control

asio::awaitable<void> flow_control_scenario(rig& r, std::vector<std::byte>& got, bool& waited) {
  co_await r.host.connect();
  const std::uint32_t n = 3 * adb::kMaxPayload + 12345;
  auto id = co_await r.host.open(5, "source:" + std::to_string(n));
  auto first = co_await r.host.expect(adb::kWrte);
  EXPECT_EQ(first.payload.size(), adb::kMaxPayload);
  // One WRTE in flight: nothing more until our OKAY.
  waited = !(co_await r.host.recv_within(200ms));
  got = first.payload;
  co_await r.host.send(adb::kOkay, 5, id);
  auto rest = co_await r.host.read_stream(5, id);
  got.insert(got.end(), rest.begin(), rest.end());
}

TEST(AdbdSimConnection, SourceSendsOneWrteAtATimeAndThePattern) {
  rig r;
  std::vector<std::byte> got;
  bool waited = false;
  test::run_with_deadline(r.io, flow_control_scenario(r, got, waited));
  EXPECT_TRUE(waited) << "a second WRTE came before the OKAY";
  ASSERT_EQ(got.size(), 3 * adb::kMaxPayload + 12345);
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] != pattern_byte(i)) {
      ADD_FAILURE() << "byte " << i << " is not the pattern";
      break;
    }
  }
}

asio::awaitable<void> sink_scenario(rig& r) {
  co_await r.host.connect();
  auto id = co_await r.host.open(9, "sink:100000");
  std::vector<std::byte> chunk(60000, std::byte{7});
  co_await r.host.send(adb::kWrte, 9, id, chunk);
  auto ok = co_await r.host.expect(adb::kOkay);
  EXPECT_EQ(ok.h.arg0, id);
  EXPECT_EQ(ok.h.arg1, 9u);
  chunk.resize(40000);
  co_await r.host.send(adb::kWrte, 9, id, chunk);
  co_await r.host.expect(adb::kOkay);
  auto c = co_await r.host.expect(adb::kClse);  // N bytes read: the sink closes
  EXPECT_EQ(c.h.arg0, id);
  EXPECT_EQ(c.h.arg1, 9u);
}

TEST(AdbdSimConnection, SinkAcknowledgesEachWrteAndClosesAfterN) {
  rig r;
  test::run_with_deadline(r.io, sink_scenario(r));
}

asio::awaitable<void> many_streams_scenario(rig& r, std::map<std::uint32_t, std::size_t>& sizes) {
  co_await r.host.connect();
  // All OPENs first: the answers (OKAY) and the streams' WRTEs then interleave.
  for (std::uint32_t local = 1; local <= 10; ++local) {
    co_await r.host.send(adb::kOpen, local, 0, service("source:" + std::to_string(local * 150000)));
  }
  std::map<std::uint32_t, std::uint32_t> remote_of;  // our id -> device id
  std::size_t closed = 0;
  while (closed < 10) {
    auto m = co_await r.host.recv_within(5s);
    if (!m) {
      ADD_FAILURE() << 10 - closed << " streams did not finish";
      co_return;
    }
    const std::uint32_t local = m->h.arg1;
    if (m->h.command == adb::kOkay) {
      EXPECT_EQ(remote_of.count(local), 0u) << "second OKAY for stream " << local;
      for (auto& [l, other] : remote_of)
        EXPECT_NE(other, m->h.arg0) << "device ids must be distinct";
      remote_of[local] = m->h.arg0;
      continue;
    }
    EXPECT_EQ(remote_of.at(local), m->h.arg0) << "message before the OPEN's OKAY";
    if (m->h.command == adb::kClse) {
      ++closed;
      continue;
    }
    sizes[local] += m->payload.size();
    co_await r.host.send(adb::kOkay, local, m->h.arg0);
  }
}

TEST(AdbdSimConnection, ManyConcurrentStreamsKeepTheirOwnData) {
  rig r;
  std::map<std::uint32_t, std::size_t> sizes;
  test::run_with_deadline(r.io, many_streams_scenario(r, sizes));
  ASSERT_EQ(sizes.size(), 10u);
  for (auto& [local, n] : sizes) EXPECT_EQ(n, local * 150000u) << "stream " << local;
}

asio::awaitable<void> refusal_scenario(rig& r) {
  co_await r.host.connect();
  for (auto name : {"nonsense:", "sink:abc", "shell,v3:ls", "exec:", "no-colon"}) {
    EXPECT_EQ(co_await r.host.open(4, name), 0u) << name;
  }
  auto a = co_await r.host.open(1, "sink:10");
  auto b = co_await r.host.open(2, "sink:10");
  EXPECT_NE(a, 0u);
  EXPECT_NE(b, 0u);
  EXPECT_EQ(co_await r.host.open(3, "sink:10"), 0u) << "over --max-streams";
  // Closing one makes room again.
  co_await r.host.send(adb::kClse, 1, a);
  EXPECT_NE(co_await r.host.open(5, "sink:10"), 0u);
}

TEST(AdbdSimConnection, RefusesUnknownServicesAndStreamsOverTheLimit) {
  rig r(false, adb::kMaxPayload, /*max_streams=*/2);
  test::run_with_deadline(r.io, refusal_scenario(r));
  EXPECT_FALSE(r.summary.protocol_error);
}

// tcp:PORT, what `adb forward tcp:X tcp:PORT` opens: the device connects to PORT on
// loopback and bridges both ways; the TCP side closing closes the stream.
asio::awaitable<void> tcp_forward_scenario(rig& r, asio::ip::tcp::acceptor& acceptor) {
  co_await r.host.connect();
  const auto port = acceptor.local_endpoint().port();
  auto id = co_await r.host.open(1, "tcp:" + std::to_string(port));
  EXPECT_NE(id, 0u);
  auto [aec, peer] = co_await acceptor.async_accept(use_tuple);
  EXPECT_FALSE(aec) << aec.message();
  co_await r.host.send(adb::kWrte, 1, id, bytes("ping"));
  co_await r.host.expect(adb::kOkay);
  std::array<char, 4> got{};
  auto [rec, rn] = co_await asio::async_read(peer, asio::buffer(got), use_tuple);
  EXPECT_FALSE(rec) << rec.message();
  EXPECT_EQ(std::string(got.data(), got.size()), "ping");
  auto [wec, wn] =
      co_await asio::async_write(peer, asio::buffer(std::string_view("pong")), use_tuple);
  EXPECT_FALSE(wec);
  peer.close();
  EXPECT_EQ(text(co_await r.host.read_stream(1, id)), "pong");  // ends with the device's CLSE

  // Nobody listens there any more: the OPEN is accepted and the stream closes at once.
  acceptor.close();
  id = co_await r.host.open(2, "tcp:127.0.0.1:" + std::to_string(port));
  EXPECT_NE(id, 0u);
  EXPECT_EQ((co_await r.host.read_stream(2, id)).size(), 0u);
  for (auto name : {"tcp:", "tcp:0", "tcp:70000", "tcp:x", "tcp::80"}) {
    EXPECT_EQ(co_await r.host.open(4, name), 0u) << name;
  }
}

TEST(AdbdSimConnection, TcpServiceBridgesToALoopbackPort) {
  rig r;
  asio::ip::tcp::acceptor acceptor(r.io, {asio::ip::make_address("127.0.0.1"), 0});
  test::run_with_deadline(r.io, tcp_forward_scenario(r, acceptor));
  EXPECT_FALSE(r.summary.protocol_error);
}

asio::awaitable<void> reconnect_scenario(rig& r) {
  co_await r.host.connect();
  auto old_id = co_await r.host.open(1, "sink:1000");
  co_await r.host.connect();  // a CNXN on a live session starts it again
  co_await r.host.send(adb::kWrte, 1, old_id, bytes("stale"));
  EXPECT_FALSE(co_await r.host.recv_within(200ms)) << "a WRTE to a dropped stream was answered";
  auto id = co_await r.host.open(2, "source:3");
  EXPECT_NE(id, old_id) << "ids are not reused";
  EXPECT_EQ((co_await r.host.read_stream(2, id)).size(), 3u);
}

TEST(AdbdSimConnection, SecondCnxnRestartsTheSession) {
  rig r;
  test::run_with_deadline(r.io, reconnect_scenario(r));
  EXPECT_FALSE(r.summary.protocol_error);
}

// ---------------------------------------------------------------------------------------
// Protocol errors reset the connection, with a reason naming what was wrong

asio::awaitable<void> error_scenario(rig& r, std::vector<std::byte> bad, bool connect_first,
                                     std::uint32_t max_payload) {
  if (connect_first) co_await r.host.connect(adb::kVersion, max_payload);
  co_await r.host.send_raw(std::move(bad));
  // The device closes: we see end of stream, not an answer.
  co_await r.drain_until_closed();
}

connection_summary run_error(std::vector<std::byte> bad, bool connect_first = true,
                             std::uint32_t max_payload = adb::kMaxPayload) {
  rig r;
  test::run_with_deadline(r.io, error_scenario(r, std::move(bad), connect_first, max_payload));
  return r.summary;
}

TEST(AdbdSimConnection, BadMagicResetsTheConnection) {
  auto m = fake_host::frame(adb::kOkay, 1, 2);
  m[20] = std::byte{0x55};
  auto s = run_error(m, false);
  EXPECT_TRUE(s.protocol_error);
  EXPECT_NE(s.reason.find("bad magic"), std::string::npos) << s.reason;
}

TEST(AdbdSimConnection, PayloadOverTheNegotiatedMaximumResetsTheConnection) {
  auto s = run_error(fake_host::frame(adb::kWrte, 1, 1, std::vector<std::byte>(5000)), true, 4096);
  EXPECT_TRUE(s.protocol_error);
  EXPECT_NE(s.reason.find("data_length 5000 exceeds the maximum payload 4096"), std::string::npos)
      << s.reason;
}

TEST(AdbdSimConnection, StlsAndUnaskedAuthResetTheConnection) {
  auto s = run_error(fake_host::frame(adb::kStls, 0x01000000, 0));
  EXPECT_NE(s.reason.find("STLS"), std::string::npos) << s.reason;
  s = run_error(fake_host::frame(adb::kAuth, adb::kAuthSignature, 0, std::vector<std::byte>(8)));
  EXPECT_NE(s.reason.find("did not ask"), std::string::npos) << s.reason;
}

asio::awaitable<void> flow_violation_scenario(rig& r, std::uint32_t& id) {
  co_await r.host.connect();
  id = co_await r.host.open(3, "sink:1000000");
  // Two WRTEs in one write: the second arrives before our OKAY for the first could.
  auto two = fake_host::frame(adb::kWrte, 3, id, bytes("first"));
  auto second = fake_host::frame(adb::kWrte, 3, id, bytes("second"));
  two.insert(two.end(), second.begin(), second.end());
  co_await r.host.send_raw(two);
  co_await r.drain_until_closed();
}

TEST(AdbdSimConnection, TwoWrtesWithoutOkayBreakFlowControl) {
  rig r;
  std::uint32_t id = 0;
  test::run_with_deadline(r.io, flow_violation_scenario(r, id));
  EXPECT_TRUE(r.summary.protocol_error);
  EXPECT_NE(r.summary.reason.find("flow control"), std::string::npos) << r.summary.reason;
}

asio::awaitable<void> stray_okay_scenario(rig& r) {
  co_await r.host.connect();
  auto id = co_await r.host.open(3, "sink:10");
  co_await r.host.send(adb::kOkay, 3, id);  // we never got a WRTE on it
  co_await r.drain_until_closed();
}

TEST(AdbdSimConnection, OkayWithoutAWrteIsAnError) {
  rig r;
  test::run_with_deadline(r.io, stray_okay_scenario(r));
  EXPECT_TRUE(r.summary.protocol_error);
  EXPECT_NE(r.summary.reason.find("without an outstanding WRTE"), std::string::npos)
      << r.summary.reason;
}

// ---------------------------------------------------------------------------------------
// Services

asio::awaitable<void> shell_scenario(rig& r, std::string& out) {
  co_await r.host.connect();
  auto id = co_await r.host.open(1, "shell:echo out; echo err >&2; pwd");
  out = text(co_await r.host.read_stream(1, id));
}

TEST(AdbdSimShell, StreamsStdoutAndStderrAndClosesAtExit) {
  rig r;
  std::string out;
  test::run_with_deadline(r.io, shell_scenario(r, out));
  EXPECT_EQ(out, "out\nerr\n" + std::filesystem::canonical(r.dir.file("root")).string() + "\n");
}

asio::awaitable<void> shell_stdin_scenario(rig& r, std::string& out) {
  co_await r.host.connect();
  auto id = co_await r.host.open(1, "shell:read line; echo got:$line");
  co_await r.host.send(adb::kWrte, 1, id, bytes("hello\n"));
  co_await r.host.expect(adb::kOkay);
  out = text(co_await r.host.read_stream(1, id));
}

TEST(AdbdSimShell, HostDataIsTheShellsStdin) {
  rig r;
  std::string out;
  test::run_with_deadline(r.io, shell_stdin_scenario(r, out));
  EXPECT_EQ(out, "got:hello\n");
}

asio::awaitable<void> shell_hangup_scenario(rig& r, std::chrono::steady_clock::duration& took) {
  co_await r.host.connect();
  const auto start = std::chrono::steady_clock::now();
  auto id = co_await r.host.open(1, "shell:sleep 30");
  co_await r.host.send(adb::kClse, 1, id);  // like ^C in adb shell
  r.host.close();
  co_await r.wait_device_done();  // waits for the shell to be reaped
  took = std::chrono::steady_clock::now() - start;
}

TEST(AdbdSimShell, ClosingTheStreamHangsUpOnTheShell) {
  rig r;
  std::chrono::steady_clock::duration took{};
  test::run_with_deadline(r.io, shell_hangup_scenario(r, took));
  EXPECT_LT(took, 5s);
  EXPECT_EQ(r.summary.reason, "peer closed");
  EXPECT_FALSE(r.summary.protocol_error);
}

// Sync requests: "ID" + length + data.
std::vector<std::byte> sync_request(std::string_view id, std::string_view arg) {
  std::vector<std::byte> v = bytes(id);
  put32(v, static_cast<std::uint32_t>(arg.size()));
  auto a = bytes(arg);
  v.insert(v.end(), a.begin(), a.end());
  return v;
}

// Reads the sync stream until at least N bytes arrived, acknowledging WRTEs.
asio::awaitable<std::vector<std::byte>> sync_reply(fake_host& h, std::uint32_t local,
                                                   std::uint32_t remote, std::size_t n) {
  std::vector<std::byte> got;
  while (got.size() < n) {
    auto m = co_await h.recv_within(5s);
    if (!m || m->h.command != adb::kWrte) {
      ADD_FAILURE() << "sync reply ended after " << got.size() << " of " << n << " bytes";
      co_return got;
    }
    got.insert(got.end(), m->payload.begin(), m->payload.end());
    co_await h.send(adb::kOkay, local, remote);
  }
  co_return got;
}

asio::awaitable<void> send_wrte_acked(fake_host& h, std::uint32_t local, std::uint32_t remote,
                                      std::vector<std::byte> data) {
  co_await h.send(adb::kWrte, local, remote, data);
  co_await h.expect(adb::kOkay);
}

asio::awaitable<void> sync_scenario(rig& r, std::vector<std::byte>& pulled,
                                    std::string& fail_text) {
  co_await r.host.connect();
  auto id = co_await r.host.open(1, "sync:");

  // STAT of a missing file: all zeros.
  co_await send_wrte_acked(r.host, 1, id, sync_request("STAT", "/data/local/tmp/f"));
  auto st = co_await sync_reply(r.host, 1, id, 16);
  EXPECT_EQ(text(std::vector<std::byte>(st.begin(), st.begin() + 4)), "STAT");
  EXPECT_EQ(get32(st, 4) | get32(st, 8) | get32(st, 12), 0u);

  // SEND in two WRTEs that split a DATA header; then DONE with an mtime.
  std::string expected(100000, 'x');
  expected.append("end");  // (append: GCC 12 warns wrongly about operator+ here)
  auto content = bytes(expected);
  std::vector<std::byte> send = sync_request("SEND", "/data/local/tmp/f,33188");
  for (std::size_t off = 0; off < content.size(); off += 65536) {
    const auto n = std::min<std::size_t>(65536, content.size() - off);
    auto d = bytes("DATA");
    put32(d, static_cast<std::uint32_t>(n));
    d.insert(d.end(), content.begin() + off, content.begin() + off + n);
    send.insert(send.end(), d.begin(), d.end());
  }
  auto done = bytes("DONE");
  put32(done, 1234567890);
  send.insert(send.end(), done.begin(), done.end());
  co_await send_wrte_acked(r.host, 1, id,
                           std::vector<std::byte>(send.begin(), send.begin() + 70003));
  co_await send_wrte_acked(r.host, 1, id, std::vector<std::byte>(send.begin() + 70003, send.end()));
  auto status = co_await sync_reply(r.host, 1, id, 8);
  EXPECT_EQ(text(std::vector<std::byte>(status.begin(), status.begin() + 4)), "OKAY");

  co_await send_wrte_acked(r.host, 1, id, sync_request("STAT", "/data/local/tmp/f"));
  st = co_await sync_reply(r.host, 1, id, 16);
  EXPECT_EQ(get32(st, 4), 0100644u);
  EXPECT_EQ(get32(st, 8), content.size());
  EXPECT_EQ(get32(st, 12), 1234567890u);

  // RECV: DATA chunks, then DONE.
  co_await send_wrte_acked(r.host, 1, id, sync_request("RECV", "data/local/tmp/f"));
  std::vector<std::byte> stream;
  for (;;) {
    while (stream.size() < 8) {
      auto more = co_await sync_reply(r.host, 1, id, 1);
      stream.insert(stream.end(), more.begin(), more.end());
    }
    const auto len = get32(stream, 4);
    if (text(std::vector<std::byte>(stream.begin(), stream.begin() + 4)) == "DONE") break;
    EXPECT_LE(len, 65536u);
    while (stream.size() < 8 + len) {
      auto more = co_await sync_reply(r.host, 1, id, 1);
      stream.insert(stream.end(), more.begin(), more.end());
    }
    pulled.insert(pulled.end(), stream.begin() + 8, stream.begin() + 8 + len);
    stream.erase(stream.begin(), stream.begin() + 8 + len);
  }

  // A path out of the root: FAIL with a reason, and the service goes on.
  co_await send_wrte_acked(r.host, 1, id, sync_request("RECV", "/../../etc/passwd"));
  auto f = co_await sync_reply(r.host, 1, id, 8);
  while (f.size() < 8 + get32(f, 4)) {
    auto more = co_await sync_reply(r.host, 1, id, 1);
    f.insert(f.end(), more.begin(), more.end());
  }
  EXPECT_EQ(text(std::vector<std::byte>(f.begin(), f.begin() + 4)), "FAIL");
  fail_text = text(std::vector<std::byte>(f.begin() + 8, f.end()));

  // QUIT: the device closes the stream (adb waits for that).
  co_await r.host.send(adb::kWrte, 1, id, sync_request("QUIT", ""));
  co_await r.host.expect(adb::kOkay);
  co_await r.host.expect(adb::kClse);
}

TEST(AdbdSimSync, StatSendRecvQuit) {
  rig r;
  std::vector<std::byte> pulled;
  std::string fail_text;
  test::run_with_deadline(r.io, sync_scenario(r, pulled, fail_text));
  std::ifstream f(r.dir.file("root/data/local/tmp/f"), std::ios::binary);
  std::string on_disk((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::string expected(100000, 'x');
  expected.append("end");
  EXPECT_EQ(on_disk, expected);
  EXPECT_EQ(text(pulled), on_disk);
  EXPECT_NE(fail_text.find("outside the root"), std::string::npos) << fail_text;
}

// ---------------------------------------------------------------------------------------
// Shell protocol (shell_v2), sync v2 (stat_v2, ls_v2, sendrecv_v2), abb

// One shell protocol packet: id, u32 length, data.
std::vector<std::byte> shell_packet(std::uint8_t id, std::string_view data) {
  std::vector<std::byte> v{static_cast<std::byte>(id)};
  put32(v, static_cast<std::uint32_t>(data.size()));
  auto d = bytes(data);
  v.insert(v.end(), d.begin(), d.end());
  return v;
}

struct shell_result {
  std::string out, err;
  int exit = -1;  // -1: no exit packet
  int packets_after_exit = 0;
  bool framing_ok = true;
};

// Splits a v2 stream into its packets.
shell_result parse_shell_packets(const std::vector<std::byte>& s) {
  shell_result r;
  std::size_t at = 0;
  while (at < s.size()) {
    if (s.size() - at < 5) {
      r.framing_ok = false;
      break;
    }
    const auto id = static_cast<std::uint8_t>(s[at]);
    const std::uint32_t len = get32(s, at + 1);
    if (s.size() - at - 5 < len) {
      r.framing_ok = false;
      break;
    }
    std::string data(reinterpret_cast<const char*>(s.data() + at + 5), len);
    if (r.exit >= 0) ++r.packets_after_exit;
    if (id == 1) {
      r.out += data;
    } else if (id == 2) {
      r.err += data;
    } else if (id == 3 && len == 1) {
      r.exit = static_cast<unsigned char>(data[0]);
    } else {
      r.framing_ok = false;
    }
    at += 5 + len;
  }
  return r;
}

asio::awaitable<void> shell_v2_scenario(rig& r, std::string service, std::vector<std::byte> input,
                                        shell_result& res) {
  co_await r.host.connect();
  auto id = co_await r.host.open(1, service);
  // The shell may answer before adbd-sim acknowledges the input (cat echoes it at once).
  if (!input.empty()) co_await r.host.send(adb::kWrte, 1, id, input);
  res = parse_shell_packets(co_await r.host.read_stream(1, id, input.empty() ? 0 : 1));
}

TEST(AdbdSimShellV2, StdoutStderrAndTheExitStatusAreSeparatePackets) {
  rig r;
  shell_result res;
  test::run_with_deadline(
      r.io, shell_v2_scenario(r, "shell,v2,raw:echo out; echo err >&2; exit 3", {}, res));
  EXPECT_TRUE(res.framing_ok);
  EXPECT_EQ(res.out, "out\n");
  EXPECT_EQ(res.err, "err\n");
  EXPECT_EQ(res.exit, 3);
  EXPECT_EQ(res.packets_after_exit, 0);
}

TEST(AdbdSimShellV2, FalseExitsWithOne) {
  rig r;
  shell_result res;
  test::run_with_deadline(r.io, shell_v2_scenario(r, "shell,v2,TERM=xterm,raw:false", {}, res));
  EXPECT_TRUE(res.framing_ok);
  EXPECT_EQ(res.exit, 1);
  EXPECT_EQ(res.out, "");
}

TEST(AdbdSimShellV2, ASignalIsReportedAs128PlusItsNumber) {
  rig r;
  shell_result res;
  test::run_with_deadline(r.io, shell_v2_scenario(r, "shell,v2:kill -TERM $$", {}, res));
  EXPECT_EQ(res.exit, 128 + SIGTERM);
}

TEST(AdbdSimShellV2, StdinPacketsThenCloseStdinGiveTheShellEndOfFile) {
  rig r;
  shell_result res;
  // Two stdin packets, a window-size packet (ignored without a pty), close-stdin; all in
  // one WRTE, so packet boundaries fall inside it.
  auto in = shell_packet(0, "hello ");
  auto ws = shell_packet(5, "24x80,0x0");
  auto in2 = shell_packet(0, "world\n");
  auto eof = shell_packet(4, "");
  in.insert(in.end(), ws.begin(), ws.end());
  in.insert(in.end(), in2.begin(), in2.end());
  in.insert(in.end(), eof.begin(), eof.end());
  test::run_with_deadline(r.io, shell_v2_scenario(r, "shell,v2,raw:cat; echo done", in, res));
  EXPECT_TRUE(res.framing_ok);
  EXPECT_EQ(res.out, "hello world\ndone\n");
  EXPECT_EQ(res.exit, 0);
}

TEST(AdbdSimShellV2, PlainShellStaysRaw) {
  // adbd uses the shell protocol only when the OPEN asks for it with "v2".
  rig r;
  std::string out;
  test::run_with_deadline(r.io, shell_scenario(r, out));
  EXPECT_EQ(out.substr(0, 8), "out\nerr\n");
}

TEST(AdbdSimShellV2, LargeOutputIsSplitIntoPacketsThatFitTheMaximumPayload) {
  rig r(false, /*max_payload=*/4096);
  shell_result res;
  test::run_with_deadline(
      r.io, shell_v2_scenario(r, "shell,v2:head -c 300000 /dev/zero | tr '\\0' a", {}, res));
  EXPECT_TRUE(res.framing_ok);
  EXPECT_EQ(res.out, std::string(300000, 'a'));
  EXPECT_EQ(res.exit, 0);
}

// Reads exactly N bytes of sync answer, WRTE by WRTE.
asio::awaitable<std::vector<std::byte>> sync_exact(fake_host& h, std::uint32_t local,
                                                   std::uint32_t remote,
                                                   std::vector<std::byte>& pending, std::size_t n) {
  while (pending.size() < n) {
    auto more = co_await sync_reply(h, local, remote, 1);
    if (more.empty()) break;
    pending.insert(pending.end(), more.begin(), more.end());
  }
  n = std::min(n, pending.size());
  std::vector<std::byte> out(pending.begin(), pending.begin() + n);
  pending.erase(pending.begin(), pending.begin() + n);
  co_return out;
}

std::uint64_t get64(const std::vector<std::byte>& v, std::size_t at) {
  return get32(v, at) | (std::uint64_t{get32(v, at + 4)} << 32);
}

struct sync_v2_result {
  std::vector<std::byte> stat_missing, stat_file, lstat_link, stat_link;
  std::map<std::string, std::vector<std::byte>> dents;
  std::vector<std::byte> list_done;
  std::string send_status, dry_status, pulled, compressed_status;
};

asio::awaitable<void> sync_v2_scenario(rig& r, sync_v2_result& res) {
  co_await r.host.connect();
  auto id = co_await r.host.open(1, "sync:");
  std::vector<std::byte> pending;

  co_await send_wrte_acked(r.host, 1, id, sync_request("STA2", "/data/missing"));
  res.stat_missing = co_await sync_exact(r.host, 1, id, pending, 72);

  // SND2: path, then {SND2, mode, flags}, DATA, DONE.
  auto snd = sync_request("SND2", "/data/local/tmp/v2");
  auto setup = bytes("SND2");
  put32(setup, 0100640);
  put32(setup, 0);
  snd.insert(snd.end(), setup.begin(), setup.end());
  auto data = bytes("DATA");
  put32(data, 5);
  auto payload = bytes("12345");
  data.insert(data.end(), payload.begin(), payload.end());
  snd.insert(snd.end(), data.begin(), data.end());
  auto done = bytes("DONE");
  put32(done, 1700000000);
  snd.insert(snd.end(), done.begin(), done.end());
  co_await send_wrte_acked(r.host, 1, id, snd);
  res.send_status = text(co_await sync_exact(r.host, 1, id, pending, 8)).substr(0, 4);

  // The dry-run flag: the data crosses, no file appears.
  auto dry = sync_request("SND2", "/data/local/tmp/dry");
  auto dsetup = bytes("SND2");
  put32(dsetup, 0100644);
  put32(dsetup, 0x80000000U);
  dry.insert(dry.end(), dsetup.begin(), dsetup.end());
  dry.insert(dry.end(), data.begin(), data.end());
  dry.insert(dry.end(), done.begin(), done.end());
  co_await send_wrte_acked(r.host, 1, id, dry);
  res.dry_status = text(co_await sync_exact(r.host, 1, id, pending, 8)).substr(0, 4);

  co_await send_wrte_acked(r.host, 1, id, sync_request("STA2", "/data/local/tmp/v2"));
  res.stat_file = co_await sync_exact(r.host, 1, id, pending, 72);

  ::symlink("v2", r.dir.file("root/data/local/tmp/link").c_str());
  co_await send_wrte_acked(r.host, 1, id, sync_request("LST2", "/data/local/tmp/link"));
  res.lstat_link = co_await sync_exact(r.host, 1, id, pending, 72);
  co_await send_wrte_acked(r.host, 1, id, sync_request("STA2", "/data/local/tmp/link"));
  res.stat_link = co_await sync_exact(r.host, 1, id, pending, 72);

  // LIS2: DNT2 entries, then DONE of the same size.
  co_await send_wrte_acked(r.host, 1, id, sync_request("LIS2", "/data/local/tmp"));
  for (int i = 0; i < 10; ++i) {
    auto d = co_await sync_exact(r.host, 1, id, pending, 76);
    if (text(std::vector<std::byte>(d.begin(), d.begin() + 4)) == "DONE") {
      res.list_done = d;
      break;
    }
    auto name = text(co_await sync_exact(r.host, 1, id, pending, get32(d, 72)));
    res.dents[name] = d;
  }

  // RCV2 without compression: as RECV.
  auto rcv = sync_request("RCV2", "/data/local/tmp/v2");
  auto rsetup = bytes("RCV2");
  put32(rsetup, 0);
  rcv.insert(rcv.end(), rsetup.begin(), rsetup.end());
  co_await send_wrte_acked(r.host, 1, id, rcv);
  auto h = co_await sync_exact(r.host, 1, id, pending, 8);
  res.pulled = text(co_await sync_exact(r.host, 1, id, pending, get32(h, 4)));
  auto end = co_await sync_exact(r.host, 1, id, pending, 8);
  EXPECT_EQ(text(std::vector<std::byte>(end.begin(), end.begin() + 4)), "DONE");

  // RCV2 asking for two compressions at once (brotli and zstd): FAIL naming the flags.
  auto zrcv = sync_request("RCV2", "/data/local/tmp/v2");
  auto zsetup = bytes("RCV2");
  put32(zsetup, 5);
  zrcv.insert(zrcv.end(), zsetup.begin(), zsetup.end());
  co_await send_wrte_acked(r.host, 1, id, zrcv);
  auto fh = co_await sync_exact(r.host, 1, id, pending, 8);
  res.compressed_status = text(std::vector<std::byte>(fh.begin(), fh.begin() + 4)) + " " +
                          text(co_await sync_exact(r.host, 1, id, pending, get32(fh, 4)));

  co_await r.host.send(adb::kWrte, 1, id, sync_request("QUIT", ""));
  co_await r.host.expect(adb::kOkay);
  co_await r.host.expect(adb::kClse);
}

TEST(AdbdSimSyncV2, Stat2Lstat2List2Send2Recv2) {
  rig r;
  sync_v2_result res;
  test::run_with_deadline(r.io, sync_v2_scenario(r, res));
  ASSERT_EQ(res.stat_missing.size(), 72u);
  EXPECT_EQ(text(std::vector<std::byte>(res.stat_missing.begin(), res.stat_missing.begin() + 4)),
            "STA2");
  EXPECT_EQ(get32(res.stat_missing, 4), static_cast<std::uint32_t>(ENOENT));
  EXPECT_EQ(get32(res.stat_missing, 24), 0u) << "mode of a missing path";

  EXPECT_EQ(res.send_status, "OKAY");
  EXPECT_EQ(res.dry_status, "OKAY");
  EXPECT_FALSE(std::filesystem::exists(r.dir.file("root/data/local/tmp/dry")));

  struct stat st {};
  ASSERT_EQ(::stat(r.dir.file("root/data/local/tmp/v2").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  ASSERT_EQ(res.stat_file.size(), 72u);
  EXPECT_EQ(get32(res.stat_file, 4), 0u);
  EXPECT_EQ(get64(res.stat_file, 8), st.st_dev);
  EXPECT_EQ(get64(res.stat_file, 16), st.st_ino);
  EXPECT_EQ(get32(res.stat_file, 24), st.st_mode);
  EXPECT_EQ(get32(res.stat_file, 28), st.st_nlink);
  EXPECT_EQ(get32(res.stat_file, 32), st.st_uid);
  EXPECT_EQ(get32(res.stat_file, 36), st.st_gid);
  EXPECT_EQ(get64(res.stat_file, 40), 5u);
  EXPECT_EQ(get64(res.stat_file, 56), 1700000000u) << "mtime from DONE, 64-bit";

  ASSERT_EQ(res.lstat_link.size(), 72u);
  EXPECT_TRUE(S_ISLNK(get32(res.lstat_link, 24)));
  EXPECT_TRUE(S_ISREG(get32(res.stat_link, 24))) << "STA2 follows the link";
  EXPECT_EQ(get64(res.stat_link, 40), 5u);

  ASSERT_TRUE(res.dents.count("v2"));
  EXPECT_EQ(text(std::vector<std::byte>(res.dents["v2"].begin(), res.dents["v2"].begin() + 4)),
            "DNT2");
  EXPECT_EQ(get64(res.dents["v2"], 40), 5u);
  EXPECT_EQ(get64(res.dents["v2"], 16), st.st_ino);
  EXPECT_TRUE(res.dents.count("link"));
  EXPECT_TRUE(res.dents.count("."));
  ASSERT_EQ(res.list_done.size(), 76u);

  EXPECT_EQ(res.pulled, "12345");
  EXPECT_NE(res.compressed_status.find("FAIL"), std::string::npos);
  EXPECT_NE(res.compressed_status.find("multiple compression flags"), std::string::npos)
      << res.compressed_status;
}

asio::awaitable<void> abb_scenario(rig& r, shell_result& listed, shell_result& unknown,
                                   std::string& exec_out, std::string& install_out) {
  co_await r.host.connect();
  auto a = co_await r.host.open(1, std::string("abb:package\0list\0packages", 25));
  listed = parse_shell_packets(co_await r.host.read_stream(1, a));
  auto b = co_await r.host.open(2, std::string("abb:activity\0start", 18));
  unknown = parse_shell_packets(co_await r.host.read_stream(2, b));
  auto c = co_await r.host.open(3, std::string("abb_exec:package\0list\0packages", 30));
  exec_out = text(co_await r.host.read_stream(3, c));
  // Streamed install: the APK's bytes follow on the stream; the answer is "Success".
  auto d = co_await r.host.open(4, std::string("abb_exec:package\0install\0-S\0"
                                               "7",
                                               29));
  co_await send_wrte_acked(r.host, 4, d, bytes("APK"));
  co_await send_wrte_acked(r.host, 4, d, bytes("DATA"));
  install_out = text(co_await r.host.read_stream(4, d));
}

TEST(AdbdSimAbb, SimulatedPackageServiceOverAbbAndAbbExec) {
  rig r;
  shell_result listed, unknown;
  std::string exec_out, install_out;
  test::run_with_deadline(r.io, abb_scenario(r, listed, unknown, exec_out, install_out));
  EXPECT_TRUE(listed.framing_ok);
  EXPECT_EQ(listed.exit, 0);
  EXPECT_NE(listed.out.find("package:com.android.shell\n"), std::string::npos) << listed.out;
  EXPECT_EQ(unknown.exit, 1);
  EXPECT_NE(unknown.err.find("activity start"), std::string::npos) << unknown.err;
  EXPECT_EQ(exec_out, listed.out);
  EXPECT_EQ(install_out, "Success\n");
}

// ---------------------------------------------------------------------------------------
// delayed_ack

std::vector<std::byte> le32_payload(std::uint32_t x) {
  std::vector<std::byte> v;
  put32(v, x);
  return v;
}

asio::awaitable<void> delayed_ack_connect(rig& r, std::uint32_t max_payload) {
  co_await r.host.send(adb::kCnxn, adb::kVersion, max_payload,
                       bytes("host::features=shell_v2,cmd,delayed_ack"));
  auto m = co_await r.host.expect(adb::kCnxn);
  EXPECT_NE(text(m.payload).find(",delayed_ack"), std::string::npos);
}

struct delayed_ack_result {
  std::vector<std::byte> open_okay_payload;
  std::size_t wrtes_before_any_okay = 0;
  std::size_t bytes_before_any_okay = 0;
  bool quiet_when_window_used = false;
  std::vector<std::byte> source_data;
  std::uint32_t sink_acked = 0;
  bool refused_without_window = false;
};

asio::awaitable<void> delayed_ack_scenario(rig& r, delayed_ack_result& res) {
  constexpr std::uint32_t kPayload = 1000;
  co_await delayed_ack_connect(r, kPayload);

  // With delayed_ack negotiated an OPEN without a window (arg1 0) is refused, as adbd does.
  co_await r.host.send(adb::kOpen, 9, 0, service("source:10"));
  auto refused = co_await r.host.expect(adb::kClse);
  res.refused_without_window = refused.h.arg0 == 0 && refused.h.arg1 == 9;

  // source: with a window of 3500 bytes: WRTEs go without OKAYs while it is positive
  // (1000 + 1000 + 1000 + 1000: the last one overshoots), then nothing until an OKAY.
  constexpr std::uint32_t kWindow = 3500;
  co_await r.host.send(adb::kOpen, 1, kWindow, service("source:10000"));
  auto okay = co_await r.host.expect(adb::kOkay);
  res.open_okay_payload = okay.payload;
  const std::uint32_t id = okay.h.arg0;
  for (;;) {
    auto m = co_await r.host.recv_within(300ms);
    if (!m) break;
    EXPECT_EQ(m->h.command, adb::kWrte);
    ++res.wrtes_before_any_okay;
    res.bytes_before_any_okay += m->payload.size();
    res.source_data.insert(res.source_data.end(), m->payload.begin(), m->payload.end());
  }
  res.quiet_when_window_used = true;
  // Acknowledge everything; the rest follows, acknowledged as it comes.
  std::uint32_t unacked = static_cast<std::uint32_t>(res.bytes_before_any_okay);
  for (;;) {
    co_await r.host.send(adb::kOkay, 1, id, le32_payload(unacked));
    unacked = 0;
    auto m = co_await r.host.recv_within(5s);
    if (!m || m->h.command == adb::kClse) break;
    EXPECT_EQ(m->h.command, adb::kWrte);
    res.source_data.insert(res.source_data.end(), m->payload.begin(), m->payload.end());
    unacked = static_cast<std::uint32_t>(m->payload.size());
  }

  // sink: several WRTEs without waiting (within the device's grant); OKAYs count bytes.
  co_await r.host.send(adb::kOpen, 2, 1 << 20, service("sink:1500"));
  auto sokay = co_await r.host.expect(adb::kOkay);
  const std::uint32_t sid = sokay.h.arg0;
  for (int i = 0; i < 3; ++i) {
    co_await r.host.send(adb::kWrte, 2, sid, std::vector<std::byte>(500, std::byte{7}));
  }
  for (;;) {
    auto m = co_await r.host.recv_within(5s);
    if (!m || m->h.command == adb::kClse) break;
    EXPECT_EQ(m->h.command, adb::kOkay);
    EXPECT_EQ(m->payload.size(), 4u);
    if (m->payload.size() == 4) res.sink_acked += get32(m->payload, 0);
  }
}

TEST(AdbdSimDelayedAck, WindowsOnOpenOkayPayloadsAndSeveralWrtesInFlight) {
  rig r;
  delayed_ack_result res;
  test::run_with_deadline(r.io, delayed_ack_scenario(r, res));
  EXPECT_TRUE(res.refused_without_window);
  ASSERT_EQ(res.open_okay_payload.size(), 4u) << "OKAY for OPEN carries the device's grant";
  EXPECT_EQ(get32(res.open_okay_payload, 0), 1000u);
  EXPECT_EQ(res.wrtes_before_any_okay, 4u);
  EXPECT_EQ(res.bytes_before_any_okay, 4000u);
  EXPECT_TRUE(res.quiet_when_window_used);
  ASSERT_EQ(res.source_data.size(), 10000u);
  for (std::size_t i = 0; i < res.source_data.size(); ++i) {
    ASSERT_EQ(res.source_data[i], pattern_byte(i)) << "byte " << i;
  }
  EXPECT_EQ(res.sink_acked, 1500u);
  EXPECT_FALSE(r.summary.protocol_error) << r.summary.reason;
}

asio::awaitable<void> delayed_ack_overrun_scenario(rig& r) {
  co_await delayed_ack_connect(r, 1000);
  // source: never reads its input, so nothing the host sends is acknowledged.
  co_await r.host.send(adb::kOpen, 1, 1, service("source:1000000"));
  auto okay = co_await r.host.expect(adb::kOkay);
  // The grant is 1000 and the host may overshoot by one WRTE: 2001 bytes unacknowledged
  // break flow control.
  co_await r.host.send(adb::kWrte, 1, okay.h.arg0, std::vector<std::byte>(1000, std::byte{1}));
  co_await r.host.send(adb::kWrte, 1, okay.h.arg0, std::vector<std::byte>(1000, std::byte{1}));
  co_await r.host.send(adb::kWrte, 1, okay.h.arg0, std::vector<std::byte>(1, std::byte{1}));
  co_await r.drain_until_closed();
}

TEST(AdbdSimDelayedAck, BytesBeyondTheWindowResetTheConnection) {
  rig r;
  test::run_with_deadline(r.io, delayed_ack_overrun_scenario(r));
  EXPECT_TRUE(r.summary.protocol_error);
  EXPECT_NE(r.summary.reason.find("beyond the window"), std::string::npos) << r.summary.reason;
}

asio::awaitable<void> no_delayed_ack_scenario(rig& r, std::string& banner) {
  co_await r.host.send(adb::kCnxn, adb::kVersion, adb::kMaxPayload,
                       bytes("host::features=delayed_ack"));
  banner = text((co_await r.host.expect(adb::kCnxn)).payload);
  // Not negotiated: a window in arg1 is refused, and OKAY carries no payload.
  co_await r.host.send(adb::kOpen, 1, 4096, service("sink:1"));
  auto m = co_await r.host.expect(adb::kClse);
  EXPECT_EQ(m.h.arg0, 0u);
  co_await r.host.send(adb::kOpen, 2, 0, service("sink:1"));
  auto okay = co_await r.host.expect(adb::kOkay);
  EXPECT_TRUE(okay.payload.empty());
}

TEST(AdbdSimDelayedAck, OffWhenDisabled) {
  rig r(false, adb::kMaxPayload, 32, /*delayed_ack=*/false);
  std::string banner;
  test::run_with_deadline(r.io, no_delayed_ack_scenario(r, banner));
  EXPECT_EQ(banner.find("delayed_ack"), std::string::npos) << banner;
}

// ---------------------------------------------------------------------------------------
// Pieces

TEST(AdbdSimRootedFs, ConfinePathsToTheRoot) {
  EXPECT_EQ(rooted_fs::confine("/data/local/tmp/x"), "data/local/tmp/x");
  EXPECT_EQ(rooted_fs::confine("/"), ".");
  EXPECT_EQ(rooted_fs::confine(""), ".");
  EXPECT_EQ(rooted_fs::confine("a/./b//c/.."), "a/b");
  EXPECT_EQ(rooted_fs::confine("/a/../b"), "b");
  EXPECT_EQ(rooted_fs::confine("/.."), std::nullopt);
  EXPECT_EQ(rooted_fs::confine("a/../../b"), std::nullopt);
}

TEST(AdbdSimRootedFs, SymlinksCannotLeadOut) {
  test::temp_dir dir;
  std::filesystem::create_directory(dir.file("root"));
  std::filesystem::create_directory_symlink("/etc", dir.file("root/etc-link"));
  std::filesystem::create_directory(dir.file("root/inside"));
  std::filesystem::create_directory_symlink("inside", dir.file("root/alias"));
  rooted_fs fs(dir.file("root"));
  auto out = fs.open("/etc-link/hostname", O_RDONLY);
  EXPECT_FALSE(out);
  EXPECT_EQ(out.error(), EXDEV);
  EXPECT_EQ(fs.make_parents("/etc-link/x/y"), EXDEV);
  EXPECT_EQ(fs.make_parents("/alias/new/file"), 0) << "a symlink that stays inside is fine";
  EXPECT_TRUE(std::filesystem::is_directory(dir.file("root/inside/new")));
  struct stat st {};
  EXPECT_EQ(fs.lstat("/etc-link", st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "STAT is lstat";
  EXPECT_EQ(rooted_fs::error_text(EXDEV), "path leads outside the root directory");
}

TEST(AdbdSimPattern, FillMatchesPatternByteAtAnyOffset) {
  std::vector<std::byte> buf(100000);
  for (std::uint64_t offset : {0ull, 1ull, 250ull, 251ull, 99999ull, 1ull << 33}) {
    fill_pattern(buf, offset);
    for (std::size_t i = 0; i < buf.size(); ++i) {
      if (buf[i] != pattern_byte(offset + i)) {
        ADD_FAILURE() << "offset " << offset << " byte " << i;
        break;
      }
    }
  }
}

command_line parse(std::vector<const char*> args) {
  return vsocklib::test::parse_argv(parse_command_line, "adbd-sim", std::move(args));
}

TEST(AdbdSimOptions, DefaultsAndValues) {
  auto d = parse({});
  EXPECT_EQ(d.what, command_line::action::run);
  ASSERT_EQ(d.opt.listen.size(), 1u);
  EXPECT_EQ(d.opt.listen[0].to_string(), "vsock:any:5555");
  EXPECT_FALSE(d.opt.auth);
  EXPECT_EQ(d.opt.max_payload, adb::kMaxPayload);
  EXPECT_TRUE(d.opt.delayed_ack);
  EXPECT_FALSE(parse({"--no-delayed-ack"}).opt.delayed_ack);

  auto c = parse({"--listen", "tcp:127.0.0.1:0", "--listen", "unix:/tmp/x.sock", "--auth",
                  "--max-payload", "4096", "--threads", "2", "--root", "/tmp"});
  EXPECT_EQ(c.opt.listen.size(), 2u);
  EXPECT_TRUE(c.opt.auth);
  EXPECT_EQ(c.opt.max_payload, 4096u);
  EXPECT_EQ(c.opt.threads, 2u);
  EXPECT_EQ(c.opt.root, "/tmp");
  EXPECT_EQ(parse({"--help"}).what, command_line::action::help);
  EXPECT_EQ(parse({"--version"}).what, command_line::action::version);
}

TEST(AdbdSimOptions, ErrorsNameTheProblem) {
  auto message = [](std::vector<const char*> a) -> std::string {
    try {
      parse(std::move(a));
    } catch (const usage_error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(message({"--bogus"}).find("unknown option --bogus"), std::string::npos);
  EXPECT_EQ(message({"--listen", "vsock:x:1"}).rfind("--listen: ", 0), 0u) << "names the option";
  EXPECT_NE(message({"--listen", "vsock:x:1"}).find("CID"), std::string::npos);
  EXPECT_NE(message({"--listen", "vsock-seqpacket:any:1"}).find("stream address"),
            std::string::npos);
  EXPECT_EQ(message({"--max-payload", "100"}),
            "--max-payload needs a number in 256..1048576, not \"100\"");
  EXPECT_NE(message({"--threads", "two"}).find("needs a number"), std::string::npos);
  // std::stoul would take "-1" as 2^64-1; every program's numbers go through one parser.
  EXPECT_EQ(message({"--allow-cid", "-1"}),
            "--allow-cid needs a number in 0..4294967294, not \"-1\"");
  EXPECT_NE(message({"--root"}).find("needs a value"), std::string::npos);
}

// ---------------------------------------------------------------------------------------
// sync v2 compression (sendrecv_v2_brotli, _lz4, _zstd). The other side of every check is
// the compression library itself (one-shot calls), not adbd-sim's codec.

const sync_compression kAlgorithms[] = {sync_compression::brotli, sync_compression::lz4,
                                        sync_compression::zstd};

// Compressible but not trivial: text lines with counters and a stretch of random bytes.
std::vector<std::byte> sample_data(std::size_t n, std::uint32_t seed = 1) {
  std::vector<std::byte> v;
  v.reserve(n);
  std::uint32_t x = seed;
  while (v.size() < n) {
    x = x * 1103515245u + 12345u;
    std::string line = "line " + std::to_string(v.size()) + " value " + std::to_string(x >> 8);
    line += (x & 0x400) ? " some repeated words some repeated words\n" : "\n";
    for (char c : line) v.push_back(static_cast<std::byte>(c));
    if ((x & 0xf000) == 0) {
      for (int i = 0; i < 300; ++i) {
        x = x * 1103515245u + 12345u;
        v.push_back(static_cast<std::byte>(x >> 16));
      }
    }
  }
  v.resize(n);
  return v;
}

// The whole of DATA compressed by the library in one call (as one stream / frame).
std::vector<std::byte> library_compress(sync_compression c, const std::vector<std::byte>& data) {
  std::vector<std::byte> out;
  switch (c) {
    case sync_compression::brotli: {
      std::size_t n = BrotliEncoderMaxCompressedSize(data.size());
      out.resize(n);
      EXPECT_TRUE(BrotliEncoderCompress(5, 22, BROTLI_MODE_GENERIC, data.size(),
                                        reinterpret_cast<const std::uint8_t*>(data.data()), &n,
                                        reinterpret_cast<std::uint8_t*>(out.data())));
      out.resize(n);
      break;
    }
    case sync_compression::lz4: {
      out.resize(LZ4F_compressFrameBound(data.size(), nullptr));
      const std::size_t n =
          LZ4F_compressFrame(out.data(), out.size(), data.data(), data.size(), nullptr);
      EXPECT_FALSE(LZ4F_isError(n));
      out.resize(n);
      break;
    }
    case sync_compression::zstd: {
      out.resize(ZSTD_compressBound(data.size()));
      const std::size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
      EXPECT_FALSE(ZSTD_isError(n));
      out.resize(n);
      break;
    }
    case sync_compression::none: out = data; break;
  }
  return out;
}

// The library's decompression of a whole stream; nullopt when it is not one valid stream
// of exactly EXPECTED bytes.
std::optional<std::vector<std::byte>> library_decompress(sync_compression c,
                                                         const std::vector<std::byte>& in,
                                                         std::size_t expected) {
  std::vector<std::byte> out(expected + 1);
  switch (c) {
    case sync_compression::brotli: {
      std::size_t n = out.size();
      if (BrotliDecoderDecompress(in.size(), reinterpret_cast<const std::uint8_t*>(in.data()), &n,
                                  reinterpret_cast<std::uint8_t*>(out.data())) !=
          BROTLI_DECODER_RESULT_SUCCESS) {
        return std::nullopt;
      }
      out.resize(n);
      break;
    }
    case sync_compression::lz4: {
      LZ4F_dctx* d = nullptr;
      LZ4F_createDecompressionContext(&d, LZ4F_VERSION);
      std::size_t dst = out.size(), src = in.size();
      const std::size_t r = LZ4F_decompress(d, out.data(), &dst, in.data(), &src, nullptr);
      LZ4F_freeDecompressionContext(d);
      if (LZ4F_isError(r) || r != 0 || src != in.size()) return std::nullopt;
      out.resize(dst);
      break;
    }
    case sync_compression::zstd: {
      const std::size_t n = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
      if (ZSTD_isError(n)) return std::nullopt;
      out.resize(n);
      break;
    }
    case sync_compression::none: out = in; break;
  }
  return out;
}

struct decoded {
  bool ok = false;
  bool complete = false;
  std::string error;
  std::vector<std::byte> out;
  std::size_t largest_piece = 0;
};

// Feeds IN to a sync_decoder in pieces of the sizes in STEPS (cycled).
decoded decode_in_pieces(sync_compression c, const std::vector<std::byte>& in,
                         std::vector<std::size_t> steps) {
  decoded d;
  sync_decoder dec(c);
  std::size_t at = 0, i = 0;
  d.ok = true;
  while (at < in.size() && d.ok) {
    const std::size_t n = std::min(steps[i++ % steps.size()], in.size() - at);
    d.ok = dec.feed(std::span<const std::byte>(in.data() + at, n),
                    [&](std::span<const std::byte> piece) {
                      d.largest_piece = std::max(d.largest_piece, piece.size());
                      d.out.insert(d.out.end(), piece.begin(), piece.end());
                      return true;
                    });
    at += n;
  }
  d.complete = dec.complete();
  d.error = dec.error();
  return d;
}

TEST(AdbdSimSyncCodec, DecodesWhatTheLibraryCompressedInAnyPieces) {
  const auto data = sample_data(3 << 20);
  for (auto c : kAlgorithms) {
    SCOPED_TRACE(to_string(c));
    const auto z = library_compress(c, data);
    ASSERT_LT(z.size(), data.size() * 3 / 4) << "the sample is compressible";
    for (auto steps : {std::vector<std::size_t>{65536}, {1, 7, 4093, 65536, 300000}}) {
      const auto d = decode_in_pieces(c, z, steps);
      EXPECT_TRUE(d.ok) << d.error;
      EXPECT_TRUE(d.complete);
      EXPECT_TRUE(d.out == data) << "decoded " << d.out.size() << " of " << data.size();
      EXPECT_LE(d.largest_piece, kSyncDecodeChunk) << "output comes from the fixed buffer";
    }
  }
}

TEST(AdbdSimSyncCodec, EncodesWhatTheLibraryDecompresses) {
  for (auto c : kAlgorithms) {
    SCOPED_TRACE(to_string(c));
    for (std::size_t size : {std::size_t{0}, std::size_t{100}, std::size_t{5 << 20} + 17}) {
      const auto data = sample_data(size, 7);
      sync_encoder enc(c);
      std::vector<std::byte> z;
      std::vector<std::byte> out(4099);  // small output spans: the encoder must resume
      std::size_t at = 0;
      bool done = false;
      int calls = 0;
      while (!done && ++calls < 1000000) {
        const std::size_t n = std::min<std::size_t>(65536, data.size() - at);
        const bool finish = at + n == data.size();
        auto r = enc.encode(std::span<const std::byte>(data.data() + at, n), finish, out);
        ASSERT_TRUE(r) << enc.error();
        at += r->consumed;
        z.insert(z.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(r->produced));
        done = r->done;
      }
      ASSERT_TRUE(done);
      EXPECT_EQ(at, data.size());
      if (size > 1000) {
        EXPECT_LT(z.size(), size * 3 / 4);
      }
      auto back = library_decompress(c, z, data.size());
      ASSERT_TRUE(back) << size << " bytes: the library does not accept the stream";
      EXPECT_TRUE(*back == data) << size << " bytes";
    }
  }
}

TEST(AdbdSimSyncCodec, CorruptTruncatedAndTrailingDataAreErrors) {
  const auto data = sample_data(1 << 20, 3);
  for (auto c : kAlgorithms) {
    SCOPED_TRACE(to_string(c));
    auto z = library_compress(c, data);
    // Not a stream of this kind at all.
    std::vector<std::byte> junk(5000);
    for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<std::byte>(0xff - i % 7);
    auto d = decode_in_pieces(c, junk, {1000});
    EXPECT_FALSE(d.ok && d.complete) << "junk accepted";
    if (!d.ok) {
      EXPECT_NE(d.error.find(to_string(c)), std::string::npos) << d.error;
    }
    // Cut short: no error while feeding, but the stream is not complete at DONE.
    d = decode_in_pieces(c, std::vector<std::byte>(z.begin(), z.end() - 10), {65536});
    EXPECT_FALSE(d.complete);
    // Bytes after the end of the stream (adb treats them as an error too).
    auto longer = z;
    longer.insert(longer.end(), 3, std::byte{0});
    d = decode_in_pieces(c, longer, {65536});
    EXPECT_FALSE(d.ok);
    EXPECT_NE(d.error.find("after the end"), std::string::npos) << d.error;
    // A stream whose middle is overwritten: brotli and zstd notice (format and checksums);
    // LZ4 without checksums may decode garbage, which its block structure usually catches.
    auto broken = z;
    for (std::size_t i = broken.size() / 3; i < broken.size() / 3 + 64; ++i)
      broken[i] = std::byte{0xa5};
    d = decode_in_pieces(c, broken, {65536});
    if (c != sync_compression::lz4) {
      EXPECT_FALSE(d.ok && d.complete && d.out == data);
    }
  }
}

TEST(AdbdSimSyncCodec, ZstdWindowAboveTheBoundIsRefused) {
  // A frame that declares a 64 MiB window (streamed, so zstd cannot shrink it to the input).
  ZSTD_CCtx* cc = ZSTD_createCCtx();
  ASSERT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, 26)));
  const auto data = sample_data(1 << 20);
  std::vector<std::byte> z(ZSTD_compressBound(data.size()) + 1024);
  ZSTD_inBuffer ib{data.data(), data.size(), 0};
  ZSTD_outBuffer ob{z.data(), z.size(), 0};
  ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_continue);
  ZSTD_inBuffer none{nullptr, 0, 0};
  while (ZSTD_compressStream2(cc, &ob, &none, ZSTD_e_end) != 0) {
  }
  ZSTD_freeCCtx(cc);
  z.resize(ob.pos);
  auto d = decode_in_pieces(sync_compression::zstd, z, {65536});
  EXPECT_FALSE(d.ok);
  EXPECT_NE(d.error.find("zstd"), std::string::npos) << d.error;
  EXPECT_TRUE(d.out.empty()) << "nothing decoded before the refusal";
}

// One SND2 (path, setup with FLAGS, the payload as DATA chunks of at most 64 KiB, DONE) as
// the bytes of the sync stream.
std::vector<std::byte> snd2_request(std::string_view path, std::uint32_t flags,
                                    const std::vector<std::byte>& payload) {
  auto v = sync_request("SND2", path);
  auto setup = bytes("SND2");
  put32(setup, 0100644);
  put32(setup, flags);
  v.insert(v.end(), setup.begin(), setup.end());
  for (std::size_t at = 0; at < payload.size(); at += 65536) {
    const std::size_t n = std::min<std::size_t>(65536, payload.size() - at);
    auto h = bytes("DATA");
    put32(h, static_cast<std::uint32_t>(n));
    v.insert(v.end(), h.begin(), h.end());
    v.insert(v.end(), payload.begin() + static_cast<std::ptrdiff_t>(at),
             payload.begin() + static_cast<std::ptrdiff_t>(at + n));
  }
  auto done = bytes("DONE");
  put32(done, 1700000000);
  v.insert(v.end(), done.begin(), done.end());
  return v;
}

std::uint32_t flag_of(sync_compression c) {
  return c == sync_compression::brotli ? 1 : c == sync_compression::lz4 ? 2 : 4;
}

// Sends BYTES as WRTEs of 200 000 bytes (a DATA chunk split across WRTEs), each acknowledged.
asio::awaitable<void> send_split(rig& r, std::uint32_t id, const std::vector<std::byte>& v) {
  for (std::size_t at = 0; at < v.size(); at += 200000) {
    const std::size_t n = std::min<std::size_t>(200000, v.size() - at);
    co_await send_wrte_acked(
        r.host, 1, id,
        std::vector<std::byte>(v.begin() + static_cast<std::ptrdiff_t>(at),
                               v.begin() + static_cast<std::ptrdiff_t>(at + n)));
  }
}

// The status answer (OKAY or FAIL + message) as "OKAY" or "FAIL message".
asio::awaitable<std::string> sync_status(rig& r, std::uint32_t id,
                                         std::vector<std::byte>& pending) {
  auto h = co_await sync_exact(r.host, 1, id, pending, 8);
  std::string st = text(std::vector<std::byte>(h.begin(), h.begin() + 4));
  if (get32(h, 4) > 0) st += " " + text(co_await sync_exact(r.host, 1, id, pending, get32(h, 4)));
  co_return st;
}

struct compressed_result {
  std::map<std::string, std::string> push_status;
  std::map<std::string, std::vector<std::byte>> pulled;  // compressed, as received
  std::map<std::string, std::size_t> largest_data;
  std::string corrupt_status, truncated_status, after_errors;
};

asio::awaitable<void> compressed_scenario(rig& r, const std::vector<std::byte>& data,
                                          compressed_result& res) {
  co_await r.host.connect();
  auto id = co_await r.host.open(1, "sync:");
  std::vector<std::byte> pending;
  for (auto c : kAlgorithms) {
    const std::string name = to_string(c);
    co_await send_split(
        r, id, snd2_request("/data/local/tmp/" + name, flag_of(c), library_compress(c, data)));
    res.push_status[name] = co_await sync_status(r, id, pending);
    // RCV2 of the same file, compressed by adbd-sim: DATA chunks until DONE.
    auto rcv = sync_request("RCV2", "/data/local/tmp/" + name);
    auto setup = bytes("RCV2");
    put32(setup, flag_of(c));
    rcv.insert(rcv.end(), setup.begin(), setup.end());
    co_await send_wrte_acked(r.host, 1, id, rcv);
    for (int i = 0; i < 100000; ++i) {
      auto h = co_await sync_exact(r.host, 1, id, pending, 8);
      const std::string hid = text(std::vector<std::byte>(h.begin(), h.begin() + 4));
      if (hid == "DONE") break;
      if (hid != "DATA") {
        ADD_FAILURE() << name << ": pull answered " << hid;
        break;
      }
      res.largest_data[name] = std::max<std::size_t>(res.largest_data[name], get32(h, 4));
      auto chunk = co_await sync_exact(r.host, 1, id, pending, get32(h, 4));
      res.pulled[name].insert(res.pulled[name].end(), chunk.begin(), chunk.end());
    }
  }
  // Corrupt zstd data: FAIL, no file, and the sync stream goes on.
  std::vector<std::byte> junk(100000, std::byte{0x5a});
  co_await send_split(r, id, snd2_request("/data/local/tmp/corrupt", 4, junk));
  res.corrupt_status = co_await sync_status(r, id, pending);
  // Truncated brotli data: FAIL at DONE.
  auto z = library_compress(sync_compression::brotli, data);
  z.resize(z.size() / 2);
  co_await send_split(r, id, snd2_request("/data/local/tmp/truncated", 1, z));
  res.truncated_status = co_await sync_status(r, id, pending);
  co_await send_wrte_acked(r.host, 1, id, sync_request("STA2", "/data/local/tmp/zstd"));
  auto st = co_await sync_exact(r.host, 1, id, pending, 72);
  res.after_errors = text(std::vector<std::byte>(st.begin(), st.begin() + 4)) + " size " +
                     std::to_string(get64(st, 40));
  co_await r.host.send(adb::kWrte, 1, id, sync_request("QUIT", ""));
  co_await r.host.expect(adb::kOkay);
  co_await r.host.expect(adb::kClse);
}

TEST(AdbdSimSyncV2, CompressedPushAndPullWithEachAlgorithm) {
  rig r;
  const auto data = sample_data((2 << 20) + 333);
  compressed_result res;
  const auto before = sync_statistics().decode_failures.load();
  const auto pushes = sync_statistics().compressed_pushes.load();
  const auto pulls = sync_statistics().compressed_pulls.load();
  test::run_with_deadline(r.io, compressed_scenario(r, data, res));
  for (auto c : kAlgorithms) {
    const std::string name = to_string(c);
    SCOPED_TRACE(name);
    EXPECT_EQ(res.push_status[name], "OKAY");
    std::ifstream f(r.dir.file("root/data/local/tmp/" + name), std::ios::binary);
    std::string on_disk((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(on_disk == text(data)) << "pushed file: " << on_disk.size() << " bytes";
    EXPECT_LT(res.pulled[name].size(), data.size() * 3 / 4) << "the pull was compressed";
    EXPECT_LE(res.largest_data[name], 65536u);
    auto back = library_decompress(c, res.pulled[name], data.size());
    ASSERT_TRUE(back) << "the library does not accept the pulled stream";
    EXPECT_TRUE(*back == data);
  }
  EXPECT_EQ(res.corrupt_status.rfind("FAIL decompress failed: zstd: ", 0), 0u)
      << res.corrupt_status;
  EXPECT_FALSE(std::filesystem::exists(r.dir.file("root/data/local/tmp/corrupt")));
  EXPECT_EQ(res.truncated_status.rfind("FAIL decompress failed: the brotli stream is truncated", 0),
            0u)
      << res.truncated_status;
  EXPECT_FALSE(std::filesystem::exists(r.dir.file("root/data/local/tmp/truncated")));
  EXPECT_EQ(res.after_errors, "STA2 size " + std::to_string(data.size()));
  EXPECT_EQ(sync_statistics().decode_failures.load() - before, 2u);
  EXPECT_EQ(sync_statistics().compressed_pushes.load() - pushes, 3u);
  EXPECT_EQ(sync_statistics().compressed_pulls.load() - pulls, 3u);
  EXPECT_FALSE(r.summary.protocol_error);
}

asio::awaitable<void> bomb_scenario(rig& r, sync_compression c, const std::vector<std::byte>& z,
                                    std::string& status, std::string& after) {
  co_await r.host.connect();
  auto id = co_await r.host.open(1, "sync:");
  std::vector<std::byte> pending;
  co_await send_split(r, id, snd2_request("/data/local/tmp/bomb", flag_of(c), z));
  status = co_await sync_status(r, id, pending);
  // The session goes on: a normal push afterwards.
  co_await send_split(r, id, snd2_request("/data/local/tmp/after", 0, bytes("fine")));
  after = co_await sync_status(r, id, pending);
  co_await r.host.send(adb::kWrte, 1, id, sync_request("QUIT", ""));
  co_await r.host.expect(adb::kOkay);
  co_await r.host.expect(adb::kClse);
}

TEST(AdbdSimSyncV2, DecompressionBombIsCutOff) {
  // 64 MiB of zeros compress to a few KiB; the limit here is 16 x compressed + 1 MiB.
  const std::vector<std::byte> zeros(64 << 20);
  for (auto c : kAlgorithms) {
    SCOPED_TRACE(to_string(c));
    rig r(false, adb::kMaxPayload, 32, true, 16, 1 << 20);
    const auto z = library_compress(c, zeros);
    ASSERT_LT(z.size() * 16 + (1 << 20), zeros.size());
    const auto bombs = sync_statistics().bombs_cut_off.load();
    std::string status, after;
    test::run_with_deadline(r.io, bomb_scenario(r, c, z, status, after));
    EXPECT_EQ(status.rfind("FAIL decompression bomb cut off: ", 0), 0u) << status;
    EXPECT_NE(status.find(to_string(c)), std::string::npos) << status;
    EXPECT_EQ(sync_statistics().bombs_cut_off.load() - bombs, 1u);
    EXPECT_FALSE(std::filesystem::exists(r.dir.file("root/data/local/tmp/bomb")))
        << "the partial file is removed";
    EXPECT_EQ(after, "OKAY");
  }
}

TEST(AdbdSimSyncV2, BannerAdvertisesCompression) {
  const std::string b = device_banner();
  for (const char* f :
       {"sendrecv_v2_brotli", "sendrecv_v2_lz4", "sendrecv_v2_zstd", "sendrecv_v2_dry_run_send"}) {
    EXPECT_NE(b.find(std::string(",") + f + ","), std::string::npos) << f << " in " << b;
  }
}

TEST(AdbdSimOptions, MaxExpansion) {
  EXPECT_EQ(parse({}).opt.max_expansion, 1024u);
  EXPECT_EQ(parse({"--max-expansion", "0"}).opt.max_expansion, 0u);
  EXPECT_EQ(parse({"--max-expansion", "50"}).opt.max_expansion, 50u);
}

}  // namespace
}  // namespace adbd_sim
