#include "adbd_relay/session.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <vector>

#include <spdlog/logger.h>

#include "adb_protocol/protocol.hpp"
#include "vsocklib/io_now.hpp"
#include "vsocklib/stoppable.hpp"

namespace adbd_relay {
namespace {

namespace adb = adb_protocol;

// What both directions share: how the session ended (first reason wins) and the payload
// limit the two CNXN messages negotiated.
struct shared_state {
  shared_state(usb_endpoint& u, vsocklib::stream_socket& s, usb_role r, session_stats& st)
      : usb(u), stream(s), role(r), stats(st) {}
  usb_endpoint& usb;
  vsocklib::stream_socket& stream;
  usb_role role;
  session_stats& stats;
  bool ended = false;
  std::uint32_t usb_max = 0;          // arg1 of the USB peer's CNXN; 0 until seen
  std::uint32_t stream_max = 0;       // arg1 of the stream peer's CNXN; 0 until seen
  bool guest_past_handshake = false;  // the stream peer sent more than CNXN and AUTH
  bool pc_restarting = false;         // a new CNXN from the PC is being read: send it nothing more
  asio::steady_timer* watch = nullptr;  // watch_pc_reading's, woken when the session ends

  // Until both sides have said what they accept, any size up to MAX_PAYLOAD may pass: the
  // CNXN and AUTH messages that come first are small, and adb itself checks no tighter.
  std::uint32_t limit() const {
    if (usb_max == 0 || stream_max == 0) return adb::kMaxPayload;
    return std::min({usb_max, stream_max, adb::kMaxPayload});
  }

  // Validates a header from one side; false (and the session ended) when it is not ADB.
  bool check(const adb::message_header& h, session_end protocol_error) {
    if (auto c = adb::validate(h, limit()); !c) {
      end(protocol_error, {}, c.message);
      return false;
    }
    if (h.command == adb::kStls) {
      end(protocol_error, {}, "STLS: adb over USB has no TLS, and a TLS stream cannot be framed");
      return false;
    }
    return true;
  }

  // The first reason wins; ending stops both sides' pending operations, so the other
  // direction returns too.
  void end(session_end why, error_code ec, std::string detail = {}) {
    if (ended) return;
    ended = true;
    stats.reason = why;
    stats.error = ec;
    stats.detail = std::move(detail);
    usb.cancel();
    error_code ignored;
    stream.cancel(ignored);
    if (watch) watch->cancel();
  }
};

// Reads all of BUF from the stream, or stops once the session has ended. asio::async_read
// would not: end() cancels only the read pending in the reactor, so a read whose last piece
// had completed (but not yet been delivered) when the session ended goes on reading, and a
// silent stream peer then keeps the session from ending.
asio::awaitable<std::tuple<error_code, std::size_t>> stream_read(shared_state& st,
                                                                 asio::mutable_buffer buf) {
  std::size_t got = 0;
  while (got < buf.size()) {
    const asio::mutable_buffer rest = buf + got;
    auto [ec, n] = co_await vsocklib::async_read_now(st.stream, {&rest, 1});
    got += n;
    if (ec) co_return std::tuple{ec, got};
    if (st.ended) co_return std::tuple{error_code(asio::error::operation_aborted), got};
  }
  co_return std::tuple{error_code(), got};
}

// Writes all of A then B to the stream, or stops once the session has ended (see
// stream_read).
asio::awaitable<std::tuple<error_code, std::size_t>> stream_write(shared_state& st,
                                                                  asio::const_buffer a,
                                                                  asio::const_buffer b = {}) {
  std::size_t total = 0;
  while (a.size() + b.size() > 0) {
    const std::array<asio::const_buffer, 2> pieces{a, b};
    auto [ec, n] = co_await vsocklib::async_write_now(st.stream, pieces);
    total += n;
    const std::size_t from_a = std::min(n, a.size());
    a += from_a;
    b += n - from_a;
    if (ec) co_return std::tuple{ec, total};
    if (st.ended && a.size() + b.size() > 0)
      co_return std::tuple{error_code(asio::error::operation_aborted), total};
  }
  co_return std::tuple{error_code(), total};
}

// Device role: ends the session when what was queued towards the PC waits LIMIT with none
// of it taken (session_options::pc_read_timeout). Samples four times per LIMIT.
asio::awaitable<void> watch_pc_reading(shared_state& st, std::chrono::milliseconds limit) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  st.watch = &timer;
  read_stall_watch watch(limit);
  while (!st.ended) {
    timer.expires_after(
        std::max<std::chrono::milliseconds>(limit / 4, std::chrono::milliseconds(1)));
    co_await timer.async_wait(vsocklib::unslotted());
    if (st.ended) break;
    const auto p = st.usb.progress();
    if (watch.stalled(p, std::chrono::steady_clock::now())) {
      st.end(session_end::pc_not_reading, {},
             std::to_string(p.queued - p.taken) + " bytes queued towards the PC, none taken in " +
                 std::to_string(limit.count()) + " ms");
    }
  }
  st.watch = nullptr;
}

// One USB write of exactly BUF; false (and the session ended) otherwise. A transfer that
// moved only part of its bytes cannot be completed by another (that would be a separate
// transfer, ending the reader's transfer early), so a short write ends the session.
asio::awaitable<bool> usb_write(shared_state& st, asio::const_buffer buf) {
  if (st.pc_restarting) co_return false;  // nothing more of this session for the PC
  auto [ec, w] = co_await st.usb.async_write(buf);
  if (st.ended) co_return false;
  if (!ec && w != buf.size()) {
    st.end(
        session_end::usb_failed, error_code(EIO, asio::error::get_system_category()),
        "short USB write: " + std::to_string(w) + " of " + std::to_string(buf.size()) + " bytes");
    co_return false;
  }
  if (ec) {
    st.end(session_end::usb_failed, ec);
    co_return false;
  }
  st.stats.stream_to_usb_bytes += w;
  co_return true;
}

// The header, when transfer T is a valid CNXN header (24 bytes).
std::optional<adb::message_header> cnxn_header(std::span<const std::byte> t) {
  if (t.size() != adb::kHeaderSize) return std::nullopt;
  const auto h = adb::decode(t.first<adb::kHeaderSize>());
  if (h.command != adb::kCnxn || !adb::validate(h, adb::kMaxPayload)) return std::nullopt;
  return h;
}

// MSG holds a CNXN header from the PC. Reads the rest of that CNXN from USB, unless the
// PC gives up on the attempt (an adb server whose first read met bytes it could not parse
// does, and sends CNXN again, possibly before the first one's payload): then a new CNXN
// header replaces it. Transfers that fit neither are dropped and counted, so MSG ends as
// one whole CNXN. When the PC started over, this runs in the old session, because the
// endpoints it came in on are closed when the session ends, and a transfer they had taken
// in would be lost.
asio::awaitable<bool> collect_pc_cnxn(std::span<std::byte> buf, std::vector<std::byte>& msg,
                                      shared_state& st) {
  auto h = adb::decode(std::span<const std::byte>(msg).first<adb::kHeaderSize>());
  while (msg.size() < adb::kHeaderSize + h.data_length) {
    auto [ec, r] = co_await st.usb.async_read(asio::buffer(buf.data(), buf.size()));
    if (st.ended) co_return false;
    if (ec) {
      st.end(session_end::usb_failed, ec);
      co_return false;
    }
    const std::span<const std::byte> t(buf.data(), r);
    if (auto again = cnxn_header(t)) {
      st.stats.pc_bytes_dropped += msg.size();
      msg.assign(t.begin(), t.end());
      h = *again;
    } else if (msg.size() + r <= adb::kHeaderSize + h.data_length) {
      msg.insert(msg.end(), t.begin(), t.end());
    } else {
      st.stats.pc_bytes_dropped += r;
    }
  }
  co_return true;
}

// A whole CNXN from the PC (collect_pc_cnxn, or a previous session's next_session) to the
// stream, in writes of at most CHUNK bytes.
asio::awaitable<bool> send_pc_cnxn(std::vector<std::byte> msg, std::size_t chunk,
                                   shared_state& st) {
  const auto h = adb::decode(std::span<const std::byte>(msg).first<adb::kHeaderSize>());
  if (!st.check(h, session_end::usb_protocol)) co_return false;
  st.usb_max = h.arg1;
  st.stream_max = 0;  // a new session's limit is open until the guest answers
  for (std::size_t at = 0; at < msg.size();) {
    const std::size_t take = std::min(chunk, msg.size() - at);
    auto [ec, w] = co_await stream_write(st, asio::buffer(msg.data() + at, take));
    if (st.ended) co_return false;
    if (ec) {
      st.end(session_end::stream_failed, ec);
      co_return false;
    }
    st.stats.usb_to_stream_bytes += w;
    at += take;
  }
  ++st.stats.usb_to_stream_messages;
  co_return true;
}

asio::awaitable<void> usb_to_stream(std::span<std::byte> buf, std::size_t chunk, shared_state& st,
                                    std::vector<std::byte> first) {
  // Outside cancellation arrives through run_stoppable in run_session, not as exceptions.
  co_await asio::this_coro::throw_if_cancelled(false);
  if (!first.empty() && !co_await send_pc_cnxn(std::move(first), chunk, st)) co_return;
  std::array<std::byte, adb::kHeaderSize> header_bytes;
  const char* peer = st.role == usb_role::device ? "the PC" : "the device";
  // Checked before every new wait: the other direction may have ended the session (and
  // cancelled everything pending) before this one started waiting.
  while (!st.ended) {
    // The buffer is whole packets, so a peer that sends more than a header in one transfer
    // is reported with its size.
    auto [ec, n] = co_await st.usb.async_read(asio::buffer(buf.data(), buf.size()));
    if (st.ended) co_return;
    if (ec) co_return st.end(session_end::usb_failed, ec);
    if (n == 0) continue;  // a zero-length packet closing the previous payload
    if (n != adb::kHeaderSize) {
      co_return st.end(session_end::usb_protocol, {},
                       std::string("expected a 24-byte header transfer from ") + peer + ", got " +
                           std::to_string(n) + " bytes");
    }
    std::copy_n(buf.begin(), adb::kHeaderSize, header_bytes.begin());
    const auto h = adb::decode(header_bytes);
    if (!st.check(h, session_end::usb_protocol)) co_return;
    if (h.command == adb::kCnxn && st.role == usb_role::device) {
      // Read whole before any of it goes on: adb may abandon an attempt halfway
      // (collect_pc_cnxn). Past the handshake the PC has started over (its adb server
      // restarted, or another client took the device) while the guest's answers to the
      // old session may still be queued towards it, in the guest's socket and in
      // submitted USB transfers. Ending the session cancels those transfers and drops the
      // guest connection; the next session starts with this CNXN on a new one. During the
      // handshake a CNXN is the first or adb's own retry, and goes to the guest here.
      const bool restart = st.guest_past_handshake;
      st.pc_restarting = restart;
      std::vector<std::byte> msg(header_bytes.begin(), header_bytes.end());
      if (!co_await collect_pc_cnxn(buf, msg, st)) co_return;
      if (restart) {
        st.stats.next_session = std::move(msg);
        co_return st.end(session_end::pc_new_session, {}, "a new CNXN from the PC");
      }
      if (!co_await send_pc_cnxn(std::move(msg), chunk, st)) co_return;
      continue;
    }
    if (h.command == adb::kCnxn) st.usb_max = h.arg1;

    // The header waits for its first payload piece so both go to the stream in one write:
    // the guest kernel then queues one vsock packet instead of a tiny one plus a large one.
    // Each write is at most CHUNK bytes, header included, however large the USB transfer.
    std::uint32_t remaining = h.data_length;
    bool header_sent = false;
    do {
      std::size_t got = 0;
      if (remaining > 0) {
        auto [rec, r] = co_await st.usb.async_read(asio::buffer(buf.data(), buf.size()));
        if (st.ended) co_return;
        if (rec) co_return st.end(session_end::usb_failed, rec);
        if (r == 0) continue;
        if (r > remaining) {
          co_return st.end(session_end::usb_protocol, {},
                           "payload transfer of " + std::to_string(r) + " bytes, but only " +
                               std::to_string(remaining) + " were left of " + adb::to_string(h));
        }
        got = r;
      }
      std::size_t written = 0;
      do {
        const std::size_t head = header_sent ? 0 : adb::kHeaderSize;
        const std::size_t take = std::min(got - written, chunk - head);
        const std::array<asio::const_buffer, 2> pieces{asio::buffer(header_bytes, head),
                                                       asio::buffer(buf.data() + written, take)};
        auto [wec, w] = co_await stream_write(st, pieces[0], pieces[1]);
        if (st.ended) co_return;
        if (wec) co_return st.end(session_end::stream_failed, wec);
        header_sent = true;
        st.stats.usb_to_stream_bytes += w;
        written += take;
      } while (written < got);
      remaining -= static_cast<std::uint32_t>(got);
    } while (remaining > 0);
    ++st.stats.usb_to_stream_messages;
  }
}

asio::awaitable<void> stream_to_usb(std::span<std::byte> buf, std::size_t mps, shared_state& st) {
  co_await asio::this_coro::throw_if_cancelled(false);
  std::array<std::byte, adb::kHeaderSize> header_bytes;
  while (!st.ended) {  // see usb_to_stream
    auto [ec, n] = co_await stream_read(st, asio::buffer(header_bytes));
    if (st.ended) co_return;
    if (ec) co_return st.end(session_end::stream_failed, ec);
    const auto h = adb::decode(header_bytes);
    if (!st.check(h, session_end::stream_protocol)) co_return;
    if (h.command != adb::kCnxn && h.command != adb::kAuth) st.guest_past_handshake = true;
    if (h.command == adb::kCnxn) {
      st.stream_max = h.arg1;
      if (st.role == usb_role::host) st.usb_max = 0;  // the adb server starts a new session
    }

    if (!co_await usb_write(st, asio::buffer(header_bytes))) co_return;

    // Pieces of buf.size() bytes (a multiple of every wMaxPacketSize) and then the rest:
    // the reader takes the payload as one transfer of exactly data_length, which only a
    // short last packet may end.
    for (std::uint32_t remaining = h.data_length; remaining > 0;) {
      const std::size_t piece = std::min<std::size_t>(remaining, buf.size());
      auto [rec, got] = co_await stream_read(st, asio::buffer(buf.data(), piece));
      if (st.ended) co_return;
      if (rec) co_return st.end(session_end::stream_failed, rec);
      if (!co_await usb_write(st, asio::buffer(buf.data(), got))) co_return;
      remaining -= static_cast<std::uint32_t>(got);
    }
    if (st.role == usb_role::host && h.data_length > 0 && h.data_length % mps == 0) {
      if (!co_await usb_write(st, asio::const_buffer())) co_return;
      ++st.stats.zero_length_packets;
    }
    ++st.stats.stream_to_usb_messages;
  }
}

}  // namespace

const char* to_string(session_end e, usb_role role) noexcept {
  const bool device = role == usb_role::device;
  switch (e) {
    case session_end::usb_failed: return device ? "USB side failed" : "USB device failed";
    case session_end::stream_failed:
      return device ? "vsock side failed" : "adb server connection ended";
    case session_end::usb_protocol:
      return device ? "protocol error from the PC" : "protocol error from the device";
    case session_end::stream_protocol:
      return device ? "protocol error from the guest" : "protocol error from the adb server";
    case session_end::pc_new_session: return "the PC's adb started a new session";
    case session_end::pc_not_reading: return "the PC stopped reading (its adb died or hangs)";
    case session_end::cancelled: return "cancelled";
  }
  return "?";
}

bool read_stall_watch::stalled(write_progress p, clock::time_point now) {
  if (p.taken >= p.queued) {  // nothing waiting
    since_.reset();
    return false;
  }
  if (!since_ || p.taken != taken_) {  // waiting from now, or the peer took some
    since_ = now;
    taken_ = p.taken;
    return false;
  }
  return now - *since_ >= limit_;
}

bool is_protocol_error(session_end e) noexcept {
  return e == session_end::usb_protocol || e == session_end::stream_protocol;
}

asio::awaitable<void> run_session(usb_endpoint& usb, vsocklib::stream_socket& stream, usb_role role,
                                  session_options opt, std::shared_ptr<spdlog::logger> log,
                                  session_stats& stats, std::vector<std::byte> first) {
  using namespace asio::experimental::awaitable_operators;
  const auto start = std::chrono::steady_clock::now();
  // Whole wMaxPacketSize multiples only, so that no piece but a payload's last is short.
  const std::size_t mps = std::max<std::size_t>(usb.max_packet_size(), 1);
  const std::size_t transfer = std::max(mps, opt.usb_transfer_size / mps * mps);
  // Room for a header and at least as much payload in each stream write.
  const std::size_t chunk = std::max<std::size_t>(opt.chunk_size, 2 * adb::kHeaderSize);
  std::vector<std::byte> storage(2 * transfer);
  stats = {};
  shared_state st(usb, stream, role, stats);
  auto both_ways = usb_to_stream({storage.data(), transfer}, chunk, st, std::move(first)) &&
                   stream_to_usb({storage.data() + transfer, transfer}, mps, st);
  auto stop = [&st] { st.end(session_end::cancelled, asio::error::operation_aborted); };
  if (role == usb_role::device && opt.pc_read_timeout.count() > 0) {
    co_await vsocklib::run_stoppable(
        std::move(both_ways) && watch_pc_reading(st, opt.pc_read_timeout), stop);
  } else {
    co_await vsocklib::run_stoppable(std::move(both_ways), stop);
  }
  st.stats.max_payload = st.usb_max && st.stream_max ? st.limit() : adb::kMaxPayloadV1;
  st.stats.duration = std::chrono::steady_clock::now() - start;
  log->debug("session ended: {}{}{}{}", to_string(st.stats.reason, role),
             st.stats.error ? ": " + st.stats.error.message() : std::string(),
             st.stats.detail.empty() ? "" : ": ", st.stats.detail);
}

}  // namespace adbd_relay
