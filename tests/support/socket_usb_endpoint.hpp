// A USB endpoint pair made of a SOCK_SEQPACKET Unix socket: one send is one transfer and a
// zero-length send is a zero-length packet, which is exactly USB bulk framing. Tests play
// the PC on the other end of a socketpair.
#pragma once

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "adbd_relay/usb_endpoint.hpp"  // relay/adbd-relay/src

namespace adbd_relay {

class socket_usb_endpoint final : public usb_endpoint {
 public:
  socket_usb_endpoint(asio::generic::seq_packet_protocol::socket s, std::size_t max_packet)
      : s_(std::move(s)), max_packet_(max_packet) {}

  asio::awaitable<std::tuple<error_code, std::size_t>> async_read(
      asio::mutable_buffer buf) override {
    if (cancelled_)
      co_return std::tuple{error_code(asio::error::operation_aborted), std::size_t{0}};
    asio::socket_base::message_flags flags = 0;
    auto [ec, n] = co_await s_.async_receive(buf, flags, vsocklib::unslotted());
    // A seqpacket peer that closed reads as 0 bytes without error: make it the error a
    // vanished USB host gives, so it is not mistaken for a zero-length packet.
    if (!ec && n == 0 && eof_after_empty_read()) ec = asio::error::shut_down;
    co_return std::tuple{ec, n};
  }

  asio::awaitable<std::tuple<error_code, std::size_t>> async_write(
      asio::const_buffer buf) override {
    if (cancelled_)
      co_return std::tuple{error_code(asio::error::operation_aborted), std::size_t{0}};
    auto [ec, n] = co_await s_.async_send(buf, 0, vsocklib::unslotted());
    progress_.queued += n;
    co_return std::tuple{ec, n};
  }

  void cancel() override {
    cancelled_ = true;
    error_code ignored;
    s_.cancel(ignored);
  }

  /// Taken: everything sent, once the socket's send queue is empty (SIOCOUTQ counts
  /// buffer space, not bytes, so nothing finer).
  write_progress progress() override {
    int unread = 0;
    if (::ioctl(s_.native_handle(), SIOCOUTQ, &unread) == 0 && unread == 0)
      progress_.taken = progress_.queued;
    return progress_;
  }

  std::size_t max_packet_size() const override { return max_packet_; }

  /// A fresh endpoint on the same link, as the relay's reopened FunctionFS endpoints are.
  void reopen() { cancelled_ = false; }

  asio::generic::seq_packet_protocol::socket& socket() { return s_; }

 private:
  // After a 0-byte receive, a non-blocking peek tells a zero-length message (the peer is
  // still there: EAGAIN or a next message) from the peer's shutdown (0 again). Two
  // zero-length messages in a row would read as a shutdown: tests never send those.
  bool eof_after_empty_read() {
    char probe;
    int r = ::recv(s_.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    return r == 0;
  }

  asio::generic::seq_packet_protocol::socket s_;
  std::size_t max_packet_;
  bool cancelled_ = false;
  write_progress progress_;
};

}  // namespace adbd_relay
