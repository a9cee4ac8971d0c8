#include "vsocklib/ini.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace vsocklib {
namespace {

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r";
  auto b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

// VALUE without a trailing "  # comment" (a '#' that follows whitespace), trimmed.
std::string_view strip_comment(std::string_view value) {
  for (std::size_t i = 1; i < value.size(); ++i) {
    if (value[i] == '#' && (value[i - 1] == ' ' || value[i - 1] == '\t')) {
      value = value.substr(0, i);
      break;
    }
  }
  return trim(value);
}

}  // namespace

void ini_document::fail(int line, const std::string& what) const {
  if (line > 0) throw ini_error(source + ":" + std::to_string(line) + ": " + what);
  throw ini_error(source + ": " + what);
}

ini_document parse_ini(std::string_view text, const std::string& source) {
  ini_document doc;
  doc.source = source;
  std::string current;
  int line_no = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = trim(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      if (line.back() != ']') doc.fail(line_no, "section header without ']'");
      current = std::string(trim(line.substr(1, line.size() - 2)));
      if (current.empty()) doc.fail(line_no, "empty section name");
      doc.sections.push_back({current, line_no});
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string_view::npos) doc.fail(line_no, "expected key = value");
    auto key = trim(line.substr(0, eq));
    if (key.empty()) doc.fail(line_no, "empty key before '='");
    doc.entries.push_back(
        {current, std::string(key), std::string(strip_comment(line.substr(eq + 1))), line_no});
  }
  return doc;
}

ini_document read_ini_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw ini_error(path + ": cannot read: " + std::strerror(errno));
  std::stringstream text;
  text << f.rdbuf();
  if (f.bad()) throw ini_error(path + ": cannot read: " + std::strerror(errno));
  return parse_ini(text.str(), path);
}

}  // namespace vsocklib
