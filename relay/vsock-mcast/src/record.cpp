#include "vsock_mcast/record.hpp"

#include <arpa/inet.h>

#include <stdexcept>

namespace vsock_mcast {
namespace {

std::uint16_t get16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t get32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}
void put16(std::vector<std::uint8_t>& out, std::size_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}
void put_header(std::vector<std::uint8_t>& out, record_type t, std::size_t body) {
  out.push_back(kVersion);
  out.push_back(static_cast<std::uint8_t>(t));
  put16(out, body);
}

decode_error decode_hello(std::span<const std::uint8_t> body, hello& h) {
  if (body.size() < kHelloFixed) return decode_error::short_body;
  if (body[0] < 1 || body[0] > 2 || body[1] < 1 || body[1] > 2 || body[2] != 0 || body[3] != 0) {
    return decode_error::bad_role;
  }
  auto name = body.subspan(kHelloFixed);
  if (name.size() > kMaxName) return decode_error::bad_name;
  for (auto c : name) {
    if (c < 0x20 || c > 0x7e) return decode_error::bad_name;
  }
  h.role = static_cast<role>(body[0]);
  h.mode = static_cast<mode>(body[1]);
  h.address = get32(body.data() + 4);
  h.name.assign(name.begin(), name.end());
  return decode_error::none;
}

}  // namespace

const char* to_string(decode_error e) noexcept {
  switch (e) {
    case decode_error::none: return "none";
    case decode_error::truncated: return "truncated";
    case decode_error::bad_version: return "bad_version";
    case decode_error::unknown_type: return "unknown_type";
    case decode_error::length_mismatch: return "length_mismatch";
    case decode_error::short_body: return "short_body";
    case decode_error::bad_role: return "bad_role";
    case decode_error::bad_name: return "bad_name";
    case decode_error::bad_ip_header: return "bad_ip_header";
    case decode_error::ip_length_mismatch: return "ip_length_mismatch";
    case decode_error::not_multicast: return "not_multicast";
  }
  return "unknown";
}

header_result decode_header(std::span<const std::uint8_t> bytes) noexcept {
  header_result r;
  if (bytes.size() < kHeaderSize) {
    r.error = decode_error::truncated;
    return r;
  }
  if (bytes[0] != kVersion) {
    r.error = decode_error::bad_version;
    return r;
  }
  if (bytes[1] < 1 || bytes[1] > 4) {
    r.error = decode_error::unknown_type;
    return r;
  }
  r.type = static_cast<record_type>(bytes[1]);
  r.body_length = get16(bytes.data() + 2);
  return r;
}

decode_error check_ip_packet(std::span<const std::uint8_t> p) noexcept {
  if (p.size() < kMinIpPacket) return decode_error::short_body;
  if ((p[0] >> 4) != 4) return decode_error::bad_ip_header;
  const std::size_t ihl = std::size_t{p[0] & 0x0fu} * 4;
  if (ihl < kMinIpPacket || ihl > p.size()) return decode_error::bad_ip_header;
  if (get16(p.data() + 2) != p.size()) return decode_error::ip_length_mismatch;
  return decode_error::none;
}

decode_result decode(std::span<const std::uint8_t> bytes, bool exact) noexcept {
  decode_result r;
  auto h = decode_header(bytes);
  if (h.error != decode_error::none) {
    r.error = h.error;
    return r;
  }
  if (bytes.size() < kHeaderSize + h.body_length) {
    r.error = decode_error::truncated;
    return r;
  }
  if (exact && bytes.size() != kHeaderSize + h.body_length) {
    r.error = decode_error::length_mismatch;
    return r;
  }
  auto body = bytes.subspan(kHeaderSize, h.body_length);
  r.rec.type = h.type;
  switch (h.type) {
    case record_type::hello: try { r.error = decode_hello(body, r.rec.hello);
      } catch (const std::bad_alloc&) {  // a name of at most 64 bytes; only out of memory
        r.error = decode_error::bad_name;
      }
      break;
    case record_type::data:
      r.error = check_ip_packet(body);
      r.rec.packet = body;
      break;
    case record_type::join:
    case record_type::leave:
      if (body.size() != 4) {
        r.error = decode_error::short_body;
        break;
      }
      r.rec.group = get32(body.data());
      if (!is_multicast(r.rec.group)) r.error = decode_error::not_multicast;
      break;
  }
  if (r.error == decode_error::none) r.consumed = kHeaderSize + h.body_length;
  return r;
}

void encode_hello(const hello& h, std::vector<std::uint8_t>& out) {
  const std::size_t name_len = std::min(h.name.size(), kMaxName);
  put_header(out, record_type::hello, kHelloFixed + name_len);
  out.push_back(static_cast<std::uint8_t>(h.role));
  out.push_back(static_cast<std::uint8_t>(h.mode));
  out.push_back(0);
  out.push_back(0);
  put32(out, h.address);
  for (std::size_t i = 0; i < name_len; ++i) {
    const auto c = static_cast<unsigned char>(h.name[i]);
    out.push_back(c >= 0x20 && c <= 0x7e ? c : '?');
  }
}

void encode_data(std::span<const std::uint8_t> packet, std::vector<std::uint8_t>& out) {
  if (packet.size() > kMaxBody) throw std::length_error("packet longer than a record can carry");
  put_header(out, record_type::data, packet.size());
  out.insert(out.end(), packet.begin(), packet.end());
}

void encode_membership(record_type join_or_leave, std::uint32_t group,
                       std::vector<std::uint8_t>& out) {
  put_header(out, join_or_leave, 4);
  put32(out, group);
}

std::string ipv4_to_string(std::uint32_t addr) {
  return std::to_string(addr >> 24) + "." + std::to_string((addr >> 16) & 0xff) + "." +
         std::to_string((addr >> 8) & 0xff) + "." + std::to_string(addr & 0xff);
}

bool parse_ipv4(std::string_view text, std::uint32_t& addr) noexcept {
  char buf[16];
  if (text.size() >= sizeof buf) return false;
  text.copy(buf, text.size());
  buf[text.size()] = '\0';
  in_addr a{};
  if (::inet_pton(AF_INET, buf, &a) != 1) return false;
  addr = ntohl(a.s_addr);
  return true;
}

}  // namespace vsock_mcast
