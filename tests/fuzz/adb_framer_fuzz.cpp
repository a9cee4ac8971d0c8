// The ADB stream framer: how adbd-relay cuts the guest's vsock byte stream into messages
// for USB. The stream arrives in arbitrary pieces, so the fuzzer chooses the limits and
// where reads end, and checks that the events describe the consumed bytes exactly.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "adb_protocol/protocol.hpp"
#include "fuzz_check.hpp"

namespace adb = adb_protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const auto max_payload = in.ConsumeIntegralInRange<std::uint32_t>(0, adb::kMaxPayload);
  const auto max_piece = in.ConsumeIntegralInRange<std::size_t>(1, 8192);
  // Read sizes come from the front so the stream itself is the rest, unmangled.
  std::vector<std::size_t> reads(in.ConsumeIntegralInRange<std::size_t>(1, 16));
  for (auto& r : reads) r = in.ConsumeIntegralInRange<std::size_t>(0, 4096);
  const auto stream = in.ConsumeRemainingBytes<std::byte>();

  adb::framer f(max_payload);
  std::vector<std::byte> rebuilt;  // what the events say the stream was
  std::size_t fed = 0, unconsumed = 0, read_index = 0;
  std::uint64_t completed = 0;
  std::uint32_t payload_left = 0;  // of the message the last header event opened
  bool failed = false;
  while (fed < stream.size() && !failed) {
    std::size_t n = reads[read_index++ % reads.size()];
    if (n == 0) n = stream.size() - fed;  // a read that returns all that is left
    n = std::min(n, stream.size() - fed);
    std::span<const std::byte> chunk(stream.data() + fed, n);
    fed += n;
    for (;;) {
      const auto before = chunk.size();
      const auto ev = f.next(chunk, max_piece);
      FUZZ_CHECK(chunk.size() <= before);
      if (ev.kind == adb::framer::event_kind::need_more) {
        FUZZ_CHECK(chunk.empty());
        break;
      }
      if (ev.kind == adb::framer::event_kind::error) {
        FUZZ_CHECK(payload_left == 0);
        FUZZ_CHECK(!adb::validate(ev.header, max_payload).ok());
        FUZZ_CHECK(!f.error().ok());
        rebuilt.resize(rebuilt.size() + adb::kHeaderSize);
        adb::encode(ev.header,
                    std::span<std::byte, adb::kHeaderSize>(
                        rebuilt.data() + rebuilt.size() - adb::kHeaderSize, adb::kHeaderSize));
        // Once broken, always broken, and nothing more is consumed.
        const auto left = chunk.size();
        FUZZ_CHECK(f.next(chunk, max_piece).kind == adb::framer::event_kind::error);
        FUZZ_CHECK(chunk.size() == left);
        unconsumed = left;
        failed = true;
        break;
      }
      if (ev.kind == adb::framer::event_kind::header) {
        FUZZ_CHECK(payload_left == 0);
        FUZZ_CHECK(adb::validate(ev.header, max_payload).ok());
        rebuilt.resize(rebuilt.size() + adb::kHeaderSize);
        adb::encode(ev.header,
                    std::span<std::byte, adb::kHeaderSize>(
                        rebuilt.data() + rebuilt.size() - adb::kHeaderSize, adb::kHeaderSize));
        payload_left = ev.header.data_length;
        FUZZ_CHECK(ev.message_complete == (payload_left == 0));
      } else {  // payload
        FUZZ_CHECK(!ev.payload.empty() && ev.payload.size() <= max_piece);
        FUZZ_CHECK(ev.payload.size() <= payload_left);
        payload_left -= static_cast<std::uint32_t>(ev.payload.size());
        FUZZ_CHECK(ev.message_complete == (payload_left == 0));
        rebuilt.insert(rebuilt.end(), ev.payload.begin(), ev.payload.end());
      }
      if (ev.message_complete) ++completed;
      FUZZ_CHECK(f.payload_remaining() == payload_left);
    }
  }
  // Every consumed byte is accounted for, in order, and nothing else.
  const std::size_t consumed = fed - unconsumed;
  FUZZ_CHECK(rebuilt.size() <= consumed);
  FUZZ_CHECK(std::equal(rebuilt.begin(), rebuilt.end(), stream.begin()));
  // What is consumed but not rebuilt can only be a partial header the framer holds.
  if (!failed) {
    FUZZ_CHECK(consumed - rebuilt.size() < adb::kHeaderSize);
    FUZZ_CHECK(f.at_boundary() == (consumed == rebuilt.size() && payload_left == 0));
  }
  FUZZ_CHECK(f.messages() == completed);
  return 0;
}
