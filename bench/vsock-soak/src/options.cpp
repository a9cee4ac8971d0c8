#include "vsock_soak/options.hpp"

#include <cstdint>
#include <fstream>

#include "vsocklib/privileges.hpp"

namespace vsock_soak {

const char* const kUsage = R"(usage: vsock-soak run --target ADDRESS [OPTIONS]
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
  --small-burst-every D     the small-packets fault: one stream stops reading its echoes
                            for --small-burst-for (default 3s) while it keeps up to
                            --small-burst-window messages (default 1024; at most 4096) of
                            --small-burst-sizes (default 1..600) in flight, so the far
                            side's echoes queue up as many small writes
  --small-burst-for D
  --small-burst-window N
  --small-burst-sizes MIN..MAX|A,B,C
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

namespace {

// Seeds and offsets read best in hex, so every number takes it.
constexpr auto kBase = vsocklib::number_base::decimal_or_hex;

// The options after the command, config already spliced in; help and version return early.
void parse_options(std::vector<std::string> args, command_line& cl) {
  const bool for_run = cl.what == command_line::action::run;
  const bool for_serve = !for_run;
  const std::string cmd = for_run ? "run" : "serve";
  run_options& ro = cl.run;
  serve_options& so = cl.serve;
  bool have_target = false;
  vsocklib::arg_reader in(std::move(args), 0);
  while (in.next()) {
    const std::string& a = in.option();
    if (auto stop = in.help_or_version(command_line::action::help, command_line::action::version)) {
      cl.what = *stop;
      return;
    } else if (a == "--log-level") {
      cl.log_level = in.value();
    } else if (for_serve && a == "--listen") {
      so.listen.push_back(in.address());
    } else if (for_serve && a == "--max-connections") {
      so.max_connections = in.number<unsigned>(1, 65536, kBase);
    } else if (for_serve && vsocklib::read_peer_policy_option(in, so.policy, kBase)) {
    } else if (for_serve && a == "--inject-corruption") {
      const std::string v = in.value();
      const auto colon = v.find(':');
      if (colon == std::string::npos) in.fail(a + " \"" + v + "\": expected STREAM:OFFSET");
      so.inject_corruption.emplace(
          static_cast<std::uint32_t>(in.number_in(v.substr(0, colon), 0, 0xffffffff, kBase)),
          in.number_in(v.substr(colon + 1), 0, ~std::uint64_t{0}, kBase));
    } else if (for_run && a == "--target") {
      ro.target = in.stream_address();
      if (auto why = vsocklib::connect_problem(ro.target); !why.empty()) in.fail("--target " + why);
      have_target = true;
    } else if (for_run && a == "--streams") {
      ro.streams = in.number<unsigned>(1, 4096, kBase);
    } else if (for_run && a == "--window") {
      ro.window = in.number<unsigned>(1, 1024, kBase);
    } else if (for_run && a == "--sizes") {
      ro.sizes = in.value_as(size_mix::parse);
    } else if (for_run && a == "--duration") {
      ro.duration = in.value_as(parse_duration);
    } else if (for_run && a == "--seed") {
      ro.seed = in.number(0, ~std::uint64_t{0}, kBase);
    } else if (for_run && a == "--restart-cmd") {
      ro.restart.command = in.value();
    } else if (for_run && a == "--restart-every") {
      ro.restart.every = in.value_as(parse_duration);
    } else if (for_run && a == "--flap-cmd") {
      ro.flap.command = in.value();
    } else if (for_run && a == "--flap-every") {
      ro.flap.every = in.value_as(parse_duration);
    } else if (for_run && a == "--drop-every") {
      ro.drop_every = in.value_as(parse_duration);
    } else if (for_run && a == "--pause-every") {
      ro.pause_every = in.value_as(parse_duration);
    } else if (for_run && a == "--pause-for") {
      ro.pause_for = in.value_as(parse_duration);
    } else if (for_run && a == "--small-burst-every") {
      ro.small_burst_every = in.value_as(parse_duration);
    } else if (for_run && a == "--small-burst-for") {
      ro.small_burst_for = in.value_as(parse_duration);
    } else if (for_run && a == "--small-burst-window") {
      ro.small_burst_window = in.number<unsigned>(1, 4096, kBase);
    } else if (for_run && a == "--small-burst-sizes") {
      ro.small_burst_sizes = in.value_as(size_mix::parse);
    } else if (for_run && a == "--reconnect-hook") {
      ro.reconnect_hook = in.value();
    } else if (for_run && a == "--command-timeout") {
      ro.command_timeout = in.value_as(parse_duration);
    } else if (for_run && a == "--connect-timeout") {
      ro.connect_timeout = in.value_as(parse_duration);
    } else if (for_run && a == "--recovery-bound") {
      ro.recovery_bound = in.value_as(parse_duration);
    } else if (for_run && a == "--stall-timeout") {
      ro.stall_timeout = in.value_as(parse_duration);
    } else if (for_run && a == "--drain-timeout") {
      ro.drain_timeout = in.value_as(parse_duration);
    } else if (for_run && a == "--watch-pid") {
      ro.watch_pids.push_back(in.number<pid_t>(1, 0x3fffffff, kBase));
    } else if (for_run && a == "--watch-name") {
      ro.watch_names.push_back(in.value());
    } else if (for_run && a == "--warmup") {
      ro.warmup = in.value_as(parse_duration);
    } else if (for_run && a == "--drift-window") {
      ro.drift_window = in.value_as(parse_duration);
    } else if (for_run && a == "--max-rss-growth-kib") {
      ro.max_rss_growth_kib = in.number<std::int64_t>(0, 1ull << 40, kBase);
    } else if (for_run && a == "--max-fd-growth") {
      ro.max_fd_growth = in.number<std::int64_t>(0, 1u << 20, kBase);
    } else if (for_run && a == "--json") {
      ro.json_path = in.value();
    } else if (for_run && a == "--html") {
      ro.html_path = in.value();
    } else if (for_run && a == "--progress") {
      const std::string v = in.value();
      if (v == "auto") ro.progress = progress_mode::automatic;
      else if (v == "tty") ro.progress = progress_mode::tty;
      else if (v == "lines") ro.progress = progress_mode::lines;
      else if (v == "quiet") ro.progress = progress_mode::quiet;
      else in.fail("--progress \"" + v + "\": auto, tty, lines or quiet");
    } else {
      in.fail("unknown option \"" + a + "\" for " + cmd);
    }
  }
  if (for_run && !have_target) throw usage_error("run needs --target");
  if (for_serve && so.listen.empty()) throw usage_error("serve needs --listen");
  if ((ro.restart.every.count() > 0) != !ro.restart.command.empty()) {
    throw usage_error("--restart-cmd and --restart-every go together");
  }
  if ((ro.flap.every.count() > 0) != !ro.flap.command.empty()) {
    throw usage_error("--flap-cmd and --flap-every go together");
  }
  if (ro.small_burst_every.count() > 0 && ro.small_burst_for >= ro.small_burst_every) {
    throw usage_error("--small-burst-for must be shorter than --small-burst-every");
  }
}

}  // namespace

std::vector<std::string> read_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw usage_error("cannot read --config " + path);
  std::vector<std::string> args;
  std::string line;
  while (std::getline(in, line)) {
    // Trailing blanks (and the \r of a CRLF file) first, so "streams " is a name alone.
    const auto last = line.find_last_not_of(" \t\r");
    if (last == std::string::npos) continue;
    line.erase(last + 1);
    const auto first = line.find_first_not_of(" \t");
    if (line[first] == '#') continue;
    line = line.substr(first);
    const auto sp = line.find_first_of(" \t");
    args.push_back("--" + line.substr(0, sp));
    if (sp != std::string::npos) args.push_back(line.substr(line.find_first_not_of(" \t", sp)));
  }
  return args;
}

command_line parse_command_line(int argc, const char* const* argv) {
  auto args = vsocklib::split_option_values(argc, argv);
  args.erase(args.begin());  // the program's name
  command_line cl;
  if (args.empty()) throw usage_error("a command is needed: run or serve");
  if (args[0] == "-h" || args[0] == "--help") {
    cl.what = command_line::action::help;
    return cl;
  }
  if (args[0] == "--version") {
    cl.what = command_line::action::version;
    return cl;
  }
  if (args[0] == "run") {
    cl.what = command_line::action::run;
  } else if (args[0] == "serve") {
    cl.what = command_line::action::serve;
  } else {
    throw usage_error("unknown command \"" + args[0] + "\" (run or serve)");
  }
  args.erase(args.begin());
  // --config first, so the command line's own options come after it and win.
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--config") {
      auto conf = read_config(args[i + 1]);
      args.erase(args.begin() + i, args.begin() + i + 2);
      args.insert(args.begin(), conf.begin(), conf.end());
      break;
    }
  }
  try {
    parse_options(std::move(args), cl);
  } catch (const usage_error&) {
    throw;
  } catch (const std::invalid_argument& e) {
    // The address and size parsers' own errors already name the text they reject.
    throw usage_error(e.what());
  }
  return cl;
}

}  // namespace vsock_soak
