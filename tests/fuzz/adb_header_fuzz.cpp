// The ADB message header: decode, validate, encode, checksum. What arrives from the PC over
// USB and from the guest over vsock is decoded and validated before anything trusts it.
// Input: 4 bytes of max_payload, then 24 header bytes, then bytes to checksum.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "adb_protocol/protocol.hpp"
#include "fuzz_check.hpp"

namespace adb = adb_protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4 + adb::kHeaderSize) return 0;
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  const std::uint32_t max_payload = adb::load_le32(bytes);
  const std::span<const std::byte, adb::kHeaderSize> wire(bytes + 4, adb::kHeaderSize);
  const std::span<const std::byte> rest(bytes + 4 + adb::kHeaderSize, size - 4 - adb::kHeaderSize);

  const auto h = adb::decode(wire);
  std::byte again[adb::kHeaderSize];
  adb::encode(h, again);
  FUZZ_CHECK(std::memcmp(again, wire.data(), adb::kHeaderSize) == 0);

  const auto check = adb::validate(h, max_payload);
  const bool known = h.command == adb::kCnxn || h.command == adb::kOpen ||
                     h.command == adb::kOkay || h.command == adb::kClse ||
                     h.command == adb::kWrte || h.command == adb::kAuth || h.command == adb::kStls;
  // The rule as documented: magic, a command that is valid on the wire, the length limit.
  const bool expected_ok =
      h.magic == (h.command ^ 0xffffffffu) && known && h.data_length <= max_payload;
  FUZZ_CHECK(check.ok() == expected_ok);
  if (!check.ok()) FUZZ_CHECK(!check.message.empty());
  (void)adb::to_string(h);
  (void)adb::command_name(h.command);

  // The checksum is a sum: pieces add up to the whole.
  const std::size_t cut = rest.empty() ? 0 : data[4] % (rest.size() + 1);
  FUZZ_CHECK(adb::checksum(rest) ==
             adb::checksum(rest.subspan(cut), adb::checksum(rest.first(cut))));
  return 0;
}
