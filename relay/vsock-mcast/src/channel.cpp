#include "vsock_mcast/channel.hpp"

#include <algorithm>
#include <cstring>

#include "vsocklib/io_now.hpp"

namespace vsock_mcast {

shared_record data_record(std::span<const std::uint8_t> packet) {
  auto rec = std::make_shared<std::vector<std::uint8_t>>();
  rec->reserve(kHeaderSize + packet.size());
  encode_data(packet, *rec);
  return rec;
}
channel::channel(vsocklib::seqpacket_socket s, queue_limits limits)
    : socket_(std::move(s)),
      limits_(limits),
      in_(kMaxRecord + 1),
      wake_(std::get<0>(socket_).get_executor(), asio::steady_timer::time_point::max()) {}

channel::channel(vsocklib::stream_socket s, queue_limits limits, std::size_t max_write)
    : socket_(std::move(s)),
      limits_(limits),
      max_write_(std::max<std::size_t>(max_write, 1)),
      in_(kStreamBuffer),
      wake_(std::get<1>(socket_).get_executor(), asio::steady_timer::time_point::max()) {
  batch_.reserve(kWriteBatch);
  pieces_.reserve(kWriteBatch);
}

asio::awaitable<channel::read_result> channel::read() {
  read_result r;
  if (auto* sp = std::get_if<vsocklib::seqpacket_socket>(&socket_)) {
    asio::socket_base::message_flags flags = 0;
    auto [ec, n] = co_await sp->async_receive(asio::buffer(in_), flags, vsocklib::use_tuple);
    if (ec) {
      r.ec = ec;
      co_return r;
    }
    if (n == 0) {  // a seqpacket peer's orderly shutdown
      r.ec = asio::error::eof;
      co_return r;
    }
    // A message filling the buffer (one byte more than a record can be) was longer than
    // any record: the kernel truncated it.
    auto d = decode(std::span<const std::uint8_t>(in_.data(), n), true);
    r.error = n > kMaxRecord ? decode_error::length_mismatch : d.error;
    r.rec = d.rec;
  } else {
    co_await read_stream(r);
    if (r.ec || r.fatal) co_return r;
  }
  if (r.error == decode_error::none) {
    malformed_in_row_ = 0;
  } else if (++malformed_in_row_ >= kMaxConsecutiveMalformed) {
    r.fatal = true;
  }
  co_return r;
}

asio::awaitable<void> channel::read_stream(read_result& r) {
  auto& s = std::get<vsocklib::stream_socket>(socket_);
  for (;;) {
    const std::size_t have = end_ - begin_;
    if (have >= kHeaderSize) {
      auto h = decode_header(std::span<const std::uint8_t>(in_.data() + begin_, have));
      if (h.error != decode_error::none) {
        // The length cannot be trusted: the next record's start is unknown.
        r.error = h.error;
        r.fatal = true;
        co_return;
      }
      const std::size_t size = kHeaderSize + h.body_length;
      if (have >= size) {
        auto d = decode(std::span<const std::uint8_t>(in_.data() + begin_, size), true);
        begin_ += size;
        r.error = d.error;
        r.rec = d.rec;  // valid until the next read, which may move the buffer's contents
        co_return;
      }
    }
    // Room for at least one largest record behind the unread bytes (which are shorter than
    // a record here), so a read always has space and a record never straddles the end.
    if (in_.size() - end_ < kMaxRecord) {
      std::memmove(in_.data(), in_.data() + begin_, have);
      begin_ = 0;
      end_ = have;
    }
    // Asio's own read, whose completion passes through the event loop: a refill takes up to
    // kStreamBuffer bytes of records, and a guest flooded by its host must still serve its
    // TUN, its writer and its control socket between refills.
    auto [ec, n] = co_await s.async_read_some(asio::buffer(in_.data() + end_, in_.size() - end_),
                                              vsocklib::use_tuple);
    if (ec) {
      r.ec = ec;
      co_return;
    }
    end_ += n;
  }
}

bool channel::send(shared_record rec) {
  if (!open_ || queued_packets() >= limits_.packets ||
      queued_bytes_ + rec->size() > limits_.bytes) {
    return false;
  }
  queued_bytes_ += rec->size();
  queue_.push_back(std::move(rec));
  wake_.cancel();
  return true;
}

// RECORDS in order, in gathered writes of at most max_write_ bytes.
asio::awaitable<error_code> channel::write_stream(std::span<const asio::const_buffer> records) {
  auto& s = std::get<vsocklib::stream_socket>(socket_);
  std::size_t next = 0;  // the first record not wholly written
  std::size_t done = 0;  // bytes of it already written
  while (next < records.size()) {
    pieces_.clear();
    std::size_t room = max_write_;
    for (std::size_t k = next; k < records.size() && room > 0; ++k) {
      const asio::const_buffer rest = records[k] + (k == next ? done : 0);
      pieces_.push_back(asio::buffer(rest, room));
      room -= pieces_.back().size();
    }
    auto [ec, n] = co_await vsocklib::async_write_now(s, pieces_);
    if (ec) co_return ec;
    for (done += n; next < records.size() && done >= records[next].size(); ++next) {
      done -= records[next].size();
    }
  }
  co_return error_code();
}

asio::awaitable<error_code> channel::run_writer() {
  while (open_) {
    if (queue_.empty()) {
      wake_.expires_at(asio::steady_timer::time_point::max());
      co_await wake_.async_wait(vsocklib::use_tuple);
      continue;
    }
    // The records being written leave the queue but stay owned here, so close() (which
    // empties the queue) cannot free memory a write in flight still reads.
    in_flight_.clear();
    std::size_t bytes = 0;
    while (!queue_.empty() && in_flight_.size() < kWriteBatch) {
      bytes += queue_.front()->size();
      in_flight_.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    error_code ec;
    if (auto* sp = std::get_if<vsocklib::seqpacket_socket>(&socket_)) {
      for (const auto& rec : in_flight_) {
        auto [sec, n] = co_await sp->async_send(asio::buffer(*rec), 0, vsocklib::use_tuple);
        ec = sec;
        if (ec) break;
      }
    } else {
      // On a stream a batch needs few writes: fewer system calls under load.
      batch_.clear();
      for (const auto& rec : in_flight_) batch_.push_back(asio::buffer(*rec));
      ec = co_await write_stream(batch_);
    }
    in_flight_.clear();
    if (open_) queued_bytes_ -= bytes;
    if (ec) co_return ec;
  }
  co_return error_code(asio::error::operation_aborted);
}

void channel::close() {
  open_ = false;
  queue_.clear();
  queued_bytes_ = 0;
  error_code ignored;
  std::visit([&](auto& s) { s.close(ignored); }, socket_);
  wake_.cancel();
}

}  // namespace vsock_mcast
