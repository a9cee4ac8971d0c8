// One connection between a host and a guest endpoint, carrying records: one per message
// over vsock-seqpacket, length-delimited over byte streams. Reading validates every record
// (record.hpp); writing drains a bounded queue. Thread safety: one io_context thread.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <tuple>
#include <variant>
#include <vector>

#include "vsock_mcast/config.hpp"
#include "vsock_mcast/record.hpp"
#include "vsocklib/asio.hpp"

namespace vsock_mcast {

namespace asio = vsocklib::asio;
using vsocklib::error_code;

/// A record to send, shared between the queues of the guests it fans out to.
using shared_record = std::shared_ptr<const std::vector<std::uint8_t>>;

/// A DATA record carrying PACKET (a whole IP packet), to send to one guest or many.
shared_record data_record(std::span<const std::uint8_t> packet);

/// A peer that sends this many malformed records without a valid one in between is
/// disconnected: it is not a version mismatch worth tolerating but a broken peer.
inline constexpr unsigned kMaxConsecutiveMalformed = 8;

/// A stream is read in large chunks, several records per system call; the buffer holds
/// at least one largest record.
inline constexpr std::size_t kStreamBuffer = 2 * kMaxRecord;

/// Records taken from the queue per batch. On a stream a batch goes out in gathered writes
/// of up to the channel's max_write bytes each (a record may span two writes).
inline constexpr std::size_t kWriteBatch = 64;

class channel {
 public:
  channel(vsocklib::seqpacket_socket s, queue_limits limits);
  /// MAX_WRITE: the largest write into S (vsocklib::address::max_write() of its address:
  /// one page into vsock, no limit into unix and tcp).
  channel(vsocklib::stream_socket s, queue_limits limits, std::size_t max_write);

  struct read_result {
    /// Transport failure or end of stream (eof): the channel is done.
    error_code ec;
    /// none: REC is valid until the next read. Otherwise the record was malformed and
    /// skipped (count it and read on) - unless FATAL says the channel must be closed
    /// (a stream whose framing is lost, or too many malformed records in a row).
    decode_error error = decode_error::none;
    bool fatal = false;
    record rec;
  };

  /// Reads the next record.
  asio::awaitable<read_result> read();

  /// Queues REC for sending. False (and REC dropped) when the queue is full or closed.
  bool send(shared_record rec);
  /// Sends the queue until the channel is closed or a write fails.
  asio::awaitable<error_code> run_writer();

  /// Closes the socket; pending reads and the writer end.
  void close();
  bool is_open() const noexcept { return open_; }
  bool seqpacket() const noexcept { return socket_.index() == 0; }

  /// Records and bytes waiting, those being written included (the bound applies to both).
  std::size_t queued_packets() const noexcept { return queue_.size() + in_flight_.size(); }
  std::size_t queued_bytes() const noexcept { return queued_bytes_; }

 private:
  std::variant<vsocklib::seqpacket_socket, vsocklib::stream_socket> socket_;
  queue_limits limits_;
  std::size_t max_write_ = SIZE_MAX;
  asio::awaitable<void> read_stream(read_result& r);
  asio::awaitable<error_code> write_stream(std::span<const asio::const_buffer> records);

  // seqpacket: one record (+1 byte to see oversize messages); stream: kStreamBuffer, with
  // the unread bytes in [begin_, end_).
  std::vector<std::uint8_t> in_;
  std::size_t begin_ = 0, end_ = 0;
  std::deque<shared_record> queue_;
  std::vector<shared_record> in_flight_;
  std::vector<asio::const_buffer> batch_, pieces_;  // stream writes; reserved once
  std::size_t queued_bytes_ = 0;
  asio::steady_timer wake_;
  unsigned malformed_in_row_ = 0;
  bool open_ = true;
};

}  // namespace vsock_mcast
