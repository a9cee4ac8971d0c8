// The ADB wire protocol (the "amessage" transport layer): the 24-byte message header, its
// constants, validation, the payload checksum, and a framer that cuts a byte stream into
// header and payload pieces without buffering payloads.
//
// Facts and their sources: shared/reference/adb-usb-vsock.md, section 1 (AOSP adb's adb.h,
// types.h, transport.cpp and protocol.txt). Pure logic: no I/O, no Asio, no allocation except
// for error texts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>

namespace adb_protocol {

/// Four ASCII letters read as a little-endian word: the value whose wire bytes spell NAME,
/// which is why every command shows up by name in a hex dump.
constexpr std::uint32_t fourcc(const char (&name)[5]) noexcept {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(name[0])) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(name[1])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(name[2])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(name[3])) << 24;
}

// Commands (AOSP A_*). Each is fourcc of its name; the literal is the value AOSP's adb.h
// spells out, checked against fourcc below so a typo cannot slip in.

/// A_CNXN: opens a session; arg0 = protocol version, arg1 = largest payload the sender
/// accepts, payload = the banner "<systemtype>:<serial>:<props>".
inline constexpr std::uint32_t kCnxn = 0x4e584e43;
/// A_OPEN: opens a stream; arg0 = opener's local id, payload = service name + NUL.
inline constexpr std::uint32_t kOpen = 0x4e45504f;
/// A_OKAY: stream opened, or ready for the next WRTE (flow control); arg0 = sender's id,
/// arg1 = recipient's id.
inline constexpr std::uint32_t kOkay = 0x59414b4f;
/// A_CLSE: closes a stream; arg0 = sender's id (0 when an OPEN failed), arg1 = recipient's.
inline constexpr std::uint32_t kClse = 0x45534c43;
/// A_WRTE: stream data; only one may be unacknowledged per stream and direction.
inline constexpr std::uint32_t kWrte = 0x45545257;
/// A_AUTH: authentication; arg0 = kAuthToken / kAuthSignature / kAuthRsaPublicKey.
inline constexpr std::uint32_t kAuth = 0x48545541;
/// A_STLS: switch to TLS. Only wireless debugging uses it; a USB host adb aborts on it.
inline constexpr std::uint32_t kStls = 0x534c5453;
/// A_SYNC: obsolete; protocol.txt says it is never valid to send across the wire.
inline constexpr std::uint32_t kSync = 0x434e5953;

static_assert(kCnxn == fourcc("CNXN") && kOpen == fourcc("OPEN") && kOkay == fourcc("OKAY") &&
              kClse == fourcc("CLSE") && kWrte == fourcc("WRTE") && kAuth == fourcc("AUTH") &&
              kStls == fourcc("STLS") && kSync == fourcc("SYNC"));

/// A_VERSION_MIN: the version every peer speaks. Negotiation starts here, so the first
/// CNXN and AUTH messages of a session always carry a checksum.
inline constexpr std::uint32_t kVersionMin = 0x01000000;
/// A_VERSION_SKIP_CHECKSUM: from this version on senders put 0 in data_check and
/// receivers ignore it (adb, December 2017: the byte sum cost CPU and caught nothing that
/// the transports do not already catch).
inline constexpr std::uint32_t kVersionSkipChecksum = 0x01000001;
/// A_VERSION: the newest version; a session runs at min(ours, peer's).
inline constexpr std::uint32_t kVersion = 0x01000001;

/// MAX_PAYLOAD_V1: the payload limit before CNXN has negotiated one. A CNXN banner must
/// fit in it, because the sender does not yet know what the peer accepts.
inline constexpr std::uint32_t kMaxPayloadV1 = 4 * 1024;
/// MAX_PAYLOAD: the largest payload any adb negotiates (1 MiB since 2017, when adbd moved
/// to FunctionFS AIO); a session uses min(ours, peer's).
inline constexpr std::uint32_t kMaxPayload = 1024 * 1024;

/// AUTH arg0 values. The device sends a token; the host answers with a signature of it,
/// or, when no key of the host is accepted, with its public key for the user to confirm.
inline constexpr std::uint32_t kAuthToken = 1;
inline constexpr std::uint32_t kAuthSignature = 2;
inline constexpr std::uint32_t kAuthRsaPublicKey = 3;
/// TOKEN_SIZE: the token is 20 random bytes, the size of the SHA-1 digest the host signs.
inline constexpr std::size_t kAuthTokenSize = 20;

/// A little-endian 32-bit word at P: the byte order of every ADB field (and of the sync
/// sub-protocol), whatever the host's.
inline void store_le32(std::byte* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
inline std::uint32_t load_le32(const std::byte* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(p[i]) << (8 * i);
  return v;
}

/// sizeof(amessage): six little-endian 32-bit words.
inline constexpr std::size_t kHeaderSize = 24;

/// One message header (AOSP amessage). Plain value type.
struct message_header {
  std::uint32_t command = 0;
  std::uint32_t arg0 = 0;
  std::uint32_t arg1 = 0;
  std::uint32_t data_length = 0;  ///< payload bytes that follow the header
  std::uint32_t data_check = 0;   ///< byte sum of the payload, or 0 (see kVersionSkipChecksum)
  std::uint32_t magic = 0;        ///< command ^ 0xffffffff: catches a stream out of step

  friend bool operator==(const message_header&, const message_header&) = default;
};

/// Writes H as 24 little-endian bytes.
void encode(const message_header& h, std::span<std::byte, kHeaderSize> out) noexcept;
/// Reads 24 little-endian bytes. Does not validate: see validate().
message_header decode(std::span<const std::byte, kHeaderSize> in) noexcept;

/// The payload checksum: a plain sum of the bytes (not a CRC), modulo 2^32. Sums add up, so
/// a payload seen in pieces is checked with checksum(piece, previous_sum).
std::uint32_t checksum(std::span<const std::byte> data, std::uint32_t initial = 0) noexcept;

/// A header for COMMAND with its length, magic and, when WITH_CHECKSUM, the checksum of
/// PAYLOAD (senders include it while the session version is below kVersionSkipChecksum).
message_header make_header(std::uint32_t command, std::uint32_t arg0, std::uint32_t arg1,
                           std::span<const std::byte> payload, bool with_checksum) noexcept;

/// What is wrong with a header.
enum class header_error {
  none = 0,
  bad_magic,          ///< magic != command ^ 0xffffffff: the stream lost its framing
  unknown_command,    ///< not one of the commands above
  obsolete_command,   ///< SYNC: defined, but never valid on the wire
  payload_too_large,  ///< data_length over the negotiated maximum
};

/// "bad_magic", "unknown_command", ... for logs and tests.
const char* to_string(header_error e) noexcept;

/// The result of validate(): an error and a sentence naming what is wrong, with the
/// values involved, e.g. "bad magic 0x12345678 for command CNXN (0x4e584e43); expected
/// 0xb1a7b1bc".
struct header_check {
  header_error error = header_error::none;
  std::string message;

  bool ok() const noexcept { return error == header_error::none; }
  explicit operator bool() const noexcept { return ok(); }
};

/// Checks what a receiver must check before trusting H (AOSP check_header, plus unknown
/// and obsolete commands): the magic, the command, and data_length <= MAX_PAYLOAD. The
/// checksum is not checked here: it covers the payload, and adb ignores it since
/// kVersionSkipChecksum.
header_check validate(const message_header& h, std::uint32_t max_payload);

/// "CNXN", "WRTE", ... or "0x%08x" for other values.
std::string command_name(std::uint32_t command);

/// "WRTE(arg0=1, arg1=2, length=4096)" for logs.
std::string to_string(const message_header& h);

/// Cuts a byte stream (vsock, TCP) into ADB messages in pieces: first a header event, then
/// payload events that together cover exactly data_length bytes. It never holds more than
/// one header: payload pieces are views into the caller's input, so a relay can write the
/// header as its own USB transfer and pass the payload on without copying it.
///
/// Use:
///   std::span<const std::byte> in(buf, n);
///   for (;;) {
///     auto ev = f.next(in);                 // consumes from the front of `in`
///     if (ev.kind == framer::event_kind::need_more) break;     // read more, call again
///     if (ev.kind == framer::event_kind::error) ...f.error()...  // the stream is unusable
///     ...
///   }
///
/// After an error every further call returns the same error: the stream cannot be
/// resynchronised. Thread safety: none (one framer per stream, used by one reader).
class framer {
 public:
  enum class event_kind {
    need_more,  ///< input used up; call again with more bytes
    header,     ///< a validated header (complete when data_length is 0)
    payload,    ///< a piece of the current message's payload
    error,      ///< a header failed validation; see error()
  };

  struct event {
    event_kind kind = event_kind::need_more;
    /// header and payload events: the header of the message they belong to.
    message_header header;
    /// payload events: the piece, a view into the input passed to next().
    std::span<const std::byte> payload;
    /// header events with data_length 0, and the payload event that ends a message.
    bool message_complete = false;
  };

  /// MAX_PAYLOAD is the largest data_length accepted; raise or lower it with
  /// set_max_payload() once CNXN has negotiated the session's value.
  explicit framer(std::uint32_t max_payload = kMaxPayload) noexcept : max_payload_(max_payload) {}

  /// The next event from INPUT, consuming what it used from INPUT's front. Payload pieces
  /// are at most MAX_PIECE bytes (e.g. a USB transfer size), and never cross messages.
  event next(std::span<const std::byte>& input,
             std::size_t max_piece = std::numeric_limits<std::size_t>::max());

  void set_max_payload(std::uint32_t max_payload) noexcept { max_payload_ = max_payload; }
  std::uint32_t max_payload() const noexcept { return max_payload_; }

  /// True between messages: no partial header and no payload outstanding (a clean place for
  /// the stream to end).
  bool at_boundary() const noexcept { return !failed_ && header_have_ == 0 && remaining_ == 0; }
  /// Payload bytes of the current message not yet delivered.
  std::uint32_t payload_remaining() const noexcept { return remaining_; }
  /// The validation failure after an error event.
  const header_check& error() const noexcept { return error_; }
  /// Complete messages seen so far.
  std::uint64_t messages() const noexcept { return messages_; }

 private:
  std::uint32_t max_payload_;
  std::byte header_buf_[kHeaderSize]{};
  std::size_t header_have_ = 0;  // bytes of a partial header held in header_buf_
  message_header current_{};
  std::uint32_t remaining_ = 0;  // payload bytes of current_ still to come
  bool failed_ = false;
  header_check error_;
  std::uint64_t messages_ = 0;
};

}  // namespace adb_protocol
