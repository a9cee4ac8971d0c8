// vsock-pipe's command line (every option, both spellings, the errors main prints), the
// plan it turns into (per-side half-close and write bounds), and one run over Unix sockets
// in a temporary directory. The program end to end is tests/integration/vsock_pipe_test.sh.
#include <array>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "argv.hpp"
#include "run_coro.hpp"
#include "temp_dir.hpp"
#include "vsock_pipe/options.hpp"
#include "vsock_pipe/pipe.hpp"
#include "vsocklib/log.hpp"

namespace vsock_pipe {
namespace {

namespace asio = vsocklib::asio;
using namespace std::chrono_literals;
using vsocklib::half_close;
using unix_socket = asio::local::stream_protocol::socket;

command_line parse(std::vector<const char*> args) {
  return vsocklib::test::parse_argv(parse_command_line, "vsock-pipe", std::move(args));
}

std::string error_of(std::vector<const char*> args) {
  return vsocklib::test::usage_error_of(parse_command_line, "vsock-pipe", std::move(args));
}

TEST(VsockPipeOptions, Defaults) {
  auto cl = parse({"unix:/run/a.sock", "tcp:127.0.0.1:80"});
  EXPECT_EQ(cl.what, command_line::action::run);
  const options& o = cl.opt;
  EXPECT_EQ(o.left, "unix:/run/a.sock");
  EXPECT_EQ(o.right, "tcp:127.0.0.1:80");
  EXPECT_FALSE(o.listen);
  EXPECT_FALSE(o.stdio);
  EXPECT_FALSE(o.once);
  EXPECT_FALSE(o.retry);
  EXPECT_EQ(o.max_connections, 64u);
  EXPECT_EQ(o.pump.chunk_size, 4096u);
  EXPECT_EQ(o.pump.chunks_in_flight, 16u);
  EXPECT_EQ(o.pump.linger, 1000ms);
  EXPECT_EQ(o.connect_timeout, 5000ms);
  EXPECT_TRUE(o.policy.allowed_cids.empty());
  EXPECT_TRUE(o.policy.allowed_uids.empty());
  EXPECT_FALSE(o.policy.allow_remote_tcp);
  EXPECT_EQ(o.log_level, "info");
  EXPECT_EQ(o.half_close, "auto");
}

TEST(VsockPipeOptions, EveryOption) {
  auto cl = parse({"--chunk-size",
                   "8192",
                   "--chunks",
                   "4",
                   "--once",
                   "--max-connections",
                   "3",
                   "--retry",
                   "--connect-timeout",
                   "250",
                   "--half-close",
                   "linger",
                   "--linger",
                   "42",
                   "--allow-cid",
                   "3",
                   "--allow-cid",
                   "4294967294",
                   "--allow-uid",
                   "1000",
                   "--allow-uid",
                   "0",
                   "--allow-remote-tcp",
                   "--log-level",
                   "debug",
                   "listen:vsock:any:9000",
                   "unix:/run/app.sock"});
  EXPECT_EQ(cl.what, command_line::action::run);
  const options& o = cl.opt;
  EXPECT_EQ(o.pump.chunk_size, 8192u);
  EXPECT_EQ(o.pump.chunks_in_flight, 4u);
  EXPECT_TRUE(o.once);
  EXPECT_EQ(o.max_connections, 3u);
  EXPECT_TRUE(o.retry);
  EXPECT_EQ(o.connect_timeout, 250ms);
  EXPECT_EQ(o.half_close, "linger");
  EXPECT_EQ(o.pump.linger, 42ms);
  EXPECT_EQ(o.policy.allowed_cids, (std::vector<std::uint32_t>{3, 4294967294u}));
  EXPECT_EQ(o.policy.allowed_uids, (std::vector<uid_t>{1000, 0}));
  EXPECT_TRUE(o.policy.allow_remote_tcp);
  EXPECT_EQ(o.log_level, "debug");
  EXPECT_TRUE(o.listen);
  EXPECT_EQ(o.left, "vsock:any:9000");  // without its listen: prefix
  EXPECT_EQ(o.right, "unix:/run/app.sock");
  EXPECT_FALSE(o.stdio);
}

TEST(VsockPipeOptions, EqualsSpelling) {
  auto cl = parse({"--chunk-size=1", "--chunks=64", "--max-connections=65536",
                   "--connect-timeout=86400000", "--half-close=pass", "--linger=3600000",
                   "--allow-cid=7", "--allow-uid=42", "--log-level=warn", "unix:/a", "-"});
  const options& o = cl.opt;
  EXPECT_EQ(o.pump.chunk_size, 1u);
  EXPECT_EQ(o.pump.chunks_in_flight, 64u);
  EXPECT_EQ(o.max_connections, 65536u);
  EXPECT_EQ(o.connect_timeout, 86'400'000ms);
  EXPECT_EQ(o.half_close, "pass");
  EXPECT_EQ(o.pump.linger, 3'600'000ms);
  EXPECT_EQ(o.policy.allowed_cids, (std::vector<std::uint32_t>{7}));
  EXPECT_EQ(o.policy.allowed_uids, (std::vector<uid_t>{42}));
  EXPECT_EQ(o.log_level, "warn");
  EXPECT_TRUE(o.stdio);
  EXPECT_EQ(o.right, "-");
}

TEST(VsockPipeOptions, HelpAndVersion) {
  EXPECT_EQ(parse({"-h"}).what, command_line::action::help);
  EXPECT_EQ(parse({"--help"}).what, command_line::action::help);
  EXPECT_EQ(parse({"--version"}).what, command_line::action::version);
  // Anywhere, and before the addresses are checked...
  EXPECT_EQ(parse({"unix:/a", "--help", "unix:/b", "unix:/c"}).what, command_line::action::help);
  EXPECT_EQ(parse({"--once", "--version"}).what, command_line::action::version);
  // ...but not over an error given before them.
  EXPECT_EQ(error_of({"--bogus", "--help"}), "unknown option --bogus");
  EXPECT_EQ(error_of({"--chunks", "0", "--version"}),
            "--chunks needs a number in 1..64, not \"0\"");
  // The text main prints: the first line, the address forms and the exit statuses.
  const std::string usage = kUsage;
  EXPECT_EQ(usage.rfind("usage: vsock-pipe [OPTIONS] LEFT RIGHT\n", 0), 0u);
  EXPECT_NE(
      usage.find(
          "\n  --allow-cid CID        with listen:vsock, accept only this peer CID (repeatable)\n"),
      std::string::npos);
  EXPECT_TRUE(
      usage.ends_with("\nExit status: 0 when every pump finished cleanly, 1 when one failed, 2 on "
                      "usage errors.\n"));
}

struct bad_case {
  std::vector<const char*> args;
  const char* message;
};

class VsockPipeOptionErrors : public testing::TestWithParam<bad_case> {};

TEST_P(VsockPipeOptionErrors, NameTheOptionAndText) {
  EXPECT_EQ(error_of(GetParam().args), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    All, VsockPipeOptionErrors,
    testing::Values(bad_case{{"unix:/a", "unix:/b", "--chunk-size"}, "--chunk-size needs a value"},
                    bad_case{{"unix:/a", "unix:/b", "--log-level"}, "--log-level needs a value"},
                    bad_case{{"--bogus", "unix:/a", "unix:/b"}, "unknown option --bogus"},
                    bad_case{{"-x", "unix:/a", "unix:/b"}, "unknown option -x"},
                    bad_case{{"--allow-cid", "-1", "unix:/a", "unix:/b"},
                             "--allow-cid needs a number in 0..4294967294, not \"-1\""},
                    bad_case{{"--allow-cid=-1", "unix:/a", "unix:/b"},
                             "--allow-cid needs a number in 0..4294967294, not \"-1\""},
                    // The all-ones CID is "any", never a peer's.
                    bad_case{{"--allow-cid", "4294967295", "unix:/a", "unix:/b"},
                             "--allow-cid needs a number in 0..4294967294, not \"4294967295\""},
                    bad_case{{"--allow-uid", "-1", "unix:/a", "unix:/b"},
                             "--allow-uid needs a number in 0..4294967294, not \"-1\""},
                    bad_case{{"--connect-timeout", "-1", "unix:/a", "unix:/b"},
                             "--connect-timeout needs a number in 1..86400000, not \"-1\""},
                    bad_case{{"--connect-timeout", "0", "unix:/a", "unix:/b"},
                             "--connect-timeout needs a number in 1..86400000, not \"0\""},
                    bad_case{{"--connect-timeout", "86400001", "unix:/a", "unix:/b"},
                             "--connect-timeout needs a number in 1..86400000, not \"86400001\""},
                    bad_case{{"--chunk-size", "0", "unix:/a", "unix:/b"},
                             "--chunk-size needs a number in 1..1048576, not \"0\""},
                    bad_case{{"--chunk-size", "1048577", "unix:/a", "unix:/b"},
                             "--chunk-size needs a number in 1..1048576, not \"1048577\""},
                    bad_case{{"--chunk-size", "4k", "unix:/a", "unix:/b"},
                             "--chunk-size needs a number in 1..1048576, not \"4k\""},
                    bad_case{{"--chunks", "65", "unix:/a", "unix:/b"},
                             "--chunks needs a number in 1..64, not \"65\""},
                    bad_case{{"--max-connections", "0", "unix:/a", "unix:/b"},
                             "--max-connections needs a number in 1..65536, not \"0\""},
                    bad_case{{"--max-connections", "65537", "unix:/a", "unix:/b"},
                             "--max-connections needs a number in 1..65536, not \"65537\""},
                    bad_case{{"--linger", " 5", "unix:/a", "unix:/b"},
                             "--linger needs a number in 1..3600000, not \" 5\""},
                    bad_case{{"--half-close", "sometimes", "unix:/a", "unix:/b"},
                             "--half-close takes auto, pass or linger, not \"sometimes\""},
                    bad_case{{}, "expected two addresses, LEFT and RIGHT"},
                    bad_case{{"unix:/a"}, "expected two addresses, LEFT and RIGHT"},
                    bad_case{{"unix:/a", "unix:/b", "unix:/c"},
                             "expected two addresses, LEFT and RIGHT"},
                    bad_case{{"unix:/a", "listen:unix:/b"}, "only LEFT may be a listen: address"},
                    bad_case{{"-", "unix:/b"}, "standard input/output (-) may only be RIGHT"},
                    bad_case{{"listen:unix:/a", "-"}, "listen: and - cannot be combined"}));

// --linger takes what the pump takes (1 ms..1 h), and the error names the option.
TEST(VsockPipeOptions, LingerOutsideWhatThePumpTakesNamesTheOption) {
  EXPECT_EQ(error_of({"--linger", "0", "unix:/a", "unix:/b"}),
            "--linger needs a number in 1..3600000, not \"0\"");
  EXPECT_EQ(error_of({"--linger", "3600001", "unix:/a", "unix:/b"}),
            "--linger needs a number in 1..3600000, not \"3600001\"");
}

plan plan_of(std::vector<const char*> args) { return make_plan(parse(std::move(args)).opt); }

std::string plan_error_of(std::vector<const char*> args) {
  try {
    plan_of(std::move(args));
  } catch (const usage_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no usage_error";
  return {};
}

TEST(VsockPipePlan, UnixAndTcpPassHalfCloseAndTakeWholeBuffers) {
  auto p = plan_of({"unix:/run/a.sock", "tcp:127.0.0.1:80"});
  EXPECT_EQ(p.left.to_string(), "unix:/run/a.sock");
  EXPECT_EQ(p.right.to_string(), "tcp:127.0.0.1:80");
  EXPECT_EQ(p.opt.pump.half_close_a, half_close::pass);
  EXPECT_EQ(p.opt.pump.half_close_b, half_close::pass);
  EXPECT_FALSE(p.opt.pump.bounded_a);
  EXPECT_FALSE(p.opt.pump.bounded_b);
}

TEST(VsockPipePlan, AutoLingersTowardsHvsockOnly) {
  auto p = plan_of({"listen:vsock:any:9000", "hvsock:/tmp/vm.sock:5000"});
  EXPECT_EQ(p.left.to_string(), "vsock:any:9000");
  EXPECT_EQ(p.opt.pump.half_close_a, half_close::pass);
  EXPECT_EQ(p.opt.pump.half_close_b, half_close::linger);
  EXPECT_TRUE(p.opt.pump.bounded_a);
  EXPECT_TRUE(p.opt.pump.bounded_b);
}

TEST(VsockPipePlan, ExplicitModesAndStdio) {
  auto pass = plan_of({"--half-close", "pass", "hvsock:/tmp/vm.sock:5000", "vsock:3:5555"});
  EXPECT_EQ(pass.opt.pump.half_close_a, half_close::pass);
  EXPECT_EQ(pass.opt.pump.half_close_b, half_close::pass);

  // Standard output passes whatever the mode: closing it is its end of stream.
  auto linger = plan_of({"--half-close", "linger", "unix:/a", "-"});
  EXPECT_EQ(linger.opt.pump.half_close_a, half_close::linger);
  EXPECT_EQ(linger.opt.pump.half_close_b, half_close::pass);
  EXPECT_FALSE(linger.opt.pump.bounded_a);
  EXPECT_FALSE(linger.opt.pump.bounded_b);
  EXPECT_EQ(linger.right, vsocklib::address{});
}

TEST(VsockPipePlan, AddressErrors) {
  EXPECT_EQ(plan_error_of({"vsock:any:5555", "unix:/b"}),
            "vsock:any:5555: CID any is for listening; a connection needs the peer's CID");
  EXPECT_EQ(plan_error_of({"listen:unix:/a", "tcp:127.0.0.1:0"}),
            "tcp:127.0.0.1:0: port 0 is for listening; a connection needs the peer's port");
  const auto bad = plan_error_of({"unix:/a", "nonsense:1"});
  EXPECT_EQ(bad.rfind("bad address \"nonsense:1\": ", 0), 0u) << bad;
  // A listening LEFT may be "any" and port 0.
  EXPECT_NO_THROW(plan_of({"listen:tcp:127.0.0.1:0", "unix:/b"}));
}

// One connection through a listening pipe to an echo peer and back, end of stream passed
// both ways, over Unix sockets in a temporary directory.
asio::awaitable<void> echo_once(asio::local::stream_protocol::acceptor& acceptor) {
  auto s = co_await acceptor.async_accept(asio::use_awaitable);
  std::array<char, 256> buf;
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), vsocklib::use_tuple);
    if (ec) break;
    co_await asio::async_write(s, asio::buffer(buf.data(), n), asio::use_awaitable);
  }
  s.shutdown(unix_socket::shutdown_send);
}

asio::awaitable<void> ask(std::string path, std::string& answer) {
  unix_socket s(co_await asio::this_coro::executor);
  co_await s.async_connect(path, asio::use_awaitable);
  co_await asio::async_write(s, asio::buffer(std::string_view("hello, pipe")), asio::use_awaitable);
  s.shutdown(unix_socket::shutdown_send);
  std::array<char, 256> buf;
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), vsocklib::use_tuple);
    if (ec) break;
    answer.append(buf.data(), n);
  }
}

asio::awaitable<void> pipe_echo_and_client(shared_state& st,
                                           asio::local::stream_protocol::acceptor& acceptor,
                                           std::string listen_path, std::string& answer) {
  using namespace asio::experimental::awaitable_operators;
  // run first: it binds LEFT before its first suspension, so the client finds it.
  co_await (run(st) && echo_once(acceptor) && ask(std::move(listen_path), answer));
}

TEST(VsockPipeRun, OnceThroughUnixSockets) {
  vsocklib::test::temp_dir dir;
  const auto in = dir.file("in.sock");
  const auto out = dir.file("out.sock");
  asio::io_context io(1);
  asio::local::stream_protocol::acceptor acceptor(io, asio::local::stream_protocol::endpoint(out));
  const std::string left = "listen:unix:" + in, right = "unix:" + out;
  shared_state st(io.get_executor(), plan_of({"--once", left.c_str(), right.c_str()}),
                  vsocklib::log::get("vsock-pipe-test"));
  std::string answer;
  ASSERT_TRUE(
      vsocklib::test::run_with_deadline(io, pipe_echo_and_client(st, acceptor, in, answer), 10s));
  EXPECT_EQ(answer, "hello, pipe");
  EXPECT_FALSE(st.failed);
  EXPECT_EQ(st.active, 0u);
}

TEST(VsockPipeRun, LeftThatDoesNotAnswerFails) {
  vsocklib::test::temp_dir dir;
  const std::string left = "unix:" + dir.file("nobody.sock"),
                    right = "unix:" + dir.file("nobody-either.sock");
  asio::io_context io(1);
  shared_state st(io.get_executor(), plan_of({left.c_str(), right.c_str()}),
                  vsocklib::log::get("vsock-pipe-test"));
  ASSERT_TRUE(vsocklib::test::run_with_deadline(io, run(st), 10s));
  EXPECT_TRUE(st.failed);
}

}  // namespace
}  // namespace vsock_pipe
