// The host endpoint: a multicast group member on the LAN interfaces, serving many guests
// (docs/vsock-mcast.md). Thread safety: everything runs on one single-threaded io_context.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "vsock_mcast/channel.hpp"
#include "vsock_mcast/config.hpp"
#include "vsock_mcast/filters.hpp"
#include "vsock_mcast/membership.hpp"
#include "vsock_mcast/stats.hpp"
#include "vsocklib/listener.hpp"
#include "vsocklib/repeat_log.hpp"

namespace spdlog {
class logger;
}
namespace vsocklib {
class task_group;
}

namespace vsock_mcast {

class lan_ports;

/// Most groups one guest may hold; more JOINs are refused (a guest cannot make the host
/// join without bound).
inline constexpr std::size_t kMaxGroupsPerGuest = 256;
/// Source addresses remembered per guest for echo detection when its HELLO gave none.
inline constexpr std::size_t kMaxOriginsPerGuest = 8;
/// A connected peer has this long to send its HELLO.
inline constexpr std::chrono::seconds kHelloTimeout{10};

class host_endpoint {
 public:
  /// Opens the listeners, the LAN sockets and (l3) the TUN, joins the static groups.
  /// Throws (std::system_error, std::runtime_error) naming what failed: a start-up error.
  host_endpoint(asio::io_context& io, host_config cfg);
  ~host_endpoint();
  host_endpoint(const host_endpoint&) = delete;
  host_endpoint& operator=(const host_endpoint&) = delete;

  /// Accepts guests and serves them, reads the LAN and (l3) the TUN, and follows the LAN
  /// interfaces; logs "ready". Returns once stop() has ended all of it: every coroutine the
  /// endpoint starts is joined here. Throws what a part of it threw (a bug): the part's
  /// failure stops the rest first.
  asio::awaitable<void> run();
  /// Closes everything, which ends what run() awaits.
  void stop();

  std::string status_json() const;
  /// The listeners' bound addresses (tcp port 0 resolved), for tests.
  std::vector<vsocklib::address> listen_addresses() const;

 private:
  struct guest {
    guest_id id = 0;
    std::string peer;
    std::string name;
    bool ready = false;  // HELLO received
    vsock_mcast::mode mode = mode::mcast;
    std::uint32_t address = 0;
    std::set<std::uint32_t> origins;
    std::shared_ptr<channel> ch;
    std::unique_ptr<asio::steady_timer> hello_timer;
    rate_limiter from_guest, to_guest;
    std::uint64_t to_guest_packets = 0, to_guest_bytes = 0;
    std::uint64_t from_guest_packets = 0, from_guest_bytes = 0;
    drop_counters drops;
    drop_counters malformed;
  };
  using guest_ptr = std::shared_ptr<guest>;

  // host_guests.cpp: the guests' sessions.
  asio::awaitable<void> serve_guests();
  template <typename Listener>
  asio::awaitable<void> accept_loop(Listener& l, vsocklib::task_group& sessions);
  template <typename Socket>
  void add_guest(Socket s, std::string peer, std::size_t max_write, vsocklib::task_group& sessions);
  asio::awaitable<void> serve_guest(guest_ptr g);
  asio::awaitable<void> run_guest(guest_ptr g);
  asio::awaitable<void> run_writer(guest_ptr g);
  asio::awaitable<void> hello_deadline(guest_ptr g);
  bool accept_hello(guest& g, const hello& h);
  void remove_guest(guest& g);
  void on_join(guest& g, std::uint32_t group);
  void on_leave(guest& g, std::uint32_t group);

  // host_forward.cpp: packets between the guests, the LAN and the TUN.
  void on_guest_data(guest& g, std::span<const std::uint8_t> packet);
  void on_lan_packet(std::span<std::uint8_t> packet);
  void deliver(guest& g, const shared_record& rec, std::size_t packet_size);

  // host_tun.cpp: l3.
  void open_l3();
  asio::awaitable<void> read_tun();

  bool static_wants(std::uint32_t group, std::optional<std::uint16_t> port) const;
  bool is_guest_origin(std::uint32_t src) const;
  void drop(const char* reason) { drops_.add(reason); }

  asio::io_context& io_;
  host_config cfg_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<std::unique_ptr<vsocklib::listener>> stream_listeners_;
  std::vector<std::unique_ptr<vsocklib::seqpacket_listener>> seqpacket_listeners_;
  std::shared_ptr<asio::posix::stream_descriptor> tun_;  // l3
  std::map<guest_id, guest_ptr> guests_;
  membership_table members_;
  std::unique_ptr<lan_ports> lans_;  // after what it refers to (cfg_, members_)
  dup_filter dups_;
  drop_counters drops_;
  drop_counters malformed_;
  vsocklib::repeat_log malformed_log_;
  vsocklib::repeat_log refuse_log_;  // a refused guest retries: say it once, then count
  guest_id next_id_ = 1;
  std::uint64_t guests_total_ = 0, lan_rx_ = 0, tun_rx_ = 0, tun_tx_ = 0;
  bool stopped_ = false;
};

}  // namespace vsock_mcast
