// The one parser for the unsigned numbers that programs read from command lines, config
// files, addresses and sysfs. Strict on purpose: "-1", " 5", "5s", "+5" and "" are not
// numbers, so a mistyped option fails with a message instead of wrapping around
// (std::stoul("-1") is 18446744073709551615).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vsocklib {

enum class number_base {
  decimal,         ///< digits 0-9 only
  decimal_or_hex,  ///< also "0x" or "0X" followed by hex digits
  hex,             ///< hex digits only, an optional "0x" before them (sysfs attributes)
};

/// TEXT as an unsigned integer in LO..HI, or nullopt when it is not exactly that: only
/// digits of BASE (no sign, no spaces, nothing after them) and no overflow.
std::optional<std::uint64_t> parse_unsigned(std::string_view text, std::uint64_t lo,
                                            std::uint64_t hi,
                                            number_base base = number_base::decimal);

/// The message for a rejected number, the same wording in every program:
///   WHAT needs a number in LO..HI, not "TEXT"
std::string number_error_text(std::string_view what, std::string_view text, std::uint64_t lo,
                              std::uint64_t hi);

/// parse_unsigned, or throws ERROR(number_error_text(...)): for parsers that report a bad
/// value with their own exception type (config_error, usage_error, ...).
template <typename Error>
std::uint64_t require_unsigned(std::string_view what, std::string_view text, std::uint64_t lo,
                               std::uint64_t hi, number_base base = number_base::decimal) {
  if (auto v = parse_unsigned(text, lo, hi, base)) return *v;
  throw Error(number_error_text(what, text, lo, hi));
}

}  // namespace vsocklib
