#include "session.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include <spdlog/logger.h>

#include "adb/protocol.hpp"
#include "vsocklib/stoppable.hpp"

namespace adbd_relay {
namespace {

namespace adb = vsocklib::adb;

// What both directions share: how the session ended (first reason wins) and the payload
// limit the two CNXN messages negotiated.
struct shared_state {
  shared_state(usb_endpoint& u, vsocklib::stream_socket& v, session_stats& s)
      : usb(u), vsock(v), stats(s) {}
  usb_endpoint& usb;
  vsocklib::stream_socket& vsock;
  session_stats& stats;
  bool ended = false;
  std::uint32_t host_max = 0;    // arg1 of the PC's CNXN; 0 until seen
  std::uint32_t device_max = 0;  // arg1 of the guest's CNXN; 0 until seen

  // Until both sides have said what they accept, any size up to MAX_PAYLOAD may pass: the
  // CNXN and AUTH messages that come first are small, and adb itself checks no tighter.
  std::uint32_t limit() const {
    if (host_max == 0 || device_max == 0) return adb::kMaxPayload;
    return std::min({host_max, device_max, adb::kMaxPayload});
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
    vsock.cancel(ignored);
  }
};


asio::awaitable<void> usb_to_vsock(usb_endpoint& usb, vsocklib::stream_socket& vsock,
                                   std::span<std::byte> buf, shared_state& st) {
  // Outside cancellation arrives through run_stoppable in run_session, not as exceptions.
  co_await asio::this_coro::throw_if_cancelled(false);
  std::array<std::byte, adb::kHeaderSize> header_bytes;
  for (;;) {
    auto [ec, n] = co_await usb.async_read(asio::buffer(buf.data(), buf.size()));
    if (st.ended) co_return;
    if (ec) co_return st.end(session_end::usb_failed, ec);
    if (n == 0) continue;  // a zero-length packet closing the previous payload
    if (n != adb::kHeaderSize) {
      co_return st.end(session_end::usb_protocol, {},
                       "expected a 24-byte header transfer from the PC, got " +
                           std::to_string(n) + " bytes");
    }
    std::copy_n(buf.begin(), adb::kHeaderSize, header_bytes.begin());
    const auto h = adb::decode(header_bytes);
    if (auto check = adb::validate(h, st.limit()); !check) {
      co_return st.end(session_end::usb_protocol, {}, check.message);
    }
    if (h.command == adb::kCnxn) {
      // A new CNXN starts a new session (e.g. the PC's adb server restarted): the limit is
      // open again until the guest answers with its own CNXN.
      st.host_max = h.arg1;
      st.device_max = 0;
    }
    ++st.stats.usb_to_vsock_messages;

    // The header waits for its first payload piece so both go to vsock in one write: the
    // guest kernel then queues one packet instead of a tiny one plus a large one.
    std::uint32_t remaining = h.data_length;
    bool header_sent = false;
    if (remaining == 0) {
      auto [wec, w] = co_await asio::async_write(vsock, asio::buffer(header_bytes), vsocklib::unslotted());
      if (st.ended) co_return;
      if (wec) co_return st.end(session_end::vsock_failed, wec);
      st.stats.usb_to_vsock_bytes += w;
      continue;
    }
    while (remaining > 0) {
      auto [rec, got] = co_await usb.async_read(asio::buffer(buf.data(), buf.size()));
      if (st.ended) co_return;
      if (rec) co_return st.end(session_end::usb_failed, rec);
      if (got == 0) continue;
      if (got > remaining) {
        co_return st.end(session_end::usb_protocol, {},
                         "payload transfer of " + std::to_string(got) +
                             " bytes, but only " + std::to_string(remaining) + " were left of " +
                             adb::to_string(h));
      }
      const std::array<asio::const_buffer, 2> pieces{
          asio::buffer(header_bytes, header_sent ? 0 : adb::kHeaderSize),
          asio::buffer(buf.data(), got)};
      auto [wec, w] = co_await asio::async_write(vsock, pieces, vsocklib::unslotted());
      if (st.ended) co_return;
      if (wec) co_return st.end(session_end::vsock_failed, wec);
      header_sent = true;
      st.stats.usb_to_vsock_bytes += w;
      remaining -= static_cast<std::uint32_t>(got);
    }
  }
}

asio::awaitable<void> vsock_to_usb(usb_endpoint& usb, vsocklib::stream_socket& vsock,
                                   std::span<std::byte> buf, shared_state& st) {
  // Outside cancellation arrives through run_stoppable in run_session, not as exceptions.
  co_await asio::this_coro::throw_if_cancelled(false);
  std::array<std::byte, adb::kHeaderSize> header_bytes;
  for (;;) {
    auto [ec, n] = co_await asio::async_read(vsock, asio::buffer(header_bytes), vsocklib::unslotted());
    if (st.ended) co_return;
    if (ec) co_return st.end(session_end::vsock_failed, ec);
    const auto h = adb::decode(header_bytes);
    if (auto check = adb::validate(h, st.limit()); !check) {
      co_return st.end(session_end::vsock_protocol, {}, check.message);
    }
    if (h.command == adb::kStls) {
      // A USB host adb aborts on STLS ("tls not supported"): never let one through.
      co_return st.end(session_end::vsock_protocol, {},
                       "STLS, which adb does not support over USB");
    }
    if (h.command == adb::kCnxn) st.device_max = h.arg1;
    ++st.stats.vsock_to_usb_messages;

    auto [hec, hw] = co_await usb.async_write(asio::buffer(header_bytes));
    if (st.ended) co_return;
    if (hec) co_return st.end(session_end::usb_failed, hec);
    st.stats.vsock_to_usb_bytes += hw;

    // Pieces of buf.size() bytes (a multiple of every wMaxPacketSize) and then the rest:
    // the PC reads the payload as one transfer of exactly data_length, which only a short
    // last packet may end.
    for (std::uint32_t remaining = h.data_length; remaining > 0;) {
      const std::size_t piece = std::min<std::size_t>(remaining, buf.size());
      auto [rec, got] = co_await asio::async_read(vsock, asio::buffer(buf.data(), piece), vsocklib::unslotted());
      if (st.ended) co_return;
      if (rec) co_return st.end(session_end::vsock_failed, rec);
      auto [wec, w] = co_await usb.async_write(asio::buffer(buf.data(), got));
      if (st.ended) co_return;
      if (wec) co_return st.end(session_end::usb_failed, wec);
      st.stats.vsock_to_usb_bytes += w;
      remaining -= static_cast<std::uint32_t>(got);
    }
  }
}

}  // namespace

const char* to_string(session_end e) noexcept {
  switch (e) {
    case session_end::usb_failed: return "USB side failed";
    case session_end::vsock_failed: return "vsock side failed";
    case session_end::usb_protocol: return "protocol error from the PC";
    case session_end::vsock_protocol: return "protocol error from the guest";
    case session_end::cancelled: return "cancelled";
  }
  return "?";
}

asio::awaitable<void> run_session(usb_endpoint& usb, vsocklib::stream_socket& vsock,
                                  session_options opt, std::shared_ptr<spdlog::logger> log,
                                  session_stats& stats) {
  using namespace asio::experimental::awaitable_operators;
  const auto start = std::chrono::steady_clock::now();
  // Whole wMaxPacketSize multiples only, so that no piece but a payload's last is short.
  const std::size_t mps = std::max<std::size_t>(usb.max_packet_size(), 1);
  const std::size_t chunk = std::max(mps, opt.chunk_size / mps * mps);
  std::vector<std::byte> storage(2 * chunk);
  stats = {};
  shared_state st(usb, vsock, stats);
  co_await vsocklib::run_stoppable(
      usb_to_vsock(usb, vsock, {storage.data(), chunk}, st) &&
          vsock_to_usb(usb, vsock, {storage.data() + chunk, chunk}, st),
      [&st] { st.end(session_end::cancelled, asio::error::operation_aborted); });
  log->trace("session: both directions returned");
  st.stats.max_payload = st.host_max && st.device_max ? st.limit() : adb::kMaxPayloadV1;
  st.stats.duration = std::chrono::steady_clock::now() - start;
  log->debug("session ended: {}{}{}{}", to_string(st.stats.reason),
             st.stats.error ? ": " + st.stats.error.message() : std::string(),
             st.stats.detail.empty() ? "" : ": ", st.stats.detail);
}

}  // namespace adbd_relay
