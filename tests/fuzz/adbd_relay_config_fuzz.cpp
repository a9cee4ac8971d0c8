// adbd-relay's configuration file: parse_config, then validate, as main.cpp does.
// Properties: only config_error escapes (an address_error must arrive wrapped, with the
// file and line), and an accepted configuration is consistent.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "adbd_relay/config.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  adbd_relay::config cfg;
  try {
    adbd_relay::parse_config(text, "fuzz.conf", cfg);
  } catch (const adbd_relay::config_error& e) {
    // Errors name the file and line.
    FUZZ_CHECK(std::string_view(e.what()).substr(0, 10) == "fuzz.conf:");
    return 0;
  }
  try {
    adbd_relay::validate(cfg);
  } catch (const adbd_relay::config_error&) {
    return 0;
  }
  for (const auto& g : cfg.guests) {
    FUZZ_CHECK(!g.name.empty());
    FUZZ_CHECK(g.address.is_stream());
  }
  FUZZ_CHECK(cfg.session.chunk_size >= 512 && cfg.session.chunk_size <= (1u << 20));
  FUZZ_CHECK(cfg.session.usb_transfer_size >= 512 && cfg.session.usb_transfer_size % 512 == 0);
  return 0;
}
