// The host endpoint's forwarding: a guest's packets to the LAN, the TUN (l3) and the other
// guests; LAN packets to the guests that want them.
#include <unistd.h>

#include "vsock_mcast/host.hpp"
#include "vsock_mcast/lan_ports.hpp"
#include "vsock_mcast/packet.hpp"

namespace vsock_mcast {

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
    if (::write(tun_->native_handle(), packet.data(), packet.size()) < 0)
      return fail("tun_write_failed");
    ++tun_tx_;
    return;
  }
  if (!cfg_.to_lan.allows_group(v->dst)) return fail("group_not_allowed");
  if (v->dst_port && !cfg_.to_lan.allows_port(*v->dst_port)) return fail("port_not_allowed");
  lans_->send(packet, v->dst);
  if (!cfg_.guest_to_guest) return;
  if (v->dst_port && !cfg_.to_guest.allows_port(*v->dst_port)) return;
  if (!cfg_.to_guest.allows_group(v->dst)) return;
  const bool for_all = static_wants(v->dst, v->dst_port);
  shared_record rec;
  for (auto& [id, other] : guests_) {
    if (id == g.id || !other->ready || !(for_all || members_.joined(id, v->dst))) continue;
    if (!rec) rec = data_record(packet);
    deliver(*other, rec, packet.size());
  }
}

void host_endpoint::on_lan_packet(std::span<std::uint8_t> p) {
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
  auto rec = data_record(p);
  for (auto& [id, g] : guests_) {
    if (g->ready && (for_all || members_.joined(id, v->dst))) deliver(*g, rec, p.size());
  }
}

}  // namespace vsock_mcast
