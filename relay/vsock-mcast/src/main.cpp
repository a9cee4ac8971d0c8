// vsock-mcast: the host and guest endpoints of the multicast tunnel, and the status query.
// Everything is in the library; this file reads options and runs it.
#include <unistd.h>

#include <exception>
#include <iostream>
#include <optional>
#include <string>

#include <spdlog/logger.h>

#include "vsock_mcast/command_line.hpp"
#include "vsock_mcast/guest.hpp"
#include "vsock_mcast/host.hpp"
#include "vsocklib/daemon.hpp"
#include "vsocklib/log.hpp"
#include "vsocklib/privileges.hpp"

#ifndef VSOCKLIB_VERSION
#define VSOCKLIB_VERSION "unknown"
#endif

namespace {

namespace asio = vsocklib::asio;
using namespace vsock_mcast;

int usage_exit(const usage_error& e) {
  const std::string& sub = e.command();
  std::cerr << "vsock-mcast: " << e.what() << "\n(try vsock-mcast " << sub
            << (sub.empty() ? "" : " ") << "--help)\n";
  return 2;
}

/// Runs ENDPOINT until SIGTERM/SIGINT, with its status socket and systemd notification.
template <typename Endpoint, typename Config>
int run(Config cfg, const char* what) {
  try {
    vsocklib::log::setup(cfg.log_level);
  } catch (const std::exception& e) {
    return usage_exit(usage_error(e.what()));
  }
  auto log = vsocklib::log::get("vsock-mcast");
  asio::io_context io(1);
  std::optional<Endpoint> endpoint;
  std::optional<vsocklib::daemon_runtime> runtime;
  try {
    endpoint.emplace(io, cfg);
    runtime.emplace(io, cfg.control, log);
  } catch (const std::exception& e) {
    log->error("cannot start the {} endpoint: {}", what, e.what());
    return 1;
  }
  if (!cfg.user.empty()) {
    // Set-up (TUN, raw sockets, listeners, status socket) is done and no thread exists yet.
    vsocklib::privilege_spec spec;
    try {
      spec = vsocklib::parse_user_group(cfg.user);
      spec.keep = capabilities_kept(cfg);
      vsocklib::drop_privileges(spec);
    } catch (const std::exception& e) {
      log->error("cannot drop privileges to user {}: {}", cfg.user, e.what());
      return 1;
    }
    std::string kept;
    for (int cap : spec.keep) kept += (kept.empty() ? "" : " ") + vsocklib::capability_name(cap);
    log->info("running as user {} (uid {}), keeping {}", cfg.user, ::getuid(), kept);
  }
  // io.run() returns once the endpoint and the runtime have both ended.
  std::exception_ptr failure;
  asio::co_spawn(
      io,
      runtime->run_with(
          endpoint->run(), [&endpoint] { endpoint->stop(); },
          [&endpoint] { return endpoint->status_json(); }, std::string(what) + " endpoint running"),
      [&failure](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      log->error("the {} endpoint failed: {}", what, e.what());
    } catch (...) {
      log->error("the {} endpoint failed", what);
    }
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  command_line cl;
  try {
    cl = parse_command_line(argc, argv);
  } catch (const usage_error& e) {
    return usage_exit(e);
  }
  const bool host = cl.command == "host";
  switch (cl.what) {
    case command_line::action::help: std::cout << usage_text(cl.command); return 0;
    case command_line::action::version:
      std::cout << "vsock-mcast " << VSOCKLIB_VERSION << "\n";
      return 0;
    case command_line::action::status:
      return vsocklib::print_status("vsock-mcast", "endpoint", cl.status_paths);
    case command_line::action::check:
      std::cout << (host ? check_report(cl.host) : check_report(cl.guest));
      return 0;
    case command_line::action::run: break;
  }
  if (host) return run<host_endpoint>(std::move(cl.host), "host");
  return run<guest_endpoint>(std::move(cl.guest), "guest");
}
