// The daemon runtime against a stand-in for systemd (a datagram socket as NOTIFY_SOCKET):
// READY, watchdog pings, the status socket, SIGTERM ending it all, and stop() leaving
// nothing behind on the io_context; and the status command's error when nothing answers.
#include "vsocklib/daemon.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include <gtest/gtest.h>
#include <boost/asio/local/datagram_protocol.hpp>

#include "run_coro.hpp"
#include "temp_dir.hpp"
#include "vsocklib/log.hpp"

namespace vsocklib {
namespace {

using datagram = asio::local::datagram_protocol;

struct systemd_env {
  explicit systemd_env(const std::string& notify) {
    ::setenv("NOTIFY_SOCKET", notify.c_str(), 1);
    ::setenv("WATCHDOG_USEC", "20000", 1);  // pings every 10 ms
  }
  ~systemd_env() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
  }
};

// Collects notifications until PRED holds over all received so far.
template <typename Pred>
asio::awaitable<void> receive_until(datagram::socket& s, std::vector<std::string>& got, Pred pred) {
  std::array<char, 512> buf;
  while (!pred(got)) {
    auto [ec, n] = co_await s.async_receive(asio::buffer(buf), use_tuple);
    if (ec) co_return;
    got.emplace_back(buf.data(), n);
  }
}

std::size_t count(const std::vector<std::string>& v, const std::string& what) {
  return static_cast<std::size_t>(std::count(v.begin(), v.end(), what));
}

asio::awaitable<void> lifecycle(datagram::socket& systemd, std::string control,
                                std::vector<std::string>& got, std::string& status,
                                error_code& after_stop) {
  co_await receive_until(systemd, got, [](const auto& v) {
    return count(v, "READY=1\nSTATUS=testing") == 1 && count(v, "WATCHDOG=1") >= 2;
  });
  error_code ec;
  std::tie(ec, status) = co_await async_query_control(control);
  EXPECT_FALSE(ec) << ec.message();
  ::kill(::getpid(), SIGTERM);
  co_await receive_until(systemd, got, [](const auto& v) { return count(v, "STOPPING=1") == 1; });
  std::string ignored;
  std::tie(after_stop, ignored) = co_await async_query_control(control);
}

// The runtime beside the test's client, as a daemon runs it beside its work.
asio::awaitable<void> run_beside(daemon_runtime& rt, bool& work_stopped,
                                 asio::awaitable<void> client) {
  using namespace asio::experimental::awaitable_operators;
  // Built outside the co_await expression (GCC 12 and temporaries in coroutines).
  auto runtime = rt.run([] { return std::string("{\"ok\": true}\n"); },
                        [&work_stopped] { work_stopped = true; }, "testing");
  co_await (std::move(runtime) && std::move(client));
}

TEST(DaemonRuntime, NotifiesServesStatusAndStopsOnSigterm) {
  test::temp_dir dir;
  asio::io_context io;
  datagram::socket systemd(io, datagram::endpoint(dir.file("notify")));
  systemd_env env(dir.file("notify"));
  const auto control = dir.file("ctl.sock");
  daemon_runtime rt(io, control, log::get("test"));
  bool work_stopped = false;
  std::vector<std::string> got;
  std::string status;
  error_code after_stop;
  // Also shows that run() returns after the signal.
  ASSERT_TRUE(test::run_with_deadline(
      io, run_beside(rt, work_stopped, lifecycle(systemd, control, got, status, after_stop))));
  EXPECT_EQ(status, "{\"ok\": true}\n");
  EXPECT_TRUE(work_stopped);
  EXPECT_TRUE(after_stop) << "the status socket still answered after the stop";
  EXPECT_EQ(count(got, "READY=1\nSTATUS=testing"), 1u);
}

asio::awaitable<void> query_then_stop(daemon_runtime& rt, std::string control,
                                      std::string& status) {
  error_code ec;
  std::tie(ec, status) = co_await async_query_control(control);
  EXPECT_FALSE(ec) << ec.message();
  rt.stop();
}

TEST(DaemonRuntime, StopEndsEverythingItStarted) {
  test::temp_dir dir;
  asio::io_context io;
  datagram::socket systemd(io, datagram::endpoint(dir.file("notify")));
  systemd_env env(dir.file("notify"));  // the watchdog loop runs too
  const auto control = dir.file("ctl.sock");
  daemon_runtime rt(io, control, log::get("test"));
  bool ended = false, work_stopped = false;
  std::string status;
  asio::co_spawn(io, run_beside(rt, work_stopped, query_then_stop(rt, control, status)),
                 [&](std::exception_ptr e) {
                   EXPECT_FALSE(e);
                   ended = true;
                 });
  // Not stopped by the test: run() returns only when the io_context has run out of work.
  io.run_for(std::chrono::seconds(20));
  EXPECT_TRUE(io.stopped()) << "something the runtime started was still pending";
  EXPECT_TRUE(ended);
  EXPECT_FALSE(work_stopped) << "on_stop is for signals: the work ended by itself";
  EXPECT_EQ(status, "{\"ok\": true}\n");
  EXPECT_FALSE(std::filesystem::exists(control)) << "the status socket's file stayed";
}

asio::awaitable<void> run_until_cancelled(daemon_runtime& rt, std::chrono::milliseconds after) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer t(co_await asio::this_coro::executor, after);
  auto runtime = rt.run([] { return std::string("{}\n"); }, [] {}, "testing");
  co_await (std::move(runtime) || t.async_wait(use_tuple));  // the timer cancels run()
}

TEST(DaemonRuntime, CancellingRunStopsIt) {
  test::temp_dir dir;
  asio::io_context io;
  datagram::socket systemd(io, datagram::endpoint(dir.file("notify")));
  systemd_env env(dir.file("notify"));
  const auto control = dir.file("ctl.sock");
  daemon_runtime rt(io, control, log::get("test"));
  bool ended = false;
  asio::co_spawn(io, run_until_cancelled(rt, std::chrono::milliseconds(30)),
                 [&](std::exception_ptr e) {
                   EXPECT_FALSE(e);
                   ended = true;
                 });
  io.run_for(std::chrono::seconds(20));
  EXPECT_TRUE(io.stopped()) << "something the runtime started was still pending";
  EXPECT_TRUE(ended);
  EXPECT_FALSE(std::filesystem::exists(control)) << "the status socket's file stayed";
}

// The work of a daemon for run_with: ends when stopped, or fails after a while.
struct test_work {
  asio::steady_timer timer;
  bool fail = false;
  bool stopped = false;
  void stop() {
    stopped = true;
    timer.cancel();
  }
};

asio::awaitable<void> work_until_stopped(test_work* w) {
  co_await asio::this_coro::throw_if_cancelled(false);
  co_await w->timer.async_wait(use_tuple);
  if (w->fail) throw std::runtime_error("the work failed");
}

asio::awaitable<void> run_daemon(daemon_runtime& rt, test_work& w) {
  co_await rt.run_with(
      work_until_stopped(&w), [&w] { w.stop(); }, [] { return std::string("{}\n"); }, "testing");
}

// A failing work stops the runtime (its status socket goes); the failure comes out of
// run_with once both have ended. Work that ends by itself ends the runtime too.
TEST(DaemonRuntime, RunWithEndsTheRuntimeWithTheWorkAndRethrowsItsFailure) {
  for (const bool fail : {true, false}) {
    test::temp_dir dir;
    asio::io_context io;
    const auto control = dir.file("ctl.sock");
    daemon_runtime rt(io, control, log::get("test"));
    test_work w{asio::steady_timer(io, std::chrono::milliseconds(30)), fail};
    std::exception_ptr failure;
    bool ended = false;
    asio::co_spawn(io, run_daemon(rt, w), [&](std::exception_ptr e) {
      failure = e;
      ended = true;
    });
    io.run_for(std::chrono::seconds(20));
    EXPECT_TRUE(io.stopped()) << "something was still pending (fail " << fail << ")";
    EXPECT_TRUE(ended);
    EXPECT_EQ(failure != nullptr, fail);
    EXPECT_EQ(w.stopped, fail) << "stop_work is for a failure or a signal";
    EXPECT_FALSE(std::filesystem::exists(control)) << "the status socket's file stayed";
  }
}

TEST(DaemonRuntime, WithoutSystemdNothingIsSent) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(sd_notify("READY=1"));
  ::setenv("WATCHDOG_USEC", "0", 1);
  EXPECT_EQ(watchdog_interval().count(), 0);
  ::unsetenv("WATCHDOG_USEC");
  EXPECT_EQ(watchdog_interval().count(), 0);
}

TEST(DaemonRuntime, StatusCommandNamesEveryPathThatDidNotAnswer) {
  test::temp_dir dir;
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  const int rc = print_status("prog", "endpoint", {dir.file("a.sock"), dir.file("b.sock")});
  testing::internal::GetCapturedStdout();
  const auto err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("prog: no endpoint answers on " + dir.file("a.sock") + ": "),
            std::string::npos);
  EXPECT_NE(err.find("prog: no endpoint answers on " + dir.file("b.sock") + ": "),
            std::string::npos);
}

}  // namespace
}  // namespace vsocklib
