#include "vsocklib/listener.hpp"

#include <algorithm>
#include <cstring>
#include <system_error>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/logger.h>

#include "endpoints.hpp"
#include "vsocklib/args.hpp"
#include "vsocklib/error.hpp"
#include "vsocklib/privileges.hpp"
#include "vsocklib/repeat_log.hpp"

namespace vsocklib {
namespace {

constexpr bool is_seqpacket(const asio::generic::seq_packet_protocol*) { return true; }
constexpr bool is_seqpacket(const asio::generic::stream_protocol*) { return false; }

[[noreturn]] void fail(const address& at, const std::string& what, error_code ec) {
  throw std::system_error(ec, "cannot listen on " + at.to_string() + ": " + what);
}

// A leftover socket file from a previous run blocks bind(). Remove it only when nobody
// listens on it any more, so two daemons never silently steal each other's socket.
void remove_stale_socket(const address& at, const std::string& path) {
  struct stat st {};
  if (path.empty() || path.front() == '@' || ::lstat(path.c_str(), &st) != 0) return;
  if (!S_ISSOCK(st.st_mode)) {
    fail(at, path + " exists and is not a socket",
         make_error_code(boost::system::errc::file_exists));
  }
  asio::io_context probe_ctx;
  asio::local::stream_protocol::socket probe(probe_ctx);
  error_code ec;
  probe.connect(asio::local::stream_protocol::endpoint(path), ec);
  if (!ec) fail(at, "another process is listening on " + path, asio::error::address_in_use);
  ::unlink(path.c_str());
}

struct peer_check {
  bool allowed = true;
  std::string description;  // full peer address
  std::string who;          // without the ephemeral port, so repeats of one peer collapse
  std::string why;
};

peer_check check_peer(int fd, const asio::detail::socket_addr_type* sa, const peer_policy& p) {
  peer_check r;
  switch (sa->sa_family) {
    case AF_VSOCK: {
      const auto* vm = reinterpret_cast<const sockaddr_vm*>(sa);
      r.description = vsock::to_string(vm->svm_cid, vm->svm_port);
      r.who = "vsock CID " + std::to_string(vm->svm_cid);
      if (!p.allowed_cids.empty() && std::find(p.allowed_cids.begin(), p.allowed_cids.end(),
                                               vm->svm_cid) == p.allowed_cids.end()) {
        r.allowed = false;
        r.why = "CID " + std::to_string(vm->svm_cid) + " is not in the CID allowlist";
      }
      break;
    }
    case AF_UNIX: {
      ucred cred{};
      socklen_t len = sizeof cred;
      if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        r.description = "unix:?";
        r.allowed = p.allowed_uids.empty();
        r.why = "SO_PEERCRED failed";
        break;
      }
      r.description = "unix:uid=" + std::to_string(cred.uid) + ",pid=" + std::to_string(cred.pid);
      r.who = "unix uid " + std::to_string(cred.uid);
      if (!p.allowed_uids.empty() && std::find(p.allowed_uids.begin(), p.allowed_uids.end(),
                                               cred.uid) == p.allowed_uids.end()) {
        r.allowed = false;
        r.why = "uid " + std::to_string(cred.uid) + " is not in the uid allowlist";
      }
      break;
    }
    case AF_INET:
    case AF_INET6: {
      asio::ip::tcp::endpoint ep;
      std::memcpy(ep.data(), sa,
                  sa->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
      r.description =
          "tcp:" +
          (ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string()) +
          ":" + std::to_string(ep.port());
      r.who = "tcp " + ep.address().to_string();
      auto a = ep.address();
      bool loopback = a.is_loopback() ||
                      (a.is_v6() && a.to_v6().is_v4_mapped() &&
                       asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback());
      if (!loopback && !p.allow_remote_tcp) {
        r.allowed = false;
        r.why = "remote TCP peers are not allowed (allow_remote_tcp is off)";
      }
      break;
    }
    default: r.description = "family " + std::to_string(sa->sa_family);
  }
  return r;
}

}  // namespace

template <typename Protocol>
struct basic_listener<Protocol>::impl {
  impl(asio::any_io_executor ex, address at, peer_policy p, std::shared_ptr<spdlog::logger> l)
      : acceptor(ex),
        local(std::move(at)),
        policy(std::move(p)),
        log(std::move(l)),
        refusals(log) {}
  asio::basic_socket_acceptor<Protocol> acceptor;
  address local;
  peer_policy policy;
  std::shared_ptr<spdlog::logger> log;
  repeat_log refusals;
  std::uint64_t refused = 0;
  std::string socket_file;  // removed again on close
};

template <typename Protocol>
basic_listener<Protocol>::basic_listener(asio::any_io_executor ex, const address& at,
                                         peer_policy policy, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_unique<impl>(ex, at, std::move(policy), std::move(log))) {
  constexpr bool seqpacket = is_seqpacket(static_cast<const Protocol*>(nullptr));
  if (seqpacket != (at.kind == transport::vsock_seqpacket)) {
    fail(at,
         seqpacket ? "a record listener needs a vsock-seqpacket address"
                   : "vsock-seqpacket carries records, not a byte stream",
         make_error_code(errc::wrong_transport));
  }
  typename Protocol::endpoint ep;
  switch (at.kind) {
    case transport::vsock:
    case transport::vsock_seqpacket:
      if constexpr (seqpacket) {
        ep = detail::vsock_seqpacket_endpoint(at);
      } else {
        ep = detail::vsock_stream_endpoint(at);
      }
      break;
    case transport::unix_socket:
    case transport::hvsock: {
      impl_->socket_file = at.kind == transport::hvsock ? detail::hvsock_listen_path(at) : at.path;
      remove_stale_socket(at, impl_->socket_file);
      if constexpr (!seqpacket)
        ep = typename Protocol::endpoint(detail::unix_endpoint(impl_->socket_file));
      break;
    }
    case transport::tcp: {
      asio::io_context resolve_ctx;
      asio::ip::tcp::resolver resolver(resolve_ctx);
      error_code ec;
      auto results = resolver.resolve(at.host, std::to_string(at.port), ec);
      if (ec || results.empty())
        fail(at, "cannot resolve " + at.host, ec ? ec : asio::error::host_not_found);
      if constexpr (!seqpacket) ep = typename Protocol::endpoint(results.begin()->endpoint());
      break;
    }
  }
  auto& acc = impl_->acceptor;
  error_code ec;
  acc.open(ep.protocol(), ec);
  if (ec) fail(at, "socket", ec);
  if (at.kind == transport::tcp) acc.set_option(asio::socket_base::reuse_address(true), ec);
  acc.bind(ep, ec);
  if (ec) fail(at, "bind", ec);
  acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail(at, "listen", ec);

  // Report what was really bound: a port 0 becomes the port the kernel chose.
  auto bound = acc.local_endpoint(ec);
  if (!ec) {
    if (at.kind == transport::tcp) {
      asio::ip::tcp::endpoint t;
      std::memcpy(t.data(), bound.data(), bound.size());
      impl_->local.port = t.port();
    } else if (at.kind == transport::vsock || at.kind == transport::vsock_seqpacket) {
      impl_->local.port = reinterpret_cast<const sockaddr_vm*>(bound.data())->svm_port;
    }
  }
}

template <typename Protocol>
basic_listener<Protocol>::~basic_listener() {
  if (impl_) close();
}

template <typename Protocol>
basic_listener<Protocol>::basic_listener(basic_listener&&) noexcept = default;
template <typename Protocol>
basic_listener<Protocol>& basic_listener<Protocol>::operator=(basic_listener&&) noexcept = default;

template <typename Protocol>
asio::awaitable<std::tuple<error_code, typename Protocol::socket, peer_info>>
basic_listener<Protocol>::async_accept() {
  for (;;) {
    typename Protocol::endpoint peer;
    auto [ec, s] = co_await impl_->acceptor.async_accept(peer, use_tuple);
    if (ec) co_return std::tuple{ec, std::move(s), peer_info{}};
    auto check = check_peer(s.native_handle(), peer.data(), impl_->policy);
    if (check.allowed) {
      impl_->refusals.clear();
      co_return std::tuple{ec, std::move(s), peer_info{std::move(check.description)}};
    }
    ++impl_->refused;
    impl_->refusals.warn("refused " + check.who + " on " + impl_->local.to_string() + ": " +
                         check.why);
    impl_->log->debug("refused {}", check.description);
    error_code ignored;
    s.close(ignored);
  }
}

template <typename Protocol>
const address& basic_listener<Protocol>::local_address() const noexcept {
  return impl_->local;
}

template <typename Protocol>
std::uint64_t basic_listener<Protocol>::refused_count() const noexcept {
  return impl_->refused;
}

template <typename Protocol>
void basic_listener<Protocol>::close() {
  error_code ignored;
  if (impl_->acceptor.is_open()) {
    impl_->acceptor.close(ignored);
    if (!impl_->socket_file.empty() && impl_->socket_file.front() != '@') {
      ::unlink(impl_->socket_file.c_str());
    }
  }
}

template class basic_listener<asio::generic::stream_protocol>;
template class basic_listener<asio::generic::seq_packet_protocol>;

bool read_peer_policy_option(arg_reader& in, peer_policy& policy, number_base base) {
  const std::string& a = in.option();
  if (a == "--allow-cid") {
    // CID 0xffffffff is "any": never a peer's CID, so never worth allowing.
    policy.allowed_cids.push_back(in.number<std::uint32_t>(0, kMaxCid, base));
  } else if (a == "--allow-uid") {
    policy.allowed_uids.push_back(in.number<uid_t>(0, kMaxUid, base));
  } else if (a == "--allow-remote-tcp") {
    policy.allow_remote_tcp = true;
  } else {
    return false;
  }
  return true;
}

}  // namespace vsocklib
