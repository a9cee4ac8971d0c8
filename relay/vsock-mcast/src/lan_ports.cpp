#include "vsock_mcast/lan_ports.hpp"

#include <net/if.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include "vsock_mcast/membership.hpp"
#include "vsock_mcast/netlink.hpp"
#include "vsock_mcast/packet.hpp"
#include "vsock_mcast/packet_reader.hpp"

namespace vsock_mcast {

lan_ports::lan_ports(asio::io_context& io, const host_config& cfg, const membership_table& members,
                     std::shared_ptr<spdlog::logger> log)
    : io_(io),
      cfg_(cfg),
      members_(members),
      log_(std::move(log)),
      readers_(io.get_executor(), [this] { close(); }),
      send_log_(log_) {
  for (const auto& name : cfg_.lan) {
    if (os::if_index(name) == 0)
      throw std::runtime_error("LAN interface " + name + " does not exist");
    ports_.push_back(port{});
    ports_.back().name = name;
  }
  netlink_ = std::make_unique<netlink_watcher>(io_.get_executor());
  for (auto& p : ports_) open(p);
}

lan_ports::~lan_ports() { close(); }

asio::awaitable<void> lan_ports::run(packet_handler on_packet) {
  on_packet_ = std::move(on_packet);
  reading_ = true;
  for (std::size_t i = 0; i < ports_.size(); ++i) start_reader(i);
  co_await netlink_->run([this](const net_event& ev) { on_net_event(ev); });
  // No event opens a receiver any more (close() ended the watcher); close() has ended the
  // readers as well.
  co_await readers_.join();
}

void lan_ports::close() {
  if (closed_) return;
  closed_ = true;
  if (netlink_) netlink_->close();
  for (auto& p : ports_) {
    if (cfg_.mode == mode::l3 && p.ifindex) {
      for (auto a : cfg_.guest_addresses) os::del_proxy_neigh(p.ifindex, a);
    }
    close(p);
  }
}

void lan_ports::start_reader(std::size_t index) {
  auto& p = ports_[index];
  if (reading_ && p.rx) readers_.spawn(read(p.rx, index));
}

void lan_ports::open(port& p) {
  p.ifindex = os::if_index(p.name);
  if (p.ifindex == 0) return;
  const int flags = os::link_flags(p.name);
  p.up = flags >= 0 && (flags & IFF_UP) && (flags & IFF_RUNNING);
  p.rx = std::make_shared<asio::posix::stream_descriptor>(
      io_, os::open_lan_receiver(p.name, static_cast<int>(cfg_.lan_rcvbuf)).release());
  ++p.opens;
  p.tx = os::open_lan_sender(p.ifindex);
  join_all(p);
  start_reader(static_cast<std::size_t>(&p - ports_.data()));
}

void lan_ports::join_all(port& p) {
  // join() opens the new membership before it closes the one it replaces, so a group
  // being joined again stays joined throughout.
  for (auto group : members_.lan_groups()) {
    join(p, group, members_.is_static(group) ? "static" : "re-join");
  }
  if (cfg_.mode == mode::l3) {
    // Proxy ARP answers only where forwarding is on, and the kernel removes proxy entries
    // when the link goes down: set both again each time the LAN side is opened.
    const std::string conf = "net/ipv4/conf/" + p.name + "/forwarding";
    if (auto ec = os::write_sysctl(conf, "1")) log_->warn("{}: {}", conf, ec.message());
    os::write_sysctl("net/ipv4/neigh/" + p.name + "/proxy_delay", "0");
    for (auto a : cfg_.guest_addresses) {
      if (auto ec = os::add_proxy_neigh(p.ifindex, a)) {
        log_->warn("proxy ARP for {} on {}: {}", ipv4_to_string(a), p.name, ec.message());
      }
    }
  }
}

void lan_ports::refresh(port& p) {
  // The same interface under the same index: keep the receiver and what it has queued, and
  // only join again. Anything else (a new index, no receiver yet) opens the LAN afresh.
  if (p.rx && p.rx->is_open() && p.ifindex != 0 && os::if_index(p.name) == p.ifindex) {
    const int flags = os::link_flags(p.name);
    p.up = flags >= 0 && (flags & IFF_UP) && (flags & IFF_RUNNING);
    join_all(p);
    return;
  }
  close(p);
  open(p);
}

std::uint64_t lan_ports::port::socket_drops() const {
  return socket_drops_closed + (rx && rx->is_open() ? os::socket_drops(rx->native_handle()) : 0);
}

void lan_ports::close(port& p) {
  p.socket_drops_closed = p.socket_drops();
  if (p.rx) p.rx->close();
  p.rx.reset();
  p.tx.reset();
  p.joined.clear();
}

void lan_ports::join(std::uint32_t group, const std::string& why) {
  for (auto& p : ports_) join(p, group, why);
}

void lan_ports::join(port& p, std::uint32_t group, const std::string& why) {
  if (p.ifindex == 0) return;
  boost::system::error_code ec;
  auto s = os::open_membership(p.ifindex, group, ec);
  if (ec) {
    log_->warn("join {} on {} failed: {}", ipv4_to_string(group), p.name, ec.message());
    return;
  }
  p.joined[group] = std::move(s);
  log_->info("join {} on {} ({})", ipv4_to_string(group), p.name, why);
}

void lan_ports::leave(std::uint32_t group, const std::string& why) {
  for (auto& p : ports_) {
    if (p.joined.erase(group) && !closed_) {
      log_->info("leave {} on {} ({})", ipv4_to_string(group), p.name, why);
    }
  }
}

void lan_ports::send(std::span<const std::uint8_t> packet, std::uint32_t dst) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(dst);
  for (auto& p : ports_) {
    if (!p.tx) continue;
    if (::sendto(p.tx.get(), packet.data(), packet.size(), MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0) {
      ++p.tx_errors;
      send_log_.warn("send to LAN " + p.name + " failed: " + std::strerror(errno));
    } else {
      ++p.tx_packets;
    }
  }
}

asio::awaitable<void> lan_ports::read(std::shared_ptr<asio::posix::stream_descriptor> d,
                                      std::size_t index) {
  co_await read_packets(std::move(d), [this, index](std::span<std::uint8_t> p) {
    ++ports_[index].rx_packets;
    on_packet_(p);
  });
}

void lan_ports::on_net_event(const net_event& ev) {
  if (closed_) return;
  for (auto& p : ports_) {
    const bool overrun = ev.what == net_event::kind::overrun;
    const bool by_name = ev.what == net_event::kind::link && ev.ifname == p.name;
    if (!overrun && !by_name && (ev.ifindex == 0 || ev.ifindex != p.ifindex)) continue;
    try {
      if (overrun) {
        log_->warn("netlink events lost: checking LAN {} again", p.name);
      } else if (ev.what == net_event::kind::link) {
        if (ev.removed) {
          if (p.ifindex != 0) log_->warn("LAN {} removed", p.name);
          close(p);
          p.ifindex = 0;
          p.up = false;
          continue;
        }
        const bool up = (ev.flags & IFF_UP) && (ev.flags & IFF_RUNNING);
        if (ev.ifindex == p.ifindex && up == p.up) continue;
        if (ev.ifindex != p.ifindex) {
          log_->info("LAN {} appeared (ifindex {})", p.name, ev.ifindex);
        } else if (!up) {
          log_->warn("LAN {} down", p.name);
          p.up = false;
          continue;
        } else {
          log_->info("LAN {} up: re-joining {} group(s)", p.name, members_.lan_groups().size());
        }
      } else if (ev.what == net_event::kind::address) {
        log_->info("LAN {} address {}: re-joining {} group(s)", p.name,
                   ev.removed ? "removed" : "added", members_.lan_groups().size());
      } else {
        continue;  // routes do not concern the LAN side
      }
      if (ev.what == net_event::kind::link && ev.ifindex != p.ifindex) close(p);
      refresh(p);
    } catch (const std::exception& e) {
      log_->error("LAN {}: {}", p.name, e.what());
    }
  }
}

}  // namespace vsock_mcast
