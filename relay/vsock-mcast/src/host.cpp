// The host endpoint's life: set-up, run (which joins every part) and stop. Its jobs are
// spread over host_guests.cpp (sessions), host_forward.cpp (packets), host_tun.cpp (l3)
// and host_status.cpp; the LAN interfaces are a lan_ports (lan_ports.cpp).
#include "vsock_mcast/host.hpp"

#include <functional>

#include <spdlog/spdlog.h>

#include "vsock_mcast/lan_ports.hpp"
#include "vsocklib/log.hpp"
#include "vsocklib/task_group.hpp"

namespace vsock_mcast {

using namespace asio::experimental::awaitable_operators;

host_endpoint::host_endpoint(asio::io_context& io, host_config cfg)
    : io_(io),
      cfg_(std::move(cfg)),
      log_(vsocklib::log::get("vsock-mcast")),
      malformed_log_(log_),
      refuse_log_(log_) {
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
  lans_ = std::make_unique<lan_ports>(io_, cfg_, members_, log_);
}

host_endpoint::~host_endpoint() { stop(); }

std::vector<vsocklib::address> host_endpoint::listen_addresses() const {
  std::vector<vsocklib::address> out;
  for (const auto& l : seqpacket_listeners_) out.push_back(l->local_address());
  for (const auto& l : stream_listeners_) out.push_back(l->local_address());
  return out;
}

asio::awaitable<void> host_endpoint::run() {
  std::string addrs, lans;
  for (const auto& a : listen_addresses()) addrs += (addrs.empty() ? "" : ", ") + a.to_string();
  for (const auto& l : lans_->ports()) lans += (lans.empty() ? "" : ", ") + l.name;
  log_->info("host endpoint ready: mode {}, listening on {}, LAN {}, {} static group(s)",
             mode_name(cfg_.mode), addrs, lans, cfg_.groups.size());
  // Built outside the co_await expression (GCC 12 and temporaries in coroutines).
  const std::function<void()> stop_all = [this] { stop(); };
  lan_ports::packet_handler on_lan = [this](std::span<std::uint8_t> p) { on_lan_packet(p); };
  auto guests = vsocklib::stop_all_on_failure(serve_guests(), stop_all);
  auto lan = vsocklib::stop_all_on_failure(lans_->run(std::move(on_lan)), stop_all);
  auto tun = vsocklib::stop_all_on_failure(read_tun(), stop_all);
  co_await (std::move(guests) && std::move(lan) && std::move(tun));
}

void host_endpoint::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& l : seqpacket_listeners_) l->close();
  for (auto& l : stream_listeners_) l->close();
  if (lans_) lans_->close();
  if (tun_) tun_->close();
  for (auto& [id, g] : guests_) {
    g->ch->close();
    if (g->hello_timer) g->hello_timer->cancel();
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

}  // namespace vsock_mcast
