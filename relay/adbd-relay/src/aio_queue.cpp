#include "adbd_relay/aio_queue.hpp"

#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace adbd_relay {
namespace {

class linux_aio final : public aio_syscalls {
 public:
  long setup(unsigned nr, aio_context_t* ctx) override { return ::syscall(SYS_io_setup, nr, ctx); }
  long destroy(aio_context_t ctx) override { return ::syscall(SYS_io_destroy, ctx); }
  long submit(aio_context_t ctx, long n, iocb** cbs) override {
    return ::syscall(SYS_io_submit, ctx, n, cbs);
  }
  long cancel(aio_context_t ctx, iocb* cb, io_event* ev) override {
    return ::syscall(SYS_io_cancel, ctx, cb, ev);
  }
  long getevents(aio_context_t ctx, long min, long max, io_event* ev, timespec* t) override {
    return ::syscall(SYS_io_getevents, ctx, min, max, ev, t);
  }
};

error_code system_error_code(int err) {
  return error_code(err, asio::error::get_system_category());
}

}  // namespace

aio_syscalls& aio_syscalls::system() {
  static linux_aio instance;
  return instance;
}

aio_queue::aio_queue(asio::any_io_executor ex, vsocklib::unique_fd fd, bool in, std::size_t slot,
                     std::size_t depth, aio_syscalls& sys)
    : sys_(sys),
      fd_(std::move(fd)),
      in_(in),
      slot_size_(slot),
      storage_(slot * depth),
      slots_(depth),
      event_(ex) {
  auto give_up = [](const std::string& what, int err) {
    return std::system_error(err, std::generic_category(), what);
  };
  if (depth == 0 || depth > kMaxDepth) {
    throw give_up("USB transfers in flight must be 1.." + std::to_string(kMaxDepth), EINVAL);
  }
  vsocklib::unique_fd efd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!efd) throw give_up("eventfd for USB transfers", errno);
  event_.assign(efd.get());
  // The stream descriptor owns it from here (assign throws before taking it).
  static_cast<void>(efd.release());
  if (sys_.setup(static_cast<unsigned>(depth), &ctx_) < 0) {
    throw give_up("io_setup for " + std::to_string(depth) + " USB transfers", errno);
  }
}

aio_queue::~aio_queue() {
  cancel();
  // Waits for every transfer still in the kernel, which may be writing into storage_.
  // After cancel FunctionFS has dequeued them all, so this waits for nothing the PC does.
  // The endpoint file (a member) is closed only after this, never under a live transfer.
  sys_.destroy(ctx_);
}

asio::awaitable<std::tuple<error_code, std::size_t>> aio_queue::async_read(
    asio::mutable_buffer buf) {
  if (failed_) co_return std::tuple{failed_, std::size_t{0}};
  if (!started_) {  // first read: fill the queue
    started_ = true;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (auto ec = submit(i, slot_size_)) co_return std::tuple{fail(ec), std::size_t{0}};
    }
  }
  if (auto ec = co_await wait_oldest()) co_return std::tuple{ec, std::size_t{0}};
  const std::size_t i = head_;
  const long r = slots_[i].result;
  --used_;
  head_ = (head_ + 1) % slots_.size();
  if (r < 0) {
    const error_code ec = system_error_code(static_cast<int>(-r));
    // EPIPE: the PC cleared a halt; the endpoint is still enabled and the transfer can be
    // queued again. Any other failure (ESHUTDOWN when the PC disabled the function,
    // ECONNRESET when cancelled) means the endpoint is gone: resubmitting would fail or,
    // worse, queue this session's read on the next enablement.
    if (r != -EPIPE) co_return std::tuple{fail(ec), std::size_t{0}};
    if (auto sec = submit(i, slot_size_)) co_return std::tuple{fail(sec), std::size_t{0}};
    co_return std::tuple{ec, std::size_t{0}};
  }
  const std::size_t n = std::min(static_cast<std::size_t>(r), buf.size());
  std::memcpy(buf.data(), data(i), n);
  // Resubmitted at the tail, which in a full ring is this slot's own place.
  if (auto ec = submit(i, slot_size_)) co_return std::tuple{fail(ec), std::size_t{0}};
  co_return std::tuple{error_code{}, n};
}

asio::awaitable<std::tuple<error_code, std::size_t>> aio_queue::async_write(
    asio::const_buffer buf) {
  if (buf.size() > slot_size_)
    co_return std::tuple{error_code(asio::error::message_size), std::size_t{0}};
  for (;;) {
    if (failed_) co_return std::tuple{failed_, std::size_t{0}};
    reap();
    if (failed_) co_return std::tuple{failed_, std::size_t{0}};
    if (used_ < slots_.size()) break;
    if (auto ec = co_await wait_oldest()) co_return std::tuple{ec, std::size_t{0}};
  }
  const std::size_t i = (head_ + used_) % slots_.size();
  std::memcpy(data(i), buf.data(), buf.size());
  if (auto ec = submit(i, buf.size())) co_return std::tuple{fail(ec), std::size_t{0}};
  progress_.queued += buf.size();
  co_return std::tuple{error_code{}, buf.size()};
}

write_progress aio_queue::progress() {
  // Marks finished slots only: async_write and wait_oldest retire them in their own order.
  collect();
  return progress_;
}

void aio_queue::cancel() {
  if (cancelled_) return;
  cancelled_ = true;
  for (auto& s : slots_) {
    io_event ev{};
    if (s.in_flight) sys_.cancel(ctx_, &s.cb, &ev);
  }
  error_code ignored;
  event_.cancel(ignored);
}

// The first failure sticks: later transfers report it without touching the kernel.
error_code aio_queue::fail(error_code ec) {
  if (!failed_) failed_ = ec;
  return failed_;
}

error_code aio_queue::submit(std::size_t i, std::size_t len) {
  if (cancelled_) return asio::error::operation_aborted;
  slot& s = slots_[i];
  s.cb = {};
  s.cb.aio_data = i;
  s.cb.aio_lio_opcode = in_ ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
  s.cb.aio_fildes = static_cast<std::uint32_t>(fd_.get());
  s.cb.aio_buf = reinterpret_cast<std::uint64_t>(data(i));
  s.cb.aio_nbytes = len;
  s.length = len;
  s.cb.aio_flags = IOCB_FLAG_RESFD;
  s.cb.aio_resfd = static_cast<std::uint32_t>(event_.native_handle());
  iocb* list[1] = {&s.cb};
  if (sys_.submit(ctx_, 1, list) != 1) {
    // EAGAIN from an O_NONBLOCK endpoint file: the function is not enabled (the PC went
    // away). Reported as what it is, the endpoint being shut down.
    return system_error_code(errno == EAGAIN ? ESHUTDOWN : errno);
  }
  s.in_flight = true;
  ++used_;
  return {};
}

// Collects finished transfers without waiting. One call takes them all: at most one event
// per slot can be pending, and the call asks for as many as there are slots.
void aio_queue::collect() {
  io_event events[kMaxDepth];
  timespec now{};
  const long n = sys_.getevents(ctx_, 0, static_cast<long>(slots_.size()), events, &now);
  for (long k = 0; k < n; ++k) {
    slot& s = slots_[events[k].data];
    s.in_flight = false;
    s.result = static_cast<long>(events[k].res);
    if (in_ && s.result > 0) progress_.taken += static_cast<std::uint64_t>(s.result);
  }
}

// Until the oldest transfer has finished. operation_aborted once cancelled.
asio::awaitable<error_code> aio_queue::wait_oldest() {
  for (;;) {
    if (cancelled_) co_return asio::error::operation_aborted;
    collect();
    if (used_ > 0 && !slots_[head_].in_flight) co_return error_code{};
    std::uint64_t count = 0;
    auto [ec, n] =
        co_await event_.async_read_some(asio::buffer(&count, sizeof count), vsocklib::unslotted());
    if (cancelled_) co_return asio::error::operation_aborted;
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) co_return ec;
  }
}

// IN: retires finished writes from the head; the first failure sticks.
void aio_queue::reap() {
  collect();
  while (used_ > 0 && !slots_[head_].in_flight) {
    const slot& s = slots_[head_];
    if (s.result < 0) fail(system_error_code(static_cast<int>(-s.result)));
    // A short transfer cannot be completed by another: report it like a failure.
    if (static_cast<std::size_t>(s.result) != s.length) fail(system_error_code(EIO));
    --used_;
    head_ = (head_ + 1) % slots_.size();
  }
}

}  // namespace adbd_relay
