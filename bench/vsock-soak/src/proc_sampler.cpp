#include "vsock_soak/proc_sampler.hpp"

#include <dirent.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace vsock_soak {
namespace {

std::optional<std::uint64_t> number_after(std::string_view text, std::string_view key) {
  for (std::size_t at = 0; (at = text.find(key, at)) != std::string_view::npos; at += key.size()) {
    if (at != 0 && text[at - 1] != '\n') continue;  // the key must start a line
    auto rest = text.substr(at + key.size());
    const auto first = rest.find_first_of("0123456789");
    if (first == std::string_view::npos) return std::nullopt;
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(rest.data() + first, rest.data() + rest.size(), v);
    if (ec != std::errc()) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::optional<proc_sample> parse_status(std::string_view status) {
  auto rss = number_after(status, "VmRSS:");
  auto threads = number_after(status, "Threads:");
  if (!rss || !threads) return std::nullopt;
  proc_sample s;
  s.rss_kib = *rss;
  s.threads = *threads;
  return s;
}

std::optional<std::uint64_t> parse_stat_cpu(std::string_view stat) {
  const auto paren = stat.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  // After ") ": field 3 (state) is index 0, so utime (field 14) is index 11, stime 12.
  std::string_view rest = stat.substr(paren + 1);
  std::uint64_t ticks = 0;
  for (int field = 0; field <= 12; ++field) {
    const auto start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(start);
    const auto end = std::min(rest.find(' '), rest.size());
    if (field >= 11) {
      std::uint64_t v = 0;
      auto [p, ec] = std::from_chars(rest.data(), rest.data() + end, v);
      if (ec != std::errc() || p != rest.data() + end) return std::nullopt;
      ticks += v;
    }
    rest.remove_prefix(end);
  }
  return ticks;
}

std::optional<proc_sample> sample_process(pid_t pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  auto status = slurp(base + "/status");
  auto stat = slurp(base + "/stat");
  if (!status || !stat) return std::nullopt;
  auto s = parse_status(*status);
  auto cpu = parse_stat_cpu(*stat);
  if (!s || !cpu) return std::nullopt;
  s->cpu_ticks = *cpu;
  DIR* d = ::opendir((base + "/fd").c_str());
  if (!d) return std::nullopt;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++s->fds;
  }
  ::closedir(d);
  return s;
}

std::optional<pid_t> find_process(const std::string& name, pid_t exclude) {
  const std::string want = name.substr(0, 15);
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string n = e.path().filename().string();
    pid_t pid = 0;
    auto [p, perr] = std::from_chars(n.data(), n.data() + n.size(), pid);
    if (perr != std::errc() || p != n.data() + n.size() || pid == exclude) continue;
    auto comm = slurp(e.path().string() + "/comm");
    if (!comm) continue;
    if (!comm->empty() && comm->back() == '\n') comm->pop_back();
    if (*comm == want) return pid;
  }
  return std::nullopt;
}

}  // namespace vsock_soak
