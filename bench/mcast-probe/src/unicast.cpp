// echo and ping: the unicast pair (an application behind the tunnel answering a LAN peer).
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>

#include "mcast_probe/commands.hpp"
#include "mcast_probe/net.hpp"
#include "mcast_probe/report.hpp"
#include "mcast_probe/wire.hpp"

namespace mcast_probe {

namespace {

constexpr std::size_t kPingSize = 64;  // bytes per ping datagram: header and padding

vsocklib::unique_fd open_echo(const echo_options& o, sockaddr_in& local) {
  vsocklib::unique_fd fd = make_udp_socket();
  local = sockaddr_in{};
  local.sin_family = AF_INET;
  local.sin_addr = o.bind;
  local.sin_port = htons(o.port);
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0)
    throw_errno("bind " + to_string(local));
  want_arrival_facts(fd.get());
  return fd;
}

vsocklib::unique_fd open_ping(const ping_options& o) {
  vsocklib::unique_fd fd = make_udp_socket();
  if (o.source) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr = *o.source;
    if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0)
      throw_errno("bind " + to_string(*o.source));
  }
  return fd;
}

// Waits until DEADLINE for the echo of (RUN_ID, SEQ); records it in R. False when none came.
bool await_echo(int fd, const ping_options& o, std::uint32_t run_id, std::uint64_t seq,
                clock_type::time_point t0, std::vector<std::uint8_t>& in, ping_result& r,
                std::vector<double>& rtts) {
  const auto deadline = t0 + to_duration(o.wait);
  while (!stop_requested()) {
    const auto now = clock_type::now();
    if (now >= deadline) break;
    std::size_t len = 0;
    arrival a;
    if (!receive(fd, in, len, a, poll_ms(now, deadline))) continue;
    const auto d = decode(in.data(), len);
    if (!d || d->run_id != run_id || d->seq != seq) continue;
    r.last_from = to_string(a.from);
    if (a.from.sin_addr.s_addr != o.expect_source.s_addr) ++r.wrong_source;
    rtts.push_back(std::chrono::duration<double>(clock_type::now() - t0).count() * 1e6);
    return true;
  }
  return false;
}

ping_result ping_all(int fd, const ping_options& o) {
  const std::uint32_t run_id = std::random_device{}();
  std::vector<std::uint8_t> out(kPingSize, 0), in(kMaxDatagram + 1);
  std::vector<double> rtts;
  ping_result r;
  for (std::uint64_t seq = 0; seq < o.count && !stop_requested(); ++seq) {
    encode(out, run_id, seq, "");
    const auto t0 = clock_type::now();
    if (sendto(fd, out.data(), out.size(), 0, reinterpret_cast<const sockaddr*>(&o.to),
               sizeof o.to) < 0) {
      std::fprintf(stderr, "mcast-probe ping: send to %s: %s\n", to_string(o.to).c_str(),
                   std::strerror(errno));
      std::this_thread::sleep_for(std::chrono::duration<double>(o.wait));
      continue;
    }
    await_echo(fd, o, run_id, seq, t0, in, r, rtts);
  }
  std::sort(rtts.begin(), rtts.end());
  r.replies = rtts.size();
  r.rtt_median_us = rtts.empty() ? 0 : rtts[rtts.size() / 2];
  return r;
}

}  // namespace

int run_echo(const echo_options& o) {
  sockaddr_in local{};
  const vsocklib::unique_fd fd = open_echo(o, local);
  install_stop_signals();
  std::fprintf(stderr, "mcast-probe echo: ready: bound %s\n", to_string(local).c_str());
  std::vector<std::uint8_t> buf(kMaxDatagram + 1);
  std::uint64_t echoed = 0;
  const auto deadline = clock_type::now() + to_duration(o.timeout);
  while (!stop_requested() && (!o.count || echoed < *o.count)) {
    const auto now = clock_type::now();
    if (now >= deadline) break;
    std::size_t len = 0;
    arrival a;
    if (!receive(fd.get(), buf, len, a, poll_ms(now, deadline))) continue;
    if (sendto(fd.get(), buf.data(), len, 0, reinterpret_cast<const sockaddr*>(&a.from),
               sizeof a.from) < 0) {
      std::fprintf(stderr, "mcast-probe echo: reply to %s: %s\n", to_string(a.from).c_str(),
                   std::strerror(errno));
      continue;
    }
    ++echoed;
    std::fputs(echo_line(len, a, if_name(a.ifindex)).c_str(), stdout);
    std::fflush(stdout);
  }
  if (o.count && echoed < *o.count) {
    std::fprintf(stderr, "mcast-probe echo: FAIL: expected %llu datagrams, echoed %llu\n",
                 static_cast<unsigned long long>(*o.count),
                 static_cast<unsigned long long>(echoed));
    return 1;
  }
  return 0;
}

int run_ping(const ping_options& o) {
  const vsocklib::unique_fd fd = open_ping(o);
  install_stop_signals();
  const ping_result r = ping_all(fd.get(), o);
  if (o.json) std::fputs(ping_json(o, r).c_str(), stdout);
  else std::fputs(ping_text(o, r).c_str(), stdout);
  std::fputs(ping_failures(o, r).c_str(), stderr);
  return r.ok(o) ? 0 : 1;
}

}  // namespace mcast_probe
