// async_connect against a Unix listener that is not accepting: its accept queue is full.
// The kernel then refuses a non-blocking connect with EAGAIN; a blocking connect would wait
// for room. vsocklib must wait too, and never hand out a socket that did not connect.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "run_coro.hpp"
#include "temp_dir.hpp"
#include "vsocklib/connect.hpp"
#include "vsocklib/error.hpp"

namespace vsocklib {
namespace {

using namespace std::chrono_literals;

// A raw Unix listener with the smallest queue (backlog 0), filled with pending connections
// that nobody accepts until accept_one() is called.
class full_listener {
 public:
  explicit full_listener(const std::string& path) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        ::listen(fd_, 0) != 0) {
      throw std::runtime_error("full_listener: " + std::string(std::strerror(errno)));
    }
    // Connect until the kernel says the queue is full (EAGAIN); a bound keeps it finite.
    for (int i = 0; i < 16; ++i) {
      int c = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (::connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        const int err = errno;
        ::close(c);
        if (err == EAGAIN) return;
        throw std::runtime_error("full_listener: filler: " + std::string(std::strerror(err)));
      }
      fillers_.push_back(c);
    }
    throw std::runtime_error("full_listener: the queue never filled");
  }
  ~full_listener() {
    for (int c : fillers_) ::close(c);
    ::close(fd_);
  }
  full_listener(const full_listener&) = delete;
  full_listener& operator=(const full_listener&) = delete;

  std::size_t pending_fillers() const { return fillers_.size(); }

  /// Accepts the oldest pending connection, waiting at most one second; -1 when none came.
  int accept_one() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 1000) != 1) return -1;
    return ::accept(fd_, nullptr, nullptr);
  }

 private:
  int fd_ = -1;
  std::vector<int> fillers_;
};

asio::awaitable<void> connect_while_full(address to, full_listener& l, error_code& ec,
                                         stream_socket& out) {
  using namespace asio::experimental::awaitable_operators;
  auto make_room = [](full_listener& l) -> asio::awaitable<void> {
    asio::steady_timer t(co_await asio::this_coro::executor, 200ms);
    co_await t.async_wait(use_tuple);
    for (std::size_t i = 0; i < l.pending_fillers(); ++i) ::close(l.accept_one());
  };
  auto connect = [](address to, error_code& ec, stream_socket& out) -> asio::awaitable<void> {
    auto [e, s] = co_await async_connect(to, 3s);
    ec = e;
    out = std::move(s);
  };
  co_await (make_room(l) && connect(to, ec, out));
}

TEST(ConnectUnix, WaitsForRoomInAFullAcceptQueue) {
  test::temp_dir dir;
  const auto path = dir.file("full.sock");
  full_listener l(path);
  asio::io_context io;
  error_code ec;
  stream_socket s(io);
  test::run_with_deadline(io, connect_while_full(parse_address("unix:" + path), l, ec, s), 10s);
  ASSERT_FALSE(ec) << ec.message();

  // Really connected: a byte written now reaches the listener's next accepted connection.
  error_code wec;
  const char byte = 'x';
  asio::write(s, asio::buffer(&byte, 1), wec);
  ASSERT_FALSE(wec) << "the socket async_connect returned is not connected: " << wec.message();
  int peer = l.accept_one();
  ASSERT_GE(peer, 0) << "our connection never reached the listener's queue";
  char got = 0;
  EXPECT_EQ(::read(peer, &got, 1), 1);
  EXPECT_EQ(got, 'x');
  ::close(peer);
}

asio::awaitable<void> connect_once(address to, std::chrono::milliseconds timeout, error_code& ec) {
  auto [e, s] = co_await async_connect(to, timeout);
  ec = e;
}

// Unix and hybrid vsock (whose multiplexer is a Unix listener) name the failure.
TEST(ConnectUnix, AQueueThatStaysFullIsNamedAtTheDeadline) {
  test::temp_dir dir;
  const auto path = dir.file("full.sock");
  full_listener l(path);
  for (const auto& to : {"unix:" + path, "hvsock:" + path + ":5555"}) {
    asio::io_context io;
    error_code ec;
    test::run_with_deadline(io, connect_once(parse_address(to), 300ms, ec), 10s);
    EXPECT_EQ(ec, make_error_code(errc::listener_queue_full)) << to << ": " << ec.message();
  }
}

}  // namespace
}  // namespace vsocklib
