#include "adbd_sim/server.hpp"

#include <atomic>
#include <exception>
#include <optional>
#include <thread>

#include <spdlog/logger.h>

#include "adbd_sim/connection.hpp"
#include "adbd_sim/rooted_fs.hpp"
#include "vsocklib/listener.hpp"
#include "vsocklib/task_group.hpp"

namespace adbd_sim {

namespace asio = vsocklib::asio;
using vsocklib::error_code;
using vsocklib::use_tuple;
using namespace std::chrono_literals;

struct server::impl {
  impl(const options& o, std::shared_ptr<const rooted_fs> f, std::shared_ptr<spdlog::logger> l)
      : opt(o), files(std::move(f)), log(std::move(l)) {
    for (unsigned i = 0; i < opt.threads; ++i) {
      // concurrency hint 1: each io_context is run by exactly one thread, so a connection's
      // coroutines never run in parallel and need no strand.
      contexts.push_back(std::make_unique<asio::io_context>(1));
    }
    slot_freed.emplace(*contexts[0]);
    slot_freed->expires_at(asio::steady_timer::time_point::max());
    signals.emplace(*contexts[0], SIGINT, SIGTERM);
  }

  asio::io_context& next_context() {
    auto& c = *contexts[next % contexts.size()];
    ++next;
    return c;
  }

  options opt;
  std::shared_ptr<const rooted_fs> files;
  std::shared_ptr<spdlog::logger> log;
  // Declared before everything that holds their sockets and timers, so destroyed last.
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::unique_ptr<vsocklib::listener>> listeners;
  std::optional<asio::steady_timer> slot_freed;  // on contexts[0]; woken when a connection ends
  std::optional<asio::signal_set> signals;
  std::atomic<unsigned> active{0};
  std::size_t next = 0;
  bool accepting = true;  // on contexts[0]; false once an accept loop has failed
};

namespace {

// Runs on the connection's own io_context. Named coroutine (not a lambda) for co_spawn.
asio::awaitable<void> connection_main(server::impl& s, vsocklib::stream_socket sock,
                                      std::string peer) {
  connection_config cfg{s.files,           s.opt.auth, s.opt.max_payload,
                        s.opt.max_streams, s.log,      s.opt.delayed_ack};
  cfg.max_expansion = s.opt.max_expansion;
  s.log->info("{}: connected", peer);
  const auto sum = co_await async_serve_connection(std::move(sock), std::move(cfg), peer);
  if (sum.protocol_error) {
    s.log->warn("{}: reset: {}", peer, sum.reason);
  } else {
    s.log->info("{}: closed ({}): {} streams ({} refused), {} bytes in, {} bytes out", peer,
                sum.reason, sum.streams_opened, sum.streams_refused, sum.bytes_in, sum.bytes_out);
  }
}

// A connection's completion, on its own io_context's thread: frees its slot whether it
// ended or failed (a bug, logged).
void connection_ended(server::impl& s, const std::string& peer, std::exception_ptr e) {
  if (e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      s.log->error("{}: {}", peer, ex.what());
    } catch (...) {
      s.log->error("{}: ended by an unknown exception", peer);
    }
  }
  --s.active;
  // The accept loops wait on contexts[0]; wake them there.
  asio::post(*s.contexts[0], [&s] { s.slot_freed->cancel(); });
}

// A connection accepted on contexts[0] moves to the io_context that will serve it: the
// descriptor is released from one socket object and adopted by another.
vsocklib::stream_socket move_to(asio::io_context& ctx, vsocklib::stream_socket sock,
                                error_code& ec) {
  if (&asio::query(sock.get_executor(), asio::execution::context) ==
      &static_cast<asio::execution_context&>(ctx)) {
    return sock;
  }
  const auto protocol = sock.local_endpoint(ec).protocol();
  if (ec) return vsocklib::stream_socket(ctx);
  const int fd = sock.release(ec);
  if (ec) return vsocklib::stream_socket(ctx);
  return vsocklib::stream_socket(ctx, protocol, fd);
}

asio::awaitable<void> accept_loop(server::impl& s, vsocklib::listener& l) {
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (;;) {
    // Bounded: beyond --max-connections, new peers wait in the kernel's backlog.
    while (s.active.load() >= s.opt.max_connections && s.accepting) {
      co_await s.slot_freed->async_wait(use_tuple);
    }
    if (!s.accepting) co_return;
    auto [ec, sock, peer] = co_await l.async_accept();
    if (ec == asio::error::operation_aborted || !s.accepting) co_return;
    if (ec) {
      // Usually out of file descriptors: pause instead of spinning on the error.
      s.log->warn("accept on {}: {}", l.local_address().to_string(), ec.message());
      pause.expires_after(100ms);
      co_await pause.async_wait(use_tuple);
      continue;
    }
    auto& ctx = s.next_context();
    error_code mec;
    auto moved = move_to(ctx, std::move(sock), mec);
    if (mec) {
      s.log->warn("{}: cannot hand the connection over: {}", peer.description, mec.message());
      continue;
    }
    ++s.active;
    // Not a task_group: the connection runs on another io_context's thread, and a group is
    // single-threaded. Its owner (the server, counting it in active) hears of its end from
    // this handler, which posts back to contexts[0]. Nothing joins connections: stop()
    // drops those still open with their io_context, and the accept loops bound how many run.
    asio::co_spawn(
        ctx, connection_main(s, std::move(moved), peer.description),
        [&s, peer = peer.description](std::exception_ptr e) { connection_ended(s, peer, e); });
  }
}

// The accept loops, one per listener, on contexts[0], until stop() ends its run() (the
// loops then go with the io_context, in ~server). A loop that fails (a bug) closes every
// listener, so that the others end and the failure comes out of the join.
asio::awaitable<void> accept_all(server::impl& s) {
  vsocklib::task_group loops(co_await asio::this_coro::executor, [&s] {
    s.accepting = false;
    for (auto& l : s.listeners) l->close();
    s.slot_freed->cancel();
  });
  for (auto& l : s.listeners) loops.spawn(accept_loop(s, *l));
  co_await loops.join();
}

}  // namespace

server::server(const options& opt, std::shared_ptr<const rooted_fs> files,
               std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_unique<impl>(opt, std::move(files), std::move(log))) {
  for (const auto& a : impl_->opt.listen) {
    impl_->listeners.push_back(std::make_unique<vsocklib::listener>(
        impl_->contexts[0]->get_executor(), a, impl_->opt.policy, impl_->log));
    impl_->log->info("listening on {}", impl_->listeners.back()->local_address().to_string());
  }
}

server::~server() {
  stop();
  // Listeners and timers first, while their io_context still exists; then the
  // io_contexts, whose destruction ends the coroutines of connections still open.
  impl_->listeners.clear();
  impl_->slot_freed.reset();
  impl_->signals.reset();
  impl_->contexts.clear();
}

std::vector<vsocklib::address> server::local_addresses() const {
  std::vector<vsocklib::address> out;
  for (const auto& l : impl_->listeners) out.push_back(l->local_address());
  return out;
}

void server::run() {
  auto& s = *impl_;
  s.signals->async_wait([this](error_code ec, int sig) {
    if (!ec) {
      impl_->log->info("signal {}: stopping", sig);
      stop();
    }
  });
  asio::co_spawn(*s.contexts[0], accept_all(s), [this](std::exception_ptr e) {
    if (!e) return;
    // A bug: a server without its accept loops would look alive and take no one.
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      impl_->log->error("accepting: {}; stopping", ex.what());
    } catch (...) {
      impl_->log->error("accepting: unknown exception; stopping");
    }
    stop();
  });
  std::vector<std::thread> threads;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (std::size_t i = 1; i < s.contexts.size(); ++i) {
    guards.push_back(asio::make_work_guard(*s.contexts[i]));
    threads.emplace_back([ctx = s.contexts[i].get()] { ctx->run(); });
  }
  s.contexts[0]->run();
  stop();
  for (auto& t : threads) t.join();
}

void server::stop() {
  for (auto& c : impl_->contexts) c->stop();
}

}  // namespace adbd_sim
