#include "vsocklib/log.hpp"

#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace vsocklib::log {
namespace {

std::mutex g_mutex;
spdlog::level::level_enum g_level = spdlog::level::info;

bool under_journald() {
  // systemd sets JOURNAL_STREAM when stdout/stderr are connected to the journal.
  return std::getenv("JOURNAL_STREAM") != nullptr;
}

// "<N>" is the sd-daemon(3) priority prefix; journald stores it as the line's priority
// instead of printing it.
class syslog_priority final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    static constexpr char kPriority[] = {'7', '7', '6', '4', '3', '2', '6'};
    const char text[] = {'<', kPriority[msg.level], '>'};
    dest.append(text, text + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<syslog_priority>();
  }
};

void apply_format(spdlog::logger& l) {
  if (under_journald()) {
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<syslog_priority>('*').set_pattern("%*[%n] %v");
    l.set_formatter(std::move(f));
  } else {
    l.set_pattern("%Y-%m-%d %H:%M:%S.%e [%n] %^%l%$: %v");
  }
  l.set_level(g_level);
}

}  // namespace

void check_level(const std::string& level) {
  // from_str maps unknown names to "off"; only "off" itself may mean off.
  if (spdlog::level::from_str(level) == spdlog::level::off && level != "off") {
    throw std::invalid_argument("unknown log level \"" + level +
                                "\" (trace, debug, info, warn, error, critical, off)");
  }
}

void setup(const std::string& level) {
  check_level(level);
  const auto parsed = spdlog::level::from_str(level);
  std::lock_guard lock(g_mutex);
  g_level = parsed;
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { apply_format(*l); });
}

std::shared_ptr<spdlog::logger> get(const std::string& component) {
  std::lock_guard lock(g_mutex);
  if (auto existing = spdlog::get(component)) return existing;
  auto l = spdlog::stderr_color_mt(component);
  apply_format(*l);
  return l;
}

}  // namespace vsocklib::log
