#include "mcast_probe/net.hpp"

#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <system_error>

#include "vsocklib/args.hpp"

namespace mcast_probe {

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

}  // namespace

clock_type::duration to_duration(double s) {
  return std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s));
}

int poll_ms(clock_type::time_point now, clock_type::time_point until) {
  return static_cast<int>(
             std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count()) +
         1;
}

std::string to_string(const sockaddr_in& sa) {
  return to_string(sa.sin_addr) + ":" + std::to_string(ntohs(sa.sin_port));
}

std::string to_string(in_addr a) {
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, ip, sizeof ip);
  return ip;
}

unsigned if_index(const std::string& name) {
  const unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0)
    throw vsocklib::usage_error("no interface '" + name + "' in this network namespace");
  return idx;
}

std::string if_name(unsigned idx) {
  char name[IF_NAMESIZE] = {};
  if (idx == 0 || if_indextoname(idx, name) == nullptr) return "if" + std::to_string(idx);
  return name;
}

void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

vsocklib::unique_fd make_udp_socket() {
  vsocklib::unique_fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("socket");
  return fd;
}

void set_int(int fd, int level, int opt, int v, const char* what) {
  if (setsockopt(fd, level, opt, &v, sizeof v) != 0) throw_errno(what);
}

void want_arrival_facts(int fd) {
  set_int(fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO");
  set_int(fd, IPPROTO_IP, IP_RECVTTL, 1, "IP_RECVTTL");
  set_int(fd, IPPROTO_IP, IP_RECVTOS, 1, "IP_RECVTOS");
}

bool receive(int fd, std::vector<std::uint8_t>& buf, std::size_t& len, arrival& a, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  const int r = poll(&p, 1, timeout_ms);
  if (r < 0 && errno == EINTR) return false;
  if (r < 0) throw_errno("poll");
  if (r == 0) return false;
  iovec iov{buf.data(), buf.size()};
  alignas(cmsghdr) char control[256];
  msghdr msg{};
  msg.msg_name = &a.from;
  msg.msg_namelen = sizeof a.from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
  if (n < 0) throw_errno("recvmsg");
  len = static_cast<std::size_t>(n);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != IPPROTO_IP) continue;
    if (c->cmsg_type == IP_TTL) {
      int v;
      std::memcpy(&v, CMSG_DATA(c), sizeof v);
      a.ttl = v;
    } else if (c->cmsg_type == IP_TOS) {
      a.tos = *CMSG_DATA(c);
    } else if (c->cmsg_type == IP_PKTINFO) {
      in_pktinfo pi;
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      a.ifindex = static_cast<unsigned>(pi.ipi_ifindex);
      a.dst = pi.ipi_addr;
    }
  }
  return true;
}

std::uint64_t socket_drops(int fd) {
  std::uint32_t meminfo[SK_MEMINFO_VARS] = {};
  socklen_t meminfo_len = sizeof meminfo;
  return getsockopt(fd, SOL_SOCKET, SO_MEMINFO, meminfo, &meminfo_len) == 0
             ? meminfo[SK_MEMINFO_DROPS]
             : 0;
}

void install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool stop_requested() { return g_stop != 0; }

}  // namespace mcast_probe
