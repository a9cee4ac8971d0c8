#include "vsock_mcast/netlink.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <span>
#include <system_error>
#include <vector>

namespace vsock_mcast {
namespace {

int open_socket() {
  os::fd s(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!s) throw std::system_error(errno, std::generic_category(), "netlink socket");
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE;
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) {
    throw std::system_error(errno, std::generic_category(), "netlink bind");
  }
  return s.release();
}

std::string name_of(unsigned ifindex) {
  char buf[IF_NAMESIZE] = {};
  return ::if_indextoname(ifindex, buf) ? std::string(buf) : std::string();
}

bool parse(const nlmsghdr* h, net_event& ev) {
  switch (h->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK: {
      const auto* m = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
      ev.what = net_event::kind::link;
      ev.removed = h->nlmsg_type == RTM_DELLINK;
      ev.ifindex = static_cast<unsigned>(m->ifi_index);
      ev.flags = m->ifi_flags;
      int len = static_cast<int>(IFLA_PAYLOAD(h));
      for (auto* a = IFLA_RTA(m); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == IFLA_IFNAME) {
          ev.ifname.assign(static_cast<const char*>(RTA_DATA(a)),
                           strnlen(static_cast<const char*>(RTA_DATA(a)), RTA_PAYLOAD(a)));
        }
      }
      return true;
    }
    case RTM_NEWADDR:
    case RTM_DELADDR: {
      const auto* m = static_cast<const ifaddrmsg*>(NLMSG_DATA(h));
      if (m->ifa_family != AF_INET) return false;
      ev.what = net_event::kind::address;
      ev.removed = h->nlmsg_type == RTM_DELADDR;
      ev.ifindex = m->ifa_index;
      ev.ifname = name_of(m->ifa_index);
      return true;
    }
    case RTM_NEWROUTE:
    case RTM_DELROUTE: {
      const auto* m = static_cast<const rtmsg*>(NLMSG_DATA(h));
      if (m->rtm_family != AF_INET) return false;
      ev.what = net_event::kind::route;
      ev.removed = h->nlmsg_type == RTM_DELROUTE;
      int len = static_cast<int>(RTM_PAYLOAD(h));
      for (auto* a = RTM_RTA(m); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == RTA_OIF) ev.ifindex = *static_cast<const unsigned*>(RTA_DATA(a));
      }
      return true;
    }
    default: return false;
  }
}

}  // namespace

netlink_watcher::netlink_watcher(asio::any_io_executor ex) : sock_(ex, open_socket()) {}

asio::awaitable<void> netlink_watcher::run(std::function<void(const net_event&)> on_event) {
  // On the heap: GCC 12 does not honour alignas for locals kept in a coroutine frame (UBSan
  // caught nlmsghdr read at an odd address), and malloc's alignment is enough.
  std::vector<std::uint32_t> storage(16384 / sizeof(std::uint32_t));
  const std::span<char> buf(reinterpret_cast<char*>(storage.data()),
                            storage.size() * sizeof(std::uint32_t));
  while (sock_.is_open()) {
    auto [ec] =
        co_await sock_.async_wait(asio::posix::descriptor_base::wait_read, vsocklib::use_tuple);
    if (ec) co_return;
    for (;;) {
      const auto n = ::recv(sock_.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == ENOBUFS) {
          net_event lost;
          lost.what = net_event::kind::overrun;
          on_event(lost);
          continue;
        }
        break;  // EAGAIN, or closed
      }
      auto len = static_cast<unsigned>(n);
      for (auto* h = reinterpret_cast<const nlmsghdr*>(buf.data()); NLMSG_OK(h, len);
           h = NLMSG_NEXT(h, len)) {
        net_event ev;
        if (parse(h, ev)) on_event(ev);
      }
    }
  }
}

void netlink_watcher::close() {
  boost::system::error_code ignored;
  sock_.close(ignored);
}

}  // namespace vsock_mcast
