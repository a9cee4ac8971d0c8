// The one owner of a file descriptor that no Asio object owns (an endpoint file handed to
// Linux AIO, a usbfs node libusb borrows, a descriptor between open() and the object that
// takes it). Like AOSP's android::base::unique_fd: a bare int that must be close()d on
// every path is how descriptors leak when a constructor throws half-way.
#pragma once

#include <unistd.h>

#include <utility>

namespace vsocklib {

/// Owns one file descriptor (or none: -1) and closes it in the destructor. Move-only.
/// Thread safety: none (like an int).
class unique_fd {
 public:
  unique_fd() noexcept = default;
  /// Takes FD (a negative value, such as a failed open()'s -1, means none).
  explicit unique_fd(int fd) noexcept : fd_(fd < 0 ? -1 : fd) {}
  ~unique_fd() { reset(); }

  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;

  /// The descriptor, still owned here; -1 when none.
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

  /// Gives the descriptor up without closing it (to an owner such as an Asio descriptor).
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

  /// Closes the descriptor held (if any) and takes FD instead.
  void reset(int fd = -1) noexcept {
    const int old = std::exchange(fd_, fd < 0 ? -1 : fd);
    // Linux releases the descriptor even when close() fails (EINTR included), so there
    // is nothing to retry, and a destructor has no one to report to.
    if (old >= 0) ::close(old);
  }

 private:
  int fd_ = -1;
};

}  // namespace vsocklib
