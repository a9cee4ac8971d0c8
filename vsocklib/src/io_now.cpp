#include "vsocklib/io_now.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>

namespace vsocklib::detail {
namespace {

template <typename Buffer>
msghdr to_msghdr(std::span<const Buffer> pieces, std::array<iovec, kMaxPieces>& iov) {
  std::size_t n = 0;
  for (const auto& p : pieces.first(std::min(pieces.size(), kMaxPieces))) {
    if (p.size() == 0) continue;
    iov[n].iov_base = const_cast<void*>(static_cast<const void*>(p.data()));
    iov[n].iov_len = p.size();
    ++n;
  }
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = n;
  return msg;
}

error_code from_errno(int e) {
  if (e == EAGAIN || e == EWOULDBLOCK) return asio::error::would_block;
  return {e, asio::error::get_system_category()};
}

}  // namespace

std::size_t send_now(int fd, std::span<const asio::const_buffer> pieces, error_code& ec) {
  std::array<iovec, kMaxPieces> iov;
  msghdr msg = to_msghdr(pieces, iov);
  for (;;) {
    // MSG_NOSIGNAL: a peer that went away is an EPIPE value, as with Asio's own sends.
    const ssize_t n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == 0 && msg.msg_iovlen > 0) {  // took nothing, yet no error: wait, never spin
      ec = asio::error::would_block;
      return 0;
    }
    if (n >= 0) {
      ec = {};
      return static_cast<std::size_t>(n);
    }
    if (errno == EINTR) continue;
    ec = from_errno(errno);
    return 0;
  }
}

std::size_t receive_now(int fd, std::span<const asio::mutable_buffer> pieces, error_code& ec) {
  std::array<iovec, kMaxPieces> iov;
  msghdr msg = to_msghdr(pieces, iov);
  for (;;) {
    const ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n > 0) {
      ec = {};
      return static_cast<std::size_t>(n);
    }
    if (n == 0) {
      ec = asio::error::eof;
      return 0;
    }
    if (errno == EINTR) continue;
    ec = from_errno(errno);
    return 0;
  }
}

}  // namespace vsocklib::detail
