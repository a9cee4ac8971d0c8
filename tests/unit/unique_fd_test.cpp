// vsocklib::unique_fd: the descriptor it holds is closed exactly when ownership ends, and
// never when it was handed on. "Closed" is asked of the kernel (fcntl F_GETFD gives EBADF).
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include <gtest/gtest.h>

#include "vsocklib/unique_fd.hpp"

namespace vsocklib {
namespace {

int new_fd() {
  const int fd = ::eventfd(0, EFD_CLOEXEC);
  EXPECT_GE(fd, 0);
  return fd;
}

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

bool is_closed(int fd) {
  errno = 0;
  return ::fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

TEST(unique_fd, closes_on_destruction) {
  const int raw = new_fd();
  {
    unique_fd fd(raw);
    EXPECT_TRUE(fd);
    EXPECT_EQ(fd.get(), raw);
    EXPECT_TRUE(is_open(raw));
  }
  EXPECT_TRUE(is_closed(raw));
}

TEST(unique_fd, empty_and_negative_hold_nothing) {
  unique_fd none;
  EXPECT_FALSE(none);
  EXPECT_EQ(none.get(), -1);
  // What a failed open() returns.
  unique_fd failed(-1);
  EXPECT_FALSE(failed);
}

TEST(unique_fd, move_construction_transfers_ownership) {
  const int raw = new_fd();
  unique_fd a(raw);
  {
    unique_fd b(std::move(a));
    EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): the moved-from state is the point
    EXPECT_EQ(b.get(), raw);
  }
  EXPECT_TRUE(is_closed(raw));
}

TEST(unique_fd, move_assignment_closes_what_it_held) {
  const int first = new_fd();
  const int second = new_fd();
  unique_fd a(first);
  {
    unique_fd b(second);
    a = std::move(b);
    EXPECT_TRUE(is_closed(first));
    EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move)
  }
  EXPECT_TRUE(is_open(second));  // a has it now
  EXPECT_EQ(a.get(), second);
  a = unique_fd();
  EXPECT_TRUE(is_closed(second));
}

TEST(unique_fd, self_move_assignment_keeps_the_descriptor) {
  const int raw = new_fd();
  unique_fd a(raw);
  unique_fd& alias = a;
  a = std::move(alias);
  EXPECT_EQ(a.get(), raw);
  EXPECT_TRUE(is_open(raw));
}

TEST(unique_fd, release_gives_the_descriptor_up_without_closing) {
  const int raw = new_fd();
  {
    unique_fd fd(raw);
    EXPECT_EQ(fd.release(), raw);
    EXPECT_FALSE(fd);
  }
  EXPECT_TRUE(is_open(raw));
  ::close(raw);
}

TEST(unique_fd, reset_closes_and_takes_the_new_one) {
  const int first = new_fd();
  const int second = new_fd();
  unique_fd fd(first);
  fd.reset(second);
  EXPECT_TRUE(is_closed(first));
  EXPECT_EQ(fd.get(), second);
  fd.reset();
  EXPECT_TRUE(is_closed(second));
  EXPECT_FALSE(fd);
  fd.reset();  // nothing held: nothing closed, no error
  EXPECT_FALSE(fd);
}

}  // namespace
}  // namespace vsocklib
