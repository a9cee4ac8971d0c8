// One ADB stream as a service sees it: bytes from the host (WRTE payloads, acknowledged
// with OKAY once consumed) and bytes to the host (sent as WRTE, one at a time, each waiting
// for the host's OKAY). Private to adbd-sim.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
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
  adb_stream(connection_core& conn, const asio::any_io_executor& ex, std::uint32_t local_id,
             std::uint32_t remote_id, std::string service);

  std::uint32_t local_id() const noexcept { return local_id_; }
  std::uint32_t remote_id() const noexcept { return remote_id_; }
  const std::string& service() const noexcept { return service_; }
  /// No more I/O: the host closed it, we closed it, or the connection ended.
  bool closed() const noexcept { return closed_; }
  std::uint32_t max_payload() const { return conn_.max_payload(); }
  connection_core& connection() noexcept { return conn_; }

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

  /// A WRTE of LENGTH bytes begins. False when the previous one is not yet acknowledged:
  /// the host broke flow control.
  bool begin_input(std::uint32_t length);
  void input_piece(std::span<const std::byte> piece);
  void end_input();
  /// The host's OKAY for our WRTE. False when no WRTE was outstanding.
  bool on_okay();
  /// The host closed the stream, or the connection ended: no CLSE is sent.
  void on_remote_close();

  bool output_in_flight() const noexcept { return in_flight_; }

 private:
  void wake_all();
  void send_output();  // the buffered bytes as one WRTE
  asio::awaitable<void> wait(asio::steady_timer& t);

  connection_core& conn_;
  std::uint32_t local_id_;
  std::uint32_t remote_id_;
  std::string service_;
  bool closed_ = false;

  // Input: one WRTE payload at a time (flow control guarantees no more).
  std::vector<std::byte> in_buf_;
  std::size_t in_fill_ = 0;  // bytes of the WRTE received so far
  std::size_t in_pos_ = 0;   // bytes consumed by the service
  bool in_busy_ = false;     // a WRTE arrived (or is arriving) and is not yet acknowledged
  bool in_ready_ = false;    // ... and it is complete
  asio::steady_timer input_wake_;

  // Output: one buffer; while its WRTE is unacknowledged it is not touched.
  std::vector<std::byte> out_buf_;
  std::size_t out_used_ = 0;
  bool in_flight_ = false;
  asio::steady_timer output_wake_;
};

}  // namespace adbd_sim::detail
