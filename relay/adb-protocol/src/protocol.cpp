#include "adb_protocol/protocol.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace adb_protocol {
namespace {

bool known_command(std::uint32_t c) noexcept {
  switch (c) {
    case kCnxn:
    case kOpen:
    case kOkay:
    case kClse:
    case kWrte:
    case kAuth:
    case kStls:
    case kSync: return true;
  }
  return false;
}

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// "CNXN (0x4e584e43)" for known commands; for others the printable letters help to spot a
// stream that is out of step (payload bytes read as a header), e.g. "0x61746164 ("data")".
std::string describe_command(std::uint32_t c) {
  if (known_command(c)) return command_name(c) + " (" + hex32(c) + ")";
  std::string letters;
  for (int i = 0; i < 4; ++i) {
    auto ch = static_cast<unsigned char>(c >> (8 * i));
    letters.push_back(ch >= 0x20 && ch < 0x7f ? static_cast<char>(ch) : '.');
  }
  return hex32(c) + " (\"" + letters + "\")";
}

}  // namespace

void encode(const message_header& h, std::span<std::byte, kHeaderSize> out) noexcept {
  store_le32(out.data() + 0, h.command);
  store_le32(out.data() + 4, h.arg0);
  store_le32(out.data() + 8, h.arg1);
  store_le32(out.data() + 12, h.data_length);
  store_le32(out.data() + 16, h.data_check);
  store_le32(out.data() + 20, h.magic);
}

message_header decode(std::span<const std::byte, kHeaderSize> in) noexcept {
  return {load_le32(in.data() + 0),  load_le32(in.data() + 4),  load_le32(in.data() + 8),
          load_le32(in.data() + 12), load_le32(in.data() + 16), load_le32(in.data() + 20)};
}

std::uint32_t checksum(std::span<const std::byte> data, std::uint32_t initial) noexcept {
  std::uint32_t sum = initial;
  for (std::byte b : data) sum += static_cast<std::uint32_t>(b);
  return sum;
}

message_header make_header(std::uint32_t command, std::uint32_t arg0, std::uint32_t arg1,
                           std::span<const std::byte> payload, bool with_checksum) noexcept {
  message_header h;
  h.command = command;
  h.arg0 = arg0;
  h.arg1 = arg1;
  h.data_length = static_cast<std::uint32_t>(payload.size());
  h.data_check = with_checksum ? checksum(payload) : 0;
  h.magic = command ^ 0xffffffffu;
  return h;
}

const char* to_string(header_error e) noexcept {
  switch (e) {
    case header_error::none: return "none";
    case header_error::bad_magic: return "bad_magic";
    case header_error::unknown_command: return "unknown_command";
    case header_error::obsolete_command: return "obsolete_command";
    case header_error::payload_too_large: return "payload_too_large";
  }
  return "?";
}

header_check validate(const message_header& h, std::uint32_t max_payload) {
  // Magic first, as adb does: when it is wrong the other fields are noise too.
  if (h.magic != (h.command ^ 0xffffffffu)) {
    return {header_error::bad_magic, "bad magic " + hex32(h.magic) + " for command " +
                                         describe_command(h.command) + "; expected " +
                                         hex32(h.command ^ 0xffffffffu)};
  }
  if (!known_command(h.command)) {
    return {header_error::unknown_command, "unknown command " + describe_command(h.command)};
  }
  if (h.command == kSync) {
    return {header_error::obsolete_command,
            "command SYNC (" + hex32(kSync) + ") is obsolete and never valid on the wire"};
  }
  if (h.data_length > max_payload) {
    return {header_error::payload_too_large,
            command_name(h.command) + " data_length " + std::to_string(h.data_length) +
                " exceeds the maximum payload " + std::to_string(max_payload)};
  }
  return {};
}

std::string command_name(std::uint32_t command) {
  switch (command) {
    case kCnxn: return "CNXN";
    case kOpen: return "OPEN";
    case kOkay: return "OKAY";
    case kClse: return "CLSE";
    case kWrte: return "WRTE";
    case kAuth: return "AUTH";
    case kStls: return "STLS";
    case kSync: return "SYNC";
  }
  return hex32(command);
}

std::string to_string(const message_header& h) {
  return command_name(h.command) + "(arg0=" + std::to_string(h.arg0) +
         ", arg1=" + std::to_string(h.arg1) + ", length=" + std::to_string(h.data_length) + ")";
}

framer::event framer::next(std::span<const std::byte>& input, std::size_t max_piece) {
  event ev;
  if (failed_) {
    ev.kind = event_kind::error;
    return ev;
  }
  if (remaining_ > 0) {
    if (input.empty() || max_piece == 0) return ev;  // need_more
    const std::size_t n = std::min({input.size(), std::size_t{remaining_}, max_piece});
    ev.kind = event_kind::payload;
    ev.header = current_;
    ev.payload = input.first(n);
    input = input.subspan(n);
    remaining_ -= static_cast<std::uint32_t>(n);
    if (remaining_ == 0) {
      ev.message_complete = true;
      ++messages_;
    }
    return ev;
  }
  // Collect a header. Copying 24 bytes even when they are contiguous in INPUT keeps one
  // code path for headers split across reads.
  const std::size_t take = std::min(input.size(), kHeaderSize - header_have_);
  if (take > 0) std::memcpy(header_buf_ + header_have_, input.data(), take);
  header_have_ += take;
  input = input.subspan(take);
  if (header_have_ < kHeaderSize) return ev;  // need_more
  header_have_ = 0;
  current_ = decode(std::span<const std::byte, kHeaderSize>(header_buf_, kHeaderSize));
  error_ = validate(current_, max_payload_);
  if (!error_.ok()) {
    failed_ = true;
    ev.kind = event_kind::error;
    ev.header = current_;
    return ev;
  }
  ev.kind = event_kind::header;
  ev.header = current_;
  remaining_ = current_.data_length;
  if (remaining_ == 0) {
    ev.message_complete = true;
    ++messages_;
  }
  return ev;
}

}  // namespace adb_protocol
