// The soak protocol's wire format and the checks that find lost and corrupted bytes.
//
// Each stream is a sequence of messages (seq 0, 1, 2, ...). Message seq of stream S has a
// length and a payload that are functions of (seed, S, seq) only, so both ends can tell
// what every byte must be without keeping a copy: a corrupted byte is found at its exact
// offset in the stream, and a message that went missing shows up as a sequence gap.
//
// Every frame is a 32-byte header (little endian) followed by `length` payload bytes:
//   u32 magic "VSK1"  u8 type  u8[3] zero  u32 stream  u32 length  u64 seq  u64 check
// `check` is a 64-bit hash of the first 24 header bytes and the payload.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vsock_soak {

inline constexpr std::uint32_t kMagic = 0x314b5356;  // "VSK1" in little endian
inline constexpr std::size_t kHeaderSize = 32;
/// Largest payload: bounds what a reader buffers for one frame (a corrupted length field
/// cannot make a peer allocate more).
inline constexpr std::uint32_t kMaxLength = 1u << 20;

enum class frame_type : std::uint8_t {
  /// client -> server, first frame of a connection: seq = the next message's seq, payload =
  /// u64 seed, u64 stream offset of that message (so the server can verify and report).
  hello = 1,
  /// server -> client: the hello was accepted; echoes begin.
  hello_ok = 2,
  /// a message (client -> server), echoed back unchanged (server -> client).
  data = 3,
  /// server -> client: the server found a bad message; seq = where, payload = u64 byte
  /// index in that message's payload (kHeaderIndex: the header), u8 problem, then text.
  /// The server closes the connection after it.
  problem = 4,
};

/// problem frames: where the server saw the damage.
enum class problem_kind : std::uint8_t { corrupt = 1, gap = 2 };
inline constexpr std::uint64_t kHeaderIndex = ~std::uint64_t{0};

struct header {
  frame_type type = frame_type::data;
  std::uint32_t stream = 0;
  std::uint32_t length = 0;
  std::uint64_t seq = 0;
  std::uint64_t check = 0;
};

/// The 64-bit hash used for `check`, over header bytes [0, 24) and PAYLOAD.
std::uint64_t frame_check(std::span<const std::byte, 24> head, std::span<const std::byte> payload);

/// Writes a header for TYPE/STREAM/SEQ/PAYLOAD (length and check filled in) into OUT.
void encode_header(frame_type type, std::uint32_t stream, std::uint64_t seq,
                   std::span<const std::byte> payload, std::span<std::byte, kHeaderSize> out);

/// Decodes the fields (no checks beyond the layout). Magic is returned separately so a
/// caller can tell "not a frame" from other damage.
header decode_header(std::span<const std::byte, kHeaderSize> in, std::uint32_t& magic);

/// True when CHECK matches header bytes IN[0..24) and PAYLOAD.
bool check_matches(std::span<const std::byte, kHeaderSize> in, std::span<const std::byte> payload);

/// Message sizes: a range MIN..MAX drawn log-uniformly (as many small as large messages per
/// power of two), or a list of sizes drawn uniformly. Parsed from "1..65536" or "64,4096".
struct size_mix {
  std::uint32_t min = 1;
  std::uint32_t max = 65536;
  std::vector<std::uint32_t> list;  ///< when not empty, used instead of min..max

  /// Throws std::invalid_argument naming the problem (sizes must be 1..kMaxLength).
  static size_mix parse(const std::string& text);
  std::string to_string() const;
};

/// The length of message SEQ of STREAM: a pure function of its arguments.
std::uint32_t message_length(std::uint64_t seed, std::uint32_t stream, std::uint64_t seq,
                             const size_mix& sizes);

/// Fills OUT with the payload of message SEQ of STREAM (OUT.size() = its length).
void fill_payload(std::uint64_t seed, std::uint32_t stream, std::uint64_t seq,
                  std::span<std::byte> out);

/// Index of the first byte of GOT that differs from the payload of (SEED, STREAM, SEQ);
/// nullopt when all match. SCRATCH is reused to avoid an allocation per message.
std::optional<std::size_t> first_mismatch(std::uint64_t seed, std::uint32_t stream,
                                          std::uint64_t seq, std::span<const std::byte> got,
                                          std::vector<std::byte>& scratch);

/// What the receiver of a frame concluded.
struct verdict {
  enum class kind { ok, corrupt, gap, duplicate } what = kind::ok;
  /// corrupt: index in the payload of the first bad byte, or kHeaderIndex for the header.
  std::uint64_t index = 0;
  /// gap/duplicate: the seq that arrived instead of the expected one.
  std::uint64_t got_seq = 0;
  std::string detail;
};

/// Checks one received data frame against what must arrive next on STREAM: message
/// EXPECTED_SEQ with EXPECTED_LENGTH bytes. MAGIC/H come from decode_header, RAW_HEADER and
/// PAYLOAD are the bytes as received. A header whose check fails, or whose stream, type or
/// length is wrong, is corruption; a sound header with a later seq is a gap (messages
/// lost), an earlier one a duplicate; then the payload is compared byte by byte.
verdict verify_data(std::uint64_t seed, std::uint32_t stream, std::uint64_t expected_seq,
                    std::uint32_t expected_length, std::uint32_t magic, const header& h,
                    std::span<const std::byte, kHeaderSize> raw_header,
                    std::span<const std::byte> payload, std::vector<std::byte>& scratch);

/// Little-endian helpers for payload fields.
void put_u64(std::span<std::byte> out, std::uint64_t v);
std::uint64_t get_u64(std::span<const std::byte> in);

}  // namespace vsock_soak
