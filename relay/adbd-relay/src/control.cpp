#include "control.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace adbd_relay {
namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

asio::awaitable<void> answer(vsocklib::stream_socket s, std::string text) {
  co_await asio::async_write(s, asio::buffer(text), vsocklib::use_tuple);
}

}  // namespace

std::string status_json(const std::vector<const guest_status*>& guests) {
  std::string out = "{\"guests\": [";
  bool first = true;
  for (const auto* g : guests) {
    out += first ? "\n" : ",\n";
    first = false;
    out += "  {\"name\": " + quoted(g->name) + ", \"address\": " + quoted(g->address) +
           ", \"udc\": " + quoted(g->udc) + ", \"state\": " + quoted(g->state) +
           ", \"sessions\": " + std::to_string(g->sessions) +
           ", \"guest_connections\": " + std::to_string(g->guest_connections) +
           ", \"connect_failures\": " + std::to_string(g->connect_failures) +
           ", \"protocol_errors\": " + std::to_string(g->protocol_errors) +
           ", \"usb_to_vsock_bytes\": " +
           std::to_string(g->usb_to_vsock_bytes + g->current.usb_to_vsock_bytes) +
           ", \"vsock_to_usb_bytes\": " +
           std::to_string(g->vsock_to_usb_bytes + g->current.vsock_to_usb_bytes) +
           ", \"last_error\": " + quoted(g->last_error) + "}";
  }
  return out + "\n]}\n";
}

asio::awaitable<void> serve_control(vsocklib::listener& l, std::function<std::string()> status) {
  auto ex = co_await asio::this_coro::executor;
  for (;;) {
    auto [ec, s, peer] = co_await l.async_accept();
    if (ec) co_return;
    asio::co_spawn(ex, answer(std::move(s), status()), asio::detached);
  }
}

bool sd_notify(const std::string& message) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const auto sent = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                             reinterpret_cast<sockaddr*>(&addr),
                             static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len));
  ::close(fd);
  return sent == static_cast<ssize_t>(message.size());
}

std::chrono::microseconds watchdog_interval() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (!usec) return {};
  const long long v = std::atoll(usec);
  return std::chrono::microseconds(v > 0 ? v / 2 : 0);
}

}  // namespace adbd_relay
