// Logs a repeated identical message once, then with a count, instead of once per repeat.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace vsocklib {

/// The first occurrence of a message is logged; identical repeats are only counted, with a
/// reminder at 10, 100, 1000, ... repeats; when a different message comes (or clear() is
/// called) the count of the previous one is logged. Thread safety: none.
class repeat_log {
 public:
  explicit repeat_log(std::shared_ptr<spdlog::logger> log) : log_(std::move(log)) {}

  /// Logs MESSAGE at warning level, or counts it when it equals the previous one.
  void warn(const std::string& message);
  /// Ends the current run of repeats (e.g. after a success), logging its count if > 1.
  void clear();

  std::uint64_t repeats() const noexcept { return count_; }

 private:
  void flush();
  std::shared_ptr<spdlog::logger> log_;
  std::string last_;
  std::uint64_t count_ = 0;
  std::uint64_t next_reminder_ = 10;
};

}  // namespace vsocklib
