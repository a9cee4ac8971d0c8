#include "vsocklib/log.hpp"

#include <cstdlib>
#include <regex>

#include <gtest/gtest.h>
#include <spdlog/logger.h>

namespace vsocklib {
namespace {

std::string log_one_line(const char* component) {
  testing::internal::CaptureStderr();
  auto l = log::get(component);
  l->warn("hello {}", 42);
  l->flush();
  return testing::internal::GetCapturedStderr();
}

TEST(Log, TerminalLinesCarryATimestamp) {
  ::unsetenv("JOURNAL_STREAM");
  log::setup("info");
  auto line = log_one_line("term");
  EXPECT_TRUE(std::regex_search(
      line, std::regex(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[term\] .*warning.*: hello 42)")))
      << line;
}

TEST(Log, JournaldLinesCarryPriorityAndNoTimestamp) {
  ::setenv("JOURNAL_STREAM", "8:12345", 1);
  log::setup("info");
  auto line = log_one_line("journal");
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_EQ(line, "<4>[journal] hello 42\n");
}

TEST(Log, LevelFiltersAndUnknownLevelIsAnError) {
  ::unsetenv("JOURNAL_STREAM");
  log::setup("error");
  EXPECT_EQ(log_one_line("quiet"), "");
  log::setup("info");
  EXPECT_THROW(log::setup("loud"), std::invalid_argument);
}

}  // namespace
}  // namespace vsocklib
