// vsock-soak run, what went wrong and how long recovery took: errors, losses and
// corruption recorded with where they were seen; an episode per fault or break, closed
// when every stream has verified a message sent after it started.
#include <spdlog/logger.h>

#include <fmt/format.h>

#include <algorithm>

#include "client.hpp"

namespace vsock_soak::detail {

void soak_client::first_error(const std::string& what) {
  if (r_.first_error.empty()) r_.first_error = what;
  ++sec_errors_;
}

void soak_client::open_episode(std::string cause, clock::time_point at) {
  episode e;
  e.start = at;
  e.cause = std::move(cause);
  // A stream paused on purpose cannot show recovery from something else until its own
  // pause ends (which is timed as a fault of its own), so it is not waited for.
  for (const auto& st : streams_) e.pending.push_back(!st->paused);
  e.remaining = static_cast<unsigned>(std::count(e.pending.begin(), e.pending.end(), true));
  if (e.remaining == 0) {
    close_episode(e, at, true);
    return;
  }
  episodes_.push_back(std::move(e));
}

void soak_client::close_episode(const episode& e, clock::time_point end, bool recovered) {
  recovery rc;
  rc.start_s = since_start(e.start);
  rc.cause = e.cause;
  rc.streams_broken = e.broken;
  rc.duration_ms = std::chrono::duration<double, std::milli>(end - e.start).count();
  rc.recovered = recovered;
  if (recovered) {
    log_->info("recovered from {} at {:.1f} s in {:.0f} ms ({} connections broken)", rc.cause,
               rc.start_s, rc.duration_ms, rc.streams_broken);
  }
  if (rc.recovered && rc.duration_ms > double(opt_.recovery_bound.count())) {
    log_->warn("recovery from {} took {:.0f} ms, over the {} ms bound", rc.cause, rc.duration_ms,
               opt_.recovery_bound.count());
  }
  max_recovery_ms_ = std::max(max_recovery_ms_, rc.duration_ms);
  ++recoveries_total_;
  if (r_.recoveries.size() < 10000) r_.recoveries.push_back(std::move(rc));
  else ++r_.recoveries_not_listed;
}

void soak_client::on_break(stream_state& st, const std::string& why) {
  ++r_.breaks;
  ++sec_breaks_;
  log_->debug("stream {}: connection lost at seq {}: {}", st.id, st.next_verify, why);
  // A break while a fault's command runs belongs to that fault, whose recovery is timed
  // from the command's return.
  if (commands_running_ > 0) {
    ++breaks_during_command_;
    return;
  }
  if (episodes_.empty()) open_episode("connection lost", clock::now());
  ++episodes_.back().broken;
}

void soak_client::on_verified(stream_state& st, clock::time_point sent_at) {
  const auto now = clock::now();
  for (auto it = episodes_.begin(); it != episodes_.end();) {
    if (it->pending[st.id] && sent_at >= it->start) {
      it->pending[st.id] = false;
      if (--it->remaining == 0) {
        close_episode(*it, now, true);
        it = episodes_.erase(it);
        continue;
      }
    }
    ++it;
  }
}

void soak_client::record_corruption(stream_state& st, std::uint64_t seq, std::uint64_t offset,
                                    bool header, std::string direction, std::string detail) {
  ++r_.corruptions;
  const auto text = fmt::format("stream {}: corrupt data at offset {} (seq {}{}, {}): {}", st.id,
                                offset, seq, header ? ", header" : "", direction, detail);
  log_->error("{}", text);
  first_error(text);
  if (!r_.first_corruption)
    r_.first_corruption = corruption{st.id, offset, seq, header, direction, detail};
}

void soak_client::record_lost(stream_state& st, std::uint64_t from_seq, std::uint64_t to_seq,
                              const std::string& where) {
  ++r_.gaps;
  // Sent messages' lengths are in the window (a small burst changes them); beyond it, as
  // they would be sent.
  std::uint64_t bytes = 0;
  for (auto s = from_seq; s < to_seq && s < from_seq + 100000; ++s) {
    auto m = std::find_if(st.inflight.begin(), st.inflight.end(),
                          [s](const sent_message& x) { return x.seq == s; });
    bytes += m != st.inflight.end() ? m->length : message_length(opt_.seed, st.id, s, opt_.sizes);
  }
  r_.lost_messages += to_seq - from_seq;
  r_.lost_bytes += bytes;
  const auto text = fmt::format("stream {}: {} messages lost ({}): seq {} to {}", st.id,
                                to_seq - from_seq, where, from_seq, to_seq - 1);
  log_->error("{}", text);
  first_error(text);
}

}  // namespace vsock_soak::detail
