// The hybrid vsock handshake: what a Firecracker / Cloud Hypervisor multiplexer (or
// whoever holds its socket) answers to "CONNECT PORT\n". The input is written into a real
// Unix socketpair and async_hvsock_handshake reads it, as async_connect does.
// Properties: it never reads past the first newline (those bytes are the guest's stream),
// it gives up on a line longer than 64 bytes, a success starts with "OK", and the pure
// parse_hvsock_reply agrees with it.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "vsocklib/connect.hpp"
#include "vsocklib/error.hpp"

namespace asio = vsocklib::asio;
using vsocklib::error_code;

namespace {

asio::awaitable<void> handshake(vsocklib::stream_socket& s, error_code& ec, std::uint32_t& port) {
  ec = co_await vsocklib::async_hvsock_handshake(s, 5000, port);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The answer must fit the socket buffer in one write; real answers are a dozen bytes.
  if (size > 4096) return 0;
  const std::string_view answer(reinterpret_cast<const char*>(data), size);

  int fds[2];
  FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  FUZZ_CHECK(::send(fds[1], answer.data(), answer.size(), MSG_NOSIGNAL) ==
             static_cast<ssize_t>(size));
  ::shutdown(fds[1], SHUT_WR);  // after the answer: end of stream, as a vanished VMM

  asio::io_context io;
  vsocklib::stream_socket s(io, asio::generic::stream_protocol(AF_UNIX, SOCK_STREAM), fds[0]);
  error_code ec;
  std::uint32_t port = 0xdeadbeef;
  asio::co_spawn(io, handshake(s, ec, port), asio::detached);
  io.run();

  const auto nl = answer.find('\n');
  if (nl == std::string_view::npos) {
    FUZZ_CHECK(ec == vsocklib::errc::hvsock_no_answer ||
               ec == vsocklib::errc::hvsock_reply_too_long);
  } else if (nl > 64) {
    FUZZ_CHECK(ec == vsocklib::errc::hvsock_reply_too_long);
  } else {
    const auto line = answer.substr(0, nl);
    std::uint32_t parsed = 0xdeadbeef;
    FUZZ_CHECK(ec == vsocklib::parse_hvsock_reply(line, parsed));
    FUZZ_CHECK(port == parsed);
    if (!ec) FUZZ_CHECK(line.substr(0, 2) == "OK");
    // Whatever followed the newline is still there for the guest's stream.
    std::string rest(answer.size() - nl - 1 + 1, '\0');
    const auto got = ::recv(fds[0], rest.data(), rest.size(), MSG_DONTWAIT);
    FUZZ_CHECK(got == static_cast<ssize_t>(answer.size() - nl - 1));
    FUZZ_CHECK(std::string_view(rest.data(), got) == answer.substr(nl + 1));
  }
  // The handshake wrote its request to the other end.
  char req[32];
  const auto r = ::recv(fds[1], req, sizeof req, MSG_DONTWAIT);
  FUZZ_CHECK(std::string_view(req, r > 0 ? r : 0) == "CONNECT 5000\n");
  ::close(fds[1]);
  return 0;
}
