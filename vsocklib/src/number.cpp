#include "vsocklib/number.hpp"

#include <charconv>

namespace vsocklib {

std::optional<std::uint64_t> parse_unsigned(std::string_view text, std::uint64_t lo,
                                            std::uint64_t hi, number_base base) {
  int radix = 10;
  const bool prefixed = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  if (base == number_base::hex || (base == number_base::decimal_or_hex && prefixed)) {
    radix = 16;
    if (prefixed) text.remove_prefix(2);
  }
  // from_chars takes no sign for unsigned types and no leading spaces: all that is left to
  // refuse is an empty text and anything after the digits.
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, radix);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

std::string number_error_text(std::string_view what, std::string_view text, std::uint64_t lo,
                              std::uint64_t hi) {
  return std::string(what) + " needs a number in " + std::to_string(lo) + ".." +
         std::to_string(hi) + ", not \"" + std::string(text) + "\"";
}

}  // namespace vsocklib
