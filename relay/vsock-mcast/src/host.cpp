#include "host.hpp"

#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/value.hpp>
#include <spdlog/spdlog.h>

#include "packet.hpp"
#include "vsocklib/json.hpp"
#include "vsocklib/log.hpp"

namespace vsock_mcast {
namespace {

namespace json = boost::json;

const char* mode_name(mode m) { return m == mode::l3 ? "l3" : "mcast"; }

std::string host_name() {
  char buf[65] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "host";
  return buf;
}

shared_record make_data(std::span<const std::uint8_t> packet) {
  auto rec = std::make_shared<std::vector<std::uint8_t>>();
  rec->reserve(kHeaderSize + packet.size());
  encode_data(packet, *rec);
  return rec;
}

std::string label(const std::string& name, const std::string& peer) {
  return name.empty() ? peer : name;
}

}  // namespace

host_endpoint::host_endpoint(asio::io_context& io, host_config cfg)
    : io_(io), cfg_(std::move(cfg)), log_(vsocklib::log::get("vsock-mcast")),
      malformed_log_(log_), send_log_(log_), refuse_log_(log_) {
  for (const auto& g : cfg_.groups) members_.add_static(g.group);
  vsocklib::peer_policy policy;
  policy.allowed_cids = cfg_.allowed_cids;
  for (const auto& a : cfg_.listen) {
    if (a.kind == vsocklib::transport::vsock_seqpacket) {
      seqpacket_listeners_.push_back(
          std::make_unique<vsocklib::seqpacket_listener>(io_.get_executor(), a, policy, log_));
    } else {
      stream_listeners_.push_back(
          std::make_unique<vsocklib::listener>(io_.get_executor(), a, policy, log_));
    }
  }
  if (cfg_.mode == mode::l3) open_l3();
  for (const auto& name : cfg_.lan) {
    if (os::if_index(name) == 0) throw std::runtime_error("LAN interface " + name + " does not exist");
    lans_.push_back(lan_port{});
    lans_.back().name = name;
  }
  netlink_ = std::make_unique<netlink_watcher>(io_.get_executor());
  for (auto& lan : lans_) open_lan(lan);
}

host_endpoint::~host_endpoint() { stop(); }

std::vector<vsocklib::address> host_endpoint::listen_addresses() const {
  std::vector<vsocklib::address> out;
  for (const auto& l : seqpacket_listeners_) out.push_back(l->local_address());
  for (const auto& l : stream_listeners_) out.push_back(l->local_address());
  return out;
}

void host_endpoint::start() {
  for (auto& l : seqpacket_listeners_) asio::co_spawn(io_, accept_loop(*l), asio::detached);
  for (auto& l : stream_listeners_) asio::co_spawn(io_, accept_loop(*l), asio::detached);
  asio::co_spawn(io_, netlink_->run([this](const net_event& ev) { on_net_event(ev); }),
                 asio::detached);
  if (tun_) asio::co_spawn(io_, read_tun(), asio::detached);
  std::string addrs, lans;
  for (const auto& a : listen_addresses()) addrs += (addrs.empty() ? "" : ", ") + a.to_string();
  for (const auto& l : lans_) lans += (lans.empty() ? "" : ", ") + l.name;
  log_->info("host endpoint ready: mode {}, listening on {}, LAN {}, {} static group(s)",
             mode_name(cfg_.mode), addrs, lans, cfg_.groups.size());
}

void host_endpoint::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& l : seqpacket_listeners_) l->close();
  for (auto& l : stream_listeners_) l->close();
  if (netlink_) netlink_->close();
  for (auto& lan : lans_) {
    if (cfg_.mode == mode::l3 && lan.ifindex) {
      for (auto a : cfg_.guest_addresses) os::del_proxy_neigh(lan.ifindex, a);
    }
    close_lan(lan);
  }
  if (tun_) tun_->close();
  for (auto& [id, g] : guests_) {
    g->ch->close();
    if (g->hello_timer) g->hello_timer->cancel();
  }
}

// --- guests -----------------------------------------------------------------------------

template <typename Listener>
asio::awaitable<void> host_endpoint::accept_loop(Listener& l) {
  for (;;) {
    auto [ec, s, peer] = co_await l.async_accept();
    if (ec) {
      if (ec == asio::error::operation_aborted || stopped_) co_return;
      log_->warn("accept on {}: {}", l.local_address().to_string(), ec.message());
      continue;
    }
    add_guest(std::move(s), peer.description);
  }
}

template <typename Socket>
void host_endpoint::add_guest(Socket s, std::string peer) {
  auto g = std::make_shared<guest>();
  g->id = next_id_++;
  g->peer = std::move(peer);
  g->ch = std::make_shared<channel>(std::move(s), cfg_.queue);
  g->from_guest = rate_limiter(cfg_.rate_limit);
  g->to_guest = rate_limiter(cfg_.rate_limit);
  g->hello_timer = std::make_unique<asio::steady_timer>(io_, kHelloTimeout);
  guests_[g->id] = g;
  ++guests_total_;
  log_->debug("peer {} connected; waiting for its HELLO", g->peer);
  asio::co_spawn(io_, run_writer(g), asio::detached);
  asio::co_spawn(io_, hello_deadline(g), asio::detached);
  asio::co_spawn(io_, run_guest(g), asio::detached);
}

asio::awaitable<void> host_endpoint::hello_deadline(guest_ptr g) {
  auto [ec] = co_await g->hello_timer->async_wait(vsocklib::use_tuple);
  if (ec || g->ready || !g->ch->is_open()) co_return;
  log_->warn("peer {} sent no HELLO within {} s: disconnected", g->peer, kHelloTimeout.count());
  g->ch->close();
}

asio::awaitable<void> host_endpoint::run_writer(guest_ptr g) {
  auto ec = co_await g->ch->run_writer();
  if (g->ch->is_open() && !stopped_) {
    log_->info("guest {}: send failed: {}", label(g->name, g->peer), ec.message());
  }
  g->ch->close();
}

asio::awaitable<void> host_endpoint::run_guest(guest_ptr g) {
  for (;;) {
    auto r = co_await g->ch->read();
    if (r.ec) {
      if (!stopped_) {
        log_->info("guest {} disconnected: {}", label(g->name, g->peer),
                   r.ec == asio::error::eof ? std::string("closed by the guest") : r.ec.message());
      }
      break;
    }
    if (r.error != decode_error::none) {
      g->malformed.add(to_string(r.error));
      malformed_.add(to_string(r.error));
      malformed_log_.warn("guest " + label(g->name, g->peer) + ": malformed record dropped (" +
                          to_string(r.error) + ")");
      if (r.fatal) {
        log_->warn("guest {}: disconnected after malformed records ({})", label(g->name, g->peer),
                   to_string(r.error));
        break;
      }
      continue;
    }
    if (!g->ready) {
      if (r.rec.type != record_type::hello) {
        log_->warn("peer {} sent a record before its HELLO: disconnected", g->peer);
        break;
      }
      if (!accept_hello(*g, r.rec.hello)) break;
      continue;
    }
    switch (r.rec.type) {
      case record_type::data: on_guest_data(*g, r.rec.packet); break;
      case record_type::join: on_join(*g, r.rec.group); break;
      case record_type::leave: on_leave(*g, r.rec.group); break;
      case record_type::hello:
        g->malformed.add("repeated_hello");
        malformed_.add("repeated_hello");
        break;
    }
  }
  remove_guest(*g);
}

bool host_endpoint::accept_hello(guest& g, const hello& h) {
  if (h.role != role::guest) {
    log_->warn("peer {} is not a guest endpoint (HELLO role {}): disconnected", g.peer,
               static_cast<int>(h.role));
    return false;
  }
  const std::string name = h.name.empty() ? "guest" + std::to_string(g.id) : h.name;
  if (h.mode != cfg_.mode) {
    refuse_log_.warn(fmt::format("guest {} ({}) runs mode {} but this host runs mode {}: refused",
                                 name, g.peer, mode_name(h.mode), mode_name(cfg_.mode)));
    return false;
  }
  if (cfg_.mode == mode::l3) {
    bool known = false;
    for (auto a : cfg_.guest_addresses) known = known || a == h.address;
    if (!known) {
      refuse_log_.warn(fmt::format(
          "guest {} ({}) has address {}, which is not a guest_address of this host: refused", name,
          g.peer, ipv4_to_string(h.address)));
      return false;
    }
  }
  if (h.address != 0) {
    for (const auto& [id, other] : guests_) {
      if (other->ready && other->address == h.address) {
        refuse_log_.warn(fmt::format("guest {} ({}) has address {}, already used by guest {}: refused",
                                     name, g.peer, ipv4_to_string(h.address), other->name));
        return false;
      }
    }
    g.origins.insert(h.address);
  }
  refuse_log_.clear();
  g.name = name;
  g.mode = h.mode;
  g.address = h.address;
  g.ready = true;
  g.hello_timer->cancel();
  auto rec = std::make_shared<std::vector<std::uint8_t>>();
  encode_hello(hello{role::host, cfg_.mode, 0, host_name()}, *rec);
  g.ch->send(rec);
  log_->info("guest {} connected from {} over {} (mode {}, address {})", g.name, g.peer,
             g.ch->seqpacket() ? "seqpacket" : "a stream", mode_name(g.mode),
             g.address ? ipv4_to_string(g.address) : std::string("learned from its packets"));
  return true;
}

void host_endpoint::remove_guest(guest& g) {
  g.ch->close();
  if (g.hello_timer) g.hello_timer->cancel();
  for (auto group : members_.remove_guest(g.id)) {
    for (auto& lan : lans_) {
      if (lan.joined.erase(group) && !stopped_) {
        log_->info("leave {} on {} (guest {} gone)", ipv4_to_string(group), lan.name, g.name);
      }
    }
  }
  guests_.erase(g.id);
}

void host_endpoint::on_join(guest& g, std::uint32_t group) {
  if (!cfg_.to_guest.allows_group(group)) {
    g.drops.add("join_refused");
    drops_.add("join_refused");
    log_->info("refuse join {} from guest {}: not in allow_group", ipv4_to_string(group), g.name);
    return;
  }
  if (members_.joined(g.id, group)) return;
  if (members_.groups_of(g.id).size() >= kMaxGroupsPerGuest) {
    g.drops.add("join_refused");
    drops_.add("join_refused");
    log_->warn("refuse join {} from guest {}: it already holds {} groups", ipv4_to_string(group),
               g.name, kMaxGroupsPerGuest);
    return;
  }
  log_->info("guest {} joined {}", g.name, ipv4_to_string(group));
  if (members_.join(g.id, group)) {
    for (auto& lan : lans_) lan_join(lan, group, "guest " + g.name);
  }
}

void host_endpoint::on_leave(guest& g, std::uint32_t group) {
  if (!members_.joined(g.id, group)) return;
  log_->info("guest {} left {}", g.name, ipv4_to_string(group));
  if (members_.leave(g.id, group)) {
    for (auto& lan : lans_) {
      if (lan.joined.erase(group)) {
        log_->info("leave {} on {} (guest {})", ipv4_to_string(group), lan.name, g.name);
      }
    }
  }
}

void host_endpoint::deliver(guest& g, const shared_record& rec, std::size_t packet_size) {
  if (!g.to_guest.allow(clock::now())) {
    g.drops.add("rate_limited");
    drops_.add("rate_limited");
  } else if (!g.ch->send(rec)) {
    g.drops.add("queue_full");
    drops_.add("queue_full");
  } else {
    ++g.to_guest_packets;
    g.to_guest_bytes += packet_size;
  }
}

void host_endpoint::on_guest_data(guest& g, std::span<const std::uint8_t> packet) {
  auto v = read_ip(packet);  // the decoder checked it
  if (!v) return;
  auto fail = [&](const char* reason) {
    g.drops.add(reason);
    drops_.add(reason);
  };
  ++g.from_guest_packets;
  g.from_guest_bytes += packet.size();
  if (!g.from_guest.allow(clock::now())) return fail("rate_limited");
  if (g.address != 0) {
    if (v->src != g.address) return fail("foreign_source");
  } else if (!g.origins.count(v->src)) {
    if (g.origins.size() >= kMaxOriginsPerGuest) return fail("foreign_source");
    g.origins.insert(v->src);
  }
  if (!is_multicast(v->dst)) {
    if (!tun_) return fail("unicast_not_carried");
    if (::write(tun_->native_handle(), packet.data(), packet.size()) < 0) return fail("tun_write_failed");
    ++tun_tx_;
    return;
  }
  if (!cfg_.to_lan.allows_group(v->dst)) return fail("group_not_allowed");
  if (v->dst_port && !cfg_.to_lan.allows_port(*v->dst_port)) return fail("port_not_allowed");
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(v->dst);
  for (auto& lan : lans_) {
    if (!lan.tx) continue;
    if (::sendto(lan.tx.get(), packet.data(), packet.size(), MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0) {
      ++lan.tx_errors;
      send_log_.warn("send to LAN " + lan.name + " failed: " + std::strerror(errno));
    } else {
      ++lan.tx_packets;
    }
  }
  if (!cfg_.guest_to_guest) return;
  if (v->dst_port && !cfg_.to_guest.allows_port(*v->dst_port)) return;
  if (!cfg_.to_guest.allows_group(v->dst)) return;
  const bool for_all = static_wants(v->dst, v->dst_port);
  shared_record rec;
  for (auto& [id, other] : guests_) {
    if (id == g.id || !other->ready || !(for_all || members_.joined(id, v->dst))) continue;
    if (!rec) rec = make_data(packet);
    deliver(*other, rec, packet.size());
  }
}

// --- LAN --------------------------------------------------------------------------------

void host_endpoint::open_lan(lan_port& lan) {
  lan.ifindex = os::if_index(lan.name);
  if (lan.ifindex == 0) return;
  const int flags = os::link_flags(lan.name);
  lan.up = flags >= 0 && (flags & IFF_UP) && (flags & IFF_RUNNING);
  lan.rx = std::make_shared<asio::posix::stream_descriptor>(
      io_, os::open_lan_receiver(lan.name, static_cast<int>(cfg_.lan_rcvbuf)).release());
  ++lan.opens;
  lan.tx = os::open_lan_sender(lan.ifindex);
  join_lan(lan);
  const std::size_t index = static_cast<std::size_t>(&lan - lans_.data());
  asio::co_spawn(io_, read_lan(lan.rx, index), asio::detached);
}

void host_endpoint::join_lan(lan_port& lan) {
  // lan_join opens the new membership before it closes the one it replaces, so a group
  // being joined again stays joined throughout.
  for (auto group : members_.lan_groups()) {
    lan_join(lan, group, members_.is_static(group) ? "static" : "re-join");
  }
  if (cfg_.mode == mode::l3) {
    // Proxy ARP answers only where forwarding is on, and the kernel removes proxy entries
    // when the link goes down: set both again each time the LAN side is opened.
    const std::string conf = "net/ipv4/conf/" + lan.name + "/forwarding";
    if (auto ec = os::write_sysctl(conf, "1")) log_->warn("{}: {}", conf, ec.message());
    os::write_sysctl("net/ipv4/neigh/" + lan.name + "/proxy_delay", "0");
    for (auto a : cfg_.guest_addresses) {
      if (auto ec = os::add_proxy_neigh(lan.ifindex, a)) {
        log_->warn("proxy ARP for {} on {}: {}", ipv4_to_string(a), lan.name, ec.message());
      }
    }
  }
}

void host_endpoint::refresh_lan(lan_port& lan) {
  // The same interface under the same index: keep the receiver and what it has queued, and
  // only join again. Anything else (a new index, no receiver yet) opens the LAN afresh.
  if (lan.rx && lan.rx->is_open() && lan.ifindex != 0 && os::if_index(lan.name) == lan.ifindex) {
    const int flags = os::link_flags(lan.name);
    lan.up = flags >= 0 && (flags & IFF_UP) && (flags & IFF_RUNNING);
    join_lan(lan);
    return;
  }
  close_lan(lan);
  open_lan(lan);
}

std::uint64_t host_endpoint::lan_port::socket_drops() const {
  return socket_drops_closed + (rx && rx->is_open() ? os::socket_drops(rx->native_handle()) : 0);
}

void host_endpoint::close_lan(lan_port& lan) {
  lan.socket_drops_closed = lan.socket_drops();
  if (lan.rx) lan.rx->close();
  lan.rx.reset();
  lan.tx.reset();
  lan.joined.clear();
}

void host_endpoint::lan_join(lan_port& lan, std::uint32_t group, const std::string& why) {
  if (lan.ifindex == 0) return;
  boost::system::error_code ec;
  auto s = os::open_membership(lan.ifindex, group, ec);
  if (ec) {
    log_->warn("join {} on {} failed: {}", ipv4_to_string(group), lan.name, ec.message());
    return;
  }
  lan.joined[group] = std::move(s);
  log_->info("join {} on {} ({})", ipv4_to_string(group), lan.name, why);
}

asio::awaitable<void> host_endpoint::read_lan(std::shared_ptr<asio::posix::stream_descriptor> d,
                                              std::size_t index) {
  // Whole IP datagrams after reassembly: up to 64 KiB.
  std::vector<std::uint8_t> buf(65536);
  // Bounded work per wake-up, so that one busy interface cannot starve the guests.
  constexpr int kBurst = 64;
  while (d->is_open()) {
    auto [ec] = co_await d->async_wait(asio::posix::descriptor_base::wait_read, vsocklib::use_tuple);
    if (ec || !d->is_open()) co_return;
    for (int i = 0; i < kBurst; ++i) {
      const auto n = ::recv(d->native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
      if (n <= 0) break;
      on_lan_packet(lans_[index], std::span<std::uint8_t>(buf.data(), static_cast<std::size_t>(n)));
    }
  }
}

void host_endpoint::on_lan_packet(lan_port& lan, std::span<std::uint8_t> p) {
  ++lan.rx_packets;
  ++lan_rx_;
  auto v = read_ip(p);
  if (!v) return drop("lan_malformed");
  if (!is_multicast(v->dst)) return;
  if (is_guest_origin(v->src)) return drop("echo");
  const bool for_all = static_wants(v->dst, v->dst_port);
  bool any = false;
  for (const auto& [id, g] : guests_) {
    any = any || (g->ready && (for_all || members_.joined(id, v->dst)));
  }
  if (!any) return drop("no_member");
  if (!cfg_.to_guest.allows_group(v->dst)) return drop("group_not_allowed");
  if (v->dst_port && !cfg_.to_guest.allows_port(*v->dst_port)) return drop("port_not_allowed");
  if (dups_.seen(fingerprint(p), clock::now())) return drop("duplicate");
  fix_udp_checksum(p);
  auto rec = make_data(p);
  for (auto& [id, g] : guests_) {
    if (g->ready && (for_all || members_.joined(id, v->dst))) deliver(*g, rec, p.size());
  }
}

void host_endpoint::on_net_event(const net_event& ev) {
  if (stopped_) return;
  for (auto& lan : lans_) {
    const bool overrun = ev.what == net_event::kind::overrun;
    const bool by_name = ev.what == net_event::kind::link && ev.ifname == lan.name;
    if (!overrun && !by_name && (ev.ifindex == 0 || ev.ifindex != lan.ifindex)) continue;
    try {
      if (overrun) {
        log_->warn("netlink events lost: checking LAN {} again", lan.name);
      } else if (ev.what == net_event::kind::link) {
        if (ev.removed) {
          if (lan.ifindex != 0) log_->warn("LAN {} removed", lan.name);
          close_lan(lan);
          lan.ifindex = 0;
          lan.up = false;
          continue;
        }
        const bool up = (ev.flags & IFF_UP) && (ev.flags & IFF_RUNNING);
        if (ev.ifindex == lan.ifindex && up == lan.up) continue;
        if (ev.ifindex != lan.ifindex) {
          log_->info("LAN {} appeared (ifindex {})", lan.name, ev.ifindex);
        } else if (!up) {
          log_->warn("LAN {} down", lan.name);
          lan.up = false;
          continue;
        } else {
          log_->info("LAN {} up: re-joining {} group(s)", lan.name, members_.lan_groups().size());
        }
      } else if (ev.what == net_event::kind::address) {
        log_->info("LAN {} address {}: re-joining {} group(s)", lan.name,
                   ev.removed ? "removed" : "added", members_.lan_groups().size());
      } else {
        continue;  // routes do not concern the LAN side
      }
      if (ev.what == net_event::kind::link && ev.ifindex != lan.ifindex) close_lan(lan);
      refresh_lan(lan);
    } catch (const std::exception& e) {
      log_->error("LAN {}: {}", lan.name, e.what());
    }
  }
}

bool host_endpoint::static_wants(std::uint32_t group, std::optional<std::uint16_t> port) const {
  for (const auto& s : cfg_.groups) {
    if (s.group == group && (!s.port || s.port == port)) return true;
  }
  return false;
}

bool host_endpoint::is_guest_origin(std::uint32_t src) const {
  for (const auto& [id, g] : guests_) {
    if (g->origins.count(src)) return true;
  }
  return false;
}

// --- l3 ---------------------------------------------------------------------------------

void host_endpoint::open_l3() {
  auto t = os::open_tun(cfg_.tun);
  // Before the link is up, so no IPv6 router solicitation enters the TUN.
  os::write_sysctl("net/ipv6/conf/" + cfg_.tun + "/disable_ipv6", "1");
  if (auto ec = os::set_link_up(cfg_.tun)) {
    throw std::system_error(ec.value(), std::generic_category(), "bringing up " + cfg_.tun);
  }
  const unsigned ifindex = os::if_index(cfg_.tun);
  if (auto ec = os::write_sysctl("net/ipv4/conf/" + cfg_.tun + "/forwarding", "1")) {
    throw std::system_error(ec.value(), std::generic_category(), "forwarding on " + cfg_.tun);
  }
  for (auto a : cfg_.guest_addresses) {
    if (auto ec = os::add_route(ifindex, a, 32)) {
      throw std::system_error(ec.value(), std::generic_category(),
                              "route " + ipv4_to_string(a) + "/32 dev " + cfg_.tun);
    }
  }
  tun_ = std::make_shared<asio::posix::stream_descriptor>(io_, t.release());
}

asio::awaitable<void> host_endpoint::read_tun() {
  auto d = tun_;
  std::vector<std::uint8_t> buf(65536);
  constexpr int kBurst = 64;
  while (d->is_open()) {
    auto [ec] = co_await d->async_wait(asio::posix::descriptor_base::wait_read, vsocklib::use_tuple);
    if (ec || !d->is_open()) co_return;
    for (int i = 0; i < kBurst; ++i) {
      const auto n = ::read(d->native_handle(), buf.data(), buf.size());
      if (n <= 0) break;
      ++tun_rx_;
      std::span<const std::uint8_t> p(buf.data(), static_cast<std::size_t>(n));
      auto v = read_ip(p);
      if (!v) {
        drop("tun_not_ipv4");
        continue;
      }
      guest* to = nullptr;
      for (auto& [id, g] : guests_) {
        if (g->ready && g->address == v->dst) to = g.get();
      }
      if (!to) {
        drop(is_multicast(v->dst) ? "tun_multicast" : "no_guest");
        continue;
      }
      deliver(*to, make_data(p), p.size());
    }
  }
}

// --- status -----------------------------------------------------------------------------

std::string host_endpoint::status_json() const {
  auto groups_json = [](const std::vector<std::uint32_t>& groups) {
    json::array out;
    for (auto g : groups) out.emplace_back(ipv4_to_string(g));
    return out;
  };
  json::object doc;
  doc["role"] = "host";
  doc["mode"] = mode_name(cfg_.mode);
  json::array lan;
  for (const auto& l : lans_) {
    std::vector<std::uint32_t> joined;
    for (const auto& [g, fd] : l.joined) joined.push_back(g);
    lan.push_back(json::object{{"name", l.name},
                               {"ifindex", l.ifindex},
                               {"up", l.up},
                               {"joined", groups_json(joined)},
                               {"rx_packets", l.rx_packets},
                               {"tx_packets", l.tx_packets},
                               {"tx_errors", l.tx_errors},
                               {"socket_drops", l.socket_drops()},
                               {"opens", l.opens}});
  }
  doc["lan"] = std::move(lan);
  json::array groups;
  for (auto group : members_.lan_groups()) {
    json::array names;
    for (auto id : members_.members(group)) {
      auto it = guests_.find(id);
      if (it != guests_.end()) names.emplace_back(it->second->name);
    }
    groups.push_back(json::object{{"group", ipv4_to_string(group)},
                                  {"static", members_.is_static(group)},
                                  {"guests", std::move(names)}});
  }
  doc["groups"] = std::move(groups);
  json::array guests;
  for (const auto& [id, g] : guests_) {
    guests.push_back(json::object{{"id", id},
                                  {"name", g->name},
                                  {"peer", g->peer},
                                  {"ready", g->ready},
                                  {"transport", g->ch->seqpacket() ? "seqpacket" : "stream"},
                                  {"address", g->address ? ipv4_to_string(g->address) : ""},
                                  {"groups", groups_json(members_.groups_of(id))},
                                  {"to_guest_packets", g->to_guest_packets},
                                  {"to_guest_bytes", g->to_guest_bytes},
                                  {"from_guest_packets", g->from_guest_packets},
                                  {"from_guest_bytes", g->from_guest_bytes},
                                  {"queued_packets", g->ch->queued_packets()},
                                  {"queued_bytes", g->ch->queued_bytes()},
                                  {"drops", g->drops.json()},
                                  {"malformed", g->malformed.json()}});
  }
  doc["guests"] = std::move(guests);
  doc["guests_connected"] = guests_.size();
  doc["guests_total"] = guests_total_;
  doc["lan_rx_packets"] = lan_rx_;
  doc["tun_rx_packets"] = tun_rx_;
  doc["tun_tx_packets"] = tun_tx_;
  doc["drops"] = drops_.json();
  doc["malformed"] = malformed_.json();
  return vsocklib::to_text(doc);
}

}  // namespace vsock_mcast
