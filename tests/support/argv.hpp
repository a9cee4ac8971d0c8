// Calls a program's parse_command_line as main would, from the arguments after argv[0].
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "vsocklib/args.hpp"

namespace vsocklib::test {

/// PARSE(argc, argv) with argv = PROGRAM, then ARGS, then the null pointer a real argv ends
/// with; returns what PARSE returns (exceptions pass through).
template <typename Parse>
auto parse_argv(Parse parse, const char* program, std::vector<const char*> args) {
  args.insert(args.begin(), program);
  args.push_back(nullptr);
  return parse(static_cast<int>(args.size() - 1), args.data());
}

template <typename Parse>
auto parse_argv(Parse parse, const char* program, const std::vector<std::string>& args) {
  std::vector<const char*> pointers;
  for (const auto& a : args) pointers.push_back(a.c_str());
  return parse_argv(parse, program, std::move(pointers));
}

/// The usage_error text PARSE throws for ARGS; a test failure (and "") when they parse.
template <typename Parse>
std::string usage_error_of(Parse parse, const char* program, std::vector<const char*> args) {
  try {
    parse_argv(parse, program, std::move(args));
  } catch (const vsocklib::usage_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no usage_error";
  return {};
}

}  // namespace vsocklib::test
