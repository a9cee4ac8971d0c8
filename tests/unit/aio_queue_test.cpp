// aio_queue (the FunctionFS transfer queue) over a fake Linux AIO: the test completes,
// fails or refuses each transfer, as FunctionFS does when the PC goes away. What is
// checked is the rule that keeps the relay's one thread out of the kernel: a transfer that
// failed is not submitted again (except EPIPE, a cleared halt), a refused submission is
// reported as the endpoint being shut down, and after a failure no call reaches the kernel.
// (That a disabled endpoint refuses instead of sleeping is FunctionFS with O_NONBLOCK:
// proven in the lab, ctest -R adbd_relay.unplug.)
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <string>

#include <gtest/gtest.h>

#include "adbd_relay/aio_queue.hpp"
#include "run_coro.hpp"

namespace adbd_relay {
namespace {

using namespace std::chrono_literals;

// Transfers stay "in the kernel" until the test completes them, oldest first (a UDC
// completes requests in order).
class fake_aio final : public aio_syscalls {
 public:
  int refuse_submit = 0;  ///< errno for every submission from now on; 0 accepts
  int submits = 0;        ///< submissions accepted or refused
  int cancels = 0;

  long setup(unsigned, aio_context_t* ctx) override {
    *ctx = 1;
    return 0;
  }
  long destroy(aio_context_t) override { return 0; }
  long submit(aio_context_t, long n, iocb** cbs) override {
    ++submits;
    if (refuse_submit != 0) {
      errno = refuse_submit;
      return -1;
    }
    for (long k = 0; k < n; ++k) queued_.push_back(cbs[k]);
    return n;
  }
  long cancel(aio_context_t, iocb* cb, io_event*) override {
    ++cancels;
    for (auto it = queued_.begin(); it != queued_.end(); ++it) {
      if (*it != cb) continue;
      queued_.erase(it);
      finish(cb, -ECONNRESET);  // what FunctionFS completes a cancelled request with
      break;
    }
    return 0;
  }
  long getevents(aio_context_t, long, long max, io_event* events, timespec*) override {
    long n = 0;
    while (n < max && !done_.empty()) {
      events[n++] = done_.front();
      done_.pop_front();
    }
    return n;
  }

  std::size_t in_flight() const { return queued_.size(); }

  /// Completes the oldest transfer: RESULT bytes (a read gets DATA), or -errno.
  void complete(long result, const std::string& data = {}) {
    ASSERT_FALSE(queued_.empty()) << "no transfer in flight";
    iocb* cb = queued_.front();
    queued_.pop_front();
    if (!data.empty()) std::memcpy(reinterpret_cast<void*>(cb->aio_buf), data.data(), data.size());
    finish(cb, result);
  }
  /// What the oldest write carried.
  std::string oldest_written() const {
    const iocb* cb = queued_.front();
    return std::string(reinterpret_cast<const char*>(cb->aio_buf), cb->aio_nbytes);
  }

 private:
  void finish(iocb* cb, long result) {
    done_.push_back(io_event{cb->aio_data, reinterpret_cast<std::uint64_t>(cb), result, 0});
    const std::uint64_t one = 1;
    ASSERT_EQ(::write(static_cast<int>(cb->aio_resfd), &one, sizeof one), 8);
  }

  std::deque<iocb*> queued_;
  std::deque<io_event> done_;
};

// The queue owns a file; these tests never use it.
vsocklib::unique_fd dummy_file() { return vsocklib::unique_fd(::eventfd(0, EFD_CLOEXEC)); }

constexpr std::size_t kSlot = 512;
constexpr std::size_t kDepth = 4;

struct read_result {
  error_code ec;
  std::size_t n = 0;
  std::string data;
};

asio::awaitable<void> read_one(aio_queue& q, read_result& out) {
  char buf[kSlot];
  auto [ec, n] = co_await q.async_read(asio::buffer(buf));
  out = {ec, n, std::string(buf, n)};
}

asio::awaitable<void> write_one(aio_queue& q, std::string data, error_code& out) {
  auto [ec, n] = co_await q.async_write(asio::buffer(data));
  out = ec;
}

// Runs AW to completion on IO (which an earlier run may have stopped).
bool run(asio::io_context& io, asio::awaitable<void> aw) {
  io.restart();
  return vsocklib::test::run_with_deadline(io, std::move(aw), 1s);
}

// Starts a read, lets it wait for the kernel, completes the oldest transfer, and returns
// what the read got.
read_result read_after(asio::io_context& io, aio_queue& q, fake_aio& aio, long result,
                       const std::string& data = {}) {
  read_result r;
  bool done = false;
  asio::co_spawn(io, read_one(q, r), [&](std::exception_ptr) { done = true; });
  io.restart();
  io.run_for(20ms);  // the read submits and waits on the eventfd
  if (!done) aio.complete(result, data);
  io.restart();
  io.run_for(1s);
  EXPECT_TRUE(done);
  return r;
}

const error_code kShutdown(ESHUTDOWN, asio::error::get_system_category());

TEST(aio_queue, reads_in_order_and_keeps_every_slot_queued) {
  asio::io_context io;
  fake_aio aio;
  aio_queue q(io.get_executor(), dummy_file(), false, kSlot, kDepth, aio);
  auto r = read_after(io, q, aio, 5, "hello");
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(r.data, "hello");
  EXPECT_EQ(aio.in_flight(), kDepth);  // the slot went back at once
  r = read_after(io, q, aio, 2, "ok");
  EXPECT_EQ(r.data, "ok");
}

TEST(aio_queue, a_read_that_failed_is_not_submitted_again) {
  asio::io_context io;
  fake_aio aio;
  aio_queue q(io.get_executor(), dummy_file(), false, kSlot, kDepth, aio);
  // The PC disabled the function: FunctionFS completes the requests with -ESHUTDOWN.
  auto r = read_after(io, q, aio, -ESHUTDOWN);
  EXPECT_EQ(r.ec, kShutdown);
  const int submits = aio.submits;
  EXPECT_EQ(aio.in_flight(), kDepth - 1);  // not resubmitted
  // Every later read reports the same failure without a system call.
  read_result again;
  ASSERT_TRUE(run(io, read_one(q, again)));
  EXPECT_EQ(again.ec, kShutdown);
  EXPECT_EQ(aio.submits, submits);
}

TEST(aio_queue, a_cleared_halt_is_resubmitted) {
  asio::io_context io;
  fake_aio aio;
  aio_queue q(io.get_executor(), dummy_file(), false, kSlot, kDepth, aio);
  auto r = read_after(io, q, aio, -EPIPE);
  EXPECT_EQ(r.ec, error_code(EPIPE, asio::error::get_system_category()));
  EXPECT_EQ(aio.in_flight(), kDepth);
  r = read_after(io, q, aio, 3, "abc");
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(r.data, "abc");
}

TEST(aio_queue, a_refused_read_submission_is_a_shut_down_endpoint) {
  asio::io_context io;
  fake_aio aio;
  aio_queue q(io.get_executor(), dummy_file(), false, kSlot, kDepth, aio);
  // An O_NONBLOCK endpoint file that is not enabled: io_submit fails with EAGAIN.
  aio.refuse_submit = EAGAIN;
  read_result r;
  ASSERT_TRUE(run(io, read_one(q, r)));
  EXPECT_EQ(r.ec, kShutdown);
  EXPECT_EQ(aio.submits, 1);
  aio.refuse_submit = 0;  // enabled again: still nothing is submitted by this queue
  ASSERT_TRUE(run(io, read_one(q, r)));
  EXPECT_EQ(r.ec, kShutdown);
  EXPECT_EQ(aio.submits, 1);
}

TEST(aio_queue, a_read_refused_on_resubmission_reports_it) {
  asio::io_context io;
  fake_aio aio;
  aio_queue q(io.get_executor(), dummy_file(), false, kSlot, kDepth, aio);
  // The data arrived, then the PC left before the slot went back.
  bool done = false;
  read_result r;
  asio::co_spawn(io, read_one(q, r), [&](std::exception_ptr) { done = true; });
  io.run_for(20ms);
  aio.refuse_submit = EAGAIN;
  aio.complete(4, "last");
  io.restart();
  io.run_for(1s);
  ASSERT_TRUE(done);
  EXPECT_EQ(r.ec, kShutdown);  // the session ends; the bytes were the PC's last
}

TEST(aio_queue, writes_queue_until_every_slot_is_in_flight) {
  asio::io_context io;
  fake_aio aio;
  aio_queue q(io.get_executor(), dummy_file(), true, kSlot, 2, aio);
  error_code ec;
  ASSERT_TRUE(run(io, write_one(q, "one", ec)));
  ASSERT_TRUE(run(io, write_one(q, "two", ec)));
  EXPECT_FALSE(ec);
  EXPECT_EQ(aio.in_flight(), 2u);
  EXPECT_EQ(aio.oldest_written(), "one");
  // A third waits for the oldest to finish.
  bool done = false;
  asio::co_spawn(io, write_one(q, "three", ec), [&](std::exception_ptr) { done = true; });
  io.restart();
  io.run_for(20ms);
  EXPECT_FALSE(done);
  aio.complete(3);
  io.restart();
  io.run_for(1s);
  EXPECT_TRUE(done);
  EXPECT_FALSE(ec);
}

// What the session's read-stall watch samples: bytes queued, and bytes of finished
// transfers. Sampling collects completions without retiring slots, so a write waiting for
// a free slot still wakes for the completion the sample saw first.
TEST(aio_queue, progress_counts_queued_and_taken_bytes_without_stealing_a_wakeup) {
  asio::io_context io;
  fake_aio aio;
  aio_queue q(io.get_executor(), dummy_file(), true, kSlot, 2, aio);
  EXPECT_EQ(q.progress().queued, 0u);
  error_code ec;
  ASSERT_TRUE(run(io, write_one(q, "one", ec)));
  ASSERT_TRUE(run(io, write_one(q, "two!", ec)));
  auto p = q.progress();
  EXPECT_EQ(p.queued, 7u);
  EXPECT_EQ(p.taken, 0u);
  bool done = false;
  asio::co_spawn(io, write_one(q, "three", ec), [&](std::exception_ptr) { done = true; });
  io.restart();
  io.run_for(20ms);
  EXPECT_FALSE(done);
  aio.complete(3);
  p = q.progress();  // sees the completion before the waiting write does
  EXPECT_EQ(p.taken, 3u);
  io.restart();
  io.run_for(1s);
  EXPECT_TRUE(done);
  EXPECT_FALSE(ec);
  p = q.progress();
  EXPECT_EQ(p.queued, 12u);
  EXPECT_EQ(p.taken, 3u);
}

TEST(aio_queue, after_a_failed_write_nothing_more_is_submitted) {
  asio::io_context io;
  fake_aio aio;
  aio_queue q(io.get_executor(), dummy_file(), true, kSlot, kDepth, aio);
  error_code ec;
  ASSERT_TRUE(run(io, write_one(q, "a", ec)));
  aio.complete(-ESHUTDOWN);
  const int submits = aio.submits;
  ASSERT_TRUE(run(io, write_one(q, "b", ec)));
  EXPECT_EQ(ec, kShutdown);
  ASSERT_TRUE(run(io, write_one(q, "c", ec)));
  EXPECT_EQ(ec, kShutdown);
  EXPECT_EQ(aio.submits, submits);
}

TEST(aio_queue, a_refused_write_sticks) {
  asio::io_context io;
  fake_aio aio;
  aio_queue q(io.get_executor(), dummy_file(), true, kSlot, kDepth, aio);
  aio.refuse_submit = EAGAIN;
  error_code ec;
  ASSERT_TRUE(run(io, write_one(q, "a", ec)));
  EXPECT_EQ(ec, kShutdown);
  aio.refuse_submit = 0;
  ASSERT_TRUE(run(io, write_one(q, "b", ec)));
  EXPECT_EQ(ec, kShutdown);
  EXPECT_EQ(aio.submits, 1);
}

TEST(aio_queue, cancel_ends_a_waiting_read_and_dequeues_every_transfer) {
  asio::io_context io;
  fake_aio aio;
  aio_queue q(io.get_executor(), dummy_file(), false, kSlot, kDepth, aio);
  bool done = false;
  read_result r;
  asio::co_spawn(io, read_one(q, r), [&](std::exception_ptr) { done = true; });
  io.run_for(20ms);
  q.cancel();
  io.restart();
  io.run_for(1s);
  ASSERT_TRUE(done);
  EXPECT_EQ(r.ec, asio::error::operation_aborted);
  EXPECT_EQ(aio.cancels, static_cast<int>(kDepth));
  EXPECT_EQ(aio.in_flight(), 0u);
}

TEST(aio_queue, refuses_a_depth_out_of_range) {
  asio::io_context io;
  fake_aio aio;
  EXPECT_THROW(aio_queue(io.get_executor(), dummy_file(), false, kSlot, 0, aio), std::system_error);
  EXPECT_THROW(
      aio_queue(io.get_executor(), dummy_file(), false, kSlot, aio_queue::kMaxDepth + 1, aio),
      std::system_error);
}

// A queue that cannot start must not keep the endpoint file: FunctionFS unbinds only once
// every file of the function is closed.
TEST(aio_queue, a_queue_that_cannot_start_closes_its_file) {
  asio::io_context io;
  fake_aio aio;
  vsocklib::unique_fd file = dummy_file();
  const int raw = file.get();
  EXPECT_THROW(aio_queue(io.get_executor(), std::move(file), false, kSlot, 0, aio),
               std::system_error);
  errno = 0;
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

}  // namespace
}  // namespace adbd_relay
