// vsock-soak run, one stream: (re)connect through the stream's connector, say hello, then
// a writer keeps --window messages in flight while a reader verifies every echo.
#include <spdlog/logger.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <span>
#include <string>

#include "client.hpp"
#include "vsocklib/error.hpp"

namespace vsock_soak::detail {
namespace {

using vsocklib::error_code;
using vsocklib::use_tuple;

// Why a hello failed: the connector logs it as the attempt's failure.
enum class hello_errc { no_answer = 1, not_hello_ok };

class hello_category_impl : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "vsock-soak hello"; }
  std::string message(int ev) const override {
    switch (static_cast<hello_errc>(ev)) {
      case hello_errc::no_answer: return "no answer to hello";
      case hello_errc::not_hello_ok:
        return "the peer's answer to hello is not a vsock-soak hello_ok";
    }
    return "unknown hello error";
  }
};

error_code make_error(hello_errc e) {
  static const hello_category_impl category;
  return {static_cast<int>(e), category};
}

}  // namespace

// Offset in the stream of message SEQ (in flight), from the window's lengths.
std::uint64_t soak_client::offset_of(const stream_state& st, std::uint64_t seq) const {
  std::uint64_t off = st.verified_offset;
  for (const auto& m : st.inflight) {
    if (m.seq == seq) break;
    off += m.length;
  }
  return off;
}

asio::awaitable<void> soak_client::writer(soak_client* c, stream_state* st,
                                          vsocklib::stream_socket* s, bool* failed) {
  for (;;) {
    if (c->phase_ == phase::stopped) co_return;
    const auto& o = c->opt_;
    const unsigned window = st->small_burst ? std::max(o.window, o.small_burst_window) : o.window;
    if (st->inflight.size() >= window || st->next_send >= st->send_limit) {
      co_await st->wake.async_wait(use_tuple);
      continue;
    }
    const std::uint64_t seq = st->next_send;
    const std::uint32_t len =
        message_length(o.seed, st->id, seq, st->small_burst ? o.small_burst_sizes : o.sizes);
    st->out.resize(kHeaderSize + len);
    auto payload = std::span<std::byte>(st->out).subspan(kHeaderSize);
    fill_payload(c->opt_.seed, st->id, seq, payload);
    encode_header(frame_type::data, st->id, seq, payload,
                  std::span<std::byte, kHeaderSize>(st->out.data(), kHeaderSize));
    // Counted in flight before the write completes: an echo can come back before
    // the write's completion handler runs.
    st->inflight.push_back({seq, len, clock::now()});
    ++st->next_send;
    auto [ec, n] = co_await asio::async_write(*s, asio::buffer(st->out), use_tuple);
    if (ec) {
      *failed = true;
      co_return;
    }
  }
}

asio::awaitable<void> soak_client::reader(soak_client* c, stream_state* st,
                                          vsocklib::stream_socket* s, end_reason* why) {
  auto& r = c->r_;
  std::array<std::byte, kHeaderSize> raw;
  std::uint32_t magic = 0;
  for (;;) {
    while (st->paused) co_await st->resume.async_wait(use_tuple);
    if (c->phase_ == phase::draining && st->inflight.empty() && st->next_send >= st->send_limit) {
      *why = end_reason::stopping;
      co_return;
    }
    auto [ec, n] = co_await asio::async_read(*s, asio::buffer(raw), use_tuple);
    if (ec) {
      *why = c->phase_ == phase::stopped ? end_reason::stopping : end_reason::broken;
      co_return;
    }
    const header h = decode_header(raw, magic);
    if (magic == kMagic && h.type == frame_type::problem && h.length <= 4096) {
      st->in.resize(h.length);
      std::tie(ec, n) = co_await asio::async_read(*s, asio::buffer(st->in), use_tuple);
      if (ec || h.length < 9) {
        *why = end_reason::broken;
        co_return;
      }
      const auto index = get_u64(st->in);
      const auto kind = static_cast<problem_kind>(st->in[8]);
      const std::string text(reinterpret_cast<const char*>(st->in.data()) + 9, h.length - 9);
      if (kind == problem_kind::gap) {
        c->record_lost(*st, h.seq, h.seq + 1, "seen by the server: " + text);
      } else {
        const bool hdr = index == kHeaderIndex;
        c->record_corruption(*st, h.seq, c->offset_of(*st, h.seq) + (hdr ? 0 : index), hdr,
                             "to server", text);
      }
      *why = end_reason::error;
      co_return;
    }
    if (st->inflight.empty()) {
      ++r.duplicates;
      c->first_error(fmt::format("stream {}: a frame arrived with nothing in flight (seq field {})",
                                 st->id, h.seq));
      *why = end_reason::error;
      co_return;
    }
    const sent_message m = st->inflight.front();
    // A frame claiming to be the expected message with another length is damaged: do
    // not read a payload of a length that cannot be trusted.
    const bool bad_length =
        h.length > kMaxLength || (magic == kMagic && h.seq == m.seq && h.length != m.length);
    verdict v;
    if (magic != kMagic || bad_length) {
      v.what = verdict::kind::corrupt;
      v.index = kHeaderIndex;
      v.detail = magic != kMagic ? "bad magic"
                                 : fmt::format("length field {} (expected {})", h.length, m.length);
    } else {
      st->in.resize(h.length);
      std::tie(ec, n) = co_await asio::async_read(*s, asio::buffer(st->in), use_tuple);
      if (ec) {
        *why = c->phase_ == phase::stopped ? end_reason::stopping : end_reason::broken;
        co_return;
      }
      v = verify_data(c->opt_.seed, st->id, m.seq, m.length, magic, h, raw, st->in, st->scratch);
    }
    switch (v.what) {
      case verdict::kind::ok: {
        const auto now = clock::now();
        const auto us =
            std::chrono::duration_cast<std::chrono::microseconds>(now - m.sent_at).count();
        r.latency.record(static_cast<std::uint64_t>(us));
        c->sec_latency_.record(static_cast<std::uint64_t>(us));
        ++r.messages;
        r.bytes += m.length;
        ++c->sec_messages_;
        c->sec_bytes_ += m.length;
        st->inflight.pop_front();
        ++st->next_verify;
        st->verified_offset += m.length;
        st->last_progress = now;
        st->wake.cancel();
        c->on_verified(*st, m.sent_at);
        if (c->phase_ == phase::draining) c->check_drained();
        continue;
      }
      case verdict::kind::corrupt:
        c->record_corruption(*st, m.seq,
                             st->verified_offset + (v.index == kHeaderIndex ? 0 : v.index),
                             v.index == kHeaderIndex, "echo", v.detail);
        break;
      case verdict::kind::gap: c->record_lost(*st, m.seq, v.got_seq, "echo: " + v.detail); break;
      case verdict::kind::duplicate:
        ++r.duplicates;
        c->first_error(fmt::format("stream {}: duplicate: {}", st->id, v.detail));
        break;
    }
    *why = end_reason::error;
    co_return;
  }
}

// Says hello on a connected socket: the first sequence number whose echo is not verified
// yet and its stream offset, so the server resumes there.
asio::awaitable<error_code> soak_client::hello(soak_client* c, stream_state* st,
                                               vsocklib::stream_socket& s) {
  using namespace asio::experimental::awaitable_operators;
  std::vector<std::byte> hello(kHeaderSize + 16);
  auto payload = std::span<std::byte>(hello).subspan(kHeaderSize);
  put_u64(payload.first(8), c->opt_.seed);
  put_u64(payload.subspan(8, 8), st->verified_offset);
  encode_header(frame_type::hello, st->id, st->next_verify, payload,
                std::span<std::byte, kHeaderSize>(hello.data(), kHeaderSize));
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(hello), use_tuple);
  std::array<std::byte, kHeaderSize> raw;
  if (!ec) {
    // The hello's answer proves the whole path: a forwarder (adb forward, a relay) may
    // accept the connection and only then find that its far side is gone.
    asio::steady_timer t(co_await asio::this_coro::executor, c->opt_.connect_timeout);
    auto res =
        co_await (asio::async_read(s, asio::buffer(raw), use_tuple) || t.async_wait(use_tuple));
    if (res.index() == 1) ec = vsocklib::errc::connect_timeout;
    else ec = std::get<0>(std::get<0>(res));
  }
  if (ec) {
    c->log_->debug("stream {}: {}: no answer to hello: {}", st->id, c->opt_.target.to_string(),
                   ec.message());
    co_return make_error(hello_errc::no_answer);
  }
  std::uint32_t magic = 0;
  const header h = decode_header(raw, magic);
  if (magic != kMagic || h.type != frame_type::hello_ok || h.stream != st->id ||
      h.seq != st->next_verify) {
    co_return make_error(hello_errc::not_hello_ok);
  }
  co_return error_code{};
}

// One attempt for the stream's connector: the reconnect hook after a break, a connect,
// and the hello. A failed hello is a failed attempt, retried with backoff.
asio::awaitable<soak_client::stream_result> soak_client::attempt(soak_client* c, stream_state* st) {
  if (st->after_break && !c->opt_.reconnect_hook.empty()) co_await c->run_hook();
  if (c->phase_ == phase::stopped) {
    co_return stream_result{error_code(asio::error::operation_aborted),
                            vsocklib::stream_socket(c->io_)};
  }
  auto [ec, s] = co_await st->conn->async_connect_once();
  if (!ec) ec = co_await hello(c, st, s);
  if (ec) {
    ++c->r_.connect_failures;
    st->after_break = true;
  }
  co_return stream_result{ec, std::move(s)};
}

asio::awaitable<void> soak_client::connect_stream(soak_client* c, stream_state* st,
                                                  std::optional<vsocklib::stream_socket>& out) {
  auto [ec, s] = co_await st->conn->async_connect([c, st] { return attempt(c, st); });
  if (!ec) out.emplace(std::move(s));
}

// Returns when the stream need not connect any more: the run stopped, or it is draining
// and nothing of this stream awaits an echo. The events that change either cancel wake.
asio::awaitable<void> soak_client::until_not_needed(soak_client* c, stream_state* st) {
  for (;;) {
    if (c->phase_ == phase::stopped) co_return;
    if (c->phase_ == phase::draining && st->inflight.empty() && st->next_send >= st->send_limit)
      co_return;
    co_await st->wake.async_wait(use_tuple);
    // Cancelled because the connect won: done. (Awaited into a local: GCC 12 miscompiles
    // a co_await inside the condition, and this loop then spins.)
    const auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) co_return;
  }
}

asio::awaitable<void> soak_client::stream_main(soak_client* c, stream_state* st) {
  using namespace asio::experimental::awaitable_operators;
  while (c->phase_ != phase::stopped) {
    if (c->phase_ == phase::draining && st->inflight.empty() && st->next_send >= st->send_limit)
      break;
    std::optional<vsocklib::stream_socket> connected;
    // Cancelling the connector (the other side won) ends a backoff wait, an attempt or a
    // hook wait at once.
    co_await (connect_stream(c, st, connected) || until_not_needed(c, st));
    if (!connected) break;
    vsocklib::stream_socket& s = *connected;
    if (st->after_break) ++c->r_.reconnects;
    st->after_break = false;
    // Resume from the first message whose echo was not verified: everything in flight
    // on the old connection is sent again.
    st->inflight.clear();
    st->next_send = st->next_verify;
    st->last_progress = clock::now();
    st->stalled = st->dropped = false;
    st->sock = &s;
    bool write_failed = false;
    end_reason why = end_reason::broken;
    co_await (writer(c, st, &s, &write_failed) || reader(c, st, &s, &why));
    st->sock = nullptr;
    error_code ignored;
    s.shutdown(asio::socket_base::shutdown_both, ignored);
    s.close(ignored);
    if (why == end_reason::stopping || c->phase_ == phase::stopped) {
      st->conn->retry_now();  // a connection that ended on purpose: no delay before the next
      continue;
    }
    // After a break the stream reconnects at once; the delays start again from the
    // shortest once the stream has shown it works (verified anything).
    if (st->verified_offset > 0 || st->next_verify > 0) st->conn->session_proven();
    else st->conn->retry_now();
    st->after_break = true;
    c->on_break(*st, st->stalled                ? "stalled"
                     : st->dropped              ? "dropped by a fault"
                     : why == end_reason::error ? "after an error"
                                                : "closed by the peer");
  }
}

}  // namespace vsock_soak::detail
