// vsocklib::task_group: join() waits for every task, also those spawned while it waits,
// rethrows the first failure after the others have ended, and a cancelled join keeps
// waiting (nothing may outlive the group); stop_all_on_failure stops the siblings of a
// part that throws.
#include "vsocklib/task_group.hpp"

#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace vsocklib
