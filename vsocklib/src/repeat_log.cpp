#include "vsocklib/repeat_log.hpp"

#include <spdlog/logger.h>

namespace vsocklib {

void repeat_log::warn(const std::string& message) {
  if (count_ > 0 && message == last_) {
    ++count_;
    if (count_ == next_reminder_) {
      log_->warn("{} (still failing: {} times in a row)", last_, count_);
      next_reminder_ *= 10;
    }
    return;
  }
  flush();
  last_ = message;
  count_ = 1;
  next_reminder_ = 10;
  log_->warn("{}", message);
}

void repeat_log::clear() {
  flush();
  last_.clear();
  count_ = 0;
}

void repeat_log::flush() {
  if (count_ > 1) log_->info("previous message repeated {} times: {}", count_, last_);
}

}  // namespace vsocklib
