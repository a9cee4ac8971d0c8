// A program that uses the installed vsocklib the way a user's project would: parse an
// address, connect with a deadline, send a line, half-close, print what comes back.
// tests/package/install_test.sh and deb_test.sh build it with find_package(vsocklib) and
// with pkg-config, then run it against the installed vsock-pipe.
// usage: vsocklib-consumer ADDRESS LINE
#include <iostream>
#include <string>

#include "vsocklib/address.hpp"
#include "vsocklib/asio.hpp"
#include "vsocklib/connect.hpp"
#include "vsocklib/log.hpp"

namespace asio = vsocklib::asio;

asio::awaitable<void> exchange(vsocklib::address to, std::string line, int& rc) {
  auto [ec, s] = co_await vsocklib::async_connect(to, std::chrono::seconds(5));
  if (ec) {
    std::cerr << "connect " << to.to_string() << ": " << ec.message() << "\n";
    co_return;
  }
  line += '\n';
  auto [wec, wn] = co_await asio::async_write(s, asio::buffer(line), vsocklib::use_tuple);
  if (wec) {
    std::cerr << "write: " << wec.message() << "\n";
    co_return;
  }
  s.shutdown(asio::socket_base::shutdown_send);
  std::string reply;
  char buf[256];
  for (;;) {
    auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), vsocklib::use_tuple);
    reply.append(buf, n);
    if (rec == asio::error::eof) break;
    if (rec) {
      std::cerr << "read: " << rec.message() << "\n";
      co_return;
    }
  }
  std::cout << "reply: " << reply;
  rc = 0;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: vsocklib-consumer ADDRESS LINE\n";
    return 2;
  }
  vsocklib::log::setup("warn");
  vsocklib::address to;
  try {
    to = vsocklib::parse_address(argv[1]);
  } catch (const vsocklib::address_error& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  int rc = 1;
  asio::io_context io;
  asio::co_spawn(io, exchange(to, argv[2], rc), asio::detached);
  io.run();
  return rc;
}
