#include "vsock_mcast/filters.hpp"

#include <time.h>

#include "vsocklib/number.hpp"

#include "vsock_mcast/record.hpp"

namespace vsock_mcast {
namespace {

// 224.0.0.0/24: local network control block (RFC 5771), never routed.
constexpr cidr kLinkLocal{0xE0000000u, 24};

bool inside_link_local(const cidr& c) noexcept {
  return c.prefix >= kLinkLocal.prefix && kLinkLocal.contains(c.network);
}

unsigned long number(std::string_view text, std::string_view what, unsigned long max) {
  return static_cast<unsigned long>(vsocklib::require_unsigned<filter_error>(what, text, 0, max));
}

}  // namespace

coarse_clock::time_point coarse_clock::now() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

cidr parse_cidr(std::string_view text) {
  cidr c;
  auto slash = text.find('/');
  auto addr_text = text.substr(0, slash);
  if (!parse_ipv4(addr_text, c.network)) {
    throw filter_error("\"" + std::string(text) + "\": \"" + std::string(addr_text) +
                       "\" is not an IPv4 address");
  }
  if (slash != std::string_view::npos) {
    c.prefix = static_cast<unsigned>(number(text.substr(slash + 1), "prefix length", 32));
  }
  if (c.prefix < 32 && (c.network << c.prefix) != 0) {
    throw filter_error("\"" + std::string(text) + "\" has host bits set");
  }
  return c;
}

port_range parse_port_range(std::string_view text) {
  port_range r;
  auto dash = text.find('-');
  // "-1" would otherwise read as an empty first port.
  if (dash == 0 || dash + 1 == text.size()) {
    throw filter_error("port range \"" + std::string(text) + "\" is not N or N-M (ports 0..65535)");
  }
  r.first = static_cast<std::uint16_t>(number(text.substr(0, dash), "port", 65535));
  r.last = dash == std::string_view::npos
               ? r.first
               : static_cast<std::uint16_t>(number(text.substr(dash + 1), "port", 65535));
  if (r.last < r.first) {
    throw filter_error("port range \"" + std::string(text) + "\" ends before it starts");
  }
  return r;
}

bool allowlist::allows_group(std::uint32_t group) const noexcept {
  if (!is_multicast(group)) return false;
  const bool link_local = kLinkLocal.contains(group);
  if (groups.empty()) return !link_local;
  for (const auto& c : groups) {
    if (c.contains(group) && (!link_local || inside_link_local(c))) return true;
  }
  return false;
}

bool allowlist::allows_port(std::uint16_t port) const noexcept {
  if (ports.empty()) return true;
  for (const auto& r : ports) {
    if (port >= r.first && port <= r.last) return true;
  }
  return false;
}

dup_filter::dup_filter(std::size_t capacity, clock::duration window)
    : capacity_(capacity == 0 ? 1 : capacity), window_(window), ring_(capacity_) {
  index_.reserve(capacity_);
}

void dup_filter::expire(clock::time_point now) {
  while (count_ > 0) {
    const entry& e = ring_[head_];
    if (now - e.at < window_ && count_ < capacity_) break;
    auto it = index_.find(e.fp);
    if (it != index_.end() && it->second == e.at) index_.erase(it);
    head_ = (head_ + 1) % capacity_;
    --count_;
  }
}

bool dup_filter::seen(std::uint64_t fp, clock::time_point now) {
  expire(now);
  auto it = index_.find(fp);
  const bool dup = it != index_.end() && now - it->second < window_;
  ring_[(head_ + count_) % capacity_] = {fp, now};
  ++count_;
  index_[fp] = now;
  return dup;
}

bool rate_limiter::allow(clock::time_point now) noexcept {
  if (rate_ == 0) return true;
  if (started_) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min<double>(rate_, tokens_ + elapsed * rate_);
  }
  started_ = true;
  last_ = now;
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

}  // namespace vsock_mcast
