// Logging set-up shared by every program of the toolkit.
#pragma once

#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace vsocklib::log {

/// Configures spdlog once per process. Under systemd (JOURNAL_STREAM set, so stderr goes to
/// journald, which adds its own timestamps) lines are "<N>[component] message" with the
/// syslog priority prefix journald understands; on a terminal they carry a timestamp.
/// LEVEL is an spdlog level name ("trace", "debug", "info", "warn", "error", "off");
/// throws std::invalid_argument for anything else.
void setup(const std::string& level = "info");

/// Throws what setup(LEVEL) would throw for LEVEL, without changing anything: for
/// configuration checks (`--check`) that must report a bad level before start-up.
void check_level(const std::string& level);

/// The logger of one component ("pump", "connector", "listener", "adbd-relay", ...),
/// created on first use with the process-wide format and level.
std::shared_ptr<spdlog::logger> get(const std::string& component);

}  // namespace vsocklib::log
