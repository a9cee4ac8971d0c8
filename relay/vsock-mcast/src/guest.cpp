#include "vsock_mcast/guest.hpp"

#include <net/if.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <boost/json/value.hpp>
#include <cstring>
#include <type_traits>
#include "vsock_mcast/igmp.hpp"
#include "vsock_mcast/os.hpp"
#include "vsock_mcast/packet.hpp"
#include "vsock_mcast/packet_reader.hpp"
#include "vsocklib/json.hpp"
#include "vsocklib/log.hpp"
#include "vsocklib/task_group.hpp"

namespace vsock_mcast {
namespace {

namespace json = boost::json;
using namespace asio::experimental::awaitable_operators;

// 224.0.0.0/4: every multicast destination leaves through the TUN. vsomeip also waits for
// a route covering its SD group on the interface that holds its unicast address.
constexpr std::uint32_t kMulticastNet = 0xE0000000u;

vsocklib::backoff_options guest_backoff() {
  vsocklib::backoff_options o;
  o.initial = std::chrono::milliseconds(100);
  o.max = std::chrono::milliseconds(5000);
  return o;
}

std::string default_name() {
  char buf[65] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "guest";
  return buf;
}

}  // namespace

guest_endpoint::guest_endpoint(asio::io_context& io, guest_config cfg)
    : io_(io),
      cfg_(std::move(cfg)),
      log_(vsocklib::log::get("vsock-mcast")),
      restore_timer_(io),
      connect_log_(log_),
      malformed_log_(log_) {
  if (cfg_.name.empty()) cfg_.name = default_name();
  connector_.emplace(*cfg_.connect, vsocklib::connector_options{guest_backoff()}, log_);
  auto t = os::open_tun(cfg_.tun);
  tun_index_ = os::if_index(cfg_.tun);
  tun_ = std::make_shared<asio::posix::stream_descriptor>(io_, t.release());
  configure_tun(true);
  netlink_ = std::make_unique<netlink_watcher>(io_.get_executor());
}

guest_endpoint::~guest_endpoint() { stop(); }

void guest_endpoint::configure_tun(bool at_start) {
  auto check = [&](boost::system::error_code ec, const std::string& what) {
    if (!ec) return;
    if (at_start) throw std::system_error(ec.value(), std::generic_category(), what);
    log_->warn("{}: {}", what, ec.message());
  };
  const std::string conf = "net/ipv4/conf/" + cfg_.tun + "/";
  // Loose reverse-path filtering: LAN sources arrive on the TUN but may be routed elsewhere.
  os::write_sysctl(conf + "rp_filter", "2");
  // Only IPv4 is carried; IPv6 would only put router solicitations and MLD into the TUN.
  os::write_sysctl("net/ipv6/conf/" + cfg_.tun + "/disable_ipv6", "1");
  check(os::set_link_up(cfg_.tun), "bringing up " + cfg_.tun);
  if (cfg_.address) {
    check(os::add_address(tun_index_, cfg_.address->network, cfg_.address->prefix),
          "address " + ipv4_to_string(cfg_.address->network) + "/" +
              std::to_string(cfg_.address->prefix) + " on " + cfg_.tun);
  }
  check(os::add_route(tun_index_, kMulticastNet, 4), "route 224.0.0.0/4 dev " + cfg_.tun);
  const bool default_route = cfg_.default_route.value_or(cfg_.mode == mode::l3);
  if (default_route) check(os::add_route(tun_index_, 0, 0), "default route dev " + cfg_.tun);
}

asio::awaitable<void> guest_endpoint::run() {
  log_->info("guest endpoint: TUN {} up (mode {}{}), connecting to {}", cfg_.tun,
             mode_name(cfg_.mode),
             cfg_.address ? ", address " + ipv4_to_string(cfg_.address->network) + "/" +
                                std::to_string(cfg_.address->prefix)
                          : std::string(),
             cfg_.connect->to_string());
  // Built outside the co_await expression (GCC 12 and temporaries in coroutines).
  const std::function<void()> stop_all = [this] { stop(); };
  std::function<void(const net_event&)> on_event = [this](const net_event& ev) {
    on_net_event(ev);
  };
  auto events = vsocklib::stop_all_on_failure(netlink_->run(std::move(on_event)), stop_all);
  auto tun = vsocklib::stop_all_on_failure(read_tun(), stop_all);
  auto host = vsocklib::stop_all_on_failure(connect_loop(), stop_all);
  auto restore = vsocklib::stop_all_on_failure(restore_loop(), stop_all);
  co_await (std::move(events) && std::move(tun) && std::move(host) && std::move(restore));
}

void guest_endpoint::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (netlink_) netlink_->close();
  if (tun_) tun_->close();
  if (ch_) ch_->close();
  restore_timer_.cancel();
  connect_stop_.emit(asio::cancellation_type::terminal);
}

asio::awaitable<void> guest_endpoint::connect_loop() {
  // The connector retries with backoff and logs repeated failures once with a count; a
  // session that got the host's HELLO calls session_proven(), so the next one starts at once.
  auto ex = co_await asio::this_coro::executor;
  while (!stopped_) {
    auto attempt = connector_->target().kind == vsocklib::transport::vsock_seqpacket
                       ? open_channel(connector_->async_connect_seqpacket())
                       : open_channel(connector_->async_connect());
    // Joined here, under a slot only the attempt uses: stop() ends it at once.
    auto [e, ch] = co_await asio::co_spawn(
        ex, std::move(attempt),
        asio::bind_cancellation_slot(connect_stop_.slot(), vsocklib::use_tuple));
    connect_stop_.slot().clear();
    if (e && !stopped_) std::rethrow_exception(e);
    if (stopped_ || !ch) co_return;  // only cancellation (stop()) ends the connector's retries
    co_await run_session(ch);
  }
}

template <typename Connect>
asio::awaitable<std::shared_ptr<channel>> guest_endpoint::open_channel(Connect connect) {
  auto [ec, s] = co_await std::move(connect);
  if (ec) co_return nullptr;
  if constexpr (std::is_same_v<decltype(s), vsocklib::stream_socket>) {
    co_return std::make_shared<channel>(std::move(s), cfg_.queue, cfg_.connect->max_write());
  } else {
    co_return std::make_shared<channel>(std::move(s), cfg_.queue);
  }
}

asio::awaitable<void> guest_endpoint::run_session(std::shared_ptr<channel> ch) {
  ++connections_;
  auto hello_rec = std::make_shared<std::vector<std::uint8_t>>();
  encode_hello(hello{role::guest, cfg_.mode, cfg_.address ? cfg_.address->network : 0, cfg_.name},
               *hello_rec);
  ch->send(hello_rec);
  // The host forgets a guest's groups when it goes away: tell it all of them again.
  for (auto g : groups_) {
    auto rec = std::make_shared<std::vector<std::uint8_t>>();
    encode_membership(record_type::join, g, *rec);
    ch->send(rec);
  }
  ch_ = ch;
  state_ = "connected";
  // read_host ends the session and closes the channel, which ends the writer; a failed
  // write closes it too, which ends the reader.
  co_await (read_host(ch) && run_writer(ch));
}

asio::awaitable<void> guest_endpoint::read_host(std::shared_ptr<channel> ch) {
  bool proven = false;
  for (;;) {
    auto r = co_await ch->read();
    if (r.ec) {
      const std::string why = r.ec == asio::error::eof ? "closed by the host" : r.ec.message();
      if (!stopped_ && !proven) {
        // Refused before its HELLO (a mode or address the host does not accept): the host's
        // log says why; here it is said once, not on every retry.
        connect_log_.warn("the host " + cfg_.connect->to_string() +
                          " ended the connection before answering (" + why + "); its log says why");
      } else if (!stopped_) {
        log_->warn("lost the host {}: {}", cfg_.connect->to_string(), why);
      }
      break;
    }
    if (r.error != decode_error::none) {
      malformed_.add(to_string(r.error));
      malformed_log_.warn(std::string("malformed record from the host dropped (") +
                          to_string(r.error) + ")");
      if (r.fatal) {
        log_->warn("disconnecting from the host after malformed records ({})", to_string(r.error));
        break;
      }
      continue;
    }
    switch (r.rec.type) {
      case record_type::hello:
        if (r.rec.hello.role != role::host) {
          log_->error("the peer at {} is not a host endpoint", cfg_.connect->to_string());
          ch->close();
          break;
        }
        host_name_ = r.rec.hello.name;
        if (proven) break;  // a repeated HELLO changes nothing
        connect_log_.clear();
        // A host that answered HELLO runs a working session: reconnect at once next time.
        connector_->session_proven();
        proven = true;
        log_->info("connected to {} ({}) over {}: ready ({} group(s) announced)",
                   cfg_.connect->to_string(), host_name_,
                   ch->seqpacket() ? "seqpacket" : "a stream", groups_.size());
        break;
      case record_type::data: on_host_data(r.rec.packet); break;
      default: malformed_.add("unexpected_type"); break;
    }
    if (!ch->is_open()) break;
  }
  ch->close();
  if (ch_ == ch) ch_.reset();
  state_ = stopped_ ? "stopped" : "connecting";
}

asio::awaitable<void> guest_endpoint::run_writer(std::shared_ptr<channel> ch) {
  auto ec = co_await ch->run_writer();
  if (ch->is_open() && !stopped_) log_->warn("send to the host failed: {}", ec.message());
  ch->close();
}

void guest_endpoint::send(shared_record rec, std::size_t packet_size) {
  if (!ch_) return drop("host_away");
  if (!ch_->send(std::move(rec))) return drop("queue_full");
  ++to_host_packets_;
  to_host_bytes_ += packet_size;
}

asio::awaitable<void> guest_endpoint::read_tun() {
  co_await read_packets(tun_, [this](std::span<const std::uint8_t> p) { on_tun_packet(p); });
}

void guest_endpoint::on_tun_packet(std::span<const std::uint8_t> p) {
  auto igmp = parse_igmp(p);
  if (igmp.error == igmp_error::none) {
    for (const auto& c : igmp.changes) on_membership(c.group, c.join);
    return;
  }
  if (igmp.error != igmp_error::not_igmp) {
    igmp_errors_.add(to_string(igmp.error));
    return;
  }
  auto v = read_ip(p);
  if (!v) return drop("not_ipv4");
  if (!is_multicast(v->dst) && cfg_.mode != mode::l3) return drop("unicast_not_carried");
  if (!ch_) return drop("host_away");
  auto rec = std::make_shared<std::vector<std::uint8_t>>();
  rec->reserve(kHeaderSize + p.size());
  encode_data(p, *rec);
  send(std::move(rec), p.size());
}

void guest_endpoint::on_membership(std::uint32_t group, bool join) {
  const bool changed = join ? groups_.insert(group).second : groups_.erase(group) > 0;
  if (!changed) return;  // the kernel repeats reports (robustness variable)
  log_->info("{} {} on {} (guest applications)", join ? "join" : "leave", ipv4_to_string(group),
             cfg_.tun);
  if (!ch_) return;
  auto rec = std::make_shared<std::vector<std::uint8_t>>();
  encode_membership(join ? record_type::join : record_type::leave, group, *rec);
  if (!ch_->send(rec)) drop("queue_full");
}

void guest_endpoint::on_host_data(std::span<const std::uint8_t> packet) {
  ++from_host_packets_;
  from_host_bytes_ += packet.size();
  if (::write(tun_->native_handle(), packet.data(), packet.size()) < 0) {
    drop(errno == EAGAIN ? "tun_full" : "tun_write_failed");
  }
}

void guest_endpoint::on_net_event(const net_event& ev) {
  if (stopped_ || ev.ifindex != tun_index_ || ev.ifindex == 0) {
    if (ev.what != net_event::kind::overrun) return;
  }
  const bool lost = ev.what == net_event::kind::overrun || ev.removed ||
                    (ev.what == net_event::kind::link && !(ev.flags & IFF_UP));
  if (!lost || stopped_) return;
  if (ev.what == net_event::kind::link && ev.removed) {
    log_->error("TUN {} was deleted", cfg_.tun);
    return;
  }
  // Someone took the TUN down or removed its address or a route: restore them, so that
  // vsomeip (which watches these with netlink) finds its interface state again. One change
  // brings several events (a link going down takes its routes along): restore once after
  // they settle.
  if (restore_pending_) return;
  restore_pending_ = true;
  restore_timer_.cancel();  // wakes restore_loop, which waits idle (never while pending)
}

asio::awaitable<void> guest_endpoint::restore_loop() {
  while (!stopped_) {
    if (!restore_pending_) {
      restore_timer_.expires_at(asio::steady_timer::time_point::max());
      co_await restore_timer_.async_wait(vsocklib::use_tuple);
      continue;
    }
    restore_timer_.expires_after(std::chrono::milliseconds(50));
    auto [ec] = co_await restore_timer_.async_wait(vsocklib::use_tuple);
    restore_pending_ = false;
    if (ec || stopped_) co_return;  // only stop() cancels the pause
    ++restores_;
    log_->info("TUN {}: link, address or route changed from outside; restored", cfg_.tun);
    configure_tun(false);
  }
}

std::string guest_endpoint::status_json() const {
  json::array groups;
  for (auto g : groups_) groups.emplace_back(ipv4_to_string(g));
  json::object doc;
  doc["role"] = "guest";
  doc["mode"] = mode_name(cfg_.mode);
  doc["name"] = cfg_.name;
  doc["tun"] = cfg_.tun;
  doc["host"] = cfg_.connect->to_string();
  doc["host_name"] = host_name_;
  doc["state"] = state_;
  doc["groups"] = std::move(groups);
  doc["connections"] = connections_;
  doc["to_host_packets"] = to_host_packets_;
  doc["to_host_bytes"] = to_host_bytes_;
  doc["from_host_packets"] = from_host_packets_;
  doc["from_host_bytes"] = from_host_bytes_;
  doc["queued_packets"] = ch_ ? ch_->queued_packets() : 0;
  doc["tun_restores"] = restores_;
  doc["tun_rx_dropped"] = os::link_counter(cfg_.tun, "rx_dropped");
  doc["drops"] = drops_.json();
  doc["malformed"] = malformed_.json();
  doc["igmp_errors"] = igmp_errors_.json();
  return vsocklib::to_text(doc);
}

}  // namespace vsock_mcast
