// adbd-relay's session (run_session), driven as a whole: the input is a script of ADB
// messages from both peers (the USB peer's as transfers, the stream peer's as writes into
// a real Unix socketpair), mostly well-formed and partly corrupted, cut into transfers and
// reads at fuzzer-chosen places, with faults (a side closing, a failed read or write, a
// short USB write) at fuzzer-chosen points. The session runs on one io_context that the
// script advances handler by handler (poll_one), never by the clock.
//
// Properties, whatever the script:
//  - the session ends: once the script is played and one peer is gone (the script says
//    which), the io_context runs out of work within a step budget (a hang would spin
//    through it or stall); the one exception is by design (see finish());
//  - it never ends as cancelled (nothing cancels it here), a protocol error says why, and
//    a pc_new_session hands over exactly one valid CNXN;
//  - what reaches the USB peer is ADB framing: a 24-byte header transfer that validates
//    (magic, known command, data_length <= MAX_PAYLOAD, no STLS), then payload transfers of
//    whole packets but the last, adding up to data_length, a zero-length packet after a
//    payload of whole packets in the host role; those bytes are a prefix of what the stream
//    peer wrote (nothing invented, dropped or reordered);
//  - what reaches the stream peer parses as valid ADB messages (adb_protocol::framer,
//    no STLS), in writes (each sendmsg) of at most chunk_size bytes, a previous session's CNXN
//    first, and no more bytes than the USB peer sent;
//  - every USB transfer is at most usb_transfer_size (rounded to packets), and the session's
//    byte counters match what the peers received (but for the last write: one that
//    completes as the other direction ends the session is not counted).
// Not modelled: the payload limit negotiated by CNXN (which side's CNXN the session has seen
// depends on the interleaving; the check above is MAX_PAYLOAD), and pc_read_timeout (a
// wall-clock watch; it is off here).
//
// Script format (bytes read from the front; a missing byte reads as 0):
//   config: role (bit 0: 0 device, 1 host), wMaxPacketSize (bits 1-2), usb_transfer_size
//           (bits 3-5), chunk_size (bits 6-7): the tables below
//   ending: bit 0: at the end the USB peer leaves (1) or the stream peer ends its stream (0);
//           bit 1: the session starts with a previous one's CNXN (its arg1: bits 2-3)
//   then operations until the input ends, each an opcode byte (low 4 bits):
//     0-4   a message from the USB peer    5-9   a message from the stream peer
//     10    N, N raw bytes: one USB transfer          11   N, N raw bytes: to the stream
//     12,15 N: run N handlers
//     13    F: a USB fault (F % 4: the next read fails, at once if bit 2; the next write
//           fails; the next write is short; the peer leaves), errno kErrnos[F >> 3]
//     14    F: a stream fault (F % 3: end of stream; close, a reset if bytes are unread;
//           stop reading until the end)
//   a message: M0 (bits 0-2 command, bit 3 bad magic, bit 4 no checksum, bit 5 lying
//   data_length, bits 6-7 how it is cut), M1 (arguments), P (payload length: < 0xc0 that many
//   bytes follow; else a pattern of (P - 0xc0) * 2048 + U16 % 2048 bytes), then a length
//   delta byte if it lies, then the bytes its cutting mode reads (make_seeds below).
//
// RELAY_SESSION_FUZZ_SEEDS=DIR writes the seed corpus (tests/fuzz/corpus/relay_session)
// into DIR and exits. RELAY_SESSION_FUZZ_VERBOSE=1 prints, per input, how the session ended
// and the transfers the USB peer got.
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>

#include "adb_protocol/protocol.hpp"
#include "adbd_relay/session.hpp"
#include "fuzz_check.hpp"

namespace {
// The relay's writes into the stream peer, checked one system call at a time: a stream
// joins writes, and one handler may make several (vsocklib's io_now goes on at once when
// a write moved bytes), so the peer's reads cannot tell their sizes. io_now and Asio write
// with sendmsg, which this program defines over the system call.
int g_stream_fd = -1;          // the relay's end of the socketpair; -1 between sessions
std::size_t g_stream_max = 0;  // the largest write allowed there: the chunk
}  // namespace

extern "C" ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  if (fd == g_stream_fd) {
    std::size_t len = 0;
    for (std::size_t i = 0; i < msg->msg_iovlen; ++i) len += msg->msg_iov[i].iov_len;
    FUZZ_CHECK(len <= g_stream_max);  // never above the chunk, header included
  }
  return ::syscall(SYS_sendmsg, fd, msg, flags);
}

namespace {

namespace adb = adb_protocol;
namespace asio = vsocklib::asio;
using adbd_relay::error_code;
using adbd_relay::session_end;
using adbd_relay::usb_role;
using bytes = std::vector<std::byte>;

constexpr std::array<std::size_t, 4> kPacketSizes{64, 512, 1024, 512};
constexpr std::array<std::size_t, 8> kTransferSizes{512, 1024, 4096, 16384, 2048, 8192, 1536, 700};
constexpr std::array<std::size_t, 4> kChunkSizes{4096, 100, 1000, 48};
// Total payload bytes one input may generate: keeps an execution in milliseconds.
constexpr std::size_t kPayloadBudget = 256 * 1024;
// Handlers the final phase may run: far above what the budget's bytes need at the smallest
// chunk (24 payload bytes per write), so running out of it means the session spins.
constexpr std::size_t kFinalSteps = 1'000'000;
constexpr std::array<int, 9> kErrnos{EIO,   EPIPE,  ESHUTDOWN, ENODEV,   ECONNRESET,
                                     EINTR, EAGAIN, ENOMEM,    EOVERFLOW};

// The script, read from the front.
class script_reader {
 public:
  explicit script_reader(std::span<const std::uint8_t> d) : d_(d) {}
  bool empty() const { return at_ >= d_.size(); }
  std::uint8_t u8() { return at_ < d_.size() ? d_[at_++] : 0; }
  // Little-endian; the reads are sequenced (operands of | are not).
  std::uint16_t u16() {
    const std::uint16_t lo = u8();
    return static_cast<std::uint16_t>(lo | u8() << 8);
  }
  std::uint32_t u32() {
    const std::uint32_t lo = u16();
    return lo | static_cast<std::uint32_t>(u16()) << 16;
  }
  bytes take(std::size_t n) {
    bytes out(n);
    for (auto& b : out) b = static_cast<std::byte>(u8());
    return out;
  }

 private:
  std::span<const std::uint8_t> d_;
  std::size_t at_ = 0;
};

struct usb_transfer {
  bytes data;
  bool short_write = false;  // the fake moved only this much of a larger write
};

// The USB side: the USB peer's transfers wait in a queue; the relay's writes are recorded.
// A transfer larger than the relay's read buffer takes several reads (a bulk OUT request
// ends when its buffer is full). Operations complete through the executor, as submitted
// transfers do, unless a fault says at once.
class script_usb final : public adbd_relay::usb_endpoint {
 public:
  script_usb(asio::io_context& io, std::size_t mps)
      : wake_(io, asio::steady_timer::time_point::max()), mps_(mps) {}

  std::deque<bytes> from_peer;
  std::vector<usb_transfer> to_peer;
  bool peer_gone = false;
  std::optional<error_code> read_fault, write_fault;
  bool read_fault_at_once = false;
  bool short_write = false;

  void notify() { wake_.cancel(); }

  asio::awaitable<std::tuple<error_code, std::size_t>> async_read(
      asio::mutable_buffer buf) override {
    if (!(read_fault && read_fault_at_once)) co_await yield();
    for (;;) {
      if (cancelled_) co_return result(asio::error::operation_aborted);
      if (read_fault) {
        const auto ec = *read_fault;
        read_fault.reset();
        co_return result(ec);
      }
      if (!from_peer.empty()) {
        auto& t = from_peer.front();
        const std::size_t n = std::min(t.size(), buf.size());
        std::copy_n(t.begin(), n, static_cast<std::byte*>(buf.data()));
        if (n == t.size()) {
          from_peer.pop_front();
        } else {
          t.erase(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(n));
        }
        co_return std::tuple{error_code(), n};
      }
      if (peer_gone) co_return result(error_code(ESHUTDOWN, asio::error::get_system_category()));
      co_await wake_.async_wait(vsocklib::use_tuple);
    }
  }

  asio::awaitable<std::tuple<error_code, std::size_t>> async_write(
      asio::const_buffer buf) override {
    co_await yield();
    if (cancelled_) co_return result(asio::error::operation_aborted);
    if (peer_gone) co_return result(error_code(ESHUTDOWN, asio::error::get_system_category()));
    if (write_fault) {
      const auto ec = *write_fault;
      write_fault.reset();
      co_return result(ec);
    }
    const auto* p = static_cast<const std::byte*>(buf.data());
    std::size_t n = buf.size();
    if (short_write && n > 0) {
      short_write = false;
      n /= 2;
      to_peer.push_back({bytes(p, p + n), true});
      co_return std::tuple{error_code(), n};
    }
    to_peer.push_back({bytes(p, p + n), false});
    co_return std::tuple{error_code(), n};
  }

  void cancel() override {
    cancelled_ = true;
    notify();
  }

  std::size_t max_packet_size() const override { return mps_; }
  bool cancelled() const { return cancelled_; }

 private:
  static std::tuple<error_code, std::size_t> result(error_code ec) { return {ec, 0}; }
  static asio::awaitable<void> yield() {
    co_await asio::post(co_await asio::this_coro::executor, vsocklib::use_tuple);
  }

  asio::steady_timer wake_;  // never expires: notify() wakes a read waiting for a transfer
  std::size_t mps_;
  bool cancelled_ = false;
};

asio::awaitable<void> relay(script_usb& usb, vsocklib::stream_socket& s, usb_role role,
                            adbd_relay::session_options opt, adbd_relay::session_stats& stats,
                            bytes first) {
  static const auto log = std::make_shared<spdlog::logger>("relay_session_fuzz");
  co_await adbd_relay::run_session(usb, s, role, opt, log, stats, std::move(first));
}

class harness {
 public:
  // FIRST: a previous session's CNXN from the USB peer (session_stats::next_session).
  harness(usb_role role, std::size_t mps, adbd_relay::session_options opt, bytes first)
      : role_(role), mps_(mps), usb_(io_, mps), first_(first) {
    usb_sent_ = first.size();
    int fds[2];
    FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    guest_ = fds[0];
    relay_stream_ = std::make_unique<vsocklib::stream_socket>(
        io_, asio::generic::stream_protocol(AF_UNIX, SOCK_STREAM), fds[1]);
    // The relay's sizes, as run_session computes them.
    transfer_ = std::max(mps, opt.usb_transfer_size / mps * mps);
    chunk_ = std::max<std::size_t>(opt.chunk_size, 2 * adb::kHeaderSize);
    g_stream_fd = fds[1];
    g_stream_max = chunk_;
    asio::co_spawn(io_, relay(usb_, *relay_stream_, role, opt, stats_, std::move(first)),
                   [this](std::exception_ptr e) {
                     FUZZ_CHECK(!e);
                     done_ = true;
                   });
  }
  ~harness() {
    g_stream_fd = -1;  // the number is reused once the relay's socket is closed
    if (guest_ >= 0) ::close(guest_);
  }

  // One handler (or a look at the sockets), then what the relay wrote to the stream peer.
  bool step() {
    if (io_.stopped()) return false;
    const bool ran = io_.poll_one() > 0;
    drain();
    return ran;
  }
  void steps(std::size_t n) {
    for (std::size_t i = 0; i < n && step();) ++i;
  }
  void until_idle(std::size_t limit) {
    for (std::size_t i = 0, idle = 0; i < limit && idle < 2; ++i) idle = step() ? 0 : idle + 1;
  }

  void usb_send(bytes t) {
    usb_sent_ += t.size();
    if (t.size() == adb::kHeaderSize) {
      const auto h = adb::decode(std::span<const std::byte>(t).first<adb::kHeaderSize>());
      if (h.command == adb::kCnxn && adb::validate(h, adb::kMaxPayload)) ++usb_cnxn_headers_;
    }
    usb_.from_peer.push_back(std::move(t));
    usb_.notify();
  }
  void usb_fault(std::uint8_t f) {
    const error_code ec(kErrnos[(f >> 3) % kErrnos.size()], asio::error::get_system_category());
    switch (f % 4) {
      case 0:
        usb_.read_fault = ec;
        usb_.read_fault_at_once = f & 4;
        usb_.notify();
        break;
      case 1: usb_.write_fault = ec; break;
      case 2: usb_.short_write = true; break;
      case 3:
        usb_.peer_gone = true;
        usb_.notify();
        break;
    }
  }

  // Writes T into the stream, handing the relay the handlers it needs to take it.
  void stream_send(std::span<const std::byte> t) {
    std::size_t stalls = 0;
    while (!t.empty() && guest_ >= 0 && !guest_shut_) {
      const auto n = ::send(guest_, t.data(), t.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        stream_sent_.insert(stream_sent_.end(), t.begin(), t.begin() + n);
        t = t.subspan(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN && ++stalls < 64 && !io_.stopped()) {
        until_idle(4096);  // the relay reads when the USB peer takes what it wrote
        continue;
      }
      break;  // the relay stopped reading (its session ended): the rest is not sent
    }
    until_idle(256);
  }
  void stream_fault(std::uint8_t f) {
    if (guest_ < 0) return;
    switch (f % 3) {
      case 0:  // end of stream, as adbd closing its side
        ::shutdown(guest_, SHUT_WR);
        guest_shut_ = true;
        break;
      case 1:  // gone: a reset if it left bytes unread
        close_guest();
        break;
      case 2:  // stops reading for now: the relay's writes back up, then a close resets
        reading_ = false;
        break;
    }
  }

  // One peer leaves (USB_FIRST: the USB peer, else the stream peer ends its stream): the
  // session must end on that alone, and leave the io_context without work. The stream peer
  // reads again first, so a relay blocked writing to it is not mistaken for a hang.
  // One exception, by design: in the device role a PC that starts over past the handshake
  // has its new CNXN collected by the old session (collect_pc_cnxn), which then waits for
  // the PC alone; there, the USB peer leaving as well must end it, as a USB failure.
  void finish(bool usb_first) {
    reading_ = true;
    if (usb_first) {
      usb_leaves();
    } else if (guest_ >= 0 && !guest_shut_) {
      ::shutdown(guest_, SHUT_WR);
      guest_shut_ = true;
    }
    run_out(usb_first ? "the USB peer" : "the stream peer");
    if (!done_ && !usb_first && role_ == usb_role::device && usb_cnxn_headers_ > 0) {
      usb_leaves();
      run_out("then the USB peer");
      FUZZ_CHECK(!done_ || stats_.reason == session_end::usb_failed);
    }
    FUZZ_CHECK(done_);          // the session returned
    FUZZ_CHECK(io_.stopped());  // and left nothing behind
    usb_.peer_gone = true;
    close_guest();
    if (std::getenv("RELAY_SESSION_FUZZ_VERBOSE")) report();
    check();
  }

 private:
  void usb_leaves() {
    usb_.peer_gone = true;
    usb_.notify();
  }

  // Runs handlers until the io_context has no work, none is ready, or the budget is spent.
  void run_out(const char* who) {
    std::size_t idle = 0, i = 0;
    for (; i < kFinalSteps && !io_.stopped() && idle < 4; ++i) idle = step() ? 0 : idle + 1;
    if (std::getenv("RELAY_SESSION_FUZZ_VERBOSE")) {
      std::fprintf(stderr,
                   "end: %s leaves; %zu steps, %s; session %s; USB: %zu transfers queued%s%s; "
                   "stream peer: %s\n",
                   who, i, io_.stopped() ? "no work left" : "work left",
                   done_ ? "returned" : "running", usb_.from_peer.size(),
                   usb_.peer_gone ? ", peer gone" : "", usb_.cancelled() ? ", cancelled" : "",
                   guest_ < 0    ? "closed"
                   : guest_shut_ ? "shut down"
                                 : "open");
    }
  }

  void drain() {
    if (guest_ < 0 || !reading_) return;
    for (;;) {
      const auto n = ::recv(guest_, buf_.data(), buf_.size(), MSG_DONTWAIT);
      if (n <= 0) break;
      stream_received_.insert(stream_received_.end(), buf_.begin(), buf_.begin() + n);
    }
  }

  void close_guest() {
    if (guest_ < 0) return;
    // What the relay wrote and the guest left unread did leave the relay: keep it.
    int unread = 0;
    if (::ioctl(guest_, FIONREAD, &unread) == 0 && unread > 0) {
      bytes rest(static_cast<std::size_t>(unread));
      const auto n = ::recv(guest_, rest.data(), rest.size(), MSG_PEEK | MSG_DONTWAIT);
      if (n > 0) stream_received_.insert(stream_received_.end(), rest.begin(), rest.begin() + n);
    }
    ::close(guest_);
    guest_ = -1;
  }

  // What happened, for a person reading one input's run.
  void report() const {
    std::fprintf(stderr,
                 "session: %s%s%s; usb->stream %llu messages (%llu bytes), "
                 "stream->usb %llu messages (%llu bytes), usb transfers:",
                 adbd_relay::to_string(stats_.reason, role_), stats_.detail.empty() ? "" : ": ",
                 stats_.detail.c_str(),
                 static_cast<unsigned long long>(stats_.usb_to_stream_messages),
                 static_cast<unsigned long long>(stats_.usb_to_stream_bytes),
                 static_cast<unsigned long long>(stats_.stream_to_usb_messages),
                 static_cast<unsigned long long>(stats_.stream_to_usb_bytes));
    for (const auto& t : usb_.to_peer) {
      if (t.data.size() == adb::kHeaderSize && !t.short_write) {
        const auto h = adb::decode(std::span<const std::byte>(t.data).first<adb::kHeaderSize>());
        std::fprintf(stderr, " %s", adb::command_name(h.command).c_str());
      } else {
        std::fprintf(stderr, " %zu%s", t.data.size(), t.short_write ? "(short)" : "");
      }
    }
    std::fprintf(stderr, "\n");
  }

  void check() const {
    // How the session ended.
    FUZZ_CHECK(stats_.reason != session_end::cancelled);
    FUZZ_CHECK(stats_.reason != session_end::pc_not_reading);  // the watch is off
    if (adbd_relay::is_protocol_error(stats_.reason)) FUZZ_CHECK(!stats_.detail.empty());
    if (stats_.reason == session_end::pc_new_session) {
      FUZZ_CHECK(role_ == usb_role::device);
      const auto& m = stats_.next_session;
      FUZZ_CHECK(m.size() >= adb::kHeaderSize);
      const auto h = adb::decode(std::span<const std::byte>(m).first<adb::kHeaderSize>());
      FUZZ_CHECK(h.command == adb::kCnxn && adb::validate(h, adb::kMaxPayload).ok());
      FUZZ_CHECK(m.size() == adb::kHeaderSize + h.data_length);
    } else {
      FUZZ_CHECK(stats_.next_session.empty());
    }

    // Towards the USB peer: ADB's USB framing, bytes the stream peer sent, in order.
    bytes usb_bytes;
    std::uint64_t counted = 0;
    std::uint32_t remaining = 0, length = 0;
    bool header_next = true, zlp_due = false, truncated = false;
    for (const auto& t : usb_.to_peer) {
      FUZZ_CHECK(!truncated);  // nothing after a short write
      FUZZ_CHECK(t.data.size() <= transfer_);
      usb_bytes.insert(usb_bytes.end(), t.data.begin(), t.data.end());
      if (t.short_write) {
        truncated = true;
        continue;
      }
      counted += t.data.size();
      if (t.data.empty()) {  // only the host role's packet that ends a whole-packet payload
        FUZZ_CHECK(zlp_due);
        zlp_due = false;
        continue;
      }
      FUZZ_CHECK(!zlp_due);
      if (header_next) {
        FUZZ_CHECK(t.data.size() == adb::kHeaderSize);
        const auto h = adb::decode(std::span<const std::byte>(t.data).first<adb::kHeaderSize>());
        FUZZ_CHECK(adb::validate(h, adb::kMaxPayload).ok());
        FUZZ_CHECK(h.command != adb::kStls);
        length = remaining = h.data_length;
        header_next = remaining == 0;
        continue;
      }
      FUZZ_CHECK(t.data.size() <= remaining);
      if (t.data.size() < remaining) FUZZ_CHECK(t.data.size() % mps_ == 0);
      remaining -= static_cast<std::uint32_t>(t.data.size());
      if (remaining == 0) {
        header_next = true;
        // The host role ends a payload of whole packets with a zero-length packet.
        zlp_due = role_ == usb_role::host && length % mps_ == 0;
      }
    }
    FUZZ_CHECK(usb_bytes.size() <= stream_sent_.size());
    FUZZ_CHECK(std::equal(usb_bytes.begin(), usb_bytes.end(), stream_sent_.begin()));
    FUZZ_CHECK(stats_.stream_to_usb_bytes <= counted);
    FUZZ_CHECK(counted - stats_.stream_to_usb_bytes <= transfer_);

    // Towards the stream peer: valid ADB messages, no more bytes than the USB peer sent.
    adb::framer f(adb::kMaxPayload);
    std::span<const std::byte> in(stream_received_);
    for (;;) {
      const auto ev = f.next(in);
      FUZZ_CHECK(ev.kind != adb::framer::event_kind::error);
      if (ev.kind == adb::framer::event_kind::need_more) break;
      if (ev.kind == adb::framer::event_kind::header) FUZZ_CHECK(ev.header.command != adb::kStls);
    }
    FUZZ_CHECK(stream_received_.size() <= usb_sent_);
    // A previous session's CNXN goes first.
    const std::size_t n = std::min(first_.size(), stream_received_.size());
    FUZZ_CHECK(std::equal(first_.begin(), first_.begin() + static_cast<std::ptrdiff_t>(n),
                          stream_received_.begin()));
    // A write that completes as the other direction ends the session goes uncounted.
    FUZZ_CHECK(stats_.usb_to_stream_bytes <= stream_received_.size());
    FUZZ_CHECK(stream_received_.size() - stats_.usb_to_stream_bytes <= chunk_);
  }

  usb_role role_;
  std::size_t mps_;
  asio::io_context io_;
  script_usb usb_;
  std::unique_ptr<vsocklib::stream_socket> relay_stream_;
  int guest_ = -1;
  bool guest_shut_ = false;
  bool reading_ = true;
  std::size_t transfer_ = 0, chunk_ = 0;
  adbd_relay::session_stats stats_;
  bool done_ = false;
  std::size_t usb_sent_ = 0;
  std::size_t usb_cnxn_headers_ = 0;  // valid CNXN header transfers the USB peer sent
  bytes first_, stream_sent_, stream_received_;
  std::array<std::byte, 1 << 16> buf_;
};

// A message as the script describes it (M0 already read): plausible arguments for its
// command, a payload, and the corruptions M0 asks for.
bytes build_message(script_reader& in, std::uint8_t m0, std::size_t& budget) {
  const std::uint8_t m1 = in.u8();
  std::uint32_t cmd = 0, arg0 = m1 & 15, arg1 = m1 >> 4;
  switch (m0 & 7) {
    case 0: {
      constexpr std::array<std::uint32_t, 4> versions{adb::kVersion, adb::kVersionMin,
                                                      adb::kVersion + 1, 0};
      constexpr std::array<std::uint32_t, 4> limits{adb::kMaxPayload, 256 * 1024,
                                                    adb::kMaxPayloadV1, 100};
      cmd = adb::kCnxn;
      arg0 = versions[m1 & 3];
      arg1 = limits[(m1 >> 2) & 3];
      break;
    }
    case 1:
      cmd = adb::kAuth;
      arg0 = m1 & 3;  // kAuthToken, kAuthSignature, kAuthRsaPublicKey, or 0
      arg1 = 0;
      break;
    case 2:
      cmd = adb::kOpen;
      arg0 = 1 + (m1 & 15);
      arg1 = 0;
      break;
    case 3: cmd = adb::kOkay; break;
    case 4: cmd = adb::kWrte; break;
    case 5: cmd = adb::kClse; break;
    case 6: cmd = m1 & 1 ? adb::kStls : adb::kSync; break;
    case 7: cmd = in.u32(); break;
  }
  bytes payload;
  if (const std::uint8_t p = in.u8(); p < 0xc0) {
    payload = in.take(p);
  } else {
    std::size_t n = (p - 0xc0u) * 2048u + in.u16() % 2048u;
    n = std::min(n, budget);
    budget -= n;
    payload.resize(n);
    for (std::size_t i = 0; i < n; ++i) payload[i] = static_cast<std::byte>(i * 131 + p);
  }
  auto h = adb::make_header(cmd, arg0, arg1, payload, !(m0 & 0x10));
  if (m0 & 0x08) h.magic ^= 1u << (m1 * 7 % 32);
  if (m0 & 0x20) {
    const std::uint8_t d = in.u8();
    h.data_length = d == 0xff ? in.u32()
                              : static_cast<std::uint32_t>(std::max<std::int64_t>(
                                    0, static_cast<std::int64_t>(payload.size()) + d - 128));
  }
  bytes out(adb::kHeaderSize);
  adb::encode(h, std::span<std::byte, adb::kHeaderSize>(out.data(), adb::kHeaderSize));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

// MSG cut at up to four script-chosen offsets.
std::vector<bytes> random_cuts(script_reader& in, const bytes& msg) {
  std::vector<std::size_t> at(in.u8() % 4 + 1);
  for (auto& c : at) c = in.u16() % (msg.size() + 1);
  std::sort(at.begin(), at.end());
  at.push_back(msg.size());
  std::vector<bytes> out;
  std::size_t from = 0;
  for (auto c : at) {
    out.emplace_back(msg.begin() + static_cast<std::ptrdiff_t>(from),
                     msg.begin() + static_cast<std::ptrdiff_t>(c));
    from = c;
  }
  return out;
}

// MSG as the USB peer's transfers. Cut 0 and 1 are adb's framing (1 with payload transfers
// of script-chosen whole packets), 2 puts the message in one transfer, 3 cuts anywhere.
std::vector<bytes> usb_transfers(script_reader& in, const bytes& msg, std::uint8_t cut,
                                 std::size_t mps) {
  const auto header_end = msg.begin() + adb::kHeaderSize;
  const std::size_t len = msg.size() - adb::kHeaderSize;
  std::vector<bytes> out;
  switch (cut) {
    case 0:
      out.emplace_back(msg.begin(), header_end);
      if (len > 0) out.emplace_back(header_end, msg.end());
      if (len > 0 && len % mps == 0) out.emplace_back();  // the host's zero-length packet
      break;
    case 1:
      out.emplace_back(msg.begin(), header_end);
      for (std::size_t at = 0; at < len;) {
        const std::size_t n = std::min(len - at, (in.u8() % 8 + 1) * mps);
        out.emplace_back(header_end + static_cast<std::ptrdiff_t>(at),
                         header_end + static_cast<std::ptrdiff_t>(at + n));
        at += n;
      }
      break;
    case 2: out.push_back(msg); break;
    default: out = random_cuts(in, msg); break;
  }
  return out;
}

// MSG as the stream peer's writes: whole, header then payload, cut anywhere, or in pieces
// of a script-chosen size (at most 512 of them).
std::vector<bytes> stream_writes(script_reader& in, const bytes& msg, std::uint8_t cut) {
  switch (cut) {
    case 0: return {msg};
    case 1:
      return {bytes(msg.begin(), msg.begin() + adb::kHeaderSize),
              bytes(msg.begin() + adb::kHeaderSize, msg.end())};
    case 2: return random_cuts(in, msg);
    default: {
      const std::size_t k = std::max<std::size_t>(in.u8() % 32 + 1, msg.size() / 512 + 1);
      std::vector<bytes> out;
      for (std::size_t at = 0; at < msg.size(); at += k) {
        const std::size_t end = std::min(msg.size(), at + k);
        out.emplace_back(msg.begin() + static_cast<std::ptrdiff_t>(at),
                         msg.begin() + static_cast<std::ptrdiff_t>(end));
      }
      return out;
    }
  }
}

void play(script_reader& in) {
  const std::uint8_t cfg = in.u8();
  const std::uint8_t ending = in.u8();
  const bool usb_leaves_first = ending & 1;
  bytes first;
  if (ending & 2) {  // the session starts with a CNXN the previous one collected
    constexpr std::array<std::uint32_t, 4> limits{adb::kMaxPayload, 4096, 100, 1 << 30};
    const std::string_view banner = "host::features=shell_v2";
    const bytes payload(reinterpret_cast<const std::byte*>(banner.data()),
                        reinterpret_cast<const std::byte*>(banner.data() + banner.size()));
    first.resize(adb::kHeaderSize);
    adb::encode(
        adb::make_header(adb::kCnxn, adb::kVersion, limits[(ending >> 2) & 3], payload, false),
        std::span<std::byte, adb::kHeaderSize>(first.data(), adb::kHeaderSize));
    first.insert(first.end(), payload.begin(), payload.end());
  }
  const auto role = cfg & 1 ? usb_role::host : usb_role::device;
  const std::size_t mps = kPacketSizes[(cfg >> 1) & 3];
  adbd_relay::session_options opt;
  opt.usb_transfer_size = kTransferSizes[(cfg >> 3) & 7];
  opt.chunk_size = kChunkSizes[(cfg >> 6) & 3];
  opt.pc_read_timeout = std::chrono::milliseconds(0);
  harness h(role, mps, opt, std::move(first));
  std::size_t budget = kPayloadBudget;
  for (std::size_t ops = 0; !in.empty() && ops < 4096; ++ops) {
    const std::uint8_t op = in.u8() & 15;
    if (op <= 9) {
      const std::uint8_t m0 = in.u8();
      const bytes msg = build_message(in, m0, budget);
      if (op <= 4) {
        for (auto& t : usb_transfers(in, msg, m0 >> 6, mps)) h.usb_send(std::move(t));
      } else {
        for (const auto& w : stream_writes(in, msg, m0 >> 6)) h.stream_send(w);
      }
      continue;
    }
    switch (op) {
      case 10: h.usb_send(in.take(in.u8())); break;
      case 11: h.stream_send(in.take(in.u8())); break;
      case 13: h.usb_fault(in.u8()); break;
      case 14: h.stream_fault(in.u8()); break;
      default: h.steps(in.u8()); break;
    }
  }
  h.finish(usb_leaves_first);
}

// Seed scripts, in the format above.
class script_writer {
 public:
  std::vector<std::uint8_t> out;
  script_writer& u8(std::uint8_t b) {
    out.push_back(b);
    return *this;
  }
  // A message with a payload of at most 191 bytes given here.
  script_writer& msg(bool usb, std::uint8_t m0, std::uint8_t m1, std::string_view payload) {
    u8(usb ? 0 : 5).u8(m0).u8(m1).u8(static_cast<std::uint8_t>(payload.size()));
    out.insert(out.end(), payload.begin(), payload.end());
    return *this;
  }
  // A message with a pattern payload of N bytes.
  script_writer& big(bool usb, std::uint8_t m0, std::uint8_t m1, std::size_t n) {
    u8(usb ? 0 : 5).u8(m0).u8(m1).u8(static_cast<std::uint8_t>(0xc0 + n / 2048));
    return u8(n % 2048 & 0xff).u8(static_cast<std::uint8_t>(n % 2048 >> 8));
  }
  script_writer& steps(std::uint8_t n) { return u8(12).u8(n); }
};

enum : std::uint8_t { kCnxnCmd = 0, kAuthCmd, kOpenCmd, kOkayCmd, kWrteCmd, kClseCmd };
constexpr bool kUsb = true, kStream = false;

void write_seed(const std::string& dir, const char* name, const script_writer& w) {
  std::ofstream f(dir + "/" + name, std::ios::binary);
  f.write(reinterpret_cast<const char*>(w.out.data()), static_cast<std::streamsize>(w.out.size()));
}

void make_seeds(const std::string& dir) {
  using namespace std::string_view_literals;
  // Device role, 512-byte packets, 4 KiB transfers, 4 KiB chunks: the PC's adb and the
  // guest's adbd shake hands, open a shell and exchange a WRTE each way.
  script_writer a;
  a.u8(1 << 1 | 2 << 3)
      .u8(1)
      .msg(kUsb, kCnxnCmd, 0, "host::features=shell_v2,cmd,stat_v2")
      .steps(32)
      .msg(kStream, kCnxnCmd, 0, "device::ro.product.name=vm;ro.product.model=vm;features=shell_v2")
      .steps(32)
      .msg(kUsb, kOpenCmd, 0x00, "shell:echo hi\0"sv)
      .steps(32)
      .msg(kStream, kOkayCmd, 0x15, "")
      .msg(kStream, kWrteCmd, 0x15, "hi\n")
      .steps(32)
      .msg(kUsb, kOkayCmd, 0x51, "")
      .msg(kUsb, kWrteCmd, 0x51, "exit\n")
      .steps(32)
      .msg(kStream, kOkayCmd, 0x15, "")
      .msg(kStream, kClseCmd, 0x15, "")
      .msg(kUsb, kClseCmd, 0x51, "")
      .steps(64);
  write_seed(dir, "device_handshake_wrte", a);

  // Host role (the device on USB, an adb server on the stream), 1024-byte packets, 16 KiB
  // transfers, 1000-byte chunks: CNXN, AUTH token and signature, then large WRTEs both
  // ways, the server's of whole packets (a zero-length packet follows it).
  script_writer b;
  b.u8(1 | 2 << 1 | 3 << 3 | 2 << 6)
      .u8(0)
      .msg(kStream, kCnxnCmd, 0, "host::features=shell_v2,cmd")
      .steps(32)
      .msg(kUsb, kAuthCmd, 1, "0123456789abcdefghij")
      .steps(32)
      .msg(kStream, kAuthCmd, 2, std::string(128, 's'))
      .steps(32)
      .msg(kUsb, kCnxnCmd, 0, "device::ro.product.name=phone;features=shell_v2")
      .steps(32)
      .msg(kStream, kOpenCmd, 0x00, "sync:\0"sv)
      .steps(32)
      .msg(kUsb, kOkayCmd, 0x17, "")
      .big(kUsb, kWrteCmd | 1 << 6, 0x17, 5000)
      .u8(1)
      .u8(3)
      .steps(64)
      .big(kStream, kWrteCmd, 0x71, 4096)
      .steps(128);
  write_seed(dir, "host_auth_large_wrte", b);

  // Device role, 64-byte packets, 700-byte transfers (rounded to 640), 48-byte chunks: the
  // guest's WRTE in 7-byte writes, then a short USB write and a guest reset.
  script_writer c;
  c.u8(0 << 1 | 7 << 3 | 3 << 6)
      .u8(1)
      .msg(kUsb, kCnxnCmd, 0, "host::")
      .steps(16)
      .msg(kStream, kCnxnCmd, 0, "device::")
      .steps(16)
      .msg(kStream, kWrteCmd | 3 << 6, 0x15, std::string(150, 'w'))
      .u8(6)
      .steps(64)
      .u8(13)
      .u8(2)
      .msg(kStream, kOkayCmd, 0x15, "")
      .steps(16)
      .u8(14)
      .u8(1)
      .steps(16);
  write_seed(dir, "device_split_faults", c);

  // Device role after a handshake: a guest header with a bad magic, which must not pass.
  script_writer d;
  d.u8(1 << 1 | 2 << 3)
      .u8(0)
      .msg(kUsb, kCnxnCmd, 0, "host::")
      .steps(16)
      .msg(kStream, kCnxnCmd, 0, "device::")
      .steps(16)
      .msg(kStream, kWrteCmd | 0x08, 0x15, "corrupt")
      .steps(16)
      .msg(kUsb, kWrteCmd | 0x08, 0x51, "corrupt")
      .steps(16);
  write_seed(dir, "device_bad_magic", d);

  // Device role, past the handshake: the PC's adb starts over, abandoning its first CNXN
  // halfway (its header promises 10 bytes more than follow), so the session ends as
  // pc_new_session with the second CNXN for the next one.
  script_writer e;
  e.u8(1 << 1 | 2 << 3)
      .u8(1)
      .msg(kUsb, kCnxnCmd, 0, "host::")
      .steps(16)
      .msg(kStream, kCnxnCmd, 0, "device::")
      .msg(kStream, kWrteCmd, 0x15, "x")
      .steps(16)
      .msg(kUsb, kCnxnCmd | 0x20, 0, "host::a")
      .u8(128 + 10)
      .msg(kUsb, kCnxnCmd, 0, "host::b")
      .steps(32);
  write_seed(dir, "device_pc_restart", e);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::signal(SIGPIPE, SIG_IGN);  // a write into a closed socket is an error, not the end
  if (const char* dir = std::getenv("RELAY_SESSION_FUZZ_SEEDS")) {
    make_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  script_reader in({data, size});
  play(in);
  return 0;
}
