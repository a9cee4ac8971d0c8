// Transfers queued on one FunctionFS bulk endpoint with Linux AIO, completing into an
// eventfd that Asio waits on (adbd does the same), and the system-call seam under it.
//
// Why AIO: ep1/ep2 cannot be polled, and a blocking transfer leaves the UDC without a
// request between one transfer's completion and the next submission: with one transfer in
// flight, every 4 KiB waits a round trip through user space (docs/benchmarks.md).
#pragma once

#include <linux/aio_abi.h>

#include <cstddef>
#include <tuple>
#include <vector>

#include "adbd_relay/usb_endpoint.hpp"
#include "vsocklib/unique_fd.hpp"

namespace adbd_relay {

/// The Linux AIO system calls, as a seam: aio_queue makes them through this, so a test can
/// complete, fail or refuse each transfer. Each returns what the system call returns (-1
/// with errno set when it fails).
class aio_syscalls {
 public:
  virtual ~aio_syscalls() = default;
  virtual long setup(unsigned nr_events, aio_context_t* ctx) = 0;
  virtual long destroy(aio_context_t ctx) = 0;
  virtual long submit(aio_context_t ctx, long n, iocb** cbs) = 0;
  virtual long cancel(aio_context_t ctx, iocb* cb, io_event* result) = 0;
  virtual long getevents(aio_context_t ctx, long min_nr, long nr, io_event* events,
                         timespec* timeout) = 0;

  /// The kernel's (glibc has no wrappers; libaio would be a dependency for five calls).
  static aio_syscalls& system();
};

/// Up to DEPTH transfers of at most SLOT bytes queued on one endpoint file. Slots form a
/// ring in submission order, and the UDC completes requests in order, so data keeps its
/// order.
///
/// OUT (ep1): every slot is a read kept submitted; async_read hands out the oldest
/// completed one and resubmits it (read-ahead bounded by DEPTH x SLOT).
/// IN (ep2): async_write copies into a free slot, submits, and returns; it waits only when
/// all slots are in flight. A failed write is reported by the next async_write: the
/// session ends either way, and nothing after a failed transfer is sent.
///
/// Never sleeping in the kernel: the relay serves every guest and its status socket from
/// one thread, so no call here may wait for the PC. With the endpoint file opened
/// O_NONBLOCK, io_submit on an endpoint that is not enabled (the PC went away) fails at
/// once with EAGAIN, reported as ESHUTDOWN; on an enabled one it only queues. And a slot
/// that completed with an error is not resubmitted: the first failure sticks, and later
/// transfers report it without a system call. The one exception is EPIPE on OUT (the PC
/// cleared a halt; the endpoint is still enabled).
///
/// Not thread-safe: one strand. Transfers ignore Asio's per-operation cancellation;
/// cancel() stops them.
class aio_queue {
 public:
  /// io_event arrays live on the stack; the queue depth is small by design.
  static constexpr std::size_t kMaxDepth = 64;

  /// Throws std::system_error naming the call. IN: FD is an IN endpoint (writes), else
  /// OUT (reads). DEPTH is 1..kMaxDepth.
  aio_queue(asio::any_io_executor ex, vsocklib::unique_fd fd, bool in, std::size_t slot,
            std::size_t depth, aio_syscalls& sys = aio_syscalls::system());
  /// Cancels, then waits for every transfer still in the kernel (it may be writing into
  /// the slots), and closes FD.
  ~aio_queue();
  aio_queue(const aio_queue&) = delete;
  aio_queue& operator=(const aio_queue&) = delete;

  /// OUT: the next transfer from the PC, at most BUF's size of it.
  asio::awaitable<std::tuple<error_code, std::size_t>> async_read(asio::mutable_buffer buf);
  /// IN: queues BUF (at most SLOT bytes) as one transfer; message_size when larger.
  asio::awaitable<std::tuple<error_code, std::size_t>> async_write(asio::const_buffer buf);
  /// Cancels the transfers in flight; pending and later calls end with operation_aborted.
  void cancel();
  /// IN: bytes queued so far, and of them the bytes of transfers seen finished (collected
  /// here, without waiting).
  write_progress progress();

  /// The endpoint file (for ioctls).
  int native_handle() const noexcept { return fd_.get(); }

 private:
  struct slot {
    iocb cb{};
    std::size_t length = 0;
    bool in_flight = false;
    long result = 0;
  };

  std::byte* data(std::size_t i) { return storage_.data() + i * slot_size_; }
  error_code fail(error_code ec);
  error_code submit(std::size_t i, std::size_t len);
  void collect();
  asio::awaitable<error_code> wait_oldest();
  void reap();

  aio_syscalls& sys_;
  vsocklib::unique_fd fd_;
  bool in_;
  std::size_t slot_size_;
  std::vector<std::byte> storage_;
  std::vector<slot> slots_;
  std::size_t head_ = 0;  // oldest submitted slot
  std::size_t used_ = 0;  // slots submitted (OUT: and not yet handed out)
  aio_context_t ctx_ = 0;
  asio::posix::stream_descriptor event_;
  bool cancelled_ = false;
  bool started_ = false;  // OUT: the reads have been queued
  error_code failed_;
  write_progress progress_;  // IN
};

}  // namespace adbd_relay
