// vsocklib's INI reader: the configuration files of the daemons (root-owned, but a typo
// must give an error naming the line, never a crash). Properties: only ini_error escapes,
// and naming the source; what it accepts is trimmed, in file order, with line numbers
// inside the text.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "vsocklib/ini.hpp"

namespace {

bool trimmed(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  return s.empty() || (!blank(s.front()) && !blank(s.back()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  vsocklib::ini_document doc;
  try {
    doc = vsocklib::parse_ini(text, "fuzz.ini");
  } catch (const vsocklib::ini_error& e) {
    FUZZ_CHECK(std::string_view(e.what()).substr(0, 9) == "fuzz.ini:");
    return 0;
  }
  const int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  int last = 0;
  for (const auto& s : doc.sections) {
    FUZZ_CHECK(!s.name.empty() && trimmed(s.name));
    FUZZ_CHECK(s.line > last && s.line <= lines);
    last = s.line;
  }
  last = 0;
  for (const auto& e : doc.entries) {
    FUZZ_CHECK(!e.key.empty() && trimmed(e.key) && trimmed(e.value));
    FUZZ_CHECK(e.key.find('\n') == std::string::npos && e.value.find('\n') == std::string::npos);
    FUZZ_CHECK(e.line > last && e.line <= lines);
    last = e.line;
    FUZZ_CHECK(e.section.empty() ||
               std::any_of(doc.sections.begin(), doc.sections.end(),
                           [&](const auto& s) { return s.name == e.section; }));
  }
  return 0;
}
