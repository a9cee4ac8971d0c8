// The daemon runtime against a stand-in for systemd (a datagram socket as NOTIFY_SOCKET):
// READY, watchdog pings, the status socket, and SIGTERM ending it all; and the status
// command's error when nothing answers.
#include "vsocklib/daemon.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

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

TEST(DaemonRuntime, NotifiesServesStatusAndStopsOnSigterm) {
  test::temp_dir dir;
  asio::io_context io;
  datagram::socket systemd(io, datagram::endpoint(dir.file("notify")));
  systemd_env env(dir.file("notify"));
  const auto control = dir.file("ctl.sock");
  daemon_runtime rt(io, control, log::get("test"));
  bool work_stopped = false;
  rt.start([] { return std::string("{\"ok\": true}\n"); }, [&] { work_stopped = true; }, "testing");
  std::vector<std::string> got;
  std::string status;
  error_code after_stop;
  ASSERT_TRUE(test::run_with_deadline(io, lifecycle(systemd, control, got, status, after_stop)));
  EXPECT_EQ(status, "{\"ok\": true}\n");
  EXPECT_TRUE(work_stopped);
  EXPECT_TRUE(after_stop) << "the status socket still answered after the stop";
  EXPECT_EQ(count(got, "READY=1\nSTATUS=testing"), 1u);
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
