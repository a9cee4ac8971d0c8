#include "adbd_sim/connection.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <random>

#include <spdlog/logger.h>

#include "adb_stream.hpp"
#include "services.hpp"
#include "vsocklib/task_group.hpp"

namespace adbd_sim {

namespace adb = adb_protocol;
namespace asio = vsocklib::asio;
using vsocklib::error_code;
using vsocklib::use_tuple;

std::string device_banner(bool delayed_ack) {
  // Appended rather than operator+ on a temporary: GCC 12 warns (-Warray-bounds) about
  // the latter, wrongly.
  std::string banner =
      "device::ro.product.name=adbd-sim;ro.product.model=adbd-sim;ro.product.device=adbd-sim;"
      "features=";
  banner += kFeatures;
  if (delayed_ack) banner += ",delayed_ack";
  return banner;
}

namespace detail {

// ------------------------------------------------------------------------------------
// adb_stream

adb_stream::adb_stream(connection_core& conn, const asio::any_io_executor& ex,
                       std::uint32_t local_id, std::uint32_t remote_id, std::string service,
                       std::optional<std::uint32_t> send_window, std::uint32_t receive_window)
    : conn_(conn),
      local_id_(local_id),
      remote_id_(remote_id),
      service_(std::move(service)),
      receive_window_(receive_window),
      input_wake_(ex),
      send_window_(send_window),
      output_wake_(ex) {
  // The timers are events: they never expire, cancel() wakes every waiter. Their expiry is
  // set once, here: setting it again would cancel another coroutine's wait.
  input_wake_.expires_at(asio::steady_timer::time_point::max());
  output_wake_.expires_at(asio::steady_timer::time_point::max());
}

std::span<const std::byte> adb_stream::available() const noexcept {
  if (closed_ || in_read_ == in_complete_) return {};
  const std::size_t at = static_cast<std::size_t>(in_read_ % in_buf_.size());
  const std::size_t n =
      std::min<std::size_t>(static_cast<std::size_t>(in_complete_ - in_read_), in_buf_.size() - at);
  return {in_buf_.data() + at, n};
}

void adb_stream::consume(std::size_t n) {
  in_read_ += std::min<std::uint64_t>(n, in_complete_ - in_read_);
  if (in_read_ < in_complete_) {
    // With delayed_ack, give the host room again before all of it is used up.
    if (delayed_ack() && in_read_ - in_acked_ >= std::max<std::uint32_t>(receive_window_ / 2, 1)) {
      acknowledge();
    }
    return;
  }
  acknowledge();
}

void adb_stream::acknowledge() {
  if (delayed_ack()) {
    const auto n = static_cast<std::uint32_t>(in_read_ - in_acked_);
    if (n == 0) return;
    in_acked_ = in_read_;
    if (closed_) return;
    auto count = std::make_shared<std::array<std::byte, 4>>();
    adb::store_le32(count->data(), n);
    conn_.send(adb::kOkay, local_id_, remote_id_, *count, count);
  } else {
    if (!in_busy_ || in_read_ < in_recv_) return;  // the WRTE is not used up yet
    in_busy_ = false;
    // Flow control: the host sends the next WRTE only after this.
    if (!closed_) conn_.send(adb::kOkay, local_id_, remote_id_);
  }
  // All consumed: start at the ring's beginning again (no span into it is outstanding).
  if (in_read_ == in_recv_) in_read_ = in_complete_ = in_recv_ = in_acked_ = 0;
}

asio::awaitable<bool> adb_stream::async_wait_readable() {
  // (No co_await inside && or ||: GCC 12 miscompiles it.)
  if (out_used_ > 0) {
    const bool flushed = co_await async_flush();
    if (!flushed) co_return false;
  }
  while (available().empty()) {
    if (closed_) co_return false;
    co_await input_wake_.async_wait(use_tuple);
  }
  co_return true;
}

asio::awaitable<bool> adb_stream::async_read_exact(std::span<std::byte> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    if (!co_await async_wait_readable()) co_return false;
    auto a = available();
    const std::size_t n = std::min(a.size(), out.size() - done);
    std::memcpy(out.data() + done, a.data(), n);
    consume(n);
    done += n;
  }
  co_return true;
}

bool adb_stream::buffer_busy() const noexcept { return !delayed_ack() && in_flight_; }

bool adb_stream::can_send() const noexcept {
  if (delayed_ack()) return !writing_ && *send_window_ > 0;
  return !in_flight_;
}

asio::awaitable<std::span<std::byte>> adb_stream::async_prepare(std::size_t n) {
  n = std::min<std::size_t>(n, max_payload());
  for (;;) {
    if (closed_) co_return std::span<std::byte>{};
    if (buffer_busy()) {
      co_await output_wake_.async_wait(use_tuple);
      continue;
    }
    if (out_used_ > 0 && out_used_ + n > max_payload()) {
      if (can_send()) {
        send_output();
      } else {
        co_await output_wake_.async_wait(use_tuple);
      }
      continue;
    }
    break;
  }
  // Grows to at most max_payload and then stays: no allocation per WRTE once warm.
  if (out_buf_.size() < out_used_ + n) out_buf_.resize(out_used_ + n);
  co_return std::span<std::byte>(out_buf_.data() + out_used_, n);
}

asio::awaitable<bool> adb_stream::async_write(std::span<const std::byte> data) {
  while (!data.empty()) {
    auto room = co_await async_prepare(data.size());
    if (room.empty()) co_return false;
    std::memcpy(room.data(), data.data(), room.size());
    commit(room.size());
    data = data.subspan(room.size());
  }
  co_return true;
}

asio::awaitable<bool> adb_stream::async_flush() {
  for (;;) {
    if (closed_) co_return false;
    if (out_used_ == 0) co_return true;
    if (can_send()) {
      send_output();
      co_return true;
    }
    co_await output_wake_.async_wait(use_tuple);
  }
}

asio::awaitable<void> adb_stream::async_close() {
  if (closed_) co_return;
  // The last WRTE may go out unacknowledged: CLSE follows it in order, and the host
  // delivers queued data before it closes its end.
  co_await async_flush();
  if (closed_) co_return;
  closed_ = true;
  conn_.send(adb::kClse, local_id_, remote_id_);
  conn_.stream_closed(local_id_);
  wake_all();
}

namespace {
// Owner of a queued WRTE's payload with delayed_ack: tells the stream when the connection
// has written it (or dropped it), so its buffer can be filled again.
struct written_notice {
  explicit written_notice(std::shared_ptr<adb_stream> s) noexcept : stream(std::move(s)) {}
  std::shared_ptr<adb_stream> stream;
  written_notice(const written_notice&) = delete;
  written_notice& operator=(const written_notice&) = delete;
  ~written_notice() { stream->on_written(); }
};
}  // namespace

void adb_stream::send_output() {
  if (!delayed_ack()) {
    in_flight_ = true;
    max_unacked_out_ = std::max<std::uint64_t>(max_unacked_out_, out_used_);
    // The connection keeps this stream (and so the buffer) alive until the bytes are
    // written; the buffer is not touched again before the host's OKAY, which comes after.
    conn_.send(adb::kWrte, local_id_, remote_id_, {out_buf_.data(), out_used_}, shared_from_this());
    out_used_ = 0;
    return;
  }
  // The filled buffer goes to the connection; the other one takes its place.
  std::swap(out_buf_, out_writing_);
  writing_ = true;
  *send_window_ -= static_cast<std::int64_t>(out_used_);
  out_unacked_ += out_used_;
  max_unacked_out_ = std::max(max_unacked_out_, out_unacked_);
  auto notice = std::make_shared<written_notice>(shared_from_this());
  conn_.send(adb::kWrte, local_id_, remote_id_, {out_writing_.data(), out_used_}, notice);
  out_used_ = 0;
}

void adb_stream::on_written() noexcept {
  writing_ = false;
  output_wake_.cancel();
}

bool adb_stream::begin_input(std::uint32_t length, std::string& why) {
  if (!delayed_ack()) {
    if (in_busy_) {
      why = "WRTE on stream " + std::to_string(local_id_) +
            " before the OKAY for the previous one: the peer broke flow control";
      return false;
    }
    in_busy_ = true;
    in_read_ = in_complete_ = in_recv_ = 0;
    if (in_buf_.size() < length) in_buf_.resize(length);
    max_unacked_in_ = std::max<std::uint64_t>(max_unacked_in_, length);
    return true;
  }
  // The host may send while its window is positive, so at most our grant plus one WRTE
  // is unacknowledged; everything unacknowledged is still in the ring or just consumed.
  const std::size_t ring = std::size_t{receive_window_} + max_payload();
  if (in_buf_.size() != ring) {
    if (in_recv_ != 0) {
      why = "internal: input ring resized while in use";
      return false;
    }
    in_buf_.resize(ring);
  }
  const std::uint64_t unacked = in_recv_ - in_acked_;
  if (unacked + length > ring) {
    why = "WRTE of " + std::to_string(length) + " bytes on stream " + std::to_string(local_id_) +
          " with " + std::to_string(unacked) + " bytes unacknowledged, beyond the window of " +
          std::to_string(receive_window_) + ": the peer broke flow control";
    return false;
  }
  max_unacked_in_ = std::max(max_unacked_in_, unacked + length);
  return true;
}

void adb_stream::input_piece(std::span<const std::byte> piece) {
  while (!piece.empty()) {
    const std::size_t at = static_cast<std::size_t>(in_recv_ % in_buf_.size());
    const std::size_t n = std::min(piece.size(), in_buf_.size() - at);
    std::memcpy(in_buf_.data() + at, piece.data(), n);
    in_recv_ += n;
    piece = piece.subspan(n);
  }
}

void adb_stream::end_input() {
  if (in_recv_ == in_complete_) {
    // An empty WRTE has nothing to consume: acknowledge it at once.
    if (!delayed_ack()) {
      in_busy_ = false;
      if (!closed_) conn_.send(adb::kOkay, local_id_, remote_id_);
    }
    return;
  }
  in_complete_ = in_recv_;
  input_wake_.cancel();
}

bool adb_stream::on_okay(std::span<const std::byte> payload, std::string& why) {
  if (!delayed_ack()) {
    if (!payload.empty()) {
      why = "OKAY with a " + std::to_string(payload.size()) + "-byte payload on stream " +
            std::to_string(local_id_) + " without delayed_ack";
      return false;
    }
    if (!in_flight_) {
      why = "OKAY on stream " + std::to_string(local_id_) + " without an outstanding WRTE";
      return false;
    }
    in_flight_ = false;
    output_wake_.cancel();
    return true;
  }
  if (payload.size() != 4) {
    why = "OKAY on stream " + std::to_string(local_id_) + " with a " +
          std::to_string(payload.size()) + "-byte payload; delayed_ack needs 4";
    return false;
  }
  const std::uint32_t acked = adb::load_le32(payload.data());
  if (acked > out_unacked_) {
    why = "OKAY on stream " + std::to_string(local_id_) + " acknowledges " + std::to_string(acked) +
          " bytes, but only " + std::to_string(out_unacked_) + " are outstanding";
    return false;
  }
  out_unacked_ -= acked;
  *send_window_ += acked;
  output_wake_.cancel();
  return true;
}

void adb_stream::on_remote_close() {
  closed_ = true;
  wake_all();
}

void adb_stream::wake_all() {
  input_wake_.cancel();
  output_wake_.cancel();
}

// ------------------------------------------------------------------------------------
// connection

namespace {

using namespace std::chrono_literals;

// One read takes up to this much from the socket; the framer passes WRTE payload pieces
// straight from it into the stream's buffer.
constexpr std::size_t kReadBuffer = 64 * 1024;
// Messages gathered into one writev: header + payload each, so at most 32 buffers.
constexpr std::size_t kMaxGather = 16;
// A host tries one signature per key it has (its own plus ADB_VENDOR_KEYS) before sending
// its public key; more than this many means it is looping.
constexpr unsigned kMaxSignatures = 16;

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// Payloads of CNXN and OPEN are strings, sometimes with a trailing NUL (OPEN always has one).
std::string payload_text(std::span<const std::byte> p) {
  std::string s(reinterpret_cast<const char*>(p.data()), p.size());
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

// Whether a CNXN banner ("host::features=a,b,c") lists FEATURE.
bool has_feature(const std::string& banner, std::string_view feature) {
  const auto at = banner.find("features=");
  if (at == std::string::npos) return false;
  std::string_view list(banner);
  list.remove_prefix(at + 9);
  list = list.substr(0, list.find(';'));
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (list.substr(0, comma) == feature) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// A service name for the log: abb's arguments are NUL-separated.
std::string printable(std::string s) {
  for (char& c : s) {
    if (c == '\0') c = ' ';
  }
  return s;
}

// A message for one of our streams that names another remote id: a relay or host mixing
// up streams.
std::string wrong_remote_id(const adb::message_header& h, std::uint32_t owner) {
  return adb::command_name(h.command) + " for stream " + std::to_string(h.arg1) +
         " from remote id " + std::to_string(h.arg0) + ", but that stream belongs to remote id " +
         std::to_string(owner);
}

}  // namespace

class connection final : public connection_core {
 public:
  connection(vsocklib::stream_socket s, connection_config cfg, std::string peer)
      : socket_(std::move(s)),
        cfg_(std::move(cfg)),
        peer_(std::move(peer)),
        ex_(socket_.get_executor()),
        framer_(cfg_.max_payload),
        max_payload_(cfg_.max_payload),
        banner_(device_banner(cfg_.delayed_ack)),
        read_buf_(kReadBuffer),
        writer_wake_(ex_),
        services_(ex_),
        services_wait_(ex_),
        max_queue_(4 * std::size_t{cfg_.max_streams} + 64) {
    writer_wake_.expires_at(asio::steady_timer::time_point::max());
    gather_.reserve(2 * kMaxGather);
  }

  asio::awaitable<connection_summary> run();

  void send(std::uint32_t command, std::uint32_t arg0, std::uint32_t arg1,
            std::span<const std::byte> payload = {},
            std::shared_ptr<const void> owner = {}) override;
  void stream_closed(std::uint32_t local_id) override { streams_.erase(local_id); }
  std::uint32_t max_payload() const override { return max_payload_; }
  spdlog::logger& log() override { return *cfg_.log; }
  const std::string& peer() const override { return peer_; }

  const connection_config& config() const { return cfg_; }

 private:
  enum class state { waiting_for_cnxn, waiting_for_auth, online };

  struct outgoing {
    std::array<std::byte, adb::kHeaderSize> header;
    std::span<const std::byte> payload;
    std::shared_ptr<const void> owner;
  };

  asio::awaitable<void> reader();
  asio::awaitable<void> writer();
  asio::awaitable<void> join_services();
  asio::awaitable<void> warn_while_services_run();
  void on_header(const adb::message_header& h);
  void on_payload(std::span<const std::byte> piece);
  void on_complete(const adb::message_header& h);
  void handle_cnxn(const adb::message_header& h);
  void handle_auth(const adb::message_header& h);
  void handle_open(const adb::message_header& h);
  void handle_okay(const adb::message_header& h);
  void handle_clse(const adb::message_header& h);
  void send_auth_token();
  void go_online();
  void reset_streams();
  std::uint32_t allocate_id();
  void fail(std::string why);
  void stop(std::string why);

  vsocklib::stream_socket socket_;
  connection_config cfg_;
  std::string peer_;
  asio::any_io_executor ex_;
  adb::framer framer_;
  state state_ = state::waiting_for_cnxn;
  std::uint32_t version_ = adb::kVersionMin;
  std::uint32_t max_payload_;
  // Senders fill data_check while the session's version is below kVersionSkipChecksum.
  bool checksums_ = true;
  bool delayed_ack_ = false;  // both banners list delayed_ack (and --delayed-ack is on)
  unsigned signatures_ = 0;
  const std::string banner_;
  std::mt19937_64 rng_{std::random_device{}()};

  std::vector<std::byte> read_buf_;
  std::uint32_t current_command_ = 0;        // of the message being read
  std::vector<std::byte> control_;           // payload of the non-WRTE message being read
  std::shared_ptr<adb_stream> wrte_target_;  // stream of the WRTE being read; null: drop it
  std::map<std::uint32_t, std::shared_ptr<adb_stream>> streams_;
  // Ids only grow, so a late OKAY or WRTE for a closed stream never reaches a new one.
  std::uint32_t next_id_ = 1;

  std::deque<outgoing> queue_;
  std::vector<asio::const_buffer> gather_;
  asio::steady_timer writer_wake_;
  // One task per stream's service; they refer to this connection, so run() joins them.
  vsocklib::task_group services_;
  asio::steady_timer services_wait_;  // paces the "still waiting" warning; cancelled at the join
  const std::size_t max_queue_;
  bool stopping_ = false;
  connection_summary summary_;
};

// Runs one service in the connection's task group; named (not a lambda) because it is
// passed to co_spawn. The stream reference is dropped before the group hears that the
// service is done, so when the connection's run() returns no service state refers to it
// any more.
asio::awaitable<void> service_main(connection* c, std::shared_ptr<adb_stream> s,
                                   service_request req) {
  try {
    co_await run_service(s, std::move(req), c->config());
  } catch (const std::exception& e) {
    // Cancellation when the connection ends lands here as operation_aborted; anything
    // else is a bug worth seeing.
    if (!s->closed())
      c->log().error("{}: stream {} ({}): {}", c->peer(), s->local_id(), s->service(), e.what());
  }
  c->log().debug("{}: stream {} done: at most {} bytes unacknowledged to the host, {} from it{}",
                 c->peer(), s->local_id(), s->max_unacked_out(), s->max_unacked_in(),
                 s->delayed_ack() ? " (delayed_ack)" : "");
  s.reset();
}

asio::awaitable<connection_summary> connection::run() {
  using namespace asio::experimental::awaitable_operators;
  co_await (reader() || writer());
  if (!stopping_) stop("ended");
  error_code ignored;
  socket_.close(ignored);
  reset_streams();
  // Services hold references to this connection: wait for all of them (shell children
  // are given a moment to exit, then killed), so nothing outlives it. (Their failures are
  // caught and logged in service_main: the join has none to rethrow.)
  co_await (join_services() && warn_while_services_run());
  co_return summary_;
}

asio::awaitable<void> connection::join_services() {
  co_await services_.join();
  services_wait_.cancel();
}

asio::awaitable<void> connection::warn_while_services_run() {
  // join() does not give up when cancelled, so it cannot race a timer: this runs beside it.
  while (services_.size() > 0) {
    services_wait_.expires_after(5s);
    auto [ec] = co_await services_wait_.async_wait(use_tuple);
    if (ec || services_.size() == 0) co_return;  // the join is done
    cfg_.log->warn("{}: still waiting for {} services to finish", peer_, services_.size());
  }
}

asio::awaitable<void> connection::reader() {
  using kind = adb::framer::event_kind;
  while (!stopping_) {
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(read_buf_), use_tuple);
    if (stopping_) co_return;
    if (ec == asio::error::eof) {
      stop(framer_.at_boundary()
               ? "peer closed"
               : "peer closed in the middle of a message (" +
                     std::to_string(framer_.payload_remaining()) + " payload bytes missing)");
      co_return;
    }
    if (ec) {
      stop("read: " + ec.message());
      co_return;
    }
    summary_.bytes_in += n;
    std::span<const std::byte> in(read_buf_.data(), n);
    while (!stopping_) {
      auto ev = framer_.next(in);
      if (ev.kind == kind::need_more) break;
      if (ev.kind == kind::error) {
        fail(framer_.error().message);
        co_return;
      }
      if (ev.kind == kind::header) {
        on_header(ev.header);
      } else {
        on_payload(ev.payload);
      }
      if (ev.message_complete && !stopping_) {
        ++summary_.messages_in;
        on_complete(ev.header);
      }
    }
  }
}

asio::awaitable<void> connection::writer() {
  for (;;) {
    while (queue_.empty() && !stopping_) co_await writer_wake_.async_wait(use_tuple);
    if (stopping_) co_return;
    // Several queued messages go out in one writev; each header is followed by its
    // payload in the same call, which keeps small packets out of a vsock stream.
    const std::size_t k = std::min(queue_.size(), kMaxGather);
    gather_.clear();
    for (std::size_t i = 0; i < k; ++i) {
      gather_.push_back(asio::buffer(queue_[i].header));
      if (!queue_[i].payload.empty()) {
        gather_.push_back(asio::buffer(queue_[i].payload.data(), queue_[i].payload.size()));
      }
    }
    auto [ec, n] = co_await asio::async_write(socket_, gather_, use_tuple);
    if (stopping_) co_return;
    if (ec) {
      stop("write: " + ec.message());
      co_return;
    }
    summary_.bytes_out += n;
    for (std::size_t i = 0; i < k; ++i) queue_.pop_front();
  }
}

void connection::send(std::uint32_t command, std::uint32_t arg0, std::uint32_t arg1,
                      std::span<const std::byte> payload, std::shared_ptr<const void> owner) {
  if (stopping_) return;
  // Every message we queue answers one of the peer's (or is stream data held back by
  // flow control), so a long queue means the peer sends without reading.
  if (queue_.size() >= max_queue_) {
    fail("peer is not reading: " + std::to_string(queue_.size()) + " messages queued");
    return;
  }
  // CNXN and AUTH carry a checksum whatever the version: the peer may still be at
  // kVersionMin when it reads them.
  const bool with_checksum = checksums_ || command == adb::kCnxn || command == adb::kAuth;
  outgoing m;
  adb::encode(adb::make_header(command, arg0, arg1, payload, with_checksum), m.header);
  m.payload = payload;
  m.owner = std::move(owner);
  queue_.push_back(std::move(m));
  writer_wake_.cancel();
}

void connection::on_header(const adb::message_header& h) {
  wrte_target_.reset();
  control_.clear();
  current_command_ = h.command;
  if (h.command != adb::kWrte) return;
  if (state_ != state::online) return;  // dropped in on_complete's log
  auto it = streams_.find(h.arg1);
  if (it == streams_.end()) return;  // a stream we closed: the WRTE crossed our CLSE
  if (it->second->remote_id() != h.arg0) {
    fail(wrong_remote_id(h, it->second->remote_id()));
    return;
  }
  std::string why;
  if (!it->second->begin_input(h.data_length, why)) {
    fail(std::move(why));
    return;
  }
  wrte_target_ = it->second;
}

void connection::on_payload(std::span<const std::byte> piece) {
  if (current_command_ == adb::kWrte) {
    if (wrte_target_) wrte_target_->input_piece(piece);
    return;
  }
  // Other payloads (banner, service name, key) are needed whole; the framer bounds them
  // by max_payload.
  control_.insert(control_.end(), piece.begin(), piece.end());
}

void connection::on_complete(const adb::message_header& h) {
  if (h.command == adb::kWrte) {
    if (wrte_target_) {
      wrte_target_->end_input();
      wrte_target_.reset();
    } else {
      cfg_.log->debug("{}: dropped {} (no such stream, or not online)", peer_, adb::to_string(h));
    }
    return;
  }
  switch (h.command) {
    case adb::kCnxn: handle_cnxn(h); return;
    case adb::kStls:
      fail("STLS from the peer: adbd-sim never offers TLS (only wireless debugging uses it)");
      return;
    case adb::kAuth:
      if (state_ == state::waiting_for_auth) {
        handle_auth(h);
      } else {
        fail("AUTH type " + std::to_string(h.arg0) +
             " although adbd-sim did not ask to authenticate");
      }
      return;
  }
  if (state_ != state::online) {
    // protocol.txt: until CNXN, other messages must be ignored.
    cfg_.log->debug("{}: ignored {} before the handshake", peer_, adb::to_string(h));
    return;
  }
  switch (h.command) {
    case adb::kOpen: handle_open(h); return;
    case adb::kOkay: handle_okay(h); return;
    case adb::kClse: handle_clse(h); return;
  }
}

void connection::handle_cnxn(const adb::message_header& h) {
  if (h.arg0 < adb::kVersionMin) {
    fail("CNXN version " + hex32(h.arg0) + " is older than the first protocol version " +
         hex32(adb::kVersionMin));
    return;
  }
  if (h.arg1 == 0) {
    fail("CNXN announces a maximum payload of 0");
    return;
  }
  if (state_ != state::waiting_for_cnxn || !streams_.empty()) {
    // adb's handle_new_connection: a CNXN on a live session starts it again.
    cfg_.log->info("{}: CNXN again: restarting the session, dropping {} streams", peer_,
                   streams_.size());
    reset_streams();
  }
  version_ = std::min(h.arg0, adb::kVersion);
  max_payload_ = std::min(h.arg1, cfg_.max_payload);
  delayed_ack_ = cfg_.delayed_ack && has_feature(payload_text(control_), "delayed_ack");
  checksums_ = version_ < adb::kVersionSkipChecksum;
  framer_.set_max_payload(max_payload_);
  cfg_.log->debug("{}: CNXN version {}, max payload {}, banner \"{}\"", peer_, hex32(h.arg0),
                  h.arg1, payload_text(control_));
  if (cfg_.auth) {
    state_ = state::waiting_for_auth;
    signatures_ = 0;
    send_auth_token();
  } else {
    go_online();
  }
}

void connection::handle_auth(const adb::message_header& h) {
  switch (h.arg0) {
    case adb::kAuthSignature:
      if (++signatures_ > kMaxSignatures) {
        fail("more than " + std::to_string(kMaxSignatures) +
             " AUTH signatures without a public key");
        return;
      }
      // adbd-sim cannot verify RSA signatures, so it treats every key as unknown: a new
      // token makes the host try its next key, and finally send its public key.
      cfg_.log->debug("{}: AUTH signature {} not accepted; asking for another", peer_, signatures_);
      send_auth_token();
      return;
    case adb::kAuthRsaPublicKey: {
      auto key = payload_text(control_);
      auto space = key.rfind(' ');
      cfg_.log->info("{}: accepting the host's public key ({})", peer_,
                     space == std::string::npos ? "no name" : key.substr(space + 1));
      go_online();
      return;
    }
  }
  fail("AUTH type " + std::to_string(h.arg0) +
       " from the host; hosts send SIGNATURE (2) or RSAPUBLICKEY (3)");
}

void connection::send_auth_token() {
  auto token = std::make_shared<std::array<std::byte, adb::kAuthTokenSize>>();
  for (auto& b : *token) b = static_cast<std::byte>(rng_());
  send(adb::kAuth, adb::kAuthToken, 0, *token, token);
}

void connection::go_online() {
  state_ = state::online;
  summary_.online = true;
  summary_.version = version_;
  summary_.max_payload = max_payload_;
  send(adb::kCnxn, version_, max_payload_,
       std::as_bytes(std::span<const char>(banner_.data(), banner_.size())));
  cfg_.log->info("{}: online, version {}, max payload {}{}", peer_, hex32(version_), max_payload_,
                 delayed_ack_ ? ", delayed_ack" : "");
}

void connection::handle_open(const adb::message_header& h) {
  if (h.arg0 == 0) {
    fail("OPEN with local id 0");
    return;
  }
  const std::string name = payload_text(control_);
  if (streams_.size() >= cfg_.max_streams) {
    ++summary_.streams_refused;
    cfg_.log->warn("{}: refused OPEN \"{}\": already {} streams open (--max-streams)", peer_, name,
                   streams_.size());
    send(adb::kClse, 0, h.arg0);
    return;
  }
  std::string why;
  auto req = parse_service(name, why);
  if (req && delayed_ack_ != (h.arg1 != 0)) {
    // adbd: with delayed_ack the opener declares its window in arg1; without, arg1 is 0.
    req.reset();
    why = delayed_ack_ ? "no window in arg1 although delayed_ack was negotiated"
                       : "window " + std::to_string(h.arg1) + " in arg1 without delayed_ack";
  }
  if (!req) {
    ++summary_.streams_refused;
    cfg_.log->info("{}: refused OPEN \"{}\": {}", peer_, printable(name), why);
    send(adb::kClse, 0, h.arg0);  // a failed OPEN: CLSE with our id 0
    return;
  }
  const std::uint32_t id = allocate_id();
  std::optional<std::uint32_t> window;
  if (delayed_ack_) window = h.arg1;
  // Our grant with delayed_ack: one maximum payload (the host may overshoot it by one
  // WRTE, so at most 2 x max_payload of its bytes wait here per stream).
  const std::uint32_t grant = max_payload_;
  auto s = std::make_shared<adb_stream>(*this, ex_, id, h.arg0, name, window, grant);
  streams_.emplace(id, s);
  ++summary_.streams_opened;
  cfg_.log->debug("{}: stream {} (remote {}{}): {}", peer_, id, h.arg0,
                  delayed_ack_ ? ", window " + std::to_string(h.arg1) : std::string(),
                  printable(name));
  // Queued before anything the service writes; with delayed_ack it carries our grant.
  if (delayed_ack_) {
    auto count = std::make_shared<std::array<std::byte, 4>>();
    adb::store_le32(count->data(), grant);
    send(adb::kOkay, id, h.arg0, *count, count);
  } else {
    send(adb::kOkay, id, h.arg0);
  }
  services_.spawn(service_main(this, std::move(s), std::move(*req)));
}

void connection::handle_okay(const adb::message_header& h) {
  auto it = streams_.find(h.arg1);
  if (it == streams_.end()) return;  // crossed our CLSE
  if (it->second->remote_id() != h.arg0) {
    fail(wrong_remote_id(h, it->second->remote_id()));
    return;
  }
  std::string why;
  if (!it->second->on_okay(control_, why)) fail(std::move(why));
}

void connection::handle_clse(const adb::message_header& h) {
  auto it = streams_.find(h.arg1);
  if (it == streams_.end()) return;  // both sides closed at once
  if (h.arg0 != 0 && h.arg0 != it->second->remote_id()) {
    fail(wrong_remote_id(h, it->second->remote_id()));
    return;
  }
  auto s = std::move(it->second);
  streams_.erase(it);
  cfg_.log->debug("{}: stream {} ({}): the host closed it", peer_, s->local_id(), s->service());
  s->on_remote_close();  // no CLSE back: the host has already forgotten the stream
}

void connection::reset_streams() {
  auto streams = std::move(streams_);
  streams_.clear();
  wrte_target_.reset();
  for (auto& [id, s] : streams) s->on_remote_close();
}

std::uint32_t connection::allocate_id() {
  while (next_id_ == 0 || streams_.count(next_id_) != 0) ++next_id_;
  return next_id_++;
}

void connection::fail(std::string why) {
  if (stopping_) return;
  summary_.protocol_error = true;
  stop(std::move(why));
}

void connection::stop(std::string why) {
  if (stopping_) return;
  stopping_ = true;
  summary_.reason = std::move(why);
  error_code ignored;
  socket_.cancel(ignored);
  writer_wake_.cancel();
}

}  // namespace detail

asio::awaitable<connection_summary> async_serve_connection(vsocklib::stream_socket socket,
                                                           connection_config config,
                                                           std::string peer) {
  // The connection lives in this coroutine frame; run() returns only after every service
  // that refers to it has finished.
  detail::connection c(std::move(socket), std::move(config), std::move(peer));
  co_return co_await c.run();
}

}  // namespace adbd_sim
