// vsock-mcast's wire records: what each tunnel endpoint decodes from the other over vsock
// (a guest is not trusted by the host). Input: 1 byte choosing seqpacket (exact) or
// stream framing, then the bytes. Properties: decode never throws, consumes exactly one
// header plus the length it states, agrees with decode_header, and a record it accepts
// encodes back to the same bytes; a stream of records decodes record after record.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_check.hpp"
#include "vsock_mcast/record.hpp"

namespace vm = vsock_mcast;

namespace {

void check_one(std::span<const std::uint8_t> in, bool exact, std::size_t& consumed) {
  const auto r = vm::decode(in, exact);
  consumed = 0;
  if (r.error != vm::decode_error::none) {
    FUZZ_CHECK(vm::to_string(r.error) != nullptr);
    return;
  }
  const auto h = vm::decode_header(in);
  FUZZ_CHECK(h.error == vm::decode_error::none);
  FUZZ_CHECK(h.type == r.rec.type);
  FUZZ_CHECK(r.consumed == vm::kHeaderSize + h.body_length && r.consumed <= in.size());
  if (exact) FUZZ_CHECK(r.consumed == in.size());

  std::vector<std::uint8_t> again;
  switch (r.rec.type) {
    case vm::record_type::hello:
      FUZZ_CHECK(r.rec.hello.name.size() <= vm::kMaxName);
      vm::encode_hello(r.rec.hello, again);
      break;
    case vm::record_type::data:
      FUZZ_CHECK(vm::check_ip_packet(r.rec.packet) == vm::decode_error::none);
      FUZZ_CHECK(r.rec.packet.data() >= in.data() &&
                 r.rec.packet.data() + r.rec.packet.size() <= in.data() + in.size());
      vm::encode_data(r.rec.packet, again);
      break;
    case vm::record_type::join:
    case vm::record_type::leave:
      FUZZ_CHECK(vm::is_multicast(r.rec.group));
      vm::encode_membership(r.rec.type, r.rec.group, again);
      break;
  }
  FUZZ_CHECK(again.size() == r.consumed);
  FUZZ_CHECK(std::equal(again.begin(), again.end(), in.begin()));
  consumed = r.consumed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool exact = data[0] & 1;
  std::span<const std::uint8_t> in(data + 1, size - 1);
  if (exact) {
    std::size_t used = 0;
    check_one(in, true, used);
    return 0;
  }
  // A stream: records back to back until one is refused or the bytes run out.
  while (!in.empty()) {
    std::size_t used = 0;
    check_one(in, false, used);
    if (used == 0) break;
    in = in.subspan(used);
  }
  return 0;
}
