// One ADB stream as a service sees it: bytes from the host (WRTE payloads, acknowledged
// with OKAY once consumed) and bytes to the host (sent as WRTE). Without delayed_ack one
// WRTE is in flight per direction, each waiting for its OKAY. With delayed_ack (both sides
// advertise it) OKAY carries the number of bytes consumed, and a sender may have WRTEs in
// flight while the peer's window (its grant minus the bytes not yet acknowledged) is
// positive. Private to adbd-sim.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vsocklib/asio.hpp"

namespace spdlog {
class logger;
}

namespace adbd_sim::detail {

namespace asio = vsocklib::asio;

/// What a stream needs from its connection. Implemented by the connection; all calls on
/// the connection's executor.
class connection_core {
 public:
  /// Queues a message. OWNER keeps PAYLOAD's memory alive until it has been written.
  virtual void send(std::uint32_t command, std::uint32_t arg0, std::uint32_t arg1,
                    std::span<const std::byte> payload = {},
                    std::shared_ptr<const void> owner = {}) = 0;
  /// The stream LOCAL_ID has sent its CLSE: forget it.
  virtual void stream_closed(std::uint32_t local_id) = 0;
  /// The session's negotiated maximum payload.
  virtual std::uint32_t max_payload() const = 0;
  virtual spdlog::logger& log() = 0;
  virtual const std::string& peer() const = 0;

 protected:
  ~connection_core() = default;
};

/// Thread safety: none; everything runs on the connection's executor.
class adb_stream : public std::enable_shared_from_this<adb_stream> {
 public:
  /// SEND_WINDOW: the host's grant from its OPEN (arg1) when delayed_ack is on; nullopt
  /// without. RECEIVE_WINDOW: what we grant the host (delayed_ack only).
  adb_stream(connection_core& conn, const asio::any_io_executor& ex, std::uint32_t local_id,
             std::uint32_t remote_id, std::string service,
             std::optional<std::uint32_t> send_window = std::nullopt,
             std::uint32_t receive_window = 0);

  std::uint32_t local_id() const noexcept { return local_id_; }
  std::uint32_t remote_id() const noexcept { return remote_id_; }
  const std::string& service() const noexcept { return service_; }
  /// No more I/O: the host closed it, we closed it, or the connection ended.
  bool closed() const noexcept { return closed_; }
  std::uint32_t max_payload() const { return conn_.max_payload(); }
  connection_core& connection() noexcept { return conn_; }
  bool delayed_ack() const noexcept { return send_window_.has_value(); }

  // ---- host -> service ----

  /// Received bytes not yet consumed: a view into the last WRTE's payload.
  std::span<const std::byte> available() const noexcept;
  /// Marks N bytes of available() consumed. When a WRTE is used up the host gets its
  /// OKAY, which lets it send the next one.
  void consume(std::size_t n);
  /// Waits until available() is not empty (true) or the stream is closed (false).
  /// Buffered output is flushed first: a service that answers requests must not sit on
  /// its answer while it waits for the next request.
  asio::awaitable<bool> async_wait_readable();
  /// Reads exactly OUT.size() bytes; false when the stream closed first.
  asio::awaitable<bool> async_read_exact(std::span<std::byte> out);

  // ---- service -> host ----

  /// Room for N bytes of output (N is capped at max_payload()). Waits while a WRTE is
  /// unacknowledged, and sends the buffered bytes first when N would not fit with them.
  /// Empty when the stream is closed. Fill it, then commit() what was used.
  asio::awaitable<std::span<std::byte>> async_prepare(std::size_t n);
  void commit(std::size_t n) noexcept { out_used_ += n; }
  /// Copies DATA into the output, sending WRTEs as the buffer fills; false when closed.
  asio::awaitable<bool> async_write(std::span<const std::byte> data);
  /// Sends the buffered output now (waiting only for the previous WRTE's OKAY). False
  /// when the stream is closed.
  asio::awaitable<bool> async_flush();
  /// Sends the buffered output, then CLSE. Does nothing when already closed.
  asio::awaitable<void> async_close();

  // ---- called by the connection ----

  /// A WRTE of LENGTH bytes begins. False, with WHY, when the host broke flow control:
  /// without delayed_ack a WRTE before the OKAY for the previous one; with it, more bytes
  /// than our grant allows.
  bool begin_input(std::uint32_t length, std::string& why);
  void input_piece(std::span<const std::byte> piece);
  void end_input();
  /// The host's OKAY for our WRTE (PAYLOAD: with delayed_ack the 4-byte count of bytes
  /// acknowledged, else empty). False, with WHY, when it acknowledges nothing outstanding
  /// or has the wrong payload.
  bool on_okay(std::span<const std::byte> payload, std::string& why);
  /// The host closed the stream, or the connection ended: no CLSE is sent.
  void on_remote_close();

  /// A WRTE we queued has been written to the connection (delayed_ack: its buffer is free).
  void on_written() noexcept;

  /// Most WRTE bytes unacknowledged at once, to the host and from it: more than one
  /// WRTE's worth shows delayed_ack at work.
  std::uint64_t max_unacked_out() const noexcept { return max_unacked_out_; }
  std::uint64_t max_unacked_in() const noexcept { return max_unacked_in_; }

 private:
  void wake_all();
  bool buffer_busy() const noexcept;  // the output buffer is a WRTE that is not yet written
  bool can_send() const noexcept;     // flow control lets a WRTE go now
  void send_output();                 // the buffered bytes as one WRTE
  void acknowledge();                 // OKAY for what the service has consumed
  std::size_t queued_input() const noexcept {
    return static_cast<std::size_t>(in_recv_ - in_read_);
  }

  connection_core& conn_;
  std::uint32_t local_id_;
  std::uint32_t remote_id_;
  std::string service_;
  bool closed_ = false;

  // Input: a ring of received WRTE payloads. Positions are byte counts since the stream
  // began (index = position % ring size): consumed <= complete <= received. Without
  // delayed_ack one WRTE at a time (the ring grows to the largest WRTE); with it the ring
  // is our grant + max_payload (the host may overshoot its window by one WRTE), fixed
  // once allocated, so spans handed to the service stay valid until consumed.
  std::vector<std::byte> in_buf_;
  std::uint64_t in_read_ = 0;      // consumed by the service
  std::uint64_t in_complete_ = 0;  // end of the last complete WRTE
  std::uint64_t in_recv_ = 0;      // received so far
  std::uint64_t in_acked_ = 0;     // delayed_ack: consumed and acknowledged
  bool in_busy_ = false;           // no delayed_ack: a WRTE arrived and is not yet acknowledged
  std::uint32_t receive_window_ = 0;
  asio::steady_timer input_wake_;

  // Output. Without delayed_ack: one buffer; while its WRTE is unacknowledged it is not
  // touched. With it: two buffers, one being filled while the other is written to the
  // connection; WRTEs go while the host's window (send_window_) is positive.
  std::vector<std::byte> out_buf_;
  std::vector<std::byte> out_writing_;
  std::size_t out_used_ = 0;
  bool in_flight_ = false;  // no delayed_ack: our WRTE awaits its OKAY
  bool writing_ = false;    // delayed_ack: out_writing_ is queued on the connection
  std::optional<std::int64_t> send_window_;
  std::uint64_t out_unacked_ = 0;  // delayed_ack: bytes sent and not yet acknowledged
  std::uint64_t max_unacked_out_ = 0;
  std::uint64_t max_unacked_in_ = 0;
  asio::steady_timer output_wake_;
};

}  // namespace adbd_sim::detail
