// The guest endpoint: a TUN interface for the guest's applications, connected to the host
// endpoint (docs/vsock-mcast.md). Thread safety: one single-threaded io_context.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "vsock_mcast/channel.hpp"
#include "vsock_mcast/config.hpp"
#include "vsock_mcast/netlink.hpp"
#include "vsock_mcast/stats.hpp"
#include "vsocklib/connector.hpp"
#include "vsocklib/repeat_log.hpp"

namespace spdlog {
class logger;
}

namespace vsock_mcast {

class guest_endpoint {
 public:
  /// Creates and configures the TUN (up, address, routes, sysctls). Throws naming what
  /// failed: a start-up error.
  guest_endpoint(asio::io_context& io, guest_config cfg);
  ~guest_endpoint();
  guest_endpoint(const guest_endpoint&) = delete;
  guest_endpoint& operator=(const guest_endpoint&) = delete;

  /// Connects to the host (logging "ready" on each connection), reads the TUN and keeps it
  /// configured. Returns once stop() has ended all of it: every coroutine the endpoint
  /// starts is joined here. Throws what a part of it threw (a bug): the part's failure
  /// stops the rest first.
  asio::awaitable<void> run();
  /// Closes everything, which ends what run() awaits.
  void stop();

  std::string status_json() const;

 private:
  void configure_tun(bool at_start);
  asio::awaitable<void> connect_loop();
  template <typename Connect>
  asio::awaitable<std::shared_ptr<channel>> open_channel(Connect connect);
  asio::awaitable<void> run_session(std::shared_ptr<channel> ch);
  asio::awaitable<void> read_host(std::shared_ptr<channel> ch);
  asio::awaitable<void> run_writer(std::shared_ptr<channel> ch);
  asio::awaitable<void> read_tun();
  void on_tun_packet(std::span<const std::uint8_t> packet);
  void on_membership(std::uint32_t group, bool join);
  void on_host_data(std::span<const std::uint8_t> packet);
  void on_net_event(const net_event& ev);
  asio::awaitable<void> restore_loop();
  void send(shared_record rec, std::size_t packet_size);
  void drop(const char* reason) { drops_.add(reason); }

  asio::io_context& io_;
  guest_config cfg_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<asio::posix::stream_descriptor> tun_;
  unsigned tun_index_ = 0;
  std::unique_ptr<netlink_watcher> netlink_;
  std::shared_ptr<channel> ch_;       // while connected (HELLO sent)
  asio::steady_timer restore_timer_;  // restore_loop's: idle until a change, then a pause
  bool restore_pending_ = false;
  // Ends a connect attempt in flight at stop() (a vsock connect may wait for its deadline);
  // bound to the attempts only, as the rest ends by stop() closing what it waits on.
  asio::cancellation_signal connect_stop_;
  std::optional<vsocklib::connector> connector_;  // to cfg_.connect
  vsocklib::repeat_log connect_log_;
  vsocklib::repeat_log malformed_log_;
  std::set<std::uint32_t> groups_;  // the guest applications' memberships, from IGMP
  std::string host_name_;           // from the host's HELLO
  std::string state_ = "connecting";
  drop_counters drops_, malformed_, igmp_errors_;
  std::uint64_t connections_ = 0, to_host_packets_ = 0, to_host_bytes_ = 0;
  std::uint64_t from_host_packets_ = 0, from_host_bytes_ = 0, restores_ = 0;
  bool stopped_ = false;
};

}  // namespace vsock_mcast
