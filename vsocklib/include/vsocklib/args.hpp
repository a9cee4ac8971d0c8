// Command-line plumbing shared by every program: one error type, one way to walk the
// arguments, and getters whose errors name the option and the text, so that a user with a
// long command line learns which option to fix whatever the program.
#pragma once

#include <cassert>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "vsocklib/address.hpp"
#include "vsocklib/number.hpp"

namespace vsocklib {

/// A mistake on the command line (or in a file it names): programs print what() and exit
/// with status 2. what() names the option and the text it rejected.
class usage_error : public std::invalid_argument {
 public:
  /// COMMAND: the subcommand whose --help the message should point to ("host"), or empty
  /// for the program's own --help.
  explicit usage_error(const std::string& what, std::string command = {})
      : std::invalid_argument(what), command_(std::move(command)) {}
  const std::string& command() const noexcept { return command_; }

 private:
  std::string command_;
};

/// ARGV as strings (argv[0] included, so indices stay the same), with every "--name=value"
/// before a "--" split into "--name" and "value": each program's parser then takes both
/// spellings. Only the first '=' splits ("--serial=a=b" gives "a=b").
std::vector<std::string> split_option_values(int argc, const char* const* argv);

/// Walks a command line one argument at a time; the getters take the current option's
/// value and throw usage_error naming the option. A parser is a loop:
///
///   arg_reader in(argc, argv);
///   while (in.next()) {
///     if (auto stop = in.help_or_version(action::help, action::version)) ...
///     else if (in.option() == "--chunks") o.chunks = in.number<unsigned>(1, 64);
///     else in.unknown();
///   }
///
/// Not thread-safe; one parse, one reader.
class arg_reader {
 public:
  /// Reads split_option_values(ARGC, ARGV) from argv[1].
  arg_reader(int argc, const char* const* argv);
  /// Reads ARGS from ARGS[FIRST] (after a subcommand, say). COMMAND goes into every
  /// usage_error the reader throws.
  arg_reader(std::vector<std::string> args, std::size_t first, std::string command = {});

  /// Moves to the next argument; false after the last.
  bool next();
  /// The current argument: an option, or a positional argument the caller takes as such.
  const std::string& option() const { return option_; }
  const std::string& command() const { return command_; }

  /// HELP for -h/--help, VERSION for --version, else nullopt. They end parsing where they
  /// stand, so a mistake before them is still reported and one after them never is.
  template <typename Action>
  std::optional<Action> help_or_version(Action help, Action version) const {
    if (is_help()) return help;
    if (option_ == "--version") return version;
    return std::nullopt;
  }
  bool is_help() const { return option_ == "-h" || option_ == "--help"; }

  /// The argument after the option, which it consumes; "OPTION needs a value" when none.
  std::string value();
  /// The next argument when it is not an option ("--status [PATH]"), consumed; nullopt
  /// (nothing consumed) when there is none or it starts with '-'.
  std::optional<std::string> optional_value();

  /// value() as a number in LO..HI: "OPTION needs a number in LO..HI, not "TEXT"".
  /// T is the field the number goes into; HI must fit it.
  template <std::integral T = std::uint64_t>
  T number(std::uint64_t lo, std::uint64_t hi, number_base base = number_base::decimal) {
    return narrow<T>(number_in(value(), lo, hi, base), hi);
  }
  /// TEXT (a piece of the option's value, "STREAM" of "STREAM:OFFSET") as number() reads it.
  std::uint64_t number_in(std::string_view text, std::uint64_t lo, std::uint64_t hi,
                          number_base base = number_base::decimal) const;

  /// PARSE(value()), with a std::invalid_argument it throws turned into a usage_error
  /// "OPTION: what()": value parsers name the text but cannot know the option.
  template <typename Parse>
  auto value_as(Parse parse) -> decltype(parse(std::string{})) {
    const std::string text = value();
    try {
      return parse(text);
    } catch (const usage_error&) {
      throw;
    } catch (const std::invalid_argument& e) {
      fail(option_ + ": " + e.what());
    }
  }
  /// value() through parse_address: "OPTION: bad address ...".
  vsocklib::address address();
  /// address(), and a byte stream: "OPTION needs a stream address, not TEXT".
  vsocklib::address stream_address();

  /// Throws usage_error(MESSAGE) for the reader's command.
  [[noreturn]] void fail(const std::string& message) const;
  /// Throws "unknown option OPTION".
  [[noreturn]] void unknown() const;

 private:
  template <typename T>
  static T narrow(std::uint64_t v, [[maybe_unused]] std::uint64_t hi) {
    // A caller's bound, not the user's text, is at fault when HI overflows T.
    assert(hi <= static_cast<std::uint64_t>(std::numeric_limits<T>::max()));
    return static_cast<T>(v);
  }
  vsocklib::address address_of(const std::string& text) const;

  std::vector<std::string> args_;
  std::string command_;
  std::size_t next_;
  std::string option_;
};

}  // namespace vsocklib
