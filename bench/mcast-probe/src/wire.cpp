#include "mcast_probe/wire.hpp"

#include <cstring>

namespace mcast_probe {

namespace {

constexpr char kMagic[4] = {'M', 'C', 'P', '1'};

void put_be(std::uint8_t* p, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}

std::uint64_t get_be(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

void encode(std::vector<std::uint8_t>& buf, std::uint32_t run_id, std::uint64_t seq,
            const std::string& text) {
  std::memcpy(buf.data(), kMagic, 4);
  put_be(buf.data() + 4, run_id, 4);
  put_be(buf.data() + 8, seq, 8);
  put_be(buf.data() + 16, text.size(), 2);
  std::memcpy(buf.data() + kHeader, text.data(), text.size());
}

std::optional<datagram> decode(const std::uint8_t* p, std::size_t n) {
  if (n < kHeader || std::memcmp(p, kMagic, 4) != 0) return std::nullopt;
  datagram d;
  d.run_id = static_cast<std::uint32_t>(get_be(p + 4, 4));
  d.seq = get_be(p + 8, 8);
  const std::size_t len = get_be(p + 16, 2);
  if (kHeader + len > n) return std::nullopt;
  d.text.assign(reinterpret_cast<const char*>(p + kHeader), len);
  return d;
}

}  // namespace mcast_probe
