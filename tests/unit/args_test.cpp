// vsocklib/args.hpp: "--name=value" splitting, and arg_reader's getters, whose messages are
// the ones every program prints, so they are pinned here word for word.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "argv.hpp"
#include "vsocklib/args.hpp"

namespace vsocklib {
namespace {

// The reader over PROGRAM ARGS, as a program's parser would build it.
arg_reader reader(const std::vector<std::string>& args) {
  return test::parse_argv([](int argc, const char* const* argv) { return arg_reader(argc, argv); },
                          "prog", args);
}

// The message of the usage_error F throws, or "no error".
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const usage_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Args, OptionEqualsValueSplits) {
  const char* argv[] = {"prog", "--serial=a=b", "--once",      "-",
                        "x=y",  "--",           "--not=split", "--=odd"};
  EXPECT_EQ(split_option_values(8, argv),
            (std::vector<std::string>{"prog", "--serial", "a=b", "--once", "-", "x=y", "--",
                                      "--not=split", "--=odd"}));
}

TEST(ArgReader, WalksOptionsAndTheirValues) {
  auto in = reader({"--name", "x", "--flag", "pos", "--size=5"});
  std::vector<std::string> seen;
  while (in.next()) {
    seen.push_back(in.option());
    if (in.option() == "--name") seen.push_back("value " + in.value());
    if (in.option() == "--size") seen.push_back("number " + std::to_string(in.number(0, 9)));
  }
  EXPECT_EQ(seen,
            (std::vector<std::string>{"--name", "value x", "--flag", "pos", "--size", "number 5"}));
  EXPECT_FALSE(in.next()) << "stays at the end";
}

TEST(ArgReader, StartsWhereTold) {
  arg_reader in({"prog", "host", "--lan", "eth0"}, 2, "host");
  ASSERT_TRUE(in.next());
  EXPECT_EQ(in.option(), "--lan");
  EXPECT_EQ(in.command(), "host");
  EXPECT_EQ(in.value(), "eth0");
  EXPECT_FALSE(in.next());
}

TEST(ArgReader, MissingValueNamesTheOption) {
  auto in = reader({"--root"});
  ASSERT_TRUE(in.next());
  EXPECT_EQ(error_of([&] { in.value(); }), "--root needs a value");
  EXPECT_EQ(error_of([&] { in.number(0, 1); }), "--root needs a value");
  EXPECT_EQ(error_of([&] { in.address(); }), "--root needs a value");
  EXPECT_EQ(error_of([&] { in.value_as([](const std::string& s) { return s; }); }),
            "--root needs a value")
      << "not wrapped as a value parser's error";
}

TEST(ArgReader, OptionalValueIsNeverAnOption) {
  auto in = reader({"--status", "/run/x", "--status", "--check", "--status"});
  ASSERT_TRUE(in.next());
  EXPECT_EQ(in.optional_value(), std::optional<std::string>("/run/x"));
  ASSERT_TRUE(in.next());
  EXPECT_EQ(in.optional_value(), std::nullopt);
  ASSERT_TRUE(in.next());
  EXPECT_EQ(in.option(), "--check") << "left for the loop";
  ASSERT_TRUE(in.next());
  EXPECT_EQ(in.optional_value(), std::nullopt);
}

TEST(ArgReader, HelpAndVersion) {
  enum class action { help, version };
  auto in = reader({"-h", "--help", "--version", "--helpful"});
  for (auto expected : {action::help, action::help, action::version}) {
    ASSERT_TRUE(in.next());
    EXPECT_EQ(in.help_or_version(action::help, action::version), expected) << in.option();
  }
  ASSERT_TRUE(in.next());
  EXPECT_EQ(in.help_or_version(action::help, action::version), std::nullopt);
  EXPECT_FALSE(in.is_help());
}

TEST(ArgReader, NumbersAreBoundedAndNamed) {
  auto in = reader({"--n", "7", "--n", "-1", "--n", "0x10", "--n", "0x10", "--n", "65"});
  ASSERT_TRUE(in.next());
  EXPECT_EQ(in.number<unsigned>(1, 64), 7u);
  ASSERT_TRUE(in.next());
  EXPECT_EQ(error_of([&] { in.number(0, 4294967294); }),
            "--n needs a number in 0..4294967294, not \"-1\"");
  ASSERT_TRUE(in.next());
  EXPECT_EQ(error_of([&] { in.number(0, 100); }), "--n needs a number in 0..100, not \"0x10\"")
      << "decimal by default";
  ASSERT_TRUE(in.next());
  EXPECT_EQ(in.number<std::int64_t>(0, 100, number_base::decimal_or_hex), 16);
  ASSERT_TRUE(in.next());
  EXPECT_EQ(error_of([&] { in.number<std::uint8_t>(1, 64); }),
            "--n needs a number in 1..64, not \"65\"");
}

TEST(ArgReader, NumberInAPieceOfTheValue) {
  auto in = reader({"--inject", "3:x"});
  ASSERT_TRUE(in.next());
  const std::string v = in.value();
  EXPECT_EQ(in.number_in(v.substr(0, 1), 0, 9), 3u);
  EXPECT_EQ(error_of([&] { in.number_in(v.substr(2), 0, 9); }),
            "--inject needs a number in 0..9, not \"x\"");
}

TEST(ArgReader, AddressesNameTheOption) {
  auto in = reader({"--guest", "vsock:3:5555", "--guest", "vsock:x:1", "--guest",
                    "vsock-seqpacket:3:1", "--listen", "vsock-seqpacket:any:1"});
  ASSERT_TRUE(in.next());
  EXPECT_EQ(in.stream_address().to_string(), "vsock:3:5555");
  ASSERT_TRUE(in.next());
  EXPECT_EQ(error_of([&] { in.stream_address(); }),
            "--guest: bad address \"vsock:x:1\": CID \"x\" is not a number");
  ASSERT_TRUE(in.next());
  EXPECT_EQ(error_of([&] { in.stream_address(); }),
            "--guest needs a stream address, not vsock-seqpacket:3:1");
  ASSERT_TRUE(in.next());
  EXPECT_FALSE(in.address().is_stream()) << "address() takes any transport";
}

TEST(ArgReader, ValueAsNamesTheOptionForAValueParser) {
  auto in = reader({"--duration", "5x", "--duration", "5"});
  auto parse = [](const std::string& text) -> int {
    if (text != "5") throw std::invalid_argument("bad duration \"" + text + "\"");
    return 5;
  };
  ASSERT_TRUE(in.next());
  EXPECT_EQ(error_of([&] { in.value_as(parse); }), "--duration: bad duration \"5x\"");
  ASSERT_TRUE(in.next());
  EXPECT_EQ(in.value_as(parse), 5);
}

TEST(ArgReader, ErrorsCarryTheCommand) {
  arg_reader in({"prog", "guest", "--tun"}, 2, "guest");
  ASSERT_TRUE(in.next());
  try {
    in.value();
    ADD_FAILURE() << "no error";
  } catch (const usage_error& e) {
    EXPECT_STREQ(e.what(), "--tun needs a value");
    EXPECT_EQ(e.command(), "guest");
  }
}

TEST(ArgReader, UnknownAndFail) {
  auto in = reader({"--bogus"});
  ASSERT_TRUE(in.next());
  EXPECT_EQ(error_of([&] { in.unknown(); }), "unknown option --bogus");
  EXPECT_EQ(error_of([&] { in.fail("--root needs a directory"); }), "--root needs a directory");
  EXPECT_EQ(usage_error("x").command(), "");
  static_assert(std::is_base_of_v<std::invalid_argument, usage_error>,
                "mains catch std::invalid_argument");
}

}  // namespace
}  // namespace vsocklib
