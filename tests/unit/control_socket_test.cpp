// The status socket: each connection gets one document, then end of stream.
#include <gtest/gtest.h>

#include "run_coro.hpp"
#include "temp_dir.hpp"
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

TEST(ControlSocket, AnswersEachConnectionWithTheCurrentDocument) {
  test::temp_dir dir;
  const auto path = dir.file("sub/ctl.sock");  // the directory is created
  asio::io_context io;
  control_socket c(io.get_executor(), path, log::get("test"));
  int calls = 0;
  asio::co_spawn(io, c.serve([&] { return "{\"n\": " + std::to_string(++calls) + "}\n"; }),
                 asio::detached);
  std::vector<std::string> got;
  ASSERT_TRUE(test::run_with_deadline(io, query_twice(c, path, got)));
  EXPECT_EQ(got, (std::vector<std::string>{"{\"n\": 1}\n", "{\"n\": 2}\n"}));
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
