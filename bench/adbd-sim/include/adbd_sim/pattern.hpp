// The bytes the source:N service sends: byte i of the stream is i % 251. A prime period
// does not line up with power-of-two chunk, packet or buffer sizes, so a chunk that a relay
// drops, repeats or reorders changes the bytes a checker sees.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace adbd_sim {

inline constexpr unsigned kPatternPeriod = 251;

inline std::byte pattern_byte(std::uint64_t offset) noexcept {
  return static_cast<std::byte>(offset % kPatternPeriod);
}

/// Fills OUT with the pattern bytes for stream offsets OFFSET, OFFSET+1, ...
void fill_pattern(std::span<std::byte> out, std::uint64_t offset) noexcept;

}  // namespace adbd_sim
