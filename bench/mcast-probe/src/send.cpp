// send: numbered datagrams to a group (or a unicast address), paced or as fast as possible.
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <random>
#include <thread>

#include "mcast_probe/commands.hpp"
#include "mcast_probe/net.hpp"
#include "mcast_probe/report.hpp"
#include "mcast_probe/wire.hpp"

namespace mcast_probe {

namespace {

// A full qdisc or socket buffer is back-pressure, not loss: how often and how long the
// sender waits before offering the same datagram again.
constexpr int kMaxRetries = 1000;
constexpr auto kRetryPause = std::chrono::microseconds(50);

vsocklib::unique_fd open_sender(const send_options& o) {
  vsocklib::unique_fd fd = make_udp_socket();
  if (o.source || o.port_from) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr = o.source ? *o.source : in_addr{htonl(INADDR_ANY)};
    local.sin_port = htons(o.port_from);
    set_int(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0)
      throw_errno("bind " + to_string(local));
  }
  if (!o.interface.empty()) {
    ip_mreqn m{};
    m.imr_ifindex = static_cast<int>(if_index(o.interface));
    if (setsockopt(fd.get(), IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m) != 0)
      throw_errno("IP_MULTICAST_IF " + o.interface);
  } else if (o.source) {
    if (setsockopt(fd.get(), IPPROTO_IP, IP_MULTICAST_IF, &*o.source, sizeof *o.source) != 0)
      throw_errno("IP_MULTICAST_IF " + to_string(*o.source));
  }
  set_int(fd.get(), IPPROTO_IP, IP_MULTICAST_TTL, o.ttl, "IP_MULTICAST_TTL");
  // Unicast targets; 0 is invalid there.
  set_int(fd.get(), IPPROTO_IP, IP_TTL, o.ttl == 0 ? 1 : o.ttl, "IP_TTL");
  set_int(fd.get(), IPPROTO_IP, IP_TOS, o.tos, "IP_TOS");
  set_int(fd.get(), IPPROTO_IP, IP_MULTICAST_LOOP, o.loop ? 1 : 0, "IP_MULTICAST_LOOP");
  return fd;
}

// Sends BUF to the group, again while the kernel pushes back; counts those retries.
void send_one(int fd, const send_options& o, const std::vector<std::uint8_t>& buf,
              std::uint64_t& retries) {
  int tries = 0;
  while (sendto(fd, buf.data(), buf.size(), 0, reinterpret_cast<const sockaddr*>(&o.group),
                sizeof o.group) < 0) {
    if ((errno != ENOBUFS && errno != EAGAIN) || ++tries > kMaxRetries)
      throw_errno("sendto " + to_string(o.group));
    ++retries;
    std::this_thread::sleep_for(kRetryPause);
  }
}

send_result send_all(int fd, const send_options& o, std::uint32_t run_id) {
  send_result r;
  r.run_id = run_id;
  std::vector<std::uint8_t> buf(o.size, 0);
  const auto t0 = clock_type::now();
  for (std::uint64_t seq = 0; seq < o.count && !stop_requested(); ++seq) {
    if (o.rate > 0) {
      const auto due = t0 + std::chrono::nanoseconds(seq * 1'000'000'000ull / o.rate);
      if (clock_type::now() < due) std::this_thread::sleep_until(due);
    }
    encode(buf, run_id, seq, o.text);
    send_one(fd, o, buf, r.retries);
    ++r.sent;
  }
  r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  return r;
}

}  // namespace

int run_send(const send_options& o) {
  const std::uint32_t run_id = o.run_id ? *o.run_id : std::random_device{}();
  const vsocklib::unique_fd fd = open_sender(o);
  install_stop_signals();
  const send_result r = send_all(fd.get(), o, run_id);
  if (o.json) std::fputs(send_json(o, r).c_str(), stdout);
  else std::fputs(send_text(o, r).c_str(), stderr);
  return 0;
}

}  // namespace mcast_probe
