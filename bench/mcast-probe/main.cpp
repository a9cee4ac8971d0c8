// mcast-probe: sends numbered UDP datagrams (multicast or unicast) and receives them with
// the per-datagram facts a multicast tunnel must preserve (source address and port, TTL,
// TOS, arrival interface), counting losses, duplicates and reordering. Used by the
// vsock-mcast tests and bench/compare-mcast; see docs/mcast-probe.md. The commands live in
// mcast_probe_lib (plain sockets: it shares no socket code with the daemon it checks).
#include <cstdio>
#include <system_error>

#include "mcast_probe/commands.hpp"
#include "mcast_probe/options.hpp"

#ifndef VSOCKLIB_VERSION
#define VSOCKLIB_VERSION "unknown"
#endif

int main(int argc, char** argv) {
  using action = mcast_probe::command_line::action;
  try {
    const auto cl = mcast_probe::parse_command_line(argc, argv);
    switch (cl.what) {
      case action::help: std::fputs(mcast_probe::kUsage, stdout); return 0;
      case action::version: std::printf("mcast-probe %s\n", VSOCKLIB_VERSION); return 0;
      case action::send: return mcast_probe::run_send(cl.send);
      case action::recv: return mcast_probe::run_recv(cl.recv);
      case action::echo: return mcast_probe::run_echo(cl.echo);
      case action::ping: return mcast_probe::run_ping(cl.ping);
    }
  } catch (const mcast_probe::usage_error& e) {
    std::fprintf(stderr, "mcast-probe: %s (see --help)\n", e.what());
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "mcast-probe: %s\n", e.what());
  }
  return 2;
}
