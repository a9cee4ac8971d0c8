#include "mcast_probe/report.hpp"

#include <cstdarg>
#include <cstdio>
#include <type_traits>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "vsocklib/json.hpp"

namespace mcast_probe {

namespace {

namespace json = boost::json;

[[gnu::format(printf, 1, 2)]] std::string format(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list again;
  va_copy(again, ap);
  const int n = std::vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  std::string out(static_cast<std::size_t>(n > 0 ? n : 0), '\0');
  std::vsnprintf(out.data(), out.size() + 1, fmt, again);
  va_end(again);
  return out;
}

// The one JSON line --json promises the scripts that parse it.
std::string json_line(const json::object& summary) { return vsocklib::to_line(summary) + "\n"; }

template <typename Items>
json::array json_array(const Items& items) {
  return json::array(items.begin(), items.end());
}

template <typename Items>
std::string join(const Items& items) {
  std::string s;
  for (const auto& x : items) {
    if (!s.empty()) s += ",";
    if constexpr (std::is_same_v<std::decay_t<decltype(x)>, int>) s += std::to_string(x);
    else s += x;
  }
  return s;
}

using ull = unsigned long long;

}  // namespace

std::string send_json(const send_options& o, const send_result& r) {
  return json_line({{"sent", r.sent},
                    {"size", o.size},
                    {"group", to_string(o.group)},
                    {"run_id", r.run_id},
                    {"seconds", r.seconds},
                    {"pps", r.pps()},
                    {"retries", r.retries}});
}

std::string send_text(const send_options& o, const send_result& r) {
  return format(
      "mcast-probe send: %llu datagrams of %llu B to %s (ttl %d, tos 0x%02x, run %u) in %.3f s, "
      "%.0f pps\n",
      static_cast<ull>(r.sent), static_cast<ull>(o.size), to_string(o.group).c_str(), o.ttl, o.tos,
      r.run_id, r.seconds, r.pps());
}

std::string recv_json(const recv_options& o, const receive_stats& s, std::uint64_t socket_drops) {
  const auto failures = s.failures(o.count, o.timeout);
  return json_line({{"socket_drops", socket_drops},
                    {"group", to_string(o.group)},
                    {"interface", o.interface},
                    {"run_id", s.run_id()},
                    {"received", s.unique()},
                    {"lost", s.lost(o.count)},
                    {"duplicates", s.duplicates()},
                    {"out_of_order", s.out_of_order()},
                    {"foreign", s.foreign()},
                    {"other_runs", s.other_runs()},
                    {"mismatches", s.mismatches()},
                    {"bytes", s.bytes()},
                    {"seconds", s.seconds()},
                    {"pps", s.pps()},
                    {"sources", json_array(s.sources())},
                    {"interfaces", json_array(s.interfaces())},
                    {"ttl", json_array(s.ttls())},
                    {"tos", json_array(s.toss())},
                    {"text", s.text()},
                    {"ok", failures.empty()},
                    {"failures", json_array(failures)}});
}

std::string recv_text(const receive_stats& s, std::optional<std::uint64_t> expected) {
  return format(
      "received %llu lost %llu duplicates %llu out-of-order %llu foreign %llu from [%s] "
      "ttl [%s] tos [%s] if [%s]%s%s\n",
      static_cast<ull>(s.unique()), static_cast<ull>(s.lost(expected)),
      static_cast<ull>(s.duplicates()), static_cast<ull>(s.out_of_order()),
      static_cast<ull>(s.foreign() + s.other_runs()), join(s.sources()).c_str(),
      join(s.ttls()).c_str(), join(s.toss()).c_str(), join(s.interfaces()).c_str(),
      s.text().empty() ? "" : " text ", s.text().c_str());
}

std::string datagram_line(const datagram& d, std::size_t len, const arrival& a,
                          const std::string& iface, bool duplicate) {
  return format("seq=%llu from=%s ttl=%d tos=0x%02x if=%s dst=%s len=%zu%s%s\n",
                static_cast<ull>(d.seq), to_string(a.from).c_str(), a.ttl, a.tos, iface.c_str(),
                to_string(a.dst).c_str(), len, duplicate ? " DUPLICATE" : "",
                d.text.empty() ? "" : (" text=" + d.text).c_str());
}

std::string foreign_line(std::size_t len, const arrival& a) {
  return format("foreign %zu B from %s\n", len, to_string(a.from).c_str());
}

std::string recv_failures(const recv_options& o, const receive_stats& s) {
  std::string out;
  for (const auto& f : s.failures(o.count, o.timeout))
    out += format("mcast-probe recv %s: FAIL: %s\n", to_string(o.group).c_str(), f.c_str());
  return out;
}

std::string echo_line(std::size_t len, const arrival& a, const std::string& iface) {
  return format("echo %zu B from=%s to=%s ttl=%d tos=0x%02x if=%s\n", len,
                to_string(a.from).c_str(), to_string(a.dst).c_str(), a.ttl, a.tos, iface.c_str());
}

std::string ping_json(const ping_options& o, const ping_result& r) {
  return json_line({{"to", to_string(o.to)},
                    {"sent", o.count},
                    {"replies", r.replies},
                    {"wrong_source", r.wrong_source},
                    {"from", r.last_from},
                    {"rtt_median_us", r.rtt_median_us},
                    {"ok", r.ok(o)}});
}

std::string ping_text(const ping_options& o, const ping_result& r) {
  return format("ping %s: %llu/%llu replies, last from %s, median RTT %.0f us\n",
                to_string(o.to).c_str(), static_cast<ull>(r.replies), static_cast<ull>(o.count),
                r.last_from.empty() ? "-" : r.last_from.c_str(), r.rtt_median_us);
}

std::string ping_failures(const ping_options& o, const ping_result& r) {
  std::string out;
  if (r.replies != o.count)
    out += format("mcast-probe ping: FAIL: expected %llu replies from %s, got %llu\n",
                  static_cast<ull>(o.count), to_string(o.to).c_str(), static_cast<ull>(r.replies));
  if (r.wrong_source > 0)
    out += format("mcast-probe ping: FAIL: %llu replies came from %s, expected %s\n",
                  static_cast<ull>(r.wrong_source), r.last_from.c_str(),
                  to_string(o.expect_source).c_str());
  return out;
}

}  // namespace mcast_probe
