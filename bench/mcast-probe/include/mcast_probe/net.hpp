// Plain IPv4 UDP sockets and the little around them that every command needs. Plain on
// purpose: the checker must not share socket code (or its bugs) with vsock-mcast, the
// daemon it checks. System errors throw std::system_error ("WHAT: strerror").
#pragma once

#include <netinet/in.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "vsocklib/unique_fd.hpp"

namespace mcast_probe {

using clock_type = std::chrono::steady_clock;

/// S seconds as a clock duration (the options hold seconds as doubles).
clock_type::duration to_duration(double s);
/// Milliseconds from NOW until UNTIL for poll(), rounded up so a wait never ends early.
int poll_ms(clock_type::time_point now, clock_type::time_point until);

std::string to_string(const sockaddr_in& sa);  ///< "A.B.C.D:PORT"
std::string to_string(in_addr a);              ///< "A.B.C.D"

/// The index of interface NAME; usage_error when this network namespace has none.
unsigned if_index(const std::string& name);
/// The name of interface IDX, or "ifIDX" when it has none (gone, or 0).
std::string if_name(unsigned idx);

/// Throws std::system_error(errno, WHAT).
[[noreturn]] void throw_errno(const std::string& what);

vsocklib::unique_fd make_udp_socket();
/// setsockopt of an int; throws naming WHAT.
void set_int(int fd, int level, int opt, int v, const char* what);
/// Asks for IP_PKTINFO, IP_RECVTTL and IP_RECVTOS, which receive() reports.
void want_arrival_facts(int fd);

/// What the kernel says about one received datagram.
struct arrival {
  sockaddr_in from{};
  int ttl = -1, tos = -1;  ///< -1: not reported
  unsigned ifindex = 0;    ///< where it came in
  in_addr dst{};           ///< the address it was sent to
};

/// Reads one datagram into BUF (LEN its size) with its ancillary data, waiting up to
/// TIMEOUT_MS; false on timeout or EINTR.
bool receive(int fd, std::vector<std::uint8_t>& buf, std::size_t& len, arrival& a, int timeout_ms);

/// Datagrams the kernel dropped at FD because its receive buffer was full (SO_MEMINFO);
/// 0 when it cannot say.
std::uint64_t socket_drops(int fd);

/// SIGINT and SIGTERM set the flag stop_requested() reads. No SA_RESTART: a blocked
/// poll()/recvmsg() returns EINTR and the command's loop ends.
void install_stop_signals();
bool stop_requested();

}  // namespace mcast_probe
