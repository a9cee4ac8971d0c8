#include "vsock_mcast/os.hpp"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>
#include <vector>

namespace vsock_mcast::os {
namespace {

error_code last_error() { return {errno, boost::system::system_category()}; }

[[noreturn]] void fail(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void copy_name(char (&dst)[IFNAMSIZ], const std::string& name) {
  std::memset(dst, 0, IFNAMSIZ);
  std::strncpy(dst, name.c_str(), IFNAMSIZ - 1);
}

// One rtnetlink request with NLM_F_ACK, answered synchronously: these are start-up and
// reconfiguration steps the kernel answers at once.
class nl_request {
 public:
  nl_request(std::uint16_t type, std::uint16_t flags) {
    buf_.resize(NLMSG_HDRLEN);
    auto* h = hdr();
    h->nlmsg_type = type;
    h->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
    h->nlmsg_seq = 1;
  }
  template <typename T>
  void add(const T& body) {
    append(&body, sizeof body);
  }
  void attr(std::uint16_t type, const void* data, std::size_t len) {
    rtattr a{};
    a.rta_type = type;
    a.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
    append(&a, sizeof a);
    append(data, len);
  }
  error_code send() {
    hdr()->nlmsg_len = static_cast<std::uint32_t>(buf_.size());
    fd s(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!s) return last_error();
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(s.get(), buf_.data(), buf_.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                 sizeof kernel) < 0) {
      return last_error();
    }
    std::array<char, 8192> reply;
    const auto n = ::recv(s.get(), reply.data(), reply.size(), 0);
    if (n < 0) return last_error();
    auto* r = reinterpret_cast<nlmsghdr*>(reply.data());
    if (!NLMSG_OK(r, static_cast<unsigned>(n)) || r->nlmsg_type != NLMSG_ERROR) return {};
    const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(r));
    if (e->error == 0) return {};
    return {-e->error, boost::system::system_category()};
  }

 private:
  nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf_.data()); }
  void append(const void* p, std::size_t len) {
    auto* b = static_cast<const char*>(p);
    buf_.insert(buf_.end(), b, b + len);
    buf_.resize(NLMSG_ALIGN(buf_.size()));
  }
  std::vector<char> buf_;
};

}  // namespace

fd open_tun(const std::string& name) {
  fd t(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!t) fail("open /dev/net/tun");
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  copy_name(ifr.ifr_name, name);
  if (::ioctl(t.get(), TUNSETIFF, &ifr) < 0) fail("TUNSETIFF " + name);
  return t;
}

unsigned if_index(const std::string& name) { return ::if_nametoindex(name.c_str()); }

int link_flags(const std::string& name) {
  fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return -1;
  ifreq ifr{};
  copy_name(ifr.ifr_name, name);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) < 0) return -1;
  return ifr.ifr_flags & 0xffff;
}

error_code set_link_up(const std::string& name) {
  fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return last_error();
  ifreq ifr{};
  copy_name(ifr.ifr_name, name);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) < 0) return last_error();
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_MULTICAST);
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) < 0) return last_error();
  return {};
}

error_code add_address(unsigned ifindex, std::uint32_t addr, unsigned prefix) {
  nl_request r(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
  ifaddrmsg m{};
  m.ifa_family = AF_INET;
  m.ifa_prefixlen = static_cast<unsigned char>(prefix);
  m.ifa_scope = RT_SCOPE_UNIVERSE;
  m.ifa_index = ifindex;
  r.add(m);
  const std::uint32_t a = htonl(addr);
  r.attr(IFA_LOCAL, &a, 4);
  r.attr(IFA_ADDRESS, &a, 4);
  return r.send();
}

error_code add_route(unsigned ifindex, std::uint32_t dst, unsigned prefix) {
  nl_request r(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  rtmsg m{};
  m.rtm_family = AF_INET;
  m.rtm_dst_len = static_cast<unsigned char>(prefix);
  m.rtm_table = RT_TABLE_MAIN;
  m.rtm_protocol = RTPROT_STATIC;
  m.rtm_scope = RT_SCOPE_LINK;
  m.rtm_type = RTN_UNICAST;
  r.add(m);
  const std::uint32_t d = htonl(dst);
  if (prefix > 0) r.attr(RTA_DST, &d, 4);
  const std::uint32_t oif = ifindex;
  r.attr(RTA_OIF, &oif, 4);
  auto ec = r.send();
  if (ec.value() == EEXIST) return {};
  return ec;
}

namespace {
error_code proxy_neigh(std::uint16_t type, std::uint16_t flags, unsigned ifindex,
                       std::uint32_t addr) {
  nl_request r(type, flags);
  ndmsg m{};
  m.ndm_family = AF_INET;
  m.ndm_ifindex = static_cast<int>(ifindex);
  m.ndm_flags = NTF_PROXY;
  m.ndm_state = NUD_PERMANENT;
  r.add(m);
  const std::uint32_t a = htonl(addr);
  r.attr(NDA_DST, &a, 4);
  return r.send();
}
}  // namespace

error_code add_proxy_neigh(unsigned ifindex, std::uint32_t addr) {
  return proxy_neigh(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, ifindex, addr);
}

error_code del_proxy_neigh(unsigned ifindex, std::uint32_t addr) {
  return proxy_neigh(RTM_DELNEIGH, 0, ifindex, addr);
}

error_code write_sysctl(const std::string& path, const std::string& value) {
  fd f(::open(("/proc/sys/" + path).c_str(), O_WRONLY | O_CLOEXEC));
  if (!f) return last_error();
  if (::write(f.get(), value.data(), value.size()) < 0) return last_error();
  return {};
}

fd open_lan_receiver(const std::string& name, int rcvbuf) {
  fd s(::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!s) fail("raw UDP socket for " + name);
  // Pass only IPv4 destinations in 224.0.0.0/4 (byte 16 of the IP header, high nibble 0xE):
  // a raw UDP socket otherwise copies every UDP datagram the host receives.
  std::array<sock_filter, 5> code = {{
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 16), BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xe0, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, 0x40000),  // accept (up to 256 KiB: the whole datagram)
      BPF_STMT(BPF_RET | BPF_K, 0),        // drop
  }};
  sock_fprog prog{static_cast<unsigned short>(code.size()), code.data()};
  if (::setsockopt(s.get(), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
    fail("SO_ATTACH_FILTER on the raw socket for " + name);
  }
  if (::setsockopt(s.get(), SOL_SOCKET, SO_BINDTODEVICE, name.c_str(),
                   static_cast<socklen_t>(name.size())) < 0) {
    fail("SO_BINDTODEVICE " + name);
  }
  // Bursts of discovery traffic (many participants starting at once) must not overflow
  // the default receive buffer. FORCE needs CAP_NET_ADMIN, which the host endpoint keeps
  // after its privilege drop; without it the kernel caps the size at net.core.rmem_max.
  if (::setsockopt(s.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0) {
    ::setsockopt(s.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  return s;
}

std::uint64_t link_counter(const std::string& name, const std::string& what) {
  std::ifstream in("/sys/class/net/" + name + "/statistics/" + what);
  std::uint64_t n = 0;
  return in >> n ? n : 0;
}

std::uint32_t socket_drops(int fd) {
  std::uint32_t info[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info, &len) != 0 ||
      len <= SK_MEMINFO_DROPS * sizeof info[0]) {
    return 0;
  }
  return info[SK_MEMINFO_DROPS];
}

fd open_lan_sender(unsigned ifindex) {
  fd s(::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW));
  if (!s) fail("raw IP socket");
  ip_mreqn m{};
  m.imr_ifindex = static_cast<int>(ifindex);
  if (::setsockopt(s.get(), IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m) < 0) {
    fail("IP_MULTICAST_IF " + std::to_string(ifindex));
  }
  return s;
}

fd open_membership(unsigned ifindex, std::uint32_t group, error_code& ec) {
  fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) {
    ec = last_error();
    return s;
  }
  ip_mreqn m{};
  m.imr_multiaddr.s_addr = htonl(group);
  m.imr_ifindex = static_cast<int>(ifindex);
  if (::setsockopt(s.get(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) < 0) {
    ec = last_error();
    return fd();
  }
  ec = {};
  return s;
}

}  // namespace vsock_mcast::os
