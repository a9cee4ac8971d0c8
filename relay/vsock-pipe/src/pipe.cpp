#include "vsock_pipe/pipe.hpp"

#include <optional>
#include <string>

#include <spdlog/logger.h>

#include "vsock_pipe/stdio_stream.hpp"
#include "vsocklib/connect.hpp"
#include "vsocklib/connector.hpp"
#include "vsocklib/listener.hpp"
#include "vsocklib/pump.hpp"
#include "vsocklib/task_group.hpp"

namespace vsock_pipe {

namespace asio = vsocklib::asio;
using vsocklib::error_code;

namespace {

vsocklib::address parse_side(const std::string& text) {
  try {
    return vsocklib::parse_address(text);
  } catch (const vsocklib::address_error& e) {
    throw usage_error(e.what());
  }
}

void check_connectable(const vsocklib::address& a) {
  if (auto why = vsocklib::connect_problem(a); !why.empty()) throw usage_error(why);
}

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
                 vsocklib::to_string(s.reason), s.error.message(), s.a_to_b_bytes, s.b_to_a_bytes,
                 secs);
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
  // A connection ends by an exception only by a bug (I/O errors are values): then no new
  // connections are taken, and the run ends with it once the others have finished.
  bool stopping = false;
  vsocklib::task_group connections(ex, [&] {
    stopping = true;
    l.close();
    st.slot_freed.cancel();
  });
  for (;;) {
    while (st.active >= st.opt.max_connections && !stopping) {
      // Bounded: beyond the limit, connections wait in the kernel's backlog.
      st.slot_freed.expires_at(asio::steady_timer::time_point::max());
      co_await st.slot_freed.async_wait(vsocklib::use_tuple);
    }
    if (stopping) break;
    auto [ec, s, peer] = co_await l.async_accept();
    if (stopping) break;
    if (ec) {
      st.log->error("accept on {}: {}", st.left.to_string(), ec.message());
      st.failed = true;
      break;
    }
    st.log->debug("accepted {}", peer.description);
    ++st.active;
    if (st.opt.once) {
      co_await serve(st, std::move(s), peer.description);
      break;
    }
    connections.spawn(serve(st, std::move(s), peer.description));
  }
  // The connections under way run to their end before the run does, as when they were
  // detached coroutines and io.run() waited for them. (SIGTERM stops the io_context, which
  // cuts them, as ever.)
  co_await connections.join();
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
    stdio_stream io(ex);
    report(st, st.left.to_string(), co_await vsocklib::async_pump(left, io, st.opt.pump));
    co_return;
  }
  ++st.active;
  co_await serve(st, std::move(left), st.left.to_string());
}

}  // namespace

plan make_plan(options opt) {
  plan p{std::move(opt), {}, {}};
  options& o = p.opt;
  p.left = parse_side(o.left);
  if (!o.stdio) p.right = parse_side(o.right);
  if (!o.listen) check_connectable(p.left);
  if (!o.stdio) check_connectable(p.right);
  // Standard input/output always passes: closing stdout is its end of stream.
  auto policy = [&](const vsocklib::address* side) {
    if (!side || o.half_close == "pass") return vsocklib::half_close::pass;
    if (o.half_close == "linger") return vsocklib::half_close::linger;
    return side->passes_half_close() ? vsocklib::half_close::pass : vsocklib::half_close::linger;
  };
  o.pump.half_close_a = policy(&p.left);
  o.pump.half_close_b = policy(o.stdio ? nullptr : &p.right);
  // Unix, tcp and stdio take all that is buffered in one write; vsock sides one chunk.
  o.pump.bounded_a = p.left.needs_bounded_writes();
  o.pump.bounded_b = !o.stdio && p.right.needs_bounded_writes();
  return p;
}

shared_state::shared_state(const asio::any_io_executor& ex, plan p,
                           std::shared_ptr<spdlog::logger> l)
    : opt(std::move(p.opt)),
      left(std::move(p.left)),
      right(std::move(p.right)),
      log(std::move(l)),
      slot_freed(ex) {}

asio::awaitable<void> run(shared_state& st) {
  if (st.opt.listen) {
    co_await listen_loop(st);
  } else {
    co_await connect_both(st);
  }
}

}  // namespace vsock_pipe
