#include "vsocklib/number.hpp"

#include <gtest/gtest.h>

#include <limits>

using vsocklib::number_base;
using vsocklib::parse_unsigned;

TEST(Number, DecimalInRange) {
  EXPECT_EQ(parse_unsigned("0", 0, 10), 0u);
  EXPECT_EQ(parse_unsigned("10", 0, 10), 10u);
  EXPECT_EQ(parse_unsigned("007", 0, 10), 7u);
  constexpr auto max = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(parse_unsigned("18446744073709551615", 0, max), max);
}

TEST(Number, RefusesWhatStoulWouldTake) {
  // Each of these is a number to std::stoul (the first wraps to 2^64-1).
  for (const char* text :
       {"-1", "+1", " 1", "1 ", "1s", "0x10", "", "1e3", "18446744073709551616"}) {
    EXPECT_FALSE(parse_unsigned(text, 0, std::numeric_limits<std::uint64_t>::max())) << text;
  }
}

TEST(Number, Bounds) {
  EXPECT_FALSE(parse_unsigned("0", 1, 10));
  EXPECT_FALSE(parse_unsigned("11", 1, 10));
  EXPECT_FALSE(parse_unsigned("4294967296", 0, 0xffffffff));
  EXPECT_EQ(parse_unsigned("4294967295", 0, 0xffffffff), 0xffffffffu);
}

TEST(Number, Hex) {
  EXPECT_EQ(parse_unsigned("0x18d1", 0, 0xffff, number_base::decimal_or_hex), 0x18d1u);
  EXPECT_EQ(parse_unsigned("0X1F", 0, 0xffff, number_base::decimal_or_hex), 0x1fu);
  EXPECT_EQ(parse_unsigned("42", 0, 0xffff, number_base::decimal_or_hex), 42u);
  EXPECT_FALSE(parse_unsigned("0x", 0, 0xffff, number_base::decimal_or_hex));
  EXPECT_FALSE(parse_unsigned("0x-1", 0, 0xffff, number_base::decimal_or_hex));
  EXPECT_FALSE(parse_unsigned("ff", 0, 0xffff, number_base::decimal_or_hex));
  EXPECT_EQ(parse_unsigned("ff", 0, 0xff, number_base::hex), 0xffu);  // sysfs: "ff"
  EXPECT_EQ(parse_unsigned("0xff", 0, 0xff, number_base::hex), 0xffu);
  EXPECT_FALSE(parse_unsigned("0x10", 0, 0xff, number_base::decimal)) << "hex only where allowed";
}

TEST(Number, ErrorText) {
  EXPECT_EQ(vsocklib::number_error_text("--allow-cid", "-1", 0, 4294967295),
            "--allow-cid needs a number in 0..4294967295, not \"-1\"");
}
