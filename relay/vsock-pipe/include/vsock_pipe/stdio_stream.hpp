// Standard input and output as one bidirectional stream for the pump: reads come from
// stdin, writes go to stdout, and shutdown(send) closes stdout so the reader downstream
// sees end of file.
#pragma once

#include <unistd.h>

#include "vsocklib/asio.hpp"

namespace vsock_pipe {

namespace asio = vsocklib::asio;
using vsocklib::error_code;

class stdio_stream {
 public:
  using executor_type = asio::any_io_executor;

  explicit stdio_stream(const asio::any_io_executor& ex)
      : in_(ex, ::dup(STDIN_FILENO)), out_(ex, ::dup(STDOUT_FILENO)) {}

  executor_type get_executor() { return in_.get_executor(); }

  template <typename Buffers, typename Token>
  auto async_read_some(const Buffers& b, Token&& token) {
    return in_.async_read_some(b, std::forward<Token>(token));
  }
  template <typename Buffers, typename Token>
  auto async_write_some(const Buffers& b, Token&& token) {
    return out_.async_write_some(b, std::forward<Token>(token));
  }

  void shutdown(asio::socket_base::shutdown_type what, error_code& ec) {
    if (what != asio::socket_base::shutdown_receive) {
      out_.close(ec);
      ::close(STDOUT_FILENO);  // the dup above is not the only reference to the pipe
    }
  }
  void cancel(error_code& ec) {
    in_.cancel(ec);
    out_.cancel(ec);
  }

 private:
  asio::posix::stream_descriptor in_;
  asio::posix::stream_descriptor out_;
};

}  // namespace vsock_pipe
