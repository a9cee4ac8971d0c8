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
    if (i > 0 && !options_ended && a.size() > 2 && a.starts_with("--") && eq != std::string::npos &&
        eq > 2) {
      out.push_back(a.substr(0, eq));
      out.push_back(a.substr(eq + 1));
    } else {
      out.push_back(std::move(a));
    }
  }
  return out;
}

arg_reader::arg_reader(int argc, const char* const* argv)
    : arg_reader(split_option_values(argc, argv), 1) {}

arg_reader::arg_reader(std::vector<std::string> args, std::size_t first, std::string command)
    : args_(std::move(args)), command_(std::move(command)), next_(first) {}

bool arg_reader::next() {
  if (next_ >= args_.size()) return false;
  option_ = args_[next_++];
  return true;
}

std::string arg_reader::value() {
  if (next_ >= args_.size()) fail(option_ + " needs a value");
  return args_[next_++];
}

std::optional<std::string> arg_reader::optional_value() {
  if (next_ >= args_.size() || args_[next_].starts_with("-")) return std::nullopt;
  return args_[next_++];
}

std::uint64_t arg_reader::number_in(std::string_view text, std::uint64_t lo, std::uint64_t hi,
                                    number_base base) const {
  if (auto v = parse_unsigned(text, lo, hi, base)) return *v;
  fail(number_error_text(option_, text, lo, hi));
}

vsocklib::address arg_reader::address() { return address_of(value()); }

vsocklib::address arg_reader::stream_address() {
  const std::string text = value();
  auto addr = address_of(text);
  if (!addr.is_stream()) fail(option_ + " needs a stream address, not " + text);
  return addr;
}

vsocklib::address arg_reader::address_of(const std::string& text) const {
  try {
    return parse_address(text);
  } catch (const address_error& e) {
    fail(option_ + ": " + e.what());
  }
}

void arg_reader::fail(const std::string& message) const { throw usage_error(message, command_); }

void arg_reader::unknown() const { fail("unknown option " + option_); }

}  // namespace vsocklib
