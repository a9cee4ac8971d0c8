// The status socket: each connection gets one document, then end of stream; a peer that
// does not read cannot keep serve() (and so the daemon's exit) waiting.
#include <functional>

#include <gtest/gtest.h>

#include "run_coro.hpp"
#include "temp_dir.hpp"
#include "vsocklib/connect.hpp"
#include "vsocklib/control_socket.hpp"
#include "vsocklib/log.hpp"

namespace vsocklib {
namespace {

asio::awaitable<void> query_twice(control_socket& c, std::string path,
                                  std::vector<std::string>& got) {
  for (int i = 0; i < 2; ++i) {
    auto [ec, text] = co_await async_query_control(path);
    EXPECT_FALSE(ec) << ec.message();
    got.push_back(text);
  }
  c.close();
}

asio::awaitable<void> serve_beside(control_socket& c, std::function<std::string()> document,
                                   asio::awaitable<void> client) {
  using namespace asio::experimental::awaitable_operators;
  co_await (c.serve(std::move(document)) && std::move(client));
}

TEST(ControlSocket, AnswersEachConnectionWithTheCurrentDocument) {
  test::temp_dir dir;
  const auto path = dir.file("sub/ctl.sock");  // the directory is created
  asio::io_context io;
  control_socket c(io.get_executor(), path, log::get("test"));
  int calls = 0;
  std::vector<std::string> got;
  ASSERT_TRUE(test::run_with_deadline(
      io, serve_beside(
              c, [&] { return "{\"n\": " + std::to_string(++calls) + "}\n"; },
              query_twice(c, path, got))));
  EXPECT_EQ(got, (std::vector<std::string>{"{\"n\": 1}\n", "{\"n\": 2}\n"}));
}

// Connects and never reads; closes the socket once the answer is under way.
asio::awaitable<void> connect_unread(control_socket& c, std::string path, const int& calls,
                                     stream_socket& peer) {
  auto [ec, s] = co_await async_connect(parse_address("unix:" + path));
  EXPECT_FALSE(ec) << ec.message();
  peer = std::move(s);
  asio::steady_timer poll(co_await asio::this_coro::executor);
  while (calls == 0) {
    poll.expires_after(std::chrono::milliseconds(1));
    co_await poll.async_wait(use_tuple);
  }
  c.close();
}

asio::awaitable<void> serve_a_peer_that_does_not_read(control_socket& c, std::string path,
                                                      std::chrono::steady_clock::duration& took) {
  stream_socket peer(co_await asio::this_coro::executor);  // open until the end
  int calls = 0;
  const auto start = std::chrono::steady_clock::now();
  // Far more than a socket buffer takes, so the write waits for the reader. (Built outside
  // the co_await expression: GCC 12 and temporaries in coroutines.)
  std::function<std::string()> document = [&calls] {
    ++calls;
    return std::string(std::size_t{16} << 20, 'x');
  };
  auto both = serve_beside(c, std::move(document), connect_unread(c, path, calls, peer));
  co_await std::move(both);
  took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(peer.is_open());
}

TEST(ControlSocket, APeerThatDoesNotReadDelaysTheEndOfServeOnlyBriefly) {
  test::temp_dir dir;
  const auto path = dir.file("ctl.sock");
  asio::io_context io;
  control_socket c(io.get_executor(), path, log::get("test"));
  std::chrono::steady_clock::duration took{};
  ASSERT_TRUE(test::run_with_deadline(io, serve_a_peer_that_does_not_read(c, path, took),
                                      std::chrono::seconds(30)));
  // The answer's bound (2 s) has passed, and not much more.
  EXPECT_GE(took, std::chrono::milliseconds(1500));
  EXPECT_LT(took, std::chrono::seconds(10));
}

asio::awaitable<void> query_missing(std::string path, error_code& ec) {
  std::string text;
  std::tie(ec, text) = co_await async_query_control(path);
}

TEST(ControlSocket, NoEndpointIsAnError) {
  test::temp_dir dir;
  asio::io_context io;
  error_code ec;
  ASSERT_TRUE(test::run_with_deadline(io, query_missing(dir.file("none.sock"), ec)));
  EXPECT_TRUE(ec);
}

}  // namespace
}  // namespace vsocklib
