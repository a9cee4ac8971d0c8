// vsock-soak serve: verifies every message it receives and echoes it back unchanged.
#include <spdlog/logger.h>

#include <array>
#include <csignal>
#include <cstring>
#include <set>

#include "vsock_soak/soak.hpp"
#include "vsocklib/asio.hpp"
#include "vsocklib/task_group.hpp"

namespace vsock_soak {
namespace {

namespace asio = vsocklib::asio;
using vsocklib::error_code;
using vsocklib::use_tuple;

struct server_state {
  const serve_options& opt;
  std::shared_ptr<spdlog::logger> log;
  bool injected = false;
  unsigned active = 0;
  std::uint64_t connections = 0;
  std::uint64_t problems = 0;
  asio::steady_timer slot_free;  // an event: cancelled when a connection ends
  bool stopping = false;
  std::set<vsocklib::stream_socket*> open;  // connections being served: closed at stop
};

// Tells the client what was wrong, then the caller closes the connection.
asio::awaitable<void> send_problem(vsocklib::stream_socket& s, std::uint32_t stream,
                                   std::uint64_t seq, problem_kind kind, std::uint64_t index,
                                   const std::string& text) {
  std::vector<std::byte> payload(9 + text.size());
  put_u64(payload, index);
  payload[8] = static_cast<std::byte>(kind);
  std::memcpy(payload.data() + 9, text.data(), text.size());
  std::array<std::byte, kHeaderSize> h;
  encode_header(frame_type::problem, stream, seq, payload, h);
  std::array<asio::const_buffer, 2> bufs{asio::buffer(h), asio::buffer(payload)};
  co_await asio::async_write(s, bufs, use_tuple);
}

asio::awaitable<void> serve_connection(server_state* st, vsocklib::stream_socket& s,
                                       const std::string& peer) {
  auto& log = *st->log;
  std::array<std::byte, kHeaderSize> raw;
  std::vector<std::byte> payload, scratch;
  std::uint32_t magic = 0;

  auto [ec, n] = co_await asio::async_read(s, asio::buffer(raw), use_tuple);
  if (ec) {
    log.debug("{}: closed before its hello: {}", peer, ec.message());
    co_return;
  }
  header h = decode_header(raw, magic);
  if (magic != kMagic || h.type != frame_type::hello || h.length != 16) {
    log.warn("{}: not a vsock-soak hello (magic {:#x}, type {}, length {}); closing", peer, magic,
             int(h.type), h.length);
    co_return;
  }
  payload.resize(16);
  std::tie(ec, n) = co_await asio::async_read(s, asio::buffer(payload), use_tuple);
  if (ec || !check_matches(raw, payload)) {
    log.warn("{}: damaged hello; closing", peer);
    co_return;
  }
  const std::uint32_t stream = h.stream;
  const std::uint64_t seed = get_u64(std::span<const std::byte>(payload).first(8));
  std::uint64_t offset = get_u64(std::span<const std::byte>(payload).subspan(8, 8));
  std::uint64_t expect = h.seq;
  encode_header(frame_type::hello_ok, stream, expect, {}, raw);
  std::tie(ec, n) = co_await asio::async_write(s, asio::buffer(raw), use_tuple);
  if (ec) co_return;
  log.debug("{}: stream {} resumes at seq {} (offset {})", peer, stream, expect, offset);

  for (;;) {
    std::tie(ec, n) = co_await asio::async_read(s, asio::buffer(raw), use_tuple);
    if (ec) {
      log.debug("{}: stream {} ended at seq {}: {}", peer, stream, expect,
                ec == asio::error::eof ? "closed by the client" : ec.message());
      co_return;
    }
    h = decode_header(raw, magic);
    if (magic != kMagic || h.type != frame_type::data || h.stream != stream ||
        h.length > kMaxLength) {
      ++st->problems;
      log.error("{}: stream {} seq {}: damaged header (magic {:#x}, type {}, stream {}, length {})",
                peer, stream, expect, magic, int(h.type), h.stream, h.length);
      co_await send_problem(s, stream, expect, problem_kind::corrupt, kHeaderIndex,
                            "damaged header");
      co_return;
    }
    payload.resize(h.length);
    std::tie(ec, n) = co_await asio::async_read(s, asio::buffer(payload), use_tuple);
    if (ec) co_return;
    const verdict v = verify_data(seed, stream, expect, h.length, magic, h, raw, payload, scratch);
    if (v.what != verdict::kind::ok) {
      ++st->problems;
      const bool gap = v.what == verdict::kind::gap || v.what == verdict::kind::duplicate;
      log.error("{}: stream {} seq {}: {} (offset {})", peer, stream, expect, v.detail,
                offset + (v.index == kHeaderIndex ? 0 : v.index));
      co_await send_problem(s, stream, expect, gap ? problem_kind::gap : problem_kind::corrupt,
                            v.index, v.detail);
      co_return;
    }
    if (st->opt.inject_corruption && !st->injected && st->opt.inject_corruption->first == stream &&
        st->opt.inject_corruption->second >= offset &&
        st->opt.inject_corruption->second < offset + h.length) {
      st->injected = true;
      const auto at = st->opt.inject_corruption->second - offset;
      payload[at] ^= std::byte{0x20};
      log.warn("{}: --inject-corruption: flipped a bit of stream {} at offset {} (seq {}, byte {})",
               peer, stream, st->opt.inject_corruption->second, expect, at);
    }
    std::array<asio::const_buffer, 2> bufs{asio::buffer(raw), asio::buffer(payload)};
    std::tie(ec, n) = co_await asio::async_write(s, bufs, use_tuple);
    if (ec) co_return;
    offset += h.length;
    ++expect;
  }
}

// A connection is registered in st->open while served, so that stop can close it.
asio::awaitable<void> connection_main(server_state* st, vsocklib::stream_socket s,
                                      std::string peer) {
  st->open.insert(&s);
  co_await serve_connection(st, s, peer);
  st->open.erase(&s);
  --st->active;
  st->slot_free.cancel();
}

// Connections join the accept loops' group: serve() returns once every one has ended.
asio::awaitable<void> accept_loop(server_state* st, vsocklib::listener* l,
                                  vsocklib::task_group* tasks) {
  for (;;) {
    while (st->active >= st->opt.max_connections && !st->stopping) {
      co_await st->slot_free.async_wait(use_tuple);
    }
    if (st->stopping) co_return;
    auto [ec, s, peer] = co_await l->async_accept();
    if (ec == asio::error::operation_aborted || st->stopping) co_return;
    if (ec) {
      st->log->warn("accept on {}: {}", l->local_address().to_string(), ec.message());
      continue;
    }
    ++st->active;
    ++st->connections;
    tasks->spawn(connection_main(st, std::move(s), peer.description));
  }
}

// On SIGINT/SIGTERM: stop accepting and end every connection.
asio::awaitable<void> stop_on_signal(server_state* st,
                                     std::vector<std::unique_ptr<vsocklib::listener>>* listeners,
                                     asio::signal_set* signals) {
  auto [ec, sig] = co_await signals->async_wait(use_tuple);
  st->log->info("signal {}: stopping after {} connections, {} problems found", sig, st->connections,
                st->problems);
  st->stopping = true;
  for (auto& l : *listeners) l->close();
  error_code ignored;
  for (auto* s : st->open) s->close(ignored);
  st->slot_free.cancel();
}

asio::awaitable<void> serve_main(server_state* st,
                                 std::vector<std::unique_ptr<vsocklib::listener>>* listeners,
                                 asio::signal_set* signals) {
  vsocklib::task_group tasks(co_await asio::this_coro::executor);
  for (auto& l : *listeners) tasks.spawn(accept_loop(st, l.get(), &tasks));
  tasks.spawn(stop_on_signal(st, listeners, signals));
  co_await tasks.join();
}

}  // namespace

void serve(const serve_options& opt, std::shared_ptr<spdlog::logger> log) {
  asio::io_context io(1);
  server_state st{
      opt,   log, false, 0, 0, 0, asio::steady_timer(io, asio::steady_timer::time_point::max()),
      false, {}};
  std::vector<std::unique_ptr<vsocklib::listener>> listeners;
  for (const auto& a : opt.listen) {
    listeners.push_back(
        std::make_unique<vsocklib::listener>(io.get_executor(), a, opt.policy, log));
    log->info("listening on {}", listeners.back()->local_address().to_string());
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::co_spawn(io, serve_main(&st, &listeners, &signals), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
}

}  // namespace vsock_soak
