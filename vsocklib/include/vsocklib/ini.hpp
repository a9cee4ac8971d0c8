// A small INI reader for the programs' configuration files:
//
//   # comment (also "; comment"), blank lines ignored
//   [section]            or  [section name]   (the text between the brackets, trimmed)
//   key = value          (both trimmed; a value may be empty or contain '=')
//   key = value  # note  (a '#' after whitespace starts a comment; a value keeps a '#'
//                        that follows a non-blank, e.g. "tag=a#1")
//
// Keys before the first section belong to section "". The reader knows nothing of the
// keys: programs walk the entries and report unknown ones with ini_document::fail, so every
// error reads "FILE:LINE: what".
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vsocklib {

/// Thrown by the reader and by ini_document::fail; what() is "FILE:LINE: what" (or
/// "FILE: what" when no line applies).
class ini_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ini_entry {
  std::string section;
  std::string key;
  std::string value;
  int line = 0;
};

struct ini_section {
  std::string name;
  int line = 0;
};

/// A parsed file: sections and entries in file order. Plain value type.
struct ini_document {
  std::string source;  ///< the file name used in error messages
  std::vector<ini_section> sections;
  std::vector<ini_entry> entries;

  /// Throws ini_error "SOURCE:LINE: WHAT".
  [[noreturn]] void fail(int line, const std::string& what) const;
};

/// Parses TEXT; SOURCE names it in errors. Throws ini_error for a section header without
/// ']', an empty section name, a line without '=' or an empty key.
ini_document parse_ini(std::string_view text, const std::string& source);

/// Reads and parses the file PATH. Throws ini_error "PATH: cannot read: REASON" when it
/// cannot be read.
ini_document read_ini_file(const std::string& path);

}  // namespace vsocklib
