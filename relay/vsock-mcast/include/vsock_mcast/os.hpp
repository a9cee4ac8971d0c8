// The Linux calls the endpoints make: TUN, rtnetlink requests (address, route, proxy
// neighbour), sysctls, and the host's raw and membership sockets. Start-up functions throw
// std::system_error naming what failed; those also used while running return error_code.
#pragma once

#include <cstdint>
#include <string>

#include <boost/system/error_code.hpp>

#include "vsocklib/unique_fd.hpp"

namespace vsock_mcast::os {

using boost::system::error_code;

/// The endpoints own their descriptors the way the rest of the toolkit does.
using fd = vsocklib::unique_fd;

/// Creates (or attaches to) the TUN interface NAME (IFF_TUN | IFF_NO_PI), non-blocking.
fd open_tun(const std::string& name);

/// 0 when there is no interface NAME.
unsigned if_index(const std::string& name);
/// The interface flags (IFF_*), or -1 when there is no interface NAME.
int link_flags(const std::string& name);
/// Sets IFF_UP (and IFF_MULTICAST) on NAME.
error_code set_link_up(const std::string& name);

/// RTM_NEWADDR: ADDR/PREFIX on interface IFINDEX (replaces an identical one).
error_code add_address(unsigned ifindex, std::uint32_t addr, unsigned prefix);
/// RTM_NEWROUTE in the main table: DST/PREFIX out of IFINDEX, scope link. EEXIST is success.
error_code add_route(unsigned ifindex, std::uint32_t dst, unsigned prefix);
/// RTM_NEWNEIGH / RTM_DELNEIGH with NTF_PROXY: answer ARP for ADDR on IFINDEX.
error_code add_proxy_neigh(unsigned ifindex, std::uint32_t addr);
error_code del_proxy_neigh(unsigned ifindex, std::uint32_t addr);

/// Writes VALUE to /proc/sys/PATH (e.g. "net/ipv4/conf/vmc0/rp_filter").
error_code write_sysctl(const std::string& path, const std::string& value);

/// Host: a raw IPPROTO_UDP socket bound to interface NAME that receives only datagrams to
/// multicast destinations (a classic BPF filter), whole IP packet included. Non-blocking.
/// RCVBUF bytes of receive buffer (forced with CAP_NET_ADMIN, else capped at rmem_max).
fd open_lan_receiver(const std::string& name, int rcvbuf);
/// A counter of link NAME from /sys/class/net/NAME/statistics/WHAT (e.g. "rx_dropped": for
/// a TUN, packets written to it that the kernel's input queue had no room for); 0 when
/// unreadable.
std::uint64_t link_counter(const std::string& name, const std::string& what);
/// Datagrams the kernel dropped at FD because its receive buffer was full (SO_MEMINFO);
/// 0 when the kernel cannot say.
std::uint32_t socket_drops(int fd);
/// Host: an IPPROTO_RAW (IP_HDRINCL) socket that sends multicast out of IFINDEX.
fd open_lan_sender(unsigned ifindex);
/// Host: a UDP socket that holds the membership of GROUP on IFINDEX (IP_ADD_MEMBERSHIP);
/// closing it leaves the group.
fd open_membership(unsigned ifindex, std::uint32_t group, error_code& ec);

}  // namespace vsock_mcast::os
