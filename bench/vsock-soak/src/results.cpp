#include "vsock_soak/results.hpp"

#include <fmt/format.h>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>

#include "vsocklib/json.hpp"

namespace vsock_soak {
namespace {

namespace json = boost::json;

template <typename T>
json::value or_null(const std::optional<T>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

// One array per field of a series: the report's charts read columns.
template <typename T, typename F>
json::array column(const std::vector<T>& v, F get) {
  json::array out;
  out.reserve(v.size());
  for (const auto& x : v) out.emplace_back(get(x));
  return out;
}

json::value proc_json(const std::optional<proc_point>& p) {
  if (!p) return nullptr;
  return json::object{{"t_s", p->t_s},
                      {"rss_kib", p->rss_kib},
                      {"fds", p->fds},
                      {"threads", p->threads},
                      {"cpu_pct", p->cpu_pct}};
}

}  // namespace

std::string human_bytes(double b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (std::abs(b) >= 1000 && u < 4) {
    b /= 1000;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", b) : fmt::format("{:.1f} {}", b, units[u]);
}

std::string human_us(double us) {
  if (us < 1000) return fmt::format("{:.0f} us", us);
  if (us < 1e6) return fmt::format("{:.1f} ms", us / 1000);
  return fmt::format("{:.2f} s", us / 1e6);
}

void halve(std::vector<series_point>& s) {
  std::vector<series_point> out;
  out.reserve(s.size() / 2 + 1);
  for (std::size_t i = 0; i < s.size(); i += 2) {
    series_point p = s[i];
    if (i + 1 < s.size()) {
      const auto& q = s[i + 1];
      p.t_s = q.t_s;
      p.interval_s += q.interval_s;
      p.bytes += q.bytes;
      p.messages += q.messages;
      p.p50_us = std::max(p.p50_us, q.p50_us);
      p.p99_us = std::max(p.p99_us, q.p99_us);
      p.p999_us = std::max(p.p999_us, q.p999_us);
      p.max_us = std::max(p.max_us, q.max_us);
      p.errors += q.errors;
      p.breaks += q.breaks;
    }
    out.push_back(p);
  }
  s = std::move(out);
}

void halve(std::vector<proc_point>& s) {
  std::vector<proc_point> out;
  out.reserve(s.size() / 2 + 1);
  for (std::size_t i = 0; i < s.size(); i += 2) {
    proc_point p = s[i];
    if (i + 1 < s.size()) {
      const auto& q = s[i + 1];
      p.t_s = q.t_s;
      p.rss_kib = std::max(p.rss_kib, q.rss_kib);
      p.fds = std::max(p.fds, q.fds);
      p.threads = std::max(p.threads, q.threads);
      p.cpu_pct = (p.cpu_pct + q.cpu_pct) / 2;
    }
    out.push_back(p);
  }
  s = std::move(out);
}

std::optional<std::int64_t> rss_growth(const watched_process& p) {
  if (!p.baseline || !p.last) return std::nullopt;
  return std::int64_t(p.last->rss_kib) - std::int64_t(p.baseline->rss_kib);
}

std::optional<std::int64_t> fd_growth(const watched_process& p) {
  if (!p.baseline || !p.last) return std::nullopt;
  return std::int64_t(p.last->fds) - std::int64_t(p.baseline->fds);
}

void evaluate(results& r) {
  auto& f = r.failures;
  f.clear();
  if (r.messages == 0) f.push_back("no message came back verified");
  if (r.lost_messages) {
    f.push_back(
        fmt::format("{} messages ({}) lost", r.lost_messages, human_bytes(double(r.lost_bytes))));
  }
  if (r.corruptions) {
    std::string where;
    if (const auto& c = r.first_corruption) {
      where = fmt::format(": first in stream {} at offset {} (seq {}, {}{})", c->stream, c->offset,
                          c->seq, c->direction, c->header ? ", header" : "");
    }
    f.push_back(fmt::format("{} corrupted messages{}", r.corruptions, where));
  }
  if (r.gaps) f.push_back(fmt::format("{} sequence gaps", r.gaps));
  if (r.duplicates) f.push_back(fmt::format("{} duplicated messages", r.duplicates));
  if (r.stalls) f.push_back(fmt::format("{} stalled connections", r.stalls));
  unsigned over = 0, unrecovered = 0;
  double worst = 0;
  for (const auto& rc : r.recoveries) {
    if (!rc.recovered && rc.duration_ms > r.recovery_bound_ms) ++unrecovered;
    else if (rc.recovered && rc.duration_ms > r.recovery_bound_ms) ++over;
    worst = std::max(worst, rc.duration_ms);
  }
  if (over) {
    f.push_back(fmt::format("{} recoveries over the {:.0f} ms bound (worst {:.0f} ms)", over,
                            r.recovery_bound_ms, worst));
  }
  if (unrecovered) f.push_back(fmt::format("{} faults never recovered", unrecovered));
  for (const auto& p : r.processes) {
    auto rss = rss_growth(p);
    auto fds = fd_growth(p);
    if (r.max_rss_growth_kib && rss && *rss > *r.max_rss_growth_kib) {
      f.push_back(
          fmt::format("{} RSS grew {} KiB (bound {} KiB)", p.name, *rss, *r.max_rss_growth_kib));
    }
    if (r.max_fd_growth && fds && *fds > *r.max_fd_growth) {
      f.push_back(fmt::format("{} open fds grew by {} (bound {})", p.name, *fds, *r.max_fd_growth));
    }
    if ((r.max_rss_growth_kib || r.max_fd_growth) && !rss) {
      f.push_back(fmt::format("{} has no sample after the warm-up: growth bounds cannot be checked",
                              p.name));
    }
  }
}

std::string summary_line(const results& r) {
  double worst = 0;
  for (const auto& rc : r.recoveries) worst = std::max(worst, rc.duration_ms);
  std::string s = fmt::format(
      "vsock-soak: {} {:.0f} s, {} streams, {} in {} messages verified ({}/s), {} lost, {} "
      "corrupt, "
      "{} gaps, latency p50 {} p99 {} p99.9 {} max {}, {} breaks, {} recoveries (max {} ms, bound "
      "{:.0f} ms)",
      r.passed() ? "PASS" : "FAIL", r.elapsed_s, r.streams, human_bytes(double(r.bytes)),
      r.messages, human_bytes(r.elapsed_s > 0 ? double(r.bytes) / r.elapsed_s : 0), r.lost_messages,
      r.corruptions, r.gaps, human_us(double(r.latency.percentile(0.5))),
      human_us(double(r.latency.percentile(0.99))), human_us(double(r.latency.percentile(0.999))),
      human_us(double(r.latency.max())), r.breaks, r.recoveries.size() + r.recoveries_not_listed,
      std::lround(worst), r.recovery_bound_ms);
  for (const auto& p : r.processes) {
    auto rss = rss_growth(p);
    auto fds = fd_growth(p);
    if (rss && fds) {
      s += fmt::format(", {} rss {:+} KiB fds {:+}", p.name, *rss, *fds);
    } else {
      s += fmt::format(", {} not sampled after warm-up", p.name);
    }
  }
  if (!r.passed()) s += " -- " + r.failures.front();
  return s;
}

std::string to_json(const results& r) {
  json::object doc;
  doc["tool"] = "vsock-soak";
  doc["version"] = r.version;
  doc["result"] = r.passed() ? "pass" : "fail";
  doc["failures"] = json::array(r.failures.begin(), r.failures.end());
  doc["summary"] = summary_line(r);
  doc["config"] = json::object{{"target", r.target},
                               {"streams", r.streams},
                               {"sizes", r.sizes},
                               {"seed", r.seed},
                               {"window", r.window},
                               {"duration_s", r.duration_s},
                               {"recovery_bound_ms", r.recovery_bound_ms},
                               {"max_rss_growth_kib", or_null(r.max_rss_growth_kib)},
                               {"max_fd_growth", or_null(r.max_fd_growth)},
                               {"warmup_s", r.warmup_s},
                               {"drift_window_s", r.drift_window_s},
                               {"started_utc", r.started_utc}};
  doc["totals"] = json::object{{"elapsed_s", r.elapsed_s},
                               {"messages", r.messages},
                               {"bytes", r.bytes},
                               {"lost_messages", r.lost_messages},
                               {"lost_bytes", r.lost_bytes},
                               {"corruptions", r.corruptions},
                               {"gaps", r.gaps},
                               {"duplicates", r.duplicates},
                               {"stalls", r.stalls},
                               {"breaks", r.breaks},
                               {"reconnects", r.reconnects},
                               {"connect_failures", r.connect_failures},
                               {"first_error", r.first_error}};
  if (const auto& c = r.first_corruption) {
    doc["first_corruption"] =
        json::object{{"stream", c->stream}, {"offset", c->offset},       {"seq", c->seq},
                     {"header", c->header}, {"direction", c->direction}, {"detail", c->detail}};
  } else {
    doc["first_corruption"] = nullptr;
  }
  doc["latency_us"] = json::object{{"count", r.latency.count()},
                                   {"p50", r.latency.percentile(0.5)},
                                   {"p99", r.latency.percentile(0.99)},
                                   {"p999", r.latency.percentile(0.999)},
                                   {"max", r.latency.max()}};
  json::array recoveries;
  for (const auto& rc : r.recoveries) {
    recoveries.push_back(json::object{{"start_s", rc.start_s},
                                      {"cause", rc.cause},
                                      {"streams_broken", rc.streams_broken},
                                      {"duration_ms", rc.duration_ms},
                                      {"recovered", rc.recovered}});
  }
  doc["recoveries"] = std::move(recoveries);
  doc["recoveries_not_listed"] = r.recoveries_not_listed;
  json::array faults;
  for (const auto& f : r.faults) {
    faults.push_back(json::object{
        {"t_s", f.t_s}, {"kind", f.kind}, {"detail", f.detail}, {"took_ms", f.took_ms}});
  }
  doc["faults"] = std::move(faults);
  doc["faults_not_listed"] = r.faults_not_listed;
  const auto& s = r.series;
  doc["series"] = json::object{{"t_s", column(s, [](auto& p) { return p.t_s; })},
                               {"interval_s", column(s, [](auto& p) { return p.interval_s; })},
                               {"bytes", column(s, [](auto& p) { return p.bytes; })},
                               {"messages", column(s, [](auto& p) { return p.messages; })},
                               {"p50_us", column(s, [](auto& p) { return p.p50_us; })},
                               {"p99_us", column(s, [](auto& p) { return p.p99_us; })},
                               {"p999_us", column(s, [](auto& p) { return p.p999_us; })},
                               {"max_us", column(s, [](auto& p) { return p.max_us; })},
                               {"errors", column(s, [](auto& p) { return p.errors; })},
                               {"breaks", column(s, [](auto& p) { return p.breaks; })}};
  json::array processes;
  for (const auto& p : r.processes) {
    const auto& pts = p.points;
    processes.push_back(json::object{
        {"name", p.name},
        {"pid", std::int64_t{p.pid}},
        {"restarts", p.restarts},
        {"missing_samples", p.missing_samples},
        {"rss_growth_kib", or_null(rss_growth(p))},
        {"fd_growth", or_null(fd_growth(p))},
        {"baseline", proc_json(p.baseline)},
        {"last", proc_json(p.last)},
        {"series", json::object{{"t_s", column(pts, [](auto& x) { return x.t_s; })},
                                {"rss_kib", column(pts, [](auto& x) { return x.rss_kib; })},
                                {"fds", column(pts, [](auto& x) { return x.fds; })},
                                {"threads", column(pts, [](auto& x) { return x.threads; })},
                                {"cpu_pct", column(pts, [](auto& x) { return x.cpu_pct; })}}}});
  }
  doc["processes"] = std::move(processes);
  // The HTML report embeds this text: "</script>" inside a string must not end its data
  // block early. '<' appears only inside strings, and its escape reads back the same.
  std::string out;
  for (char c : vsocklib::to_line(doc)) {
    if (c == '<') out += "\\u003c";
    else out += c;
  }
  return out + "\n";
}

namespace {

// The report's page. The data block is filled in by to_html; the script draws every chart
// from it as SVG, so the file needs nothing but a browser. Each drawn line carries
// data-series and data-points, which the headless-browser test counts.
constexpr const char* kHtmlHead = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vsock-soak report</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1040px;color:#222}
h1{margin-bottom:.2em} h2{margin-top:1.4em;border-bottom:1px solid #ddd}
#verdict.pass{color:#0a6b0a} #verdict.fail{color:#b00020}
#summary{font-family:monospace;background:#f4f4f4;padding:.6em;white-space:pre-wrap}
table{border-collapse:collapse;font-size:90%} td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
th{background:#f0f0f0} td.l,th.l{text-align:left} tr.bad td{background:#fde0e0}
svg{background:#fcfcfc;border:1px solid #ddd;display:block;margin:.3em 0}
.legend{font-size:85%} .legend span{margin-right:1.2em} .legend i{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:4px}
</style></head><body>
<h1>vsock-soak report <span id="verdict"></span></h1>
<div id="summary">This report draws its charts with JavaScript; enable it to see them.</div>
<ul id="failures"></ul>
<table id="config"></table>
<h2>Throughput</h2><div id="chart-throughput"></div>
<h2>Latency (echo round trip, log scale)</h2><div id="chart-latency"></div>
<h2>Processes under test</h2><div id="chart-processes"></div>
<h2>Recoveries</h2><div id="recoveries"></div>
<h2>Faults injected</h2><div id="faults"></div>
<script type="application/json" id="soak-data">)HTML";

constexpr const char* kHtmlTail = R"HTML(</script>
<script>
(function () {
  'use strict';
  const d = JSON.parse(document.getElementById('soak-data').textContent);
  const NS = 'http://www.w3.org/2000/svg';
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
  function el(tag, attrs, parent, text) {
    const e = tag.startsWith('svg:') ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  function fmtNum(v) {
    if (v >= 100) return v.toFixed(0);
    if (v >= 10) return v.toFixed(1);
    return (+v.toFixed(2)).toString();
  }
  function fmtUs(v) { return v >= 1e6 ? fmtNum(v / 1e6) + ' s' : v >= 1e3 ? fmtNum(v / 1e3) + ' ms' : fmtNum(v) + ' us'; }
  // A line chart: xs in seconds, series [{name, ys}], one y axis (linear or log10).
  function chart(parent, id, xs, series, yLabel, opts) {
    opts = opts || {};
    const W = 1000, H = 260, L = 72, R = 16, T = 14, B = 34;
    const svg = el('svg:svg', {width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, 'data-chart': id}, parent);
    const xmax = Math.max(1, xs.length ? xs[xs.length - 1] : 1);
    let ymin = 0, ymax = 0;
    for (const s of series) for (const y of s.ys) ymax = Math.max(ymax, y);
    let fy;
    const ticks = [];
    if (opts.log) {
      ymin = 1; ymax = Math.pow(10, Math.ceil(Math.log10(Math.max(ymax, 10))));
      const lo = Math.log10(ymin), hi = Math.log10(ymax);
      fy = y => T + (H - T - B) * (1 - (Math.log10(Math.max(y, ymin)) - lo) / (hi - lo));
      for (let e = lo; e <= hi; ++e) ticks.push(Math.pow(10, e));
    } else {
      ymax = niceMax(ymax);
      fy = y => T + (H - T - B) * (1 - y / ymax);
      for (let i = 0; i <= 4; ++i) ticks.push(ymax * i / 4);
    }
    const fx = x => L + (W - L - R) * x / xmax;
    for (const t of ticks) {
      el('svg:line', {x1: L, x2: W - R, y1: fy(t), y2: fy(t), stroke: '#e4e4e4'}, svg);
      el('svg:text', {x: L - 6, y: fy(t) + 4, 'text-anchor': 'end', 'font-size': 11}, svg, (opts.fmt || fmtNum)(t));
    }
    for (let i = 0; i <= 5; ++i) {
      const x = xmax * i / 5;
      el('svg:text', {x: fx(x), y: H - B + 16, 'text-anchor': 'middle', 'font-size': 11}, svg, fmtNum(x) + ' s');
    }
    el('svg:text', {x: 14, y: T + (H - T - B) / 2, 'font-size': 11, transform: 'rotate(-90 14 ' + (T + (H - T - B) / 2) + ')', 'text-anchor': 'middle'}, svg, yLabel);
    el('svg:rect', {x: L, y: T, width: W - L - R, height: H - T - B, fill: 'none', stroke: '#999'}, svg);
    for (const m of opts.marks || []) {
      el('svg:line', {x1: fx(m.t), x2: fx(m.t), y1: T, y2: H - B, stroke: m.color, 'stroke-dasharray': '3,3', 'data-mark': m.kind}, svg);
    }
    const legend = el('div', {class: 'legend'}, parent);
    series.forEach((s, i) => {
      const c = s.color || colors[i % colors.length];
      const pts = s.ys.map((y, k) => fx(xs[k]).toFixed(1) + ',' + fy(y).toFixed(1));
      el('svg:polyline', {points: pts.join(' '), fill: 'none', stroke: c, 'stroke-width': 1.5,
                          class: 'series', 'data-series': s.name, 'data-points': pts.length}, svg);
      const item = el('span', {}, legend);
      el('i', {style: 'background:' + c}, item);
      item.appendChild(document.createTextNode(s.name));
    });
  }
  function table(parent, head, rows, badRow) {
    if (!rows.length) { el('p', {}, parent, 'none'); return; }
    const t = el('table', {}, parent);
    const tr = el('tr', {}, t);
    head.forEach((h, i) => el('th', {class: i ? '' : 'l'}, tr, h));
    rows.forEach((r, k) => {
      const row = el('tr', {class: badRow && badRow(k) ? 'bad' : ''}, t);
      r.forEach((c, i) => el('td', {class: i ? '' : 'l'}, row, String(c)));
    });
  }

  const v = document.getElementById('verdict');
  v.textContent = d.result === 'pass' ? 'PASS' : 'FAIL';
  v.className = d.result;
  document.getElementById('summary').textContent = d.summary;
  for (const f of d.failures) el('li', {}, document.getElementById('failures'), f);
  const cfg = document.getElementById('config');
  const c = d.config;
  [['target', c.target], ['streams', c.streams], ['message sizes', c.sizes + ' bytes'], ['seed', c.seed],
   ['messages in flight per stream', c.window], ['duration', c.duration_s + ' s (ran ' + d.totals.elapsed_s.toFixed(1) + ' s)'],
   ['recovery bound', c.recovery_bound_ms + ' ms'],
   ['RSS growth bound', c.max_rss_growth_kib === null ? 'none' : c.max_rss_growth_kib + ' KiB'],
   ['fd growth bound', c.max_fd_growth === null ? 'none' : c.max_fd_growth],
   ['started (UTC)', c.started_utc]].forEach(([k, val]) => {
    const tr = el('tr', {}, cfg); el('th', {class: 'l'}, tr, k); el('td', {class: 'l'}, tr, String(val));
  });

  const s = d.series;
  const marks = d.faults.map(f => ({t: f.t_s, kind: f.kind, color: '#bbb'}));
  chart(document.getElementById('chart-throughput'), 'throughput', s.t_s,
        [{name: 'throughput', ys: s.bytes.map((b, i) => b / s.interval_s[i] / 1e6)}], 'MB/s verified', {marks});
  chart(document.getElementById('chart-latency'), 'latency', s.t_s,
        [{name: 'p50', ys: s.p50_us}, {name: 'p99', ys: s.p99_us}, {name: 'p99.9', ys: s.p999_us}, {name: 'max', ys: s.max_us}],
        'round trip', {log: true, fmt: fmtUs, marks});
  const pc = document.getElementById('chart-processes');
  if (!d.processes.length) el('p', {}, pc, 'no process was watched (--watch-pid, --watch-name)');
  for (const p of d.processes) {
    const g = p.rss_growth_kib === null ? 'no sample after the warm-up' :
      'RSS ' + (p.rss_growth_kib >= 0 ? '+' : '') + p.rss_growth_kib + ' KiB, fds ' + (p.fd_growth >= 0 ? '+' : '') + p.fd_growth +
      ' (peak of the first ' + c.drift_window_s + ' s after the ' + c.warmup_s + ' s warm-up vs peak of the last ' + c.drift_window_s + ' s)';
    el('h3', {}, pc, p.name + ' (pid ' + p.pid + (p.restarts ? ', restarted ' + p.restarts + ' times' : '') + '): ' + g);
    chart(pc, 'rss-' + p.name, p.series.t_s, [{name: 'rss:' + p.name, ys: p.series.rss_kib.map(k => k / 1024)}], 'RSS MiB', {marks});
    chart(pc, 'fds-' + p.name, p.series.t_s, [{name: 'fds:' + p.name, ys: p.series.fds}, {name: 'threads:' + p.name, ys: p.series.threads},
                                              {name: 'cpu%:' + p.name, ys: p.series.cpu_pct}], 'count / %', {marks});
  }
  const bound = c.recovery_bound_ms;
  table(document.getElementById('recoveries'), ['cause', 'at (s)', 'connections broken', 'took (ms)', 'recovered'],
        d.recoveries.map(r => [r.cause, r.start_s.toFixed(1), r.streams_broken, r.duration_ms.toFixed(0), r.recovered ? 'yes' : 'NO']),
        k => !d.recoveries[k].recovered || d.recoveries[k].duration_ms > bound);
  if (d.recoveries_not_listed) el('p', {}, document.getElementById('recoveries'), d.recoveries_not_listed + ' more not listed');
  table(document.getElementById('faults'), ['fault', 'at (s)', 'detail', 'command took (ms)'],
        d.faults.map(f => [f.kind, f.t_s.toFixed(1), f.detail, f.took_ms.toFixed(0)]));
  document.body.setAttribute('data-rendered', 'yes');
})();
</script>
</body></html>
)HTML";

}  // namespace

std::string to_html(const results& r) { return std::string(kHtmlHead) + to_json(r) + kHtmlTail; }

}  // namespace vsock_soak
