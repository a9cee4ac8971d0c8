#include "vsock_soak/frame.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace vsock_soak {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// One generator per (seed, stream, seq, purpose): a different purpose keeps the length
// draw independent of the payload bytes.
std::uint64_t key(std::uint64_t seed, std::uint32_t stream, std::uint64_t seq,
                  std::uint64_t purpose) {
  std::uint64_t s = seed ^ (std::uint64_t{stream} << 32) ^ (purpose * 0x632be59bd9b4e019ull);
  std::uint64_t k = splitmix64(s);
  s = k ^ seq;
  return splitmix64(s);
}

void put_u32(std::byte* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
std::uint32_t get_u32(const std::byte* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t(std::to_integer<std::uint8_t>(p[i])) << (8 * i);
  return v;
}

std::uint32_t parse_size(std::string_view t, const std::string& whole) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size() || t.empty()) {
    throw std::invalid_argument("\"" + whole + "\": \"" + std::string(t) + "\" is not a number");
  }
  if (v < 1 || v > kMaxLength) {
    throw std::invalid_argument("\"" + whole + "\": " + std::string(t) + " is outside 1.." +
                                std::to_string(kMaxLength));
  }
  return static_cast<std::uint32_t>(v);
}

}  // namespace

void put_u64(std::span<std::byte> out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::byte>(v >> (8 * i));
}
std::uint64_t get_u64(std::span<const std::byte> in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t(std::to_integer<std::uint8_t>(in[i])) << (8 * i);
  return v;
}

std::uint64_t frame_check(std::span<const std::byte, 24> head, std::span<const std::byte> payload) {
  // Word-at-a-time multiply-rotate hash: fast enough not to limit loopback runs, and any
  // single flipped bit changes it (each step is a bijection of the state).
  std::uint64_t h = 0x84222325cbf29ce4ull;
  auto mix = [&h](std::uint64_t w) {
    h ^= w;
    h *= 0x100000001b3ull;
    h ^= h >> 29;
  };
  for (std::size_t i = 0; i < 24; i += 8) mix(get_u64(head.subspan(i, 8)));
  std::size_t i = 0;
  for (; i + 8 <= payload.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, payload.data() + i, 8);
    mix(w);
  }
  std::uint64_t tail = 0;
  for (std::size_t j = 0; i + j < payload.size(); ++j) {
    tail |= std::uint64_t(std::to_integer<std::uint8_t>(payload[i + j])) << (8 * j);
  }
  mix(tail ^ (std::uint64_t{payload.size()} << 56));
  return h;
}

void encode_header(frame_type type, std::uint32_t stream, std::uint64_t seq,
                   std::span<const std::byte> payload, std::span<std::byte, kHeaderSize> out) {
  std::memset(out.data(), 0, kHeaderSize);
  put_u32(out.data(), kMagic);
  out[4] = static_cast<std::byte>(type);
  put_u32(out.data() + 8, stream);
  put_u32(out.data() + 12, static_cast<std::uint32_t>(payload.size()));
  put_u64(out.subspan(16, 8), seq);
  put_u64(out.subspan(24, 8), frame_check(out.first<24>(), payload));
}

header decode_header(std::span<const std::byte, kHeaderSize> in, std::uint32_t& magic) {
  magic = get_u32(in.data());
  header h;
  h.type = static_cast<frame_type>(std::to_integer<std::uint8_t>(in[4]));
  h.stream = get_u32(in.data() + 8);
  h.length = get_u32(in.data() + 12);
  h.seq = get_u64(in.subspan(16, 8));
  h.check = get_u64(in.subspan(24, 8));
  return h;
}

bool check_matches(std::span<const std::byte, kHeaderSize> in, std::span<const std::byte> payload) {
  return frame_check(in.first<24>(), payload) == get_u64(in.subspan(24, 8));
}

size_mix size_mix::parse(const std::string& text) {
  size_mix m;
  if (auto dots = text.find(".."); dots != std::string::npos) {
    m.min = parse_size(std::string_view(text).substr(0, dots), text);
    m.max = parse_size(std::string_view(text).substr(dots + 2), text);
    if (m.min > m.max) throw std::invalid_argument("\"" + text + "\": MIN is above MAX");
    return m;
  }
  std::string_view rest = text;
  while (true) {
    auto comma = rest.find(',');
    m.list.push_back(parse_size(rest.substr(0, comma), text));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  m.min = *std::min_element(m.list.begin(), m.list.end());
  m.max = *std::max_element(m.list.begin(), m.list.end());
  return m;
}

std::string size_mix::to_string() const {
  if (list.empty()) return std::to_string(min) + ".." + std::to_string(max);
  std::string s;
  for (auto v : list) s += (s.empty() ? "" : ",") + std::to_string(v);
  return s;
}

std::uint32_t message_length(std::uint64_t seed, std::uint32_t stream, std::uint64_t seq,
                             const size_mix& sizes) {
  const std::uint64_t r = key(seed, stream, seq, 1);
  if (!sizes.list.empty()) return sizes.list[r % sizes.list.size()];
  if (sizes.min == sizes.max) return sizes.min;
  // Log-uniform: u in [0,1) -> min * (max/min)^u, so 1..65536 gives as many 1-2 byte
  // messages as 32-64 KiB ones (small frames stress framing, large ones throughput).
  const double u = double(r >> 11) * 0x1.0p-53;
  const double v = double(sizes.min) * std::pow(double(sizes.max) / sizes.min, u);
  return std::clamp<std::uint32_t>(static_cast<std::uint32_t>(v), sizes.min, sizes.max);
}

void fill_payload(std::uint64_t seed, std::uint32_t stream, std::uint64_t seq,
                  std::span<std::byte> out) {
  std::uint64_t s = key(seed, stream, seq, 2);
  std::size_t i = 0;
  for (; i + 8 <= out.size(); i += 8) {
    const std::uint64_t w = splitmix64(s);
    std::memcpy(out.data() + i, &w, 8);
  }
  if (i < out.size()) {
    const std::uint64_t w = splitmix64(s);
    std::memcpy(out.data() + i, &w, out.size() - i);
  }
}

std::optional<std::size_t> first_mismatch(std::uint64_t seed, std::uint32_t stream,
                                          std::uint64_t seq, std::span<const std::byte> got,
                                          std::vector<std::byte>& scratch) {
  if (got.empty()) return std::nullopt;  // memcmp may not be given a null pointer
  scratch.resize(got.size());
  fill_payload(seed, stream, seq, scratch);
  if (std::memcmp(scratch.data(), got.data(), got.size()) == 0) return std::nullopt;
  auto [a, b] = std::mismatch(got.begin(), got.end(), scratch.begin());
  return static_cast<std::size_t>(a - got.begin());
}

verdict verify_data(std::uint64_t seed, std::uint32_t stream, std::uint64_t expected_seq,
                    std::uint32_t expected_length, std::uint32_t magic, const header& h,
                    std::span<const std::byte, kHeaderSize> raw_header,
                    std::span<const std::byte> payload, std::vector<std::byte>& scratch) {
  verdict v;
  auto corrupt_header = [&](std::string why) {
    v.what = verdict::kind::corrupt;
    v.index = kHeaderIndex;
    v.detail = std::move(why);
    return v;
  };
  if (magic != kMagic) return corrupt_header("bad magic");
  const bool sound = check_matches(raw_header, payload);
  if (h.type != frame_type::data)
    return corrupt_header("unexpected frame type " + std::to_string(int(h.type)));
  if (h.stream != stream) return corrupt_header("stream id " + std::to_string(h.stream));
  if (h.seq != expected_seq && sound) {
    // The header is intact, so this is really another message: whole messages were lost
    // (or repeated) on the way.
    v.what = h.seq > expected_seq ? verdict::kind::gap : verdict::kind::duplicate;
    v.got_seq = h.seq;
    v.detail = "expected seq " + std::to_string(expected_seq) + ", got " + std::to_string(h.seq);
    return v;
  }
  if (h.seq != expected_seq) return corrupt_header("seq field " + std::to_string(h.seq));
  if (h.length != expected_length)
    return corrupt_header("length field " + std::to_string(h.length));
  if (auto at = first_mismatch(seed, stream, expected_seq, payload, scratch)) {
    v.what = verdict::kind::corrupt;
    v.index = *at;
    v.detail = "payload byte differs";
    return v;
  }
  // Payload intact but the check fails: the damage is in the check field itself.
  if (!sound) return corrupt_header("check field");
  return v;
}

}  // namespace vsock_soak
