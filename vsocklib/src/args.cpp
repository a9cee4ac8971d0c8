#include "vsocklib/args.hpp"

namespace vsocklib {

std::vector<std::string> split_option_values(int argc, const char* const* argv) {
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(argc));
  bool options_ended = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") options_ended = true;
    const auto eq = a.find('=');
    if (i > 0 && !options_ended && a.size() > 2 && a.starts_with("--") && eq != std::string::npos && eq > 2) {
      out.push_back(a.substr(0, eq));
      out.push_back(a.substr(eq + 1));
    } else {
      out.push_back(std::move(a));
    }
  }
  return out;
}

}  // namespace vsocklib
