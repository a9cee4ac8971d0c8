// Asio protocol and endpoint types for AF_VSOCK (sockaddr_vm), stream and seqpacket.
//
// These plug into Asio's Protocol/Endpoint extension point, so vsock::stream::socket and
// vsock::stream::acceptor are ordinary Asio sockets. The rest of the library converts them
// to the generic stream_socket / seqpacket_socket so that one code path serves every
// transport.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <linux/vm_sockets.h>
#include <sys/socket.h>

#include "vsocklib/asio.hpp"

namespace vsocklib::vsock {

/// A vsock endpoint (CID, port) for protocol P. Thread safety: plain value.
template <typename P>
class basic_endpoint {
 public:
  using protocol_type = P;
  using data_type = asio::detail::socket_addr_type;

  basic_endpoint() noexcept : basic_endpoint(VMADDR_CID_ANY, VMADDR_PORT_ANY) {}
  basic_endpoint(std::uint32_t cid, std::uint32_t port) noexcept {
    addr_ = {};
    addr_.svm_family = AF_VSOCK;
    addr_.svm_cid = cid;
    addr_.svm_port = port;
  }

  protocol_type protocol() const noexcept { return protocol_type(); }
  data_type* data() noexcept { return reinterpret_cast<data_type*>(&addr_); }
  const data_type* data() const noexcept { return reinterpret_cast<const data_type*>(&addr_); }
  std::size_t size() const noexcept { return sizeof(addr_); }
  std::size_t capacity() const noexcept { return sizeof(addr_); }
  void resize(std::size_t) noexcept {}  // sockaddr_vm has a fixed size

  std::uint32_t cid() const noexcept { return addr_.svm_cid; }
  std::uint32_t port() const noexcept { return addr_.svm_port; }

  friend bool operator==(const basic_endpoint& a, const basic_endpoint& b) noexcept {
    return a.cid() == b.cid() && a.port() == b.port();
  }

 private:
  sockaddr_vm addr_;
};

/// AF_VSOCK SOCK_STREAM.
class stream {
 public:
  using endpoint = basic_endpoint<stream>;
  using socket = asio::basic_stream_socket<stream>;
  using acceptor = asio::basic_socket_acceptor<stream>;

  int family() const noexcept { return AF_VSOCK; }
  int type() const noexcept { return SOCK_STREAM; }
  int protocol() const noexcept { return 0; }
  friend bool operator==(const stream&, const stream&) noexcept { return true; }
};

/// AF_VSOCK SOCK_SEQPACKET: virtio and loopback transports since Linux 5.14 (not 5.10).
class seqpacket {
 public:
  using endpoint = basic_endpoint<seqpacket>;
  using socket = asio::basic_seq_packet_socket<seqpacket>;
  using acceptor = asio::basic_socket_acceptor<seqpacket>;

  int family() const noexcept { return AF_VSOCK; }
  int type() const noexcept { return SOCK_SEQPACKET; }
  int protocol() const noexcept { return 0; }
  friend bool operator==(const seqpacket&, const seqpacket&) noexcept { return true; }
};

/// "vsock:CID:PORT" for logs.
std::string to_string(std::uint32_t cid, std::uint32_t port);

/// Whether this kernel can carry vsock traffic to CID 1 (the local loopback transport,
/// vsock_loopback). Tests that need real AF_VSOCK skip when this is false. It only looks at
/// the loaded modules: it never connects anywhere.
bool loopback_available() noexcept;

}  // namespace vsocklib::vsock
