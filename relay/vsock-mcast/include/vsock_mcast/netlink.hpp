// Watches rtnetlink for link, IPv4 address and IPv4 route changes, so the endpoints can
// re-join groups when a LAN interface comes back and restore the guest TUN's address and
// routes when something removes them. Thread safety: one io_context thread.
#pragma once

#include <functional>
#include <string>

#include "vsock_mcast/os.hpp"
#include "vsocklib/asio.hpp"

namespace vsock_mcast {

namespace asio = vsocklib::asio;

struct net_event {
  enum class kind { link, address, route, overrun } what = kind::link;
  bool removed = false;  ///< RTM_DEL*
  unsigned ifindex = 0;  ///< the interface (a route's output interface)
  std::string ifname;    ///< link events (and address events, looked up)
  unsigned flags = 0;    ///< link events: IFF_*
};

class netlink_watcher {
 public:
  /// Subscribes to RTMGRP_LINK, RTMGRP_IPV4_IFADDR and RTMGRP_IPV4_ROUTE. Throws
  /// std::system_error when the socket cannot be opened.
  explicit netlink_watcher(asio::any_io_executor ex);

  /// Calls ON_EVENT for each change until close(). A receive buffer overrun (events lost)
  /// is reported as kind::overrun: re-check everything.
  asio::awaitable<void> run(std::function<void(const net_event&)> on_event);
  void close();

 private:
  asio::posix::stream_descriptor sock_;
};

}  // namespace vsock_mcast
