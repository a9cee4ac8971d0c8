// vsocklib::task_group: join() waits for every task, also those spawned while it waits,
// rethrows the first failure after the others have ended, and a cancelled join keeps
// waiting (nothing may outlive the group); cancel_all() ends tasks that run until
// cancelled, and a failed task stops the others through on_failure (a daemon's rule:
// adbd-relay's tasks); the cancellation cancel_all() asked for is not a failure;
// stop_all_on_failure stops the siblings of a part that throws.
#include "vsocklib/task_group.hpp"

#include <memory>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "run_coro.hpp"

namespace vsocklib {
namespace {

using namespace std::chrono_literals;

asio::awaitable<void> sleep_then(std::chrono::milliseconds d, std::vector<int>* log, int id) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_tuple);
  log->push_back(id);
}

asio::awaitable<void> fail_after(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_tuple);
  throw std::runtime_error("part failed");
}

TEST(TaskGroup, JoinWaitsForTasksSpawnedBeforeAndWhileItWaits) {
  asio::io_context io;
  std::vector<int> ended;
  ASSERT_TRUE(test::run_with_deadline(io, [](std::vector<int>* ended) -> asio::awaitable<void> {
    task_group g(co_await asio::this_coro::executor);
    g.spawn(sleep_then(20ms, ended, 1));
    g.spawn([](task_group* g, std::vector<int>* ended) -> asio::awaitable<void> {
      co_await sleep_then(10ms, ended, 2);
      g->spawn(sleep_then(30ms, ended, 3));  // while join() already waits
    }(&g, ended));
    EXPECT_EQ(g.size(), 2u);
    co_await g.join();
    EXPECT_EQ(g.size(), 0u);
  }(&ended)));
  EXPECT_EQ(ended, (std::vector<int>{2, 1, 3}));
}

TEST(TaskGroup, TheFirstFailureIsRethrownOnceTheOthersHaveEnded) {
  asio::io_context io;
  std::vector<int> ended;
  int failures_seen = 0;
  std::string what;
  ASSERT_TRUE(test::run_with_deadline(
      io, [](std::vector<int>* ended, int* seen, std::string* what) -> asio::awaitable<void> {
        task_group g(co_await asio::this_coro::executor, [seen] { ++*seen; });
        g.spawn(fail_after(5ms));
        g.spawn(sleep_then(30ms, ended, 1));
        try {
          co_await g.join();
        } catch (const std::runtime_error& e) {
          *what = e.what();
        }
      }(&ended, &failures_seen, &what)));
  EXPECT_EQ(what, "part failed");
  EXPECT_EQ(failures_seen, 1);
  EXPECT_EQ(ended, (std::vector<int>{1})) << "join returned before a sibling ended";
}

TEST(TaskGroup, ACancelledJoinStillWaitsForItsTasks) {
  asio::io_context io;
  std::vector<int> ended;
  ASSERT_TRUE(test::run_with_deadline(io, [](std::vector<int>* ended) -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    task_group g(co_await asio::this_coro::executor);
    g.spawn(sleep_then(40ms, ended, 1));
    asio::steady_timer soon(co_await asio::this_coro::executor, 5ms);
    co_await (g.join() || soon.async_wait(use_tuple));  // join is cancelled at 5 ms
    ended->push_back(0);
  }(&ended)));
  EXPECT_EQ(ended, (std::vector<int>{1, 0}));
}

asio::awaitable<void> fail_with(std::chrono::milliseconds d, error_code ec) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_tuple);
  throw boost::system::system_error(ec);
}

// Waits on a timer the way tasks that run until cancelled do: an exception ends it.
asio::awaitable<void> wait_until_cancelled(std::vector<int>* log, int id) {
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(1));
  co_await t.async_wait(asio::use_awaitable);
  log->push_back(id);  // not reached: the wait ends by cancellation
}

TEST(TaskGroup, CancelAllEndsTasksWaitingOnATimerAndJoinReturnsWhenAllEnded) {
  asio::io_context io;
  std::vector<int> ended;
  int failures_seen = 0;
  ASSERT_TRUE(
      test::run_with_deadline(io, [](std::vector<int>* ended, int* seen) -> asio::awaitable<void> {
        task_group g(co_await asio::this_coro::executor, [seen] { ++*seen; });
        g.spawn(wait_until_cancelled(ended, 1));
        g.spawn(wait_until_cancelled(ended, 2));
        g.spawn(sleep_then(std::chrono::milliseconds(20), ended, 3));
        asio::steady_timer soon(co_await asio::this_coro::executor, std::chrono::milliseconds(5));
        co_await soon.async_wait(use_tuple);
        g.cancel_all();
        g.spawn(sleep_then(std::chrono::milliseconds(10), ended, 4));  // after cancel_all: runs
        co_await g.join();                                             // no failure to rethrow
        EXPECT_EQ(g.size(), 0u);
        g.cancel_all();  // nothing left to cancel
      }(&ended, &failures_seen)));
  // Task 3 takes its cancelled wait as a value and ends its own way, at once; 1 and 2 end
  // with the exception; 4 runs to its end.
  EXPECT_EQ(ended, (std::vector<int>{3, 4}));
  EXPECT_EQ(failures_seen, 0) << "cancellation counted as a failure";
  EXPECT_EQ(io.run(), 0u) << "the group left work on the io_context";
}

TEST(TaskGroup, AFailedTaskStopsTheOthersThroughOnFailure) {
  asio::io_context io;
  std::vector<int> ended;
  std::string what;
  ASSERT_TRUE(test::run_with_deadline(
      io, [](std::vector<int>* ended, std::string* what) -> asio::awaitable<void> {
        task_group* self = nullptr;
        task_group g(co_await asio::this_coro::executor, [&self] { self->cancel_all(); });
        self = &g;
        g.spawn(wait_until_cancelled(ended, 1));
        g.spawn(wait_until_cancelled(ended, 2));
        g.spawn(fail_after(std::chrono::milliseconds(5)));
        try {
          co_await g.join();
        } catch (const std::runtime_error& e) {
          *what = e.what();
        }
        EXPECT_EQ(g.size(), 0u);
      }(&ended, &what)));
  EXPECT_EQ(what, "part failed");
  EXPECT_TRUE(ended.empty());
}

// Ends badly when cancelled: its clean-up throws.
asio::awaitable<void> fail_when_cancelled() {
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(1));
  co_await t.async_wait(use_tuple);
  throw std::runtime_error("clean-up failed");
}

TEST(TaskGroup, OnlyTheCancellationCancelAllAskedForIsNotAFailure) {
  asio::io_context io;
  int failures_seen = 0;
  error_code unasked;
  std::string what;
  ASSERT_TRUE(test::run_with_deadline(
      io, [](int* seen, error_code* unasked, std::string* what) -> asio::awaitable<void> {
        {
          // operation_aborted that no cancel_all() asked for: a failure like any other.
          task_group g(co_await asio::this_coro::executor, [seen] { ++*seen; });
          g.spawn(fail_with(std::chrono::milliseconds(1), asio::error::operation_aborted));
          try {
            co_await g.join();
          } catch (const boost::system::system_error& e) {
            *unasked = e.code();
          }
        }
        // Cancelled, but ending with another exception: a failure.
        task_group g(co_await asio::this_coro::executor, [seen] { ++*seen; });
        g.spawn(wait_until_cancelled(nullptr, 0));
        g.spawn(fail_when_cancelled());
        g.cancel_all();
        try {
          co_await g.join();
        } catch (const std::runtime_error& e) {
          *what = e.what();
        }
      }(&failures_seen, &unasked, &what)));
  EXPECT_EQ(unasked, asio::error::operation_aborted);
  EXPECT_EQ(what, "clean-up failed");
  EXPECT_EQ(failures_seen, 2);
}

TEST(TaskGroup, StopAllOnFailureStopsTheSiblingsAndRethrows) {
  asio::io_context io;
  bool stopped = false, caught = false;
  ASSERT_TRUE(test::run_with_deadline(io, [](bool* stopped, bool* caught) -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer sibling(co_await asio::this_coro::executor, std::chrono::hours(1));
    auto wait_sibling = [](asio::steady_timer* t) -> asio::awaitable<void> {
      co_await t->async_wait(use_tuple);
    };
    try {
      co_await (stop_all_on_failure(fail_after(5ms),
                                    [&] {
                                      *stopped = true;
                                      sibling.cancel();
                                    }) &&
                wait_sibling(&sibling));
    } catch (const std::runtime_error&) {
      *caught = true;
    }
  }(&stopped, &caught)));
  EXPECT_TRUE(stopped);
  EXPECT_TRUE(caught);
}

asio::awaitable<void> two_logged_tasks(std::shared_ptr<spdlog::logger> log, bool& thrown) {
  auto ex = co_await asio::this_coro::executor;
  task_group group(ex);
  group.spawn(logged_task(fail_after(std::chrono::milliseconds(1)), "guest a", log));
  group.spawn(logged_task(fail_with(std::chrono::milliseconds(1), asio::error::operation_aborted),
                          "guest b", log));
  try {
    co_await group.join();
  } catch (const std::runtime_error&) {
    thrown = true;
  }
}

// A task's failure is logged under its name and still reaches join(); a cancelled task
// (operation_aborted) ends without a word and without failing.
TEST(TaskGroup, LoggedTaskNamesTheFailureAndIgnoresCancellation) {
  std::ostringstream out;
  auto log = std::make_shared<spdlog::logger>(
      "captured", std::make_shared<spdlog::sinks::ostream_sink_st>(out));
  log->set_pattern("%v");
  asio::io_context io;
  bool thrown = false;
  ASSERT_TRUE(test::run_with_deadline(io, two_logged_tasks(log, thrown)));
  EXPECT_TRUE(thrown);
  EXPECT_NE(out.str().find("[guest a] "), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find("[guest b]"), std::string::npos) << out.str();
}

}  // namespace
}  // namespace vsocklib
