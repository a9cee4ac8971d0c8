// The host endpoint's LAN side: per interface a raw receiver, a raw sender and one
// membership socket per group held, kept in step with the interface through netlink (it
// goes down and up, is replaced, its addresses change). docs/vsock-mcast.md.
// Thread safety: one io_context thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vsock_mcast/config.hpp"
#include "vsock_mcast/os.hpp"
#include "vsocklib/repeat_log.hpp"
#include "vsocklib/task_group.hpp"

namespace spdlog {
class logger;
}

namespace vsock_mcast {

namespace asio = vsocklib::asio;

class membership_table;
class netlink_watcher;
struct net_event;

class lan_ports {
 public:
  struct port {
    std::string name;
    unsigned ifindex = 0;
    bool up = false;
    std::shared_ptr<asio::posix::stream_descriptor> rx;
    os::fd tx;
    std::map<std::uint32_t, os::fd> joined;
    std::uint64_t rx_packets = 0, tx_packets = 0, tx_errors = 0;
    std::uint64_t socket_drops_closed = 0;  // of receivers closed since (LAN reopened)
    std::uint64_t opens = 0;                // receivers opened: 1 unless the interface was replaced
    std::uint64_t socket_drops() const;
  };
  /// A datagram received on a LAN: the whole IP packet, after reassembly.
  using packet_handler = std::function<void(std::span<std::uint8_t>)>;

  /// Opens each of CFG.lan and joins the groups MEMBERS holds on the LAN (both must outlive
  /// this). Throws naming what failed (an interface that does not exist): a start-up error.
  lan_ports(asio::io_context& io, const host_config& cfg, const membership_table& members,
            std::shared_ptr<spdlog::logger> log);
  ~lan_ports();
  lan_ports(const lan_ports&) = delete;
  lan_ports& operator=(const lan_ports&) = delete;

  /// Reads every LAN into ON_PACKET and follows netlink until close(); returns when the
  /// receivers opened on the way have ended too.
  asio::awaitable<void> run(packet_handler on_packet);
  /// Closes the receivers, senders, memberships and the netlink watcher; l3: withdraws the
  /// proxy ARP entries.
  void close();

  /// Joins GROUP on every LAN (WHY goes into the log).
  void join(std::uint32_t group, const std::string& why);
  /// Leaves GROUP on every LAN that holds it (WHY goes into the log).
  void leave(std::uint32_t group, const std::string& why);
  /// Sends PACKET (a whole IP packet, header kept) to multicast group DST on every LAN.
  void send(std::span<const std::uint8_t> packet, std::uint32_t dst);

  const std::vector<port>& ports() const noexcept { return ports_; }

 private:
  void open(port& p);
  void close(port& p);
  void join_all(port& p);
  void refresh(port& p);
  void join(port& p, std::uint32_t group, const std::string& why);
  void start_reader(std::size_t index);
  asio::awaitable<void> read(std::shared_ptr<asio::posix::stream_descriptor> d, std::size_t index);
  void on_net_event(const net_event& ev);

  asio::io_context& io_;
  const host_config& cfg_;
  const membership_table& members_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<port> ports_;
  std::unique_ptr<netlink_watcher> netlink_;
  packet_handler on_packet_;
  // One reader per receiver opened; a receiver replaced (the interface was) ends its reader.
  vsocklib::task_group readers_;
  vsocklib::repeat_log send_log_;
  bool reading_ = false;
  bool closed_ = false;
};

}  // namespace vsock_mcast
