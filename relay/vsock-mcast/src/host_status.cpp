// The host endpoint's status document (`vsock-mcast status`, docs/vsock-mcast.md).
#include <boost/json/value.hpp>

#include "vsock_mcast/host.hpp"
#include "vsock_mcast/lan_ports.hpp"
#include "vsocklib/json.hpp"

namespace vsock_mcast {

namespace json = boost::json;

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
  for (const auto& l : lans_->ports()) {
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
