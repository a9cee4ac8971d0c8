// vsock-pipe: connects two addresses in the toolkit's syntax with the bounded pump, like
// socat for vsock, hybrid vsock, unix and tcp. The first thing to try, and the baseline the
// relay benchmarks compare against. The library holds everything; this file wires it.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

#include <spdlog/logger.h>

#include "vsock_pipe/options.hpp"
#include "vsock_pipe/pipe.hpp"
#include "vsocklib/log.hpp"

#ifndef VSOCKLIB_VERSION
#define VSOCKLIB_VERSION "unknown"
#endif

namespace {

namespace asio = vsocklib::asio;

[[noreturn]] void usage_exit(const std::string& what) {
  std::cerr << "vsock-pipe: " << what << "\n(try vsock-pipe --help)\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  vsock_pipe::command_line cl;
  try {
    cl = vsock_pipe::parse_command_line(argc, argv);
  } catch (const vsock_pipe::usage_error& e) {
    usage_exit(e.what());
  }
  if (cl.what == vsock_pipe::command_line::action::help) {
    std::cout << vsock_pipe::kUsage;
    return 0;
  }
  if (cl.what == vsock_pipe::command_line::action::version) {
    std::cout << "vsock-pipe " << VSOCKLIB_VERSION << "\n";
    return 0;
  }
  // The log level before the addresses, so a bad level is reported first, as it always was.
  vsock_pipe::plan plan;
  try {
    vsocklib::log::setup(cl.opt.log_level);
    plan = vsock_pipe::make_plan(std::move(cl.opt));
  } catch (const std::invalid_argument& e) {
    usage_exit(e.what());
  }

  asio::io_context io(1);
  vsock_pipe::shared_state st(io.get_executor(), std::move(plan), vsocklib::log::get("vsock-pipe"));
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](vsocklib::error_code ec, int) {
    if (!ec) io.stop();
  });
  try {
    asio::co_spawn(io, vsock_pipe::run(st), [&](std::exception_ptr e) {
      signals.cancel();
      if (e) std::rethrow_exception(e);
    });
    io.run();
  } catch (const std::exception& e) {
    st.log->error("{}", e.what());
    return 1;
  }
  return st.failed ? 1 : 0;
}
