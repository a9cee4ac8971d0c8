#include "vsocklib/pump.hpp"

namespace vsocklib {

std::string pump_options::validate() const {
  if (chunk_size < kMinChunk || chunk_size > kMaxChunk) {
    return "chunk size " + std::to_string(chunk_size) + " is outside [" +
           std::to_string(kMinChunk) + ", " + std::to_string(kMaxChunk) + "]";
  }
  if (chunks_in_flight < 1 || chunks_in_flight > kMaxChunksInFlight) {
    return "chunks in flight " + std::to_string(chunks_in_flight) + " is outside [1, " +
           std::to_string(kMaxChunksInFlight) + "]";
  }
  if (linger.count() < 1 || linger > kMaxLinger) {
    return "linger " + std::to_string(linger.count()) + " ms is outside [1, " +
           std::to_string(kMaxLinger.count()) + "]";
  }
  return {};
}

const char* to_string(pump_end e) noexcept {
  switch (e) {
    case pump_end::finished: return "finished";
    case pump_end::a_failed: return "side A failed";
    case pump_end::b_failed: return "side B failed";
    case pump_end::cancelled: return "cancelled";
    case pump_end::invalid_options: return "invalid options";
  }
  return "?";
}

}  // namespace vsocklib
