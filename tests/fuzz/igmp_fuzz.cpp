// vsock-mcast's IGMP parser: the membership reports a guest kernel writes into the TUN
// (the guest is not trusted by the host: each join becomes a group membership on the LAN).
// Properties: parse_igmp never throws (but bad_alloc), a refused packet yields no change
// at all, and every change names a multicast group.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.hpp"
#include "vsock_mcast/igmp.hpp"

namespace vm = vsock_mcast;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto r = vm::parse_igmp(std::span<const std::uint8_t>(data, size));
  FUZZ_CHECK(vm::to_string(r.error) != nullptr);
  if (r.error != vm::igmp_error::none) {
    FUZZ_CHECK(r.changes.empty());
    return 0;
  }
  for (const auto& c : r.changes) FUZZ_CHECK((c.group >> 28) == 0xE);
  // A report can name at most one group per 4 bytes it holds (v3: 8-byte records).
  FUZZ_CHECK(r.changes.size() <= size / 4);
  return 0;
}
