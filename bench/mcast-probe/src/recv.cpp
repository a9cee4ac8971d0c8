// recv: join a group (or bind a unicast address), count what arrives until the expected
// count (then a linger for late duplicates), an idle gap or the timeout, and report.
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>

#include "mcast_probe/commands.hpp"
#include "mcast_probe/net.hpp"
#include "mcast_probe/receive_stats.hpp"
#include "mcast_probe/report.hpp"

namespace mcast_probe {

namespace {

// Benchmarks blast datagrams; a large buffer keeps this checker from being the bottleneck.
constexpr int kReceiveBuffer = 8 << 20;

bool is_multicast(const sockaddr_in& sa) { return IN_MULTICAST(ntohl(sa.sin_addr.s_addr)); }

std::string join_where(const recv_options& o) {
  return o.interface.empty() ? "(route's interface)" : o.interface;
}

// The socket bound to the group (joined on the interface when multicast); says "ready".
vsocklib::unique_fd open_receiver(const recv_options& o) {
  vsocklib::unique_fd fd = make_udp_socket();
  // Several receivers (and the daemon under test) may share the port in one namespace.
  set_int(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  int rcvbuf = kReceiveBuffer;
  if (setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  // Bound to the group address, the socket sees only that group; with IP_MULTICAST_ALL off
  // only through our own membership (not through one the daemon holds on another interface).
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&o.group), sizeof o.group) != 0)
    throw_errno("bind " + to_string(o.group));
  want_arrival_facts(fd.get());
  if (is_multicast(o.group)) {
    set_int(fd.get(), IPPROTO_IP, IP_MULTICAST_ALL, 0, "IP_MULTICAST_ALL");
    ip_mreqn m{};
    m.imr_multiaddr = o.group.sin_addr;
    m.imr_ifindex = o.interface.empty() ? 0 : static_cast<int>(if_index(o.interface));
    if (setsockopt(fd.get(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0)
      throw_errno("join " + to_string(o.group.sin_addr) + " on " + join_where(o));
  }
  return fd;
}

// When the receiving loop ends: at the timeout, at the end of the linger once the count is
// reached, or an idle gap after the last datagram, whichever comes first.
class stop_clock {
 public:
  stop_clock(const recv_options& o, clock_type::time_point t0)
      : o_(o), deadline_(t0 + to_duration(o.timeout)) {}

  clock_type::time_point until() const { return std::min({deadline_, done_at_, idle_at_}); }
  /// A datagram of the run arrived AT, making UNIQUE distinct ones.
  void arrived(clock_type::time_point at, std::uint64_t unique) {
    if (o_.idle > 0) idle_at_ = at + to_duration(o_.idle);
    if (o_.count && *o_.count > 0 && unique >= *o_.count && done_at_ == kNever)
      done_at_ = clock_type::now() + to_duration(o_.linger);
  }

 private:
  static constexpr auto kNever = clock_type::time_point::max();
  const recv_options& o_;
  clock_type::time_point deadline_;
  clock_type::time_point done_at_ = kNever;  // the count is reached, plus the linger
  clock_type::time_point idle_at_ = kNever;  // the last datagram, plus --idle
};

// Counts one datagram of LEN bytes in BUF (printing its line under --each); true when it
// belonged to the run.
bool take(const recv_options& o, receive_stats& stats, const std::vector<std::uint8_t>& buf,
          std::size_t len, const arrival& a, clock_type::time_point at) {
  const auto d = decode(buf.data(), len);
  if (!d) {
    stats.add_foreign();
    if (o.each) std::fputs(foreign_line(len, a).c_str(), stdout);
    return false;
  }
  const std::string iface = if_name(a.ifindex);
  const auto outcome = stats.add(*d, len, a, iface, at);
  if (outcome == receive_stats::outcome::other_run) return false;
  if (o.each)
    std::fputs(
        datagram_line(*d, len, a, iface, outcome == receive_stats::outcome::duplicate).c_str(),
        stdout);
  return true;
}

receive_stats collect(int fd, const recv_options& o) {
  receive_stats stats(o.run_id, o.expect);
  std::vector<std::uint8_t> buf(kMaxDatagram + 1);
  stop_clock stop(o, clock_type::now());
  while (!stop_requested()) {
    const auto now = clock_type::now();
    const auto until = stop.until();
    if (now >= until) break;
    std::size_t len = 0;
    arrival a;
    if (!receive(fd, buf, len, a, poll_ms(now, until))) continue;
    const auto at = clock_type::now();
    if (take(o, stats, buf, len, a, at)) stop.arrived(at, stats.unique());
  }
  if (o.each) std::fflush(stdout);
  return stats;
}

}  // namespace

int run_recv(const recv_options& o) {
  const vsocklib::unique_fd fd = open_receiver(o);
  install_stop_signals();
  std::fprintf(stderr, "mcast-probe recv: ready: %s %s on %s\n",
               is_multicast(o.group) ? "joined" : "bound", to_string(o.group).c_str(),
               join_where(o).c_str());
  const receive_stats stats = collect(fd.get(), o);
  if (o.json) std::fputs(recv_json(o, stats, socket_drops(fd.get())).c_str(), stdout);
  else std::fputs(recv_text(stats, o.count).c_str(), stdout);
  std::fflush(stdout);
  std::fputs(recv_failures(o, stats).c_str(), stderr);
  return stats.failures(o.count, o.timeout).empty() ? 0 : 1;
}

}  // namespace mcast_probe
