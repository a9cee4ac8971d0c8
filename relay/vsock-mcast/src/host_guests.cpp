// The host endpoint's guest sessions: accepting, HELLO, records from the guest, JOIN and
// LEAVE, and going away.
#include <unistd.h>

#include <type_traits>

#include <spdlog/spdlog.h>

#include "vsock_mcast/host.hpp"
#include "vsock_mcast/lan_ports.hpp"
#include "vsocklib/task_group.hpp"

namespace vsock_mcast {
namespace {

using namespace asio::experimental::awaitable_operators;

std::string host_name() {
  char buf[65] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "host";
  return buf;
}

std::string label(const std::string& name, const std::string& peer) {
  return name.empty() ? peer : name;
}

}  // namespace

asio::awaitable<void> host_endpoint::serve_guests() {
  vsocklib::task_group sessions(co_await asio::this_coro::executor, [this] { stop(); });
  for (auto& l : seqpacket_listeners_) sessions.spawn(accept_loop(*l, sessions));
  for (auto& l : stream_listeners_) sessions.spawn(accept_loop(*l, sessions));
  // The accept loops are in the group too, so it does not run empty while they accept;
  // stop() ends them and every guest's session.
  co_await sessions.join();
}

template <typename Listener>
asio::awaitable<void> host_endpoint::accept_loop(Listener& l, vsocklib::task_group& sessions) {
  for (;;) {
    auto [ec, s, peer] = co_await l.async_accept();
    if (ec) {
      if (ec == asio::error::operation_aborted || stopped_) co_return;
      log_->warn("accept on {}: {}", l.local_address().to_string(), ec.message());
      continue;
    }
    add_guest(std::move(s), peer.description, l.local_address().max_write(), sessions);
  }
}

template <typename Socket>
void host_endpoint::add_guest(Socket s, std::string peer, std::size_t max_write,
                              vsocklib::task_group& sessions) {
  auto g = std::make_shared<guest>();
  g->id = next_id_++;
  g->peer = std::move(peer);
  if constexpr (std::is_same_v<Socket, vsocklib::stream_socket>) {
    g->ch = std::make_shared<channel>(std::move(s), cfg_.queue, max_write);
  } else {
    g->ch = std::make_shared<channel>(std::move(s), cfg_.queue);
  }
  g->from_guest = rate_limiter(cfg_.rate_limit);
  g->to_guest = rate_limiter(cfg_.rate_limit);
  g->hello_timer = std::make_unique<asio::steady_timer>(io_, kHelloTimeout);
  guests_[g->id] = g;
  ++guests_total_;
  log_->debug("peer {} connected; waiting for its HELLO", g->peer);
  sessions.spawn(serve_guest(g));
}

asio::awaitable<void> host_endpoint::serve_guest(guest_ptr g) {
  // The reader ends the session: it closes the channel (which ends the writer) and cancels
  // the HELLO timer. The writer or the deadline closing the channel ends the reader.
  try {
    co_await (run_guest(g) && run_writer(g) && hello_deadline(g));
  } catch (const std::exception& e) {
    // A bug, not the guest's doing: this guest goes, the others stay.
    log_->error("guest {}: {}", label(g->name, g->peer), e.what());
    remove_guest(*g);
  }
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
  // At once, not when the session's other parts have ended: from here on nothing is sent
  // to this guest or counted for it.
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
        refuse_log_.warn(
            fmt::format("guest {} ({}) has address {}, already used by guest {}: refused", name,
                        g.peer, ipv4_to_string(h.address), other->name));
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
  for (auto group : members_.remove_guest(g.id)) lans_->leave(group, "guest " + g.name + " gone");
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
  if (members_.join(g.id, group)) lans_->join(group, "guest " + g.name);
}

void host_endpoint::on_leave(guest& g, std::uint32_t group) {
  if (!members_.joined(g.id, group)) return;
  log_->info("guest {} left {}", g.name, ipv4_to_string(group));
  if (members_.leave(g.id, group)) lans_->leave(group, "guest " + g.name);
}

}  // namespace vsock_mcast
