// vsock-pipe: connects two addresses in the toolkit's syntax with the bounded pump, like
// socat for vsock, hybrid vsock, unix and tcp. The first thing to try, and the baseline the
// relay benchmarks compare against.
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "stdio_stream.hpp"
#include "vsocklib/args.hpp"
#include "vsocklib/address.hpp"
#include "vsocklib/connect.hpp"
#include "vsocklib/connector.hpp"
#include "vsocklib/listener.hpp"
#include "vsocklib/log.hpp"
#include "vsocklib/number.hpp"
#include "vsocklib/privileges.hpp"
#include "vsocklib/pump.hpp"

#ifndef VSOCKLIB_VERSION
#define VSOCKLIB_VERSION "unknown"
#endif

namespace {

namespace asio = vsocklib::asio;
using namespace std::chrono_literals;
using vsocklib::error_code;

constexpr const char* kUsage = R"(usage: vsock-pipe [OPTIONS] LEFT RIGHT

Moves bytes both ways between LEFT and RIGHT, passing end of stream on (half-close) and
stopping when both directions have ended. Each write into a vsock or hvsock side is at most
one chunk (4 KiB), so the guest kernel never builds a larger packet; unix, tcp and standard
output take whatever is buffered, up to --chunks x --chunk-size, in one write.

Each of LEFT and RIGHT is one of
  ADDRESS          connect to it
  listen:ADDRESS   accept connections on it (LEFT only); each connection gets its own
                   connection to RIGHT
  -                standard input and output (RIGHT only)
ADDRESS is vsock:CID:PORT, hvsock:UDS_PATH:PORT, unix:PATH (unix:@NAME is abstract) or
tcp:HOST:PORT. Listening on vsock takes CID "any"; listening on hvsock binds UDS_PATH_PORT.

Options
  --chunk-size BYTES     largest write into a vsock side (default 4096; 1..1048576)
  --chunks N             buffer per direction, in chunks (default 16; 1..64)
  --once                 with listen:, serve one connection and exit
  --max-connections N    with listen:, connections served at once (default 64; 1..65536)
  --retry                keep reconnecting to RIGHT with backoff instead of failing
  --connect-timeout MS   bound on each connect attempt (default 5000; 1..86400000)
  --half-close MODE      how end of input reaches a side: pass (shutdown at once), linger
                         (hold it until the peer's direction ends or is quiet for --linger,
                         then close), or auto (default: linger towards hvsock:, where a
                         half-close closes both directions and would cut the reply; pass
                         elsewhere)
  --linger MS            quiet time before a held half-close goes out (default 1000; up to a day)
  --allow-cid CID        with listen:vsock, accept only this peer CID (repeatable)
  --allow-uid UID        with listen:unix/hvsock, accept only this peer uid (repeatable)
  --allow-remote-tcp     with listen:tcp, accept peers that are not on loopback
  --log-level LEVEL      trace, debug, info, warn, error, off (default info)
  -h, --help             this text
  --version              the version

Examples
  vsock-pipe listen:tcp:127.0.0.1:5555 vsock:3:5555     forward local TCP to a guest
  vsock-pipe listen:vsock:any:9000 unix:/run/app.sock    expose a Unix service to guests
  echo hello | vsock-pipe unix:/run/echo.sock -          one request from a shell

Exit status: 0 when every pump finished cleanly, 1 when one failed, 2 on usage errors.
)";

struct options {
  std::string left, right;
  bool listen = false;
  bool stdio = false;
  bool once = false;
  bool retry = false;
  unsigned max_connections = 64;
  vsocklib::pump_options pump;
  std::chrono::milliseconds connect_timeout = vsocklib::kDefaultConnectTimeout;
  vsocklib::peer_policy policy;
  std::string log_level = "info";
  std::string half_close = "auto";
};

[[noreturn]] void usage_error(const std::string& what) {
  std::cerr << "vsock-pipe: " << what << "\n(try vsock-pipe --help)\n";
  std::exit(2);
}

std::uint64_t number(const std::string& option, const std::string& text, std::uint64_t lo, std::uint64_t hi) {
  if (auto v = vsocklib::parse_unsigned(text, lo, hi)) return *v;
  usage_error(vsocklib::number_error_text(option, text, lo, hi));
}

constexpr std::uint64_t kMaxMs = 86'400'000;  // one day

options parse(int argc, char** argv) {
  const auto args = vsocklib::split_option_values(argc, argv);
  options o;
  std::vector<std::string> positional;
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) usage_error(a + " needs a value");
      return args[++i];
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a == "--version") {
      std::cout << "vsock-pipe " << VSOCKLIB_VERSION << "\n";
      std::exit(0);
    } else if (a == "--chunk-size") {
      o.pump.chunk_size = number(a, value(), 1, 1048576);
    } else if (a == "--chunks") {
      o.pump.chunks_in_flight = static_cast<unsigned>(number(a, value(), 1, 64));
    } else if (a == "--once") {
      o.once = true;
    } else if (a == "--retry") {
      o.retry = true;
    } else if (a == "--max-connections") {
      o.max_connections = static_cast<unsigned>(number(a, value(), 1, 65536));
    } else if (a == "--connect-timeout") {
      o.connect_timeout = std::chrono::milliseconds(number(a, value(), 1, kMaxMs));
    } else if (a == "--half-close") {
      o.half_close = value();
      if (o.half_close != "auto" && o.half_close != "pass" && o.half_close != "linger") {
        usage_error("--half-close takes auto, pass or linger, not \"" + o.half_close + "\"");
      }
    } else if (a == "--linger") {
      o.pump.linger = std::chrono::milliseconds(number(a, value(), 0, kMaxMs));
    } else if (a == "--allow-cid") {
      o.policy.allowed_cids.push_back(static_cast<std::uint32_t>(number(a, value(), 0, vsocklib::kMaxCid)));
    } else if (a == "--allow-uid") {
      o.policy.allowed_uids.push_back(static_cast<uid_t>(number(a, value(), 0, vsocklib::kMaxUid)));
    } else if (a == "--allow-remote-tcp") {
      o.policy.allow_remote_tcp = true;
    } else if (a == "--log-level") {
      o.log_level = value();
    } else if (a.size() > 1 && a[0] == '-' && a != "-") {
      usage_error("unknown option " + a);
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2) usage_error("expected two addresses, LEFT and RIGHT");
  o.left = positional[0];
  o.right = positional[1];
  if (o.left.rfind("listen:", 0) == 0) {
    o.listen = true;
    o.left = o.left.substr(7);
  }
  if (o.right.rfind("listen:", 0) == 0) usage_error("only LEFT may be a listen: address");
  if (o.left == "-") usage_error("standard input/output (-) may only be RIGHT");
  o.stdio = o.right == "-";
  if (o.stdio && o.listen) usage_error("listen: and - cannot be combined");
  if (auto why = o.pump.validate(); !why.empty()) usage_error(why);
  return o;
}

struct shared_state {
  options opt;
  vsocklib::address left, right;
  std::shared_ptr<spdlog::logger> log;
  unsigned active = 0;
  bool failed = false;
  asio::steady_timer slot_freed;  // woken when a connection ends and --max-connections frees up
};

void report(shared_state& st, const std::string& who, const vsocklib::pump_stats& s) {
  const double secs = std::chrono::duration<double>(s.duration).count();
  if (s.reason == vsocklib::pump_end::finished) {
    st.log->log(s.lingered ? spdlog::level::warn : spdlog::level::info,
                "{}: done, {} bytes ->, {} bytes <-, {:.3f} s{}", who, s.a_to_b_bytes,
                s.b_to_a_bytes, secs,
                s.lingered ? fmt::format("; end of input held until the far side had been quiet "
                                         "for {} ms, then closed: this transport cannot pass a "
                                         "half-close, so anything the far side still meant to "
                                         "send was cut off (--linger sets the wait)",
                                         st.opt.pump.linger.count())
                           : std::string());
  } else {
    st.failed = true;
    st.log->warn("{}: {} ({}) after {} bytes ->, {} bytes <-, {:.3f} s", who,
                 vsocklib::to_string(s.reason), s.error.message(), s.a_to_b_bytes,
                 s.b_to_a_bytes, secs);
  }
}

asio::awaitable<std::tuple<error_code, vsocklib::stream_socket>> connect_right(shared_state& st) {
  if (!st.opt.retry) co_return co_await vsocklib::async_connect(st.right, st.opt.connect_timeout);
  vsocklib::connector c(st.right, {{}, st.opt.connect_timeout}, st.log);
  co_return co_await c.async_connect();
}

asio::awaitable<void> serve(shared_state& st, vsocklib::stream_socket left, std::string who) {
  auto [ec, right] = co_await connect_right(st);
  if (ec) {
    st.failed = true;
    st.log->error("{}: cannot connect to {}: {}", who, st.right.to_string(), ec.message());
  } else {
    auto stats = co_await vsocklib::async_pump(left, right, st.opt.pump);
    report(st, who, stats);
  }
  --st.active;
  st.slot_freed.cancel();
}

asio::awaitable<void> listen_loop(shared_state& st) {
  auto ex = co_await asio::this_coro::executor;
  vsocklib::listener l(ex, st.left, st.opt.policy, st.log);
  st.log->info("listening on {}, forwarding to {}", l.local_address().to_string(),
               st.right.to_string());
  for (;;) {
    while (st.active >= st.opt.max_connections) {
      // Bounded: beyond the limit, connections wait in the kernel's backlog.
      st.slot_freed.expires_at(asio::steady_timer::time_point::max());
      co_await st.slot_freed.async_wait(vsocklib::use_tuple);
    }
    auto [ec, s, peer] = co_await l.async_accept();
    if (ec) {
      st.log->error("accept on {}: {}", st.left.to_string(), ec.message());
      st.failed = true;
      co_return;
    }
    st.log->debug("accepted {}", peer.description);
    ++st.active;
    if (st.opt.once) {
      co_await serve(st, std::move(s), peer.description);
      co_return;
    }
    asio::co_spawn(ex, serve(st, std::move(s), peer.description), asio::detached);
  }
}

asio::awaitable<void> connect_both(shared_state& st) {
  auto ex = co_await asio::this_coro::executor;
  auto [ec, left] = co_await vsocklib::async_connect(st.left, st.opt.connect_timeout);
  if (ec) {
    st.failed = true;
    st.log->error("cannot connect to {}: {}", st.left.to_string(), ec.message());
    co_return;
  }
  if (st.opt.stdio) {
    vsock_pipe::stdio_stream io(ex);
    report(st, st.left.to_string(), co_await vsocklib::async_pump(left, io, st.opt.pump));
    co_return;
  }
  ++st.active;
  co_await serve(st, std::move(left), st.left.to_string());
}

vsocklib::address parse_or_exit(const std::string& text) {
  try {
    return vsocklib::parse_address(text);
  } catch (const vsocklib::address_error& e) {
    usage_error(e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto opt = parse(argc, argv);
  try {
    vsocklib::log::setup(opt.log_level);
  } catch (const std::invalid_argument& e) {
    usage_error(e.what());
  }
  // Per side: the policy given, or what the side's transport needs (auto).
  // Standard input/output always passes (closing stdout is its end of stream).
  auto policy = [&](const std::optional<vsocklib::address>& side) {
    if (!side || opt.half_close == "pass") return vsocklib::half_close::pass;
    if (opt.half_close == "linger") return vsocklib::half_close::linger;
    return side->passes_half_close() ? vsocklib::half_close::pass : vsocklib::half_close::linger;
  };
  asio::io_context io(1);
  shared_state st{opt, parse_or_exit(opt.left), opt.stdio ? vsocklib::address{} : parse_or_exit(opt.right),
                  vsocklib::log::get("vsock-pipe"), 0, false, asio::steady_timer(io)};
  // The sides vsock-pipe connects to: RIGHT, and LEFT unless it listens.
  auto check_connectable = [](const vsocklib::address& a) {
    if (auto why = vsocklib::connect_problem(a); !why.empty()) usage_error(why);
  };
  if (!opt.listen) check_connectable(st.left);
  if (!opt.stdio) check_connectable(st.right);
  st.opt.pump.half_close_a = policy(st.left);
  st.opt.pump.half_close_b = policy(opt.stdio ? std::nullopt : std::optional(st.right));
  // Writes into vsock sides stay at one chunk; unix, tcp and stdio take all that is buffered.
  st.opt.pump.bounded_a = st.left.needs_bounded_writes();
  st.opt.pump.bounded_b = !opt.stdio && st.right.needs_bounded_writes();

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](error_code ec, int) {
    if (!ec) io.stop();
  });
  try {
    asio::co_spawn(io, opt.listen ? listen_loop(st) : connect_both(st),
                   [&](std::exception_ptr e) {
                     signals.cancel();
                     if (e) std::rethrow_exception(e);
                   });
    io.run();
  } catch (const std::exception& e) {
    st.log->error("{}", e.what());
    return 1;
  }
  return st.failed ? 1 : 0;
}
