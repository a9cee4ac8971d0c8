// vsocklib::parse_address: every configuration file and command line goes through it.
// Properties: only address_error escapes, and a parsed address survives its documented
// round trip parse_address(a.to_string()) == a.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "vsocklib/address.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  vsocklib::address a;
  try {
    a = vsocklib::parse_address(text);
  } catch (const vsocklib::address_error&) {
    return 0;
  }
  const auto canonical = a.to_string();
  vsocklib::address b;
  try {
    b = vsocklib::parse_address(canonical);
  } catch (const vsocklib::address_error& e) {
    std::fprintf(stderr, "canonical form does not parse: %s\n", e.what());
    std::abort();
  }
  FUZZ_CHECK(a == b);
  return 0;
}
