// Command-line plumbing shared by every program.
#pragma once

#include <string>
#include <vector>

namespace vsocklib {

/// ARGV as strings (argv[0] included, so indices stay the same), with every "--name=value"
/// before a "--" split into "--name" and "value": each program's parser then takes both
/// spellings. Only the first '=' splits ("--serial=a=b" gives "a=b").
std::vector<std::string> split_option_values(int argc, const char* const* argv);

}  // namespace vsocklib
