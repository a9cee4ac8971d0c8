// Listening on any address, with a peer policy applied to every accepted connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <sys/types.h>

#include "vsocklib/address.hpp"
#include "vsocklib/asio.hpp"

namespace spdlog {
class logger;
}

namespace vsocklib {

/// Who may connect. Empty lists allow everyone of that kind.
struct peer_policy {
  std::vector<std::uint32_t> allowed_cids;  ///< vsock listeners: peer CIDs allowed
  std::vector<uid_t> allowed_uids;          ///< unix and hvsock listeners: SO_PEERCRED uids
  /// TCP listeners serve loopback peers only unless this is set.
  bool allow_remote_tcp = false;
};

class arg_reader;
enum class number_base;

/// The listener options every serving program takes alike: when IN is at --allow-cid,
/// --allow-uid or --allow-remote-tcp, reads it into POLICY and returns true; else false.
/// BASE: how the program reads every number (number.hpp; vsock-soak takes hex everywhere).
bool read_peer_policy_option(arg_reader& in, peer_policy& policy, number_base base);

/// A peer that was accepted.
struct peer_info {
  std::string description;  ///< e.g. "vsock:3:1034", "unix:uid=1000,pid=42", "tcp:127.0.0.1:5000"
};

/// A listening socket for one address. Peers that the policy refuses are closed at once,
/// logged with their address and counted; async_accept keeps waiting for an allowed one.
/// Thread safety: use from one strand.
template <typename Protocol>
class basic_listener {
 public:
  using socket_type = typename Protocol::socket;

  /// Binds and listens. Throws std::system_error naming the address when that fails
  /// (a start-up error), and errc::wrong_transport when the address's kind does not match
  /// Protocol (stream vs seqpacket).
  basic_listener(asio::any_io_executor ex, const address& at, peer_policy policy,
                 std::shared_ptr<spdlog::logger> log);
  ~basic_listener();
  basic_listener(basic_listener&&) noexcept;
  basic_listener& operator=(basic_listener&&) noexcept;

  /// Waits for the next allowed peer.
  asio::awaitable<std::tuple<error_code, socket_type, peer_info>> async_accept();

  /// The address actually bound (a tcp port 0 becomes the chosen port, vsock CID "any" stays).
  const address& local_address() const noexcept;

  /// Peers refused by the policy so far.
  std::uint64_t refused_count() const noexcept;

  /// Stops listening; a pending async_accept completes with operation_aborted. For unix and
  /// hvsock the socket file is removed.
  void close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

using listener = basic_listener<asio::generic::stream_protocol>;
using seqpacket_listener = basic_listener<asio::generic::seq_packet_protocol>;

extern template class basic_listener<asio::generic::stream_protocol>;
extern template class basic_listener<asio::generic::seq_packet_protocol>;

}  // namespace vsocklib
