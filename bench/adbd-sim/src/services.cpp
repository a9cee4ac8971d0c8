// Service names, dispatch, the throughput services sink:N and source:N, and tcp: (forward).
#include "services.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include <spdlog/logger.h>

#include "adbd_sim/pattern.hpp"
#include "adbd_sim/rooted_fs.hpp"
#include "vsocklib/connect.hpp"
#include "vsocklib/number.hpp"

namespace adbd_sim {

void fill_pattern(std::span<std::byte> out, std::uint64_t offset) noexcept {
  // Copying runs of a precomputed table is far faster than a modulo per byte, which would
  // make source:N measure adbd-sim instead of the transport.
  static const auto table = [] {
    std::array<std::byte, kPatternPeriod * 64> t{};
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = pattern_byte(i);
    return t;
  }();
  std::size_t phase = offset % kPatternPeriod;
  while (!out.empty()) {
    const std::size_t n = std::min(out.size(), table.size() - phase);
    std::memcpy(out.data(), table.data() + phase, n);
    out = out.subspan(n);
    phase = (phase + n) % kPatternPeriod;
  }
}

namespace detail {
namespace {

std::optional<std::uint64_t> parse_count(std::string_view text) {
  return vsocklib::parse_unsigned(text, 0, std::numeric_limits<std::uint64_t>::max());
}

asio::awaitable<void> run_source(adb_stream& s, std::uint64_t count) {
  std::uint64_t sent = 0;
  while (sent < count) {
    auto room = co_await s.async_prepare(
        static_cast<std::size_t>(std::min<std::uint64_t>(count - sent, s.max_payload())));
    if (room.empty()) {
      s.connection().log().debug("{}: source:{} closed by the host after {} bytes",
                                 s.connection().peer(), count, sent);
      co_return;
    }
    fill_pattern(room, sent);
    s.commit(room.size());
    sent += room.size();
  }
}

asio::awaitable<void> run_sink(adb_stream& s, std::uint64_t count) {
  std::uint64_t received = 0;
  while (received < count) {
    if (!co_await s.async_wait_readable()) {
      s.connection().log().debug("{}: sink:{} closed by the host after {} bytes",
                                 s.connection().peer(), count, received);
      co_return;
    }
    auto a = s.available();
    received += a.size();
    s.consume(a.size());
  }
}

// Largest read from the TCP side per WRTE: adb's own forward uses 64 KiB-sized buffers too.
constexpr std::size_t kTcpChunk = 64 * 1024;
// Bound on connecting to the forward's target; real adbd's loopback connect is immediate.
constexpr std::chrono::milliseconds kTcpConnectTimeout{5000};

asio::awaitable<void> tcp_to_host(adb_stream& s, vsocklib::stream_socket& sock) {
  for (;;) {
    auto room = co_await s.async_prepare(kTcpChunk);
    if (room.empty()) co_return;  // the host closed the stream
    auto [ec, n] =
        co_await sock.async_read_some(asio::buffer(room.data(), room.size()), vsocklib::use_tuple);
    s.commit(n);
    if (ec) co_return;  // end of stream or an error: the ADB stream closes either way
    co_await s.async_flush();
  }
}

asio::awaitable<void> host_to_tcp(adb_stream& s, vsocklib::stream_socket& sock) {
  for (;;) {
    const bool readable = co_await s.async_wait_readable();
    if (!readable) co_return;
    auto data = s.available();
    auto [ec, n] = co_await asio::async_write(sock, asio::buffer(data.data(), data.size()),
                                              vsocklib::use_tuple);
    if (ec) co_return;
    // Consumed (and so acknowledged with OKAY) only once written: the TCP peer's pace
    // becomes the host's, one WRTE at a time.
    s.consume(data.size());
  }
}

}  // namespace

asio::awaitable<void> run_tcp(adb_stream& s, const std::string& host, std::uint16_t port) {
  using namespace asio::experimental::awaitable_operators;
  vsocklib::address to;
  to.kind = vsocklib::transport::tcp;
  to.host = host;
  to.port = port;
  auto [ec, sock] = co_await vsocklib::async_connect(to, kTcpConnectTimeout);
  if (ec) {
    // adbd closes the stream when the connect fails; adb then closes the forwarded socket.
    s.connection().log().info("{}: tcp:{}:{}: {}", s.connection().peer(), host, port, ec.message());
    co_return;
  }
  co_await (tcp_to_host(s, sock) || host_to_tcp(s, sock));
  vsocklib::error_code ignored;
  sock.close(ignored);
}

std::optional<service_request> parse_service(std::string_view name, std::string& why) {
  const auto colon = name.find(':');
  if (colon == std::string_view::npos) {
    why = "not a service name (no ':')";
    return std::nullopt;
  }
  const std::string_view head = name.substr(0, colon);
  const std::string_view arg = name.substr(colon + 1);
  service_request r;

  // shell[,ARG...]:COMMAND, as adbd parses it: "v2" selects the shell protocol (adb sends
  // it when both sides have shell_v2; plain "shell:" stays raw), "raw" and "pty" are
  // accepted (there is no pty: output is raw either way), TERM=... is ignored.
  if (head == "shell" || head.rfind("shell,", 0) == 0) {
    std::string_view args = head.substr(5);
    while (!args.empty()) {
      args.remove_prefix(1);  // the ','
      const auto next = args.find(',');
      const std::string_view a = args.substr(0, next);
      if (a == "v2") {
        r.shell_v2 = true;
      } else if (a != "raw" && a != "pty" && a.rfind("TERM=", 0) != 0) {
        why = "unknown shell argument \"" + std::string(a) + "\"";
        return std::nullopt;
      }
      args = next == std::string_view::npos ? std::string_view{} : args.substr(next);
    }
    r.kind = service_kind::shell;
    r.command = std::string(arg);
    return r;
  }
  // abb:ARG\0ARG... (shell protocol) and abb_exec:ARG\0ARG... (raw), as adb install and
  // adb abb send them.
  if (head == "abb" || head == "abb_exec") {
    r.kind = service_kind::abb;
    r.shell_v2 = head == "abb";
    std::string_view rest = arg;
    while (!rest.empty()) {
      const auto nul = rest.find('\0');
      r.args.emplace_back(rest.substr(0, nul));
      rest = nul == std::string_view::npos ? std::string_view{} : rest.substr(nul + 1);
    }
    return r;
  }
  if (head == "exec") {  // adb exec-out: a raw shell that must have a command
    if (arg.empty()) {
      why = "exec: needs a command";
      return std::nullopt;
    }
    r.kind = service_kind::shell;
    r.command = std::string(arg);
    return r;
  }
  if (head == "sync") {
    r.kind = service_kind::sync;
    return r;
  }
  if (head == "sink" || head == "source") {
    auto n = parse_count(arg);
    if (!n) {
      why = std::string(head) + ": \"" + std::string(arg) + "\" is not a byte count";
      return std::nullopt;
    }
    r.kind = head == "sink" ? service_kind::sink : service_kind::source;
    r.count = *n;
    return r;
  }
  if (head == "tcp") {  // tcp:PORT or tcp:HOST:PORT, as `adb forward tcp:X tcp:...` sends
    const auto last = arg.rfind(':');
    const std::string_view port_text = last == std::string_view::npos ? arg : arg.substr(last + 1);
    auto port = parse_count(port_text);
    if (!port || *port == 0 || *port > 65535) {
      why = "tcp: \"" + std::string(port_text) + "\" is not a port";
      return std::nullopt;
    }
    r.kind = service_kind::tcp;
    r.port = static_cast<std::uint16_t>(*port);
    r.host = last == std::string_view::npos ? "127.0.0.1" : std::string(arg.substr(0, last));
    if (r.host.size() > 2 && r.host.front() == '[' && r.host.back() == ']')
      r.host = r.host.substr(1, r.host.size() - 2);
    if (r.host.empty()) {
      why = "tcp: empty host";
      return std::nullopt;
    }
    return r;
  }
  why =
      "unknown service (adbd-sim offers shell:, exec:, sync:, sink:N, source:N, tcp:, abb:, "
      "abb_exec:)";
  return std::nullopt;
}

asio::awaitable<void> run_service(std::shared_ptr<adb_stream> s, service_request req,
                                  const connection_config& cfg) {
  switch (req.kind) {
    case service_kind::shell:
      if (req.shell_v2) {
        co_await run_shell_v2(*s, req.command, *cfg.files);
      } else {
        co_await run_shell(*s, req.command, *cfg.files);
      }
      break;
    case service_kind::abb: co_await run_abb(*s, req.args, req.shell_v2); break;
    case service_kind::sync: co_await run_sync(*s, *cfg.files, cfg); break;
    case service_kind::sink: co_await run_sink(*s, req.count); break;
    case service_kind::source: co_await run_source(*s, req.count); break;
    case service_kind::tcp: co_await run_tcp(*s, req.host, req.port); break;
  }
  co_await s->async_close();
}

}  // namespace detail
}  // namespace adbd_sim
