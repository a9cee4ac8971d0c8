// The vsock-mcast wire records (docs/vsock-mcast.md, "Wire protocol"): encoding and a
// decoder that never throws and names what is wrong with bad input. No Asio, no I/O: the
// fuzz targets and the unit tests use this header alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vsock_mcast {

inline constexpr std::uint8_t kVersion = 1;
/// version, type, 16-bit body length.
inline constexpr std::size_t kHeaderSize = 4;
/// The body length field is 16 bits: the largest IPv4 packet fits exactly.
inline constexpr std::size_t kMaxBody = 65535;
inline constexpr std::size_t kMaxRecord = kHeaderSize + kMaxBody;
/// HELLO: role, mode, 2 zero bytes, address.
inline constexpr std::size_t kHelloFixed = 8;
/// Longest name in a HELLO (bytes of printable ASCII).
inline constexpr std::size_t kMaxName = 64;
inline constexpr std::size_t kMinIpPacket = 20;

enum class record_type : std::uint8_t { hello = 1, data = 2, join = 3, leave = 4 };
enum class role : std::uint8_t { host = 1, guest = 2 };
enum class mode : std::uint8_t { mcast = 1, l3 = 2 };

/// Why a record was refused. Each value is a drop reason in the status JSON.
enum class decode_error : std::uint8_t {
  none = 0,
  truncated,           ///< fewer bytes than a header, or than the header's length says
  bad_version,         ///< version byte is not kVersion
  unknown_type,        ///< type byte names no record type
  length_mismatch,     ///< a seqpacket message longer than its header's length
  short_body,          ///< body too short for its type (HELLO < 8, JOIN/LEAVE != 4, DATA < 20)
  bad_role,            ///< HELLO role or mode byte out of range, or reserved bytes not zero
  bad_name,            ///< HELLO name too long or not printable ASCII
  bad_ip_header,       ///< DATA: not IPv4, IHL < 5 or past the end
  ip_length_mismatch,  ///< DATA: IP total length differs from the body length
  not_multicast,       ///< JOIN/LEAVE group outside 224.0.0.0/4
};

/// Stable snake_case name of E ("bad_version"), used in logs and status.
const char* to_string(decode_error e) noexcept;

struct hello {
  vsock_mcast::role role = role::guest;
  vsock_mcast::mode mode = mode::mcast;
  std::uint32_t address = 0;  ///< IPv4, host byte order; 0 = none
  std::string name;

  friend bool operator==(const hello&, const hello&) = default;
};

/// A decoded record. DATA's packet points into the decoded buffer (no copy).
struct record {
  record_type type = record_type::data;
  vsock_mcast::hello hello;              ///< HELLO
  std::span<const std::uint8_t> packet;  ///< DATA
  std::uint32_t group = 0;               ///< JOIN, LEAVE (host byte order)
};

struct header_result {
  decode_error error = decode_error::none;
  record_type type = record_type::data;
  std::size_t body_length = 0;
};

/// Checks the first kHeaderSize bytes of BYTES (a stream reader calls it before reading the
/// body). truncated when BYTES is shorter than a header.
header_result decode_header(std::span<const std::uint8_t> bytes) noexcept;

struct decode_result {
  decode_error error = decode_error::none;
  record rec;
  std::size_t consumed = 0;  ///< header + body when error == none
};

/// Decodes one record at the start of BYTES. With EXACT (a seqpacket message) BYTES must
/// hold exactly one record; otherwise (a stream) trailing bytes are left for the next call.
/// Never throws on any input (HELLO's name is the only allocation).
decode_result decode(std::span<const std::uint8_t> bytes, bool exact) noexcept;

/// Checks that PACKET is a well-formed IPv4 packet as DATA requires.
decode_error check_ip_packet(std::span<const std::uint8_t> packet) noexcept;

/// Encoders append one record to OUT. They assume valid arguments (the caller built them);
/// encode_data throws std::length_error for a packet longer than kMaxBody.
void encode_hello(const hello& h, std::vector<std::uint8_t>& out);
void encode_data(std::span<const std::uint8_t> packet, std::vector<std::uint8_t>& out);
void encode_membership(record_type join_or_leave, std::uint32_t group,
                       std::vector<std::uint8_t>& out);

/// "239.255.0.1" for an address in host byte order.
std::string ipv4_to_string(std::uint32_t addr);
/// Parses dotted-quad IPv4 into host byte order; false when TEXT is not one.
bool parse_ipv4(std::string_view text, std::uint32_t& addr) noexcept;

inline bool is_multicast(std::uint32_t addr) noexcept { return (addr >> 28) == 0xE; }

}  // namespace vsock_mcast
