// ffs_endpoint's constructor against a directory that only looks like a FunctionFS mount
// (plain files): when opening ep2 or starting a transfer queue fails, no endpoint file may
// stay open, since FunctionFS unbinds the gadget only once every one of its files is
// closed. (Real endpoints: the lab, ctest -R 'adbd_relay\.(adb|unplug)'.)
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include <gtest/gtest.h>

#include "adbd_relay/ffs_endpoint.hpp"

namespace adbd_relay {
namespace {

namespace fs = std::filesystem;

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

class fake_ffs_dir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ffs_endpoint_test." + std::to_string(::getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    // Asio opens its reactor's descriptors (epoll, an eventfd, a timerfd) with the first
    // I/O object; they belong to io_, not to the endpoint, so they are opened before
    // counting.
    asio::posix::stream_descriptor reactor_up(io_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void create(const std::string& name) { std::ofstream(dir_ / name) << ""; }

  fs::path dir_;
  asio::io_context io_;
};

TEST_F(fake_ffs_dir, a_missing_ep2_closes_ep1_again) {
  create("ep1");
  const std::size_t before = open_fds();
  try {
    ffs_endpoint ep(io_.get_executor(), dir_.string(), 4096, 4);
    FAIL() << "opened without ep2";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("ep2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(open_fds(), before);
}

TEST_F(fake_ffs_dir, a_queue_that_cannot_start_closes_both_files) {
  create("ep1");
  create("ep2");
  const std::size_t before = open_fds();
  // Depth 0 is refused by the transfer queue, after the file was opened.
  EXPECT_THROW(ffs_endpoint(io_.get_executor(), dir_.string(), 4096, 0), std::system_error);
  EXPECT_EQ(open_fds(), before);
}

// The queue's buffers are allocated before its constructor body runs: a descriptor held
// as a bare int was lost there (the leak of issue 17).
TEST_F(fake_ffs_dir, a_failed_buffer_allocation_closes_the_files) {
  create("ep1");
  create("ep2");
  const std::size_t before = open_fds();
  // 2 x 2^62 bytes: past a vector's max_size(), so std::length_error comes before any
  // allocation is tried (a merely huge one would abort under the sanitizers' allocators).
  EXPECT_THROW(ffs_endpoint(io_.get_executor(), dir_.string(), std::size_t{1} << 62, 2),
               std::length_error);
  EXPECT_EQ(open_fds(), before);
}

}  // namespace
}  // namespace adbd_relay
