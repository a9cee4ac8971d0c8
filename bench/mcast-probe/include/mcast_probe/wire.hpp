// The probe datagram: "MCP1", run id (u32), sequence (u64), text length (u16), text, zero
// padding up to the size the sender chose. All integers big-endian.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mcast_probe {

constexpr std::size_t kHeader = 4 + 4 + 8 + 2;  // magic, run id, sequence, text length
constexpr std::size_t kMaxText = 65535;         // what the u16 text length can say
constexpr std::size_t kMaxDatagram = 65507;     // largest UDP payload over IPv4

struct datagram {
  std::uint32_t run_id = 0;
  std::uint64_t seq = 0;
  std::string text;
};

/// Writes the header and TEXT at the start of BUF, which must hold kHeader + TEXT.size()
/// bytes; the rest of BUF (the padding) is left as it is.
void encode(std::vector<std::uint8_t>& buf, std::uint32_t run_id, std::uint64_t seq,
            const std::string& text);

/// The datagram in the N bytes at P, or nullopt when they are not one (no magic, cut short).
std::optional<datagram> decode(const std::uint8_t* p, std::size_t n);

}  // namespace mcast_probe
