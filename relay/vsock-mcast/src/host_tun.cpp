// The host endpoint's l3 side: its TUN, which carries the guests' unicast to and from the
// host kernel's forwarding.
#include <unistd.h>

#include <system_error>

#include "vsock_mcast/host.hpp"
#include "vsock_mcast/os.hpp"
#include "vsock_mcast/packet.hpp"
#include "vsock_mcast/packet_reader.hpp"

namespace vsock_mcast {

void host_endpoint::open_l3() {
  auto t = os::open_tun(cfg_.tun);
  // Before the link is up, so no IPv6 router solicitation enters the TUN.
  os::write_sysctl("net/ipv6/conf/" + cfg_.tun + "/disable_ipv6", "1");
  if (auto ec = os::set_link_up(cfg_.tun)) {
    throw std::system_error(ec.value(), std::generic_category(), "bringing up " + cfg_.tun);
  }
  const unsigned ifindex = os::if_index(cfg_.tun);
  if (auto ec = os::write_sysctl("net/ipv4/conf/" + cfg_.tun + "/forwarding", "1")) {
    throw std::system_error(ec.value(), std::generic_category(), "forwarding on " + cfg_.tun);
  }
  for (auto a : cfg_.guest_addresses) {
    if (auto ec = os::add_route(ifindex, a, 32)) {
      throw std::system_error(ec.value(), std::generic_category(),
                              "route " + ipv4_to_string(a) + "/32 dev " + cfg_.tun);
    }
  }
  tun_ = std::make_shared<asio::posix::stream_descriptor>(io_, t.release());
}

asio::awaitable<void> host_endpoint::read_tun() {
  if (!tun_) co_return;  // mcast: no TUN
  co_await read_packets(tun_, [this](std::span<const std::uint8_t> p) {
    ++tun_rx_;
    auto v = read_ip(p);
    if (!v) return drop("tun_not_ipv4");
    guest* to = nullptr;
    for (auto& [id, g] : guests_) {
      if (g->ready && g->address == v->dst) to = g.get();
    }
    if (!to) return drop(is_multicast(v->dst) ? "tun_multicast" : "no_guest");
    deliver(*to, data_record(p), p.size());
  });
}

}  // namespace vsock_mcast
