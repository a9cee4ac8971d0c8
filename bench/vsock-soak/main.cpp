// vsock-soak: proves a path carries every byte over long runs with faults. See docs/vsock-soak.md.
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "vsock_soak/soak.hpp"
#include "vsocklib/args.hpp"
#include "vsocklib/log.hpp"
#include "vsocklib/number.hpp"
#include "vsocklib/privileges.hpp"

#ifndef VSOCKLIB_VERSION
#define VSOCKLIB_VERSION "unknown"
#endif

namespace {

using namespace vsock_soak;

constexpr const char* kUsage = R"(usage: vsock-soak run --target ADDRESS [OPTIONS]
       vsock-soak serve --listen ADDRESS [OPTIONS]

run: sends verified traffic on many streams through ADDRESS to a `vsock-soak serve`, which
echoes it; every byte is checked (sequence + checksum + content), faults are injected on a
schedule and every recovery is timed. Exit status 0 when nothing was lost or corrupted and
every bound held, 1 otherwise, 2 on usage errors.

ADDRESS: vsock:CID:PORT, hvsock:UDS_PATH:PORT, unix:PATH, tcp:HOST:PORT

run options
  --target ADDRESS          where serve listens, directly or through a relay
  --streams N               concurrent connections (default 4)
  --sizes MIN..MAX|A,B,C    message sizes, log-uniform in MIN..MAX or one of a list
                            (default 1..65536; at most 1048576)
  --window N                messages in flight per stream (default 4)
  --duration D              how long to send (default 60s); D is 90, 500ms, 20s, 10m, 1h
  --seed S                  seeds sizes, payloads and fault choices (default 1)
  --restart-cmd CMD         restart the far peer (sh -c CMD) every --restart-every
  --restart-every D
  --flap-cmd CMD            e.g. take an interface down and up, every --flap-every
  --flap-every D
  --drop-every D            close one stream's connection from this side
  --pause-every D           stop reading one stream for --pause-for (default 2s)
  --pause-for D
  --reconnect-hook CMD      run before reconnecting after a break (shared by all streams),
                            e.g. "adb -s SERIAL wait-for-device forward tcp:X tcp:Y"
  --command-timeout D       bound on each fault command and hook run (default 60s)
  --connect-timeout D       bound on each connect + hello (default 3s)
  --recovery-bound D        a recovery taking longer fails the run (default 2s)
  --stall-timeout D         no echo this long with messages in flight is a stall (default 10s)
  --drain-timeout D         after --duration, time for outstanding echoes (default 10s)
  --watch-pid PID           sample RSS, fds, threads, CPU of PID every second (repeatable)
  --watch-name NAME         the same for the process named NAME, followed across restarts
  --warmup D                growth is measured from the first sample after D (default 10s)
  --drift-window D          growth = peak of the last D minus peak of the first D after
                            the warm-up (default 10s; cover one fault cycle)
  --max-rss-growth-kib N    fail when a watched process's RSS grew more than N KiB
  --max-fd-growth N         fail when a watched process's open fds grew by more than N
  --json FILE               results as JSON
  --html FILE               a self-contained HTML report with charts
  --progress MODE           auto (a refreshing line on a terminal, else a line every 10 s),
                            tty, lines or quiet

serve options
  --listen ADDRESS          repeatable
  --max-connections N       served at once (default 256)
  --allow-cid CID, --allow-uid UID, --allow-remote-tcp   the listener's peer policy
  --inject-corruption STREAM:OFFSET   flip one bit of that byte in the echo, once (tests)

both
  --config FILE             options from FILE, one per line ("streams 8", "# comment");
                            options on the command line come after, so they win
  --log-level LEVEL         trace, debug, info, warn, error, off (default info)
  -h, --help, --version
)";

[[noreturn]] void usage_exit(const std::string& what) {
  std::cerr << "vsock-soak: " << what << "\n(try vsock-soak --help)\n";
  std::exit(2);
}

// "--name value" lines of a config file, as arguments.
std::vector<std::string> read_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot read --config " + path);
  std::vector<std::string> args;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    line = line.substr(first);
    const auto sp = line.find_first_of(" \t");
    args.push_back("--" + line.substr(0, sp));
    if (sp != std::string::npos) {
      auto value = line.substr(line.find_first_not_of(" \t", sp));
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r')) value.pop_back();
      args.push_back(value);
    }
    (void)n;
  }
  return args;
}

std::uint64_t parse_number(const std::string& name, const std::string& v, std::uint64_t lo, std::uint64_t hi) {
  return vsocklib::require_unsigned<std::invalid_argument>(name, v, lo, hi, vsocklib::number_base::decimal_or_hex);
}

milliseconds duration_of(const std::string& name, const std::string& v) {
  try {
    return parse_duration(v);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(name + ": " + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  auto args = vsocklib::split_option_values(argc, argv);
  args.erase(args.begin());  // the program's name
  if (args.empty()) usage_exit("a command is needed: run or serve");
  if (args[0] == "-h" || args[0] == "--help") {
    std::cout << kUsage;
    return 0;
  }
  if (args[0] == "--version") {
    std::cout << "vsock-soak " << VSOCKLIB_VERSION << "\n";
    return 0;
  }
  const std::string cmd = args[0];
  if (cmd != "run" && cmd != "serve") usage_exit("unknown command \"" + cmd + "\" (run or serve)");
  args.erase(args.begin());

  run_options ro;
  ro.version = VSOCKLIB_VERSION;
  serve_options so;
  std::string log_level = "info";
  bool have_target = false;
  try {
    // --config first, so the command line's own options come after it and win.
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--config") {
        auto conf = read_config(args[i + 1]);
        args.erase(args.begin() + i, args.begin() + i + 2);
        args.insert(args.begin(), conf.begin(), conf.end());
        break;
      }
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      auto value = [&]() -> const std::string& {
        if (i + 1 >= args.size()) throw std::invalid_argument(a + " needs a value");
        return args[++i];
      };
      if (a == "-h" || a == "--help") {
        std::cout << kUsage;
        return 0;
      } else if (a == "--version") {
        std::cout << "vsock-soak " << VSOCKLIB_VERSION << "\n";
        return 0;
      } else if (a == "--log-level") {
        log_level = value();
      } else if (cmd == "serve" && a == "--listen") {
        so.listen.push_back(vsocklib::parse_address(value()));
      } else if (cmd == "serve" && a == "--max-connections") {
        so.max_connections = static_cast<unsigned>(parse_number(a, value(), 1, 65536));
      } else if (cmd == "serve" && a == "--allow-cid") {
        so.policy.allowed_cids.push_back(static_cast<std::uint32_t>(parse_number(a, value(), 0, 0xffffffff)));
      } else if (cmd == "serve" && a == "--allow-uid") {
        so.policy.allowed_uids.push_back(static_cast<uid_t>(parse_number(a, value(), 0, vsocklib::kMaxUid)));
      } else if (cmd == "serve" && a == "--allow-remote-tcp") {
        so.policy.allow_remote_tcp = true;
      } else if (cmd == "serve" && a == "--inject-corruption") {
        const std::string& v = value();
        const auto colon = v.find(':');
        if (colon == std::string::npos) throw std::invalid_argument(a + " \"" + v + "\": expected STREAM:OFFSET");
        so.inject_corruption.emplace(static_cast<std::uint32_t>(parse_number(a, v.substr(0, colon), 0, 0xffffffff)),
                                     parse_number(a, v.substr(colon + 1), 0, ~std::uint64_t{0}));
      } else if (cmd == "run" && a == "--target") {
        ro.target = vsocklib::parse_address(value());
        if (!ro.target.is_stream()) throw std::invalid_argument("--target must be a stream address");
        if (auto why = vsocklib::connect_problem(ro.target); !why.empty()) throw std::invalid_argument("--target " + why);
        have_target = true;
      } else if (cmd == "run" && a == "--streams") {
        ro.streams = static_cast<unsigned>(parse_number(a, value(), 1, 4096));
      } else if (cmd == "run" && a == "--window") {
        ro.window = static_cast<unsigned>(parse_number(a, value(), 1, 1024));
      } else if (cmd == "run" && a == "--sizes") {
        ro.sizes = size_mix::parse(value());
      } else if (cmd == "run" && a == "--duration") {
        ro.duration = duration_of(a, value());
      } else if (cmd == "run" && a == "--seed") {
        ro.seed = parse_number(a, value(), 0, ~std::uint64_t{0});
      } else if (cmd == "run" && a == "--restart-cmd") {
        ro.restart.command = value();
      } else if (cmd == "run" && a == "--restart-every") {
        ro.restart.every = duration_of(a, value());
      } else if (cmd == "run" && a == "--flap-cmd") {
        ro.flap.command = value();
      } else if (cmd == "run" && a == "--flap-every") {
        ro.flap.every = duration_of(a, value());
      } else if (cmd == "run" && a == "--drop-every") {
        ro.drop_every = duration_of(a, value());
      } else if (cmd == "run" && a == "--pause-every") {
        ro.pause_every = duration_of(a, value());
      } else if (cmd == "run" && a == "--pause-for") {
        ro.pause_for = duration_of(a, value());
      } else if (cmd == "run" && a == "--reconnect-hook") {
        ro.reconnect_hook = value();
      } else if (cmd == "run" && a == "--command-timeout") {
        ro.command_timeout = duration_of(a, value());
      } else if (cmd == "run" && a == "--connect-timeout") {
        ro.connect_timeout = duration_of(a, value());
      } else if (cmd == "run" && a == "--recovery-bound") {
        ro.recovery_bound = duration_of(a, value());
      } else if (cmd == "run" && a == "--stall-timeout") {
        ro.stall_timeout = duration_of(a, value());
      } else if (cmd == "run" && a == "--drain-timeout") {
        ro.drain_timeout = duration_of(a, value());
      } else if (cmd == "run" && a == "--watch-pid") {
        ro.watch_pids.push_back(static_cast<pid_t>(parse_number(a, value(), 1, 0x3fffffff)));
      } else if (cmd == "run" && a == "--watch-name") {
        ro.watch_names.push_back(value());
      } else if (cmd == "run" && a == "--warmup") {
        ro.warmup = duration_of(a, value());
      } else if (cmd == "run" && a == "--drift-window") {
        ro.drift_window = duration_of(a, value());
      } else if (cmd == "run" && a == "--max-rss-growth-kib") {
        ro.max_rss_growth_kib = static_cast<std::int64_t>(parse_number(a, value(), 0, 1ull << 40));
      } else if (cmd == "run" && a == "--max-fd-growth") {
        ro.max_fd_growth = static_cast<std::int64_t>(parse_number(a, value(), 0, 1u << 20));
      } else if (cmd == "run" && a == "--json") {
        ro.json_path = value();
      } else if (cmd == "run" && a == "--html") {
        ro.html_path = value();
      } else if (cmd == "run" && a == "--progress") {
        const std::string& v = value();
        if (v == "auto") ro.progress = progress_mode::automatic;
        else if (v == "tty") ro.progress = progress_mode::tty;
        else if (v == "lines") ro.progress = progress_mode::lines;
        else if (v == "quiet") ro.progress = progress_mode::quiet;
        else throw std::invalid_argument("--progress \"" + v + "\": auto, tty, lines or quiet");
      } else {
        throw std::invalid_argument("unknown option \"" + a + "\" for " + cmd);
      }
    }
    if (cmd == "run" && !have_target) throw std::invalid_argument("run needs --target");
    if (cmd == "serve" && so.listen.empty()) throw std::invalid_argument("serve needs --listen");
    if ((ro.restart.every.count() > 0) != !ro.restart.command.empty()) {
      throw std::invalid_argument("--restart-cmd and --restart-every go together");
    }
    if ((ro.flap.every.count() > 0) != !ro.flap.command.empty()) {
      throw std::invalid_argument("--flap-cmd and --flap-every go together");
    }
    vsocklib::log::setup(log_level);
  } catch (const std::invalid_argument& e) {
    usage_exit(e.what());
  }

  auto log = vsocklib::log::get("vsock-soak");
  try {
    if (cmd == "serve") {
      serve(so, log);
      return 0;
    }
    results r = run_soak(ro, log);
    auto write = [&](const std::string& path, const std::string& text) {
      std::ofstream out(path, std::ios::trunc);
      out << text;
      if (!out.flush()) {
        log->error("cannot write {}", path);
        return false;
      }
      return true;
    };
    bool written = true;
    if (!ro.json_path.empty()) written &= write(ro.json_path, to_json(r));
    if (!ro.html_path.empty()) written &= write(ro.html_path, to_html(r));
    std::cout << summary_line(r) << std::endl;
    for (std::size_t i = 1; i < r.failures.size(); ++i) std::cout << "  also: " << r.failures[i] << "\n";
    return r.passed() && written ? 0 : 1;
  } catch (const std::exception& e) {
    log->error("{}", e.what());
    return 1;
  }
}
