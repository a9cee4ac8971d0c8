// adbd-sim's connection over a Unix socketpair, with a fake host written against the
// adb_protocol library: handshake, AUTH, flow control, stream bookkeeping, the services,
// and protocol errors that must reset the connection. The real adb client is exercised by
// tests/integration/adbd_sim_test.sh.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include <gtest/gtest.h>

#include "adb_protocol/protocol.hpp"
#include "adbd_sim/connection.hpp"
#include "adbd_sim/options.hpp"
#include "adbd_sim/pattern.hpp"
#include "adbd_sim/rooted_fs.hpp"
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

  /// Collects a stream's WRTEs, acknowledging each, until its CLSE.
  asio::awaitable<std::vector<std::byte>> read_stream(std::uint32_t local, std::uint32_t remote) {
    std::vector<std::byte> got;
    for (;;) {
      auto m = co_await recv_within(5s);
      if (!m) {
        ADD_FAILURE() << "stream ended without CLSE";
        co_return got;
      }
      EXPECT_EQ(m->h.arg1, local);
      EXPECT_EQ(m->h.arg0, remote);
      if (m->h.command == adb::kClse) co_return got;
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
               unsigned max_streams = 32)
      : host(make_pair()) {
    std::filesystem::create_directory(dir.file("root"));
    files = std::make_shared<rooted_fs>(dir.file("root"));
    connection_config cfg{files, auth, max_payload, max_streams,
                          vsocklib::log::get("adbd-sim-test")};
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
  EXPECT_NE(device_banner().find(";features=fixed_push_mkdir"), std::string::npos);
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
  for (auto name : {"nonsense:", "sink:abc", "shell,v2:ls", "exec:", "no-colon"}) {
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

}  // namespace
}  // namespace adbd_sim
