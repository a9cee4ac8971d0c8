// Peer policy and socket-file handling of listeners.
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "run_coro.hpp"
#include "temp_dir.hpp"
#include "vsock_available.hpp"
#include "vsocklib/connect.hpp"
#include "vsocklib/error.hpp"
#include "vsocklib/listener.hpp"
#include "vsocklib/log.hpp"

namespace vsocklib {
namespace {

using namespace std::chrono_literals;

// Connects and waits for the listener's verdict: accepted peers get "y", refused ones are
// closed (end of stream).
asio::awaitable<void> dial_and_wait(address to, bool& closed_by_listener) {
  auto [ec, s] = co_await async_connect(to, 2s);
  EXPECT_FALSE(ec) << ec.message();
  char c = 0;
  auto [rec, n] = co_await asio::async_read(s, asio::buffer(&c, 1), use_tuple);
  closed_by_listener = rec == asio::error::eof;
}

asio::awaitable<void> accept_answering(listener& l, bool& accepted, peer_info& peer) {
  auto [ec, s, p] = co_await l.async_accept();
  if (ec) co_return;
  accepted = true;
  peer = p;
  co_await asio::async_write(s, asio::buffer("y", 1), use_tuple);
}

// One refused dial, then (if the policy allows nothing) the listener is closed.
asio::awaitable<void> refused_scenario(listener& l, address to, bool& closed, bool& accepted,
                                       peer_info& peer) {
  auto ex = co_await asio::this_coro::executor;
  asio::co_spawn(ex, accept_answering(l, accepted, peer), asio::detached);
  co_await dial_and_wait(to, closed);
  l.close();
}

TEST(Listener, UnixUidAllowlistRefusesOthers) {
  asio::io_context io;
  test::temp_dir dir;
  peer_policy p;
  p.allowed_uids = {::getuid() + 1};
  listener l(io.get_executor(), parse_address("unix:" + dir.file("l")), p, log::get("test"));
  bool closed = false, accepted = false;
  peer_info peer;
  test::run_with_deadline(io, refused_scenario(l, l.local_address(), closed, accepted, peer));
  EXPECT_TRUE(closed);
  EXPECT_FALSE(accepted);
  EXPECT_EQ(l.refused_count(), 1u);
}

TEST(Listener, UnixUidAllowlistAcceptsListedUid) {
  asio::io_context io;
  test::temp_dir dir;
  peer_policy p;
  p.allowed_uids = {::getuid()};
  listener l(io.get_executor(), parse_address("unix:" + dir.file("l")), p, log::get("test"));
  bool closed = false, accepted = false;
  peer_info peer;
  test::run_with_deadline(io, refused_scenario(l, l.local_address(), closed, accepted, peer));
  EXPECT_FALSE(closed);
  EXPECT_TRUE(accepted);
  EXPECT_EQ(peer.description.rfind("unix:uid=" + std::to_string(::getuid()), 0), 0u);
  EXPECT_EQ(l.refused_count(), 0u);
}

TEST(Listener, TcpLoopbackPeerAcceptedByDefault) {
  asio::io_context io;
  listener l(io.get_executor(), parse_address("tcp:127.0.0.1:0"), {}, log::get("test"));
  EXPECT_NE(l.local_address().port, 0u);
  bool closed = false, accepted = false;
  peer_info peer;
  test::run_with_deadline(io, refused_scenario(l, l.local_address(), closed, accepted, peer));
  EXPECT_TRUE(accepted);
  EXPECT_EQ(peer.description.rfind("tcp:127.0.0.1:", 0), 0u) << peer.description;
}

TEST(Listener, ReplacesAStaleSocketFileButNotALiveOne) {
  asio::io_context io;
  test::temp_dir dir;
  const auto path = dir.file("l");
  {
    // A socket file left behind: closing an acceptor does not unlink its file.
    asio::local::stream_protocol::acceptor stale(io, asio::local::stream_protocol::endpoint(path));
  }
  EXPECT_NO_THROW(listener(io.get_executor(), parse_address("unix:" + path), {}, log::get("test")));

  listener live(io.get_executor(), parse_address("unix:" + path), {}, log::get("test"));
  try {
    listener second(io.get_executor(), parse_address("unix:" + path), {}, log::get("test"));
    ADD_FAILURE() << "second listener stole the socket";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("another process is listening"), std::string::npos)
        << e.what();
  }
}

TEST(Listener, RefusesAFileThatIsNotASocket) {
  asio::io_context io;
  test::temp_dir dir;
  std::ofstream(dir.file("f")) << "data";
  EXPECT_THROW(
      listener(io.get_executor(), parse_address("unix:" + dir.file("f")), {}, log::get("test")),
      std::system_error);
}

TEST(Listener, StreamListenerRejectsSeqpacketAddress) {
  asio::io_context io;
  try {
    listener l(io.get_executor(), parse_address("vsock-seqpacket:any:5000"), {}, log::get("test"));
    ADD_FAILURE() << "accepted a seqpacket address";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("vsock-seqpacket:any:5000"), std::string::npos);
  }
}

TEST(Listener, BindFailureNamesTheAddress) {
  asio::io_context io;
  try {
    listener l(io.get_executor(), parse_address("unix:/nonexistent-dir/x.sock"), {},
               log::get("test"));
    ADD_FAILURE() << "bound in a missing directory";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on unix:/nonexistent-dir/x.sock"),
              std::string::npos)
        << e.what();
  }
}

// Real AF_VSOCK (lab): peers from CID 1 are refused unless 1 is allowed.
TEST(VsockListener, CidAllowlist) {
  VSOCKLIB_REQUIRE_VSOCK_LOOPBACK();
  const std::uint32_t port = 30000 + ::getpid() % 20000;
  for (bool allow : {false, true}) {
    asio::io_context io;
    peer_policy p;
    p.allowed_cids = {allow ? 1u : 3u};
    listener l(io.get_executor(), parse_address("vsock:any:" + std::to_string(port + allow)), p,
               log::get("test"));
    bool closed = false, accepted = false;
    peer_info peer;
    test::run_with_deadline(
        io, refused_scenario(l, parse_address("vsock:1:" + std::to_string(port + allow)), closed,
                             accepted, peer));
    EXPECT_EQ(accepted, allow);
    EXPECT_EQ(closed, !allow);
    EXPECT_EQ(l.refused_count(), allow ? 0u : 1u);
    if (allow) {
      EXPECT_EQ(peer.description.rfind("vsock:1:", 0), 0u) << peer.description;
    }
  }
}

asio::awaitable<void> seqpacket_server(seqpacket_listener& l, std::vector<std::size_t>& sizes) {
  auto [ec, s, peer] = co_await l.async_accept();
  EXPECT_FALSE(ec) << ec.message();
  std::vector<char> buf(70000);
  for (;;) {
    asio::socket_base::message_flags flags = 0;
    auto [rec, n] = co_await s.async_receive(asio::buffer(buf), flags, use_tuple);
    if (rec || n == 0) co_return;
    sizes.push_back(n);
  }
}

asio::awaitable<void> seqpacket_client(address to) {
  auto [ec, s] = co_await async_connect_seqpacket(to, 2s);
  EXPECT_FALSE(ec) << ec.message();
  if (ec) co_return;
  for (std::size_t n : {1u, 4096u, 5000u, 60000u}) {
    std::vector<char> record(n, 'r');
    auto [sec, sent] = co_await s.async_send(asio::buffer(record), 0, use_tuple);
    EXPECT_FALSE(sec) << sec.message();
  }
  s.shutdown(asio::socket_base::shutdown_send);
}

asio::awaitable<void> seqpacket_scenario(seqpacket_listener& l, address to,
                                         std::vector<std::size_t>& sizes) {
  using namespace asio::experimental::awaitable_operators;
  co_await (seqpacket_server(l, sizes) && seqpacket_client(to));
}

// Real AF_VSOCK SOCK_SEQPACKET (lab): record boundaries survive.
TEST(VsockSeqpacket, KeepsRecordBoundaries) {
  VSOCKLIB_REQUIRE_VSOCK_LOOPBACK();
  const std::string port = std::to_string(40000 + ::getpid() % 20000);
  asio::io_context io;
  seqpacket_listener l(io.get_executor(), parse_address("vsock-seqpacket:any:" + port), {},
                       log::get("test"));
  std::vector<std::size_t> sizes;
  test::run_with_deadline(io,
                          seqpacket_scenario(l, parse_address("vsock-seqpacket:1:" + port), sizes));
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 4096, 5000, 60000}));
}

}  // namespace
}  // namespace vsocklib
