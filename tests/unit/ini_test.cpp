// The INI reader shared by the programs' configuration files.
#include <fstream>

#include <gtest/gtest.h>

#include "temp_dir.hpp"
#include "vsocklib/ini.hpp"

namespace vsocklib {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_ini(text, "f.conf");
  } catch (const ini_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Ini, SectionsKeysAndComments) {
  auto d = parse_ini(R"(# comment
top = 1
; another comment

[relay]
  log_level =  debug   
url = a=b
empty =
[guest android]
address = vsock:3:5555
)",
                     "f.conf");
  ASSERT_EQ(d.sections.size(), 2u);
  EXPECT_EQ(d.sections[0].name, "relay");
  EXPECT_EQ(d.sections[0].line, 5);
  EXPECT_EQ(d.sections[1].name, "guest android");
  ASSERT_EQ(d.entries.size(), 5u);
  EXPECT_EQ(d.entries[0].section, "");
  EXPECT_EQ(d.entries[0].key, "top");
  EXPECT_EQ(d.entries[1].section, "relay");
  EXPECT_EQ(d.entries[1].key, "log_level");
  EXPECT_EQ(d.entries[1].value, "debug");
  EXPECT_EQ(d.entries[1].line, 6);
  EXPECT_EQ(d.entries[2].value, "a=b");
  EXPECT_EQ(d.entries[3].value, "");
  EXPECT_EQ(d.entries[4].section, "guest android");
}

TEST(Ini, TrailingCommentsAfterWhitespaceOnly) {
  auto d = parse_ini(
      "k = v # note\ns = android-guest    # what adb lists\nt = tag=a#1\n"
      "x = x\t# tab\nc = # all comment\n",
      "f.conf");
  ASSERT_EQ(d.entries.size(), 5u);
  EXPECT_EQ(d.entries[0].value, "v");
  EXPECT_EQ(d.entries[1].value, "android-guest");
  EXPECT_EQ(d.entries[2].value, "tag=a#1");
  EXPECT_EQ(d.entries[3].value, "x");
  EXPECT_EQ(d.entries[4].value, "");  // all comment
}

TEST(Ini, WindowsLineEndings) {
  auto d = parse_ini("[a]\r\nk = v\r\n", "f.conf");
  ASSERT_EQ(d.entries.size(), 1u);
  EXPECT_EQ(d.entries[0].value, "v");
}

TEST(Ini, ErrorsNameFileAndLine) {
  EXPECT_EQ(error_of("[a]\n[b\n"), "f.conf:2: section header without ']'");
  EXPECT_EQ(error_of("[ ]\n"), "f.conf:1: empty section name");
  EXPECT_EQ(error_of("[a]\n\njust words\n"), "f.conf:3: expected key = value");
  EXPECT_EQ(error_of("= v\n"), "f.conf:1: empty key before '='");
  auto d = parse_ini("[a]\nk = v\n", "f.conf");
  try {
    d.fail(d.entries[0].line, "k is wrong");
    ADD_FAILURE();
  } catch (const ini_error& e) {
    EXPECT_STREQ(e.what(), "f.conf:2: k is wrong");
  }
}

TEST(Ini, ReadsFiles) {
  test::temp_dir dir;
  const auto path = dir.file("x.conf");
  std::ofstream(path) << "[s]\nk = v\n";
  auto d = read_ini_file(path);
  EXPECT_EQ(d.source, path);
  ASSERT_EQ(d.entries.size(), 1u);
  try {
    read_ini_file(dir.file("missing.conf"));
    ADD_FAILURE();
  } catch (const ini_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.conf: cannot read: No such file"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace vsocklib
