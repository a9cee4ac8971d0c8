// Internal: address -> Asio generic endpoint conversions shared by connect and listen.
#pragma once

#include <string>

#include "vsocklib/address.hpp"
#include "vsocklib/asio.hpp"
#include "vsocklib/vsock.hpp"

namespace vsocklib::detail {

/// A Unix socket endpoint; a path starting with '@' names the abstract namespace.
inline asio::local::stream_protocol::endpoint unix_endpoint(const std::string& path) {
  if (!path.empty() && path.front() == '@') {
    return asio::local::stream_protocol::endpoint(std::string(1, '\0') + path.substr(1));
  }
  return asio::local::stream_protocol::endpoint(path);
}

/// The Unix socket a hybrid vsock VMM connects to for guest-initiated connections.
inline std::string hvsock_listen_path(const address& a) {
  return a.path + "_" + std::to_string(a.port);
}

inline asio::generic::stream_protocol::endpoint vsock_stream_endpoint(const address& a) {
  return asio::generic::stream_protocol::endpoint(vsock::stream::endpoint(a.cid, a.port));
}

inline asio::generic::seq_packet_protocol::endpoint vsock_seqpacket_endpoint(const address& a) {
  return asio::generic::seq_packet_protocol::endpoint(vsock::seqpacket::endpoint(a.cid, a.port));
}

}  // namespace vsocklib::detail
