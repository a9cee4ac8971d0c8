// vsock-soak's command line: both commands, every option, both spellings, --config files
// (in a temporary directory) and the errors main prints.
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "argv.hpp"
#include "temp_dir.hpp"
#include "vsock_soak/options.hpp"

namespace vsock_soak {
namespace {

using namespace std::chrono_literals;

command_line parse(std::vector<const char*> args) {
  return vsocklib::test::parse_argv(parse_command_line, "vsock-soak", std::move(args));
}

std::string error_of(std::vector<const char*> args) {
  return vsocklib::test::usage_error_of(parse_command_line, "vsock-soak", std::move(args));
}

std::string write_file(const vsocklib::test::temp_dir& dir, const std::string& text) {
  const auto path = dir.file("soak.conf");
  std::ofstream(path) << text;
  return path;
}

TEST(VsockSoakOptions, RunDefaults) {
  auto cl = parse({"run", "--target", "unix:/run/echo.sock"});
  ASSERT_EQ(cl.what, command_line::action::run);
  const run_options& r = cl.run;
  EXPECT_EQ(r.target.to_string(), "unix:/run/echo.sock");
  EXPECT_EQ(r.streams, 4u);
  EXPECT_EQ(r.window, 4u);
  EXPECT_EQ(r.sizes.to_string(), "1..65536");
  EXPECT_EQ(r.duration, 60s);
  EXPECT_EQ(r.seed, 1u);
  EXPECT_TRUE(r.restart.command.empty());
  EXPECT_EQ(r.restart.every, 0ms);
  EXPECT_EQ(r.pause_for, 2s);
  EXPECT_EQ(r.small_burst_every, 0ms);
  EXPECT_EQ(r.small_burst_for, 3s);
  EXPECT_EQ(r.small_burst_window, 1024u);
  EXPECT_EQ(r.small_burst_sizes.to_string(), "1..600");
  EXPECT_EQ(r.command_timeout, 60s);
  EXPECT_EQ(r.connect_timeout, 3s);
  EXPECT_EQ(r.recovery_bound, 2s);
  EXPECT_EQ(r.stall_timeout, 10s);
  EXPECT_EQ(r.drain_timeout, 10s);
  EXPECT_EQ(r.warmup, 10s);
  EXPECT_EQ(r.drift_window, 10s);
  EXPECT_FALSE(r.max_rss_growth_kib);
  EXPECT_FALSE(r.max_fd_growth);
  EXPECT_EQ(r.progress, progress_mode::automatic);
  EXPECT_EQ(cl.log_level, "info");
  EXPECT_EQ(r.version, "unknown");  // main sets it
}

TEST(VsockSoakOptions, EveryRunOption) {
  auto cl = parse({"run",
                   "--target",
                   "tcp:127.0.0.1:7000",
                   "--streams",
                   "8",
                   "--sizes",
                   "16,4096,1048576",
                   "--window",
                   "1024",
                   "--duration",
                   "90",
                   "--seed",
                   "0x10",
                   "--restart-cmd",
                   "systemctl restart x",
                   "--restart-every",
                   "20s",
                   "--flap-cmd",
                   "ip link set eth1 down; ip link set eth1 up",
                   "--flap-every",
                   "1m",
                   "--drop-every",
                   "500ms",
                   "--pause-every",
                   "2m",
                   "--pause-for",
                   "1.5s",
                   "--small-burst-every",
                   "30s",
                   "--small-burst-for",
                   "4s",
                   "--small-burst-window",
                   "4096",
                   "--small-burst-sizes",
                   "1,2,3",
                   "--reconnect-hook",
                   "adb wait-for-device",
                   "--command-timeout",
                   "1h",
                   "--connect-timeout",
                   "250ms",
                   "--recovery-bound",
                   "3s",
                   "--stall-timeout",
                   "7s",
                   "--drain-timeout",
                   "11s",
                   "--watch-pid",
                   "1",
                   "--watch-pid",
                   "1073741823",
                   "--watch-name",
                   "adbd-relay",
                   "--warmup",
                   "5s",
                   "--drift-window",
                   "30s",
                   "--max-rss-growth-kib",
                   "1024",
                   "--max-fd-growth",
                   "3",
                   "--json",
                   "/tmp/r.json",
                   "--html",
                   "/tmp/r.html",
                   "--progress",
                   "lines",
                   "--log-level",
                   "debug"});
  ASSERT_EQ(cl.what, command_line::action::run);
  const run_options& r = cl.run;
  EXPECT_EQ(r.target.to_string(), "tcp:127.0.0.1:7000");
  EXPECT_EQ(r.streams, 8u);
  EXPECT_EQ(r.sizes.list, (std::vector<std::uint32_t>{16, 4096, 1048576}));
  EXPECT_EQ(r.window, 1024u);
  EXPECT_EQ(r.duration, 90s);
  EXPECT_EQ(r.seed, 16u);
  EXPECT_EQ(r.restart.command, "systemctl restart x");
  EXPECT_EQ(r.restart.every, 20s);
  EXPECT_EQ(r.flap.command, "ip link set eth1 down; ip link set eth1 up");
  EXPECT_EQ(r.flap.every, 1min);
  EXPECT_EQ(r.drop_every, 500ms);
  EXPECT_EQ(r.pause_every, 2min);
  EXPECT_EQ(r.pause_for, 1500ms);
  EXPECT_EQ(r.small_burst_every, 30s);
  EXPECT_EQ(r.small_burst_for, 4s);
  EXPECT_EQ(r.small_burst_window, 4096u);
  EXPECT_EQ(r.small_burst_sizes.list, (std::vector<std::uint32_t>{1, 2, 3}));
  EXPECT_EQ(r.reconnect_hook, "adb wait-for-device");
  EXPECT_EQ(r.command_timeout, 1h);
  EXPECT_EQ(r.connect_timeout, 250ms);
  EXPECT_EQ(r.recovery_bound, 3s);
  EXPECT_EQ(r.stall_timeout, 7s);
  EXPECT_EQ(r.drain_timeout, 11s);
  EXPECT_EQ(r.watch_pids, (std::vector<pid_t>{1, 1073741823}));
  EXPECT_EQ(r.watch_names, (std::vector<std::string>{"adbd-relay"}));
  EXPECT_EQ(r.warmup, 5s);
  EXPECT_EQ(r.drift_window, 30s);
  EXPECT_EQ(r.max_rss_growth_kib, 1024);
  EXPECT_EQ(r.max_fd_growth, 3);
  EXPECT_EQ(r.json_path, "/tmp/r.json");
  EXPECT_EQ(r.html_path, "/tmp/r.html");
  EXPECT_EQ(r.progress, progress_mode::lines);
  EXPECT_EQ(cl.log_level, "debug");

  EXPECT_EQ(parse({"run", "--target", "unix:/a", "--progress", "auto"}).run.progress,
            progress_mode::automatic);
  EXPECT_EQ(parse({"run", "--target", "unix:/a", "--progress", "tty"}).run.progress,
            progress_mode::tty);
  EXPECT_EQ(parse({"run", "--target", "unix:/a", "--progress", "quiet"}).run.progress,
            progress_mode::quiet);
  auto range = parse({"run", "--target", "unix:/a", "--sizes", "100..200"}).run.sizes;
  EXPECT_EQ(range.min, 100u);
  EXPECT_EQ(range.max, 200u);
  EXPECT_TRUE(range.list.empty());
}

TEST(VsockSoakOptions, EveryServeOption) {
  auto cl = parse({"serve", "--listen", "unix:/run/a.sock", "--listen", "vsock:any:9000",
                   "--max-connections", "65536", "--allow-cid", "3", "--allow-cid", "0xfffffffe",
                   "--allow-uid", "1000", "--allow-remote-tcp", "--inject-corruption", "2:0x100",
                   "--log-level", "warn"});
  ASSERT_EQ(cl.what, command_line::action::serve);
  const serve_options& s = cl.serve;
  ASSERT_EQ(s.listen.size(), 2u);
  EXPECT_EQ(s.listen[0].to_string(), "unix:/run/a.sock");
  EXPECT_EQ(s.listen[1].to_string(), "vsock:any:9000");
  EXPECT_EQ(s.max_connections, 65536u);
  EXPECT_EQ(s.policy.allowed_cids, (std::vector<std::uint32_t>{3, 0xfffffffeu}));
  EXPECT_EQ(s.policy.allowed_uids, (std::vector<uid_t>{1000}));
  EXPECT_TRUE(s.policy.allow_remote_tcp);
  ASSERT_TRUE(s.inject_corruption);
  EXPECT_EQ(s.inject_corruption->first, 2u);
  EXPECT_EQ(s.inject_corruption->second, 256u);
  EXPECT_EQ(cl.log_level, "warn");
  EXPECT_EQ(parse({"serve", "--listen", "unix:/a"}).serve.max_connections, 256u);
}

TEST(VsockSoakOptions, EqualsSpelling) {
  auto run = parse({"run", "--target=unix:/a", "--streams=12", "--duration=2m", "--sizes=1..8",
                    "--progress=quiet", "--log-level=error"});
  EXPECT_EQ(run.run.target.to_string(), "unix:/a");
  EXPECT_EQ(run.run.streams, 12u);
  EXPECT_EQ(run.run.duration, 2min);
  EXPECT_EQ(run.run.sizes.max, 8u);
  EXPECT_EQ(run.run.progress, progress_mode::quiet);
  EXPECT_EQ(run.log_level, "error");
  auto serve =
      parse({"serve", "--listen=tcp:127.0.0.1:0", "--allow-cid=9", "--inject-corruption=0:5"});
  EXPECT_EQ(serve.serve.listen.at(0).to_string(), "tcp:127.0.0.1:0");
  EXPECT_EQ(serve.serve.policy.allowed_cids, (std::vector<std::uint32_t>{9}));
  EXPECT_EQ(serve.serve.inject_corruption, std::make_pair(std::uint32_t{0}, std::uint64_t{5}));
}

TEST(VsockSoakOptions, HelpAndVersion) {
  EXPECT_EQ(parse({"-h"}).what, command_line::action::help);
  EXPECT_EQ(parse({"--help"}).what, command_line::action::help);
  EXPECT_EQ(parse({"--version"}).what, command_line::action::version);
  // After the command, even with its required options missing...
  EXPECT_EQ(parse({"run", "--help"}).what, command_line::action::help);
  EXPECT_EQ(parse({"serve", "--version"}).what, command_line::action::version);
  // ...but not after an error.
  EXPECT_EQ(error_of({"run", "--streams", "0", "--help"}),
            "--streams needs a number in 1..4096, not \"0\"");
  const std::string usage = kUsage;
  EXPECT_EQ(usage.rfind("usage: vsock-soak run --target ADDRESS [OPTIONS]\n", 0), 0u);
  EXPECT_TRUE(usage.ends_with("\n  -h, --help, --version\n"));
}

struct bad_case {
  std::vector<const char*> args;
  const char* message;
};

class VsockSoakOptionErrors : public testing::TestWithParam<bad_case> {};

TEST_P(VsockSoakOptionErrors, NameTheOptionAndText) {
  EXPECT_EQ(error_of(GetParam().args), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    All, VsockSoakOptionErrors,
    testing::Values(
        bad_case{{}, "a command is needed: run or serve"},
        bad_case{{"walk"}, "unknown command \"walk\" (run or serve)"},
        bad_case{{"--streams", "4"}, "unknown command \"--streams\" (run or serve)"},
        bad_case{{"run"}, "run needs --target"}, bad_case{{"serve"}, "serve needs --listen"},
        bad_case{{"run", "--target", "unix:/a", "--streams"}, "--streams needs a value"},
        bad_case{{"run", "--target", "unix:/a", "--bogus"}, "unknown option \"--bogus\" for run"},
        // Each command's options are unknown to the other.
        bad_case{{"run", "--target", "unix:/a", "--listen", "unix:/b"},
                 "unknown option \"--listen\" for run"},
        bad_case{{"serve", "--listen", "unix:/a", "--target", "unix:/b"},
                 "unknown option \"--target\" for serve"},
        bad_case{{"run", "--target", "unix:/a", "--streams", "-1"},
                 "--streams needs a number in 1..4096, not \"-1\""},
        bad_case{{"run", "--target=unix:/a", "--streams=-1"},
                 "--streams needs a number in 1..4096, not \"-1\""},
        bad_case{{"run", "--target", "unix:/a", "--streams", "4097"},
                 "--streams needs a number in 1..4096, not \"4097\""},
        bad_case{{"run", "--target", "unix:/a", "--window", "0"},
                 "--window needs a number in 1..1024, not \"0\""},
        bad_case{{"run", "--target", "unix:/a", "--watch-pid", "0"},
                 "--watch-pid needs a number in 1..1073741823, not \"0\""},
        bad_case{{"run", "--target", "unix:/a", "--max-fd-growth", "1048577"},
                 "--max-fd-growth needs a number in 0..1048576, not \"1048577\""},
        bad_case{{"run", "--target", "unix:/a", "--max-rss-growth-kib", "-1"},
                 "--max-rss-growth-kib needs a number in 0..1099511627776, not \"-1\""},
        bad_case{{"run", "--target", "unix:/a", "--seed", "18446744073709551616"},
                 "--seed needs a number in 0..18446744073709551615, not \"18446744073709551616\""},
        bad_case{{"run", "--target", "unix:/a", "--connect-timeout", "-1"},
                 "--connect-timeout: \"-1\" is out of range"},
        bad_case{{"run", "--target", "unix:/a", "--duration", "10d"},
                 "--duration: \"10d\": unknown unit \"d\" (ms, s, m, h)"},
        bad_case{{"run", "--target", "unix:/a", "--pause-for", "soon"},
                 "--pause-for: \"soon\" is not a duration (e.g. 90, 20s, 500ms, 10m, 1h)"},
        bad_case{{"run", "--target", "unix:/a", "--sizes", "200..100"},
                 "--sizes: \"200..100\": MIN is above MAX"},
        bad_case{{"run", "--target", "unix:/a", "--progress", "loud"},
                 "--progress \"loud\": auto, tty, lines or quiet"},
        bad_case{
            {"run", "--target", "vsock:any:5000"},
            "--target vsock:any:5000: CID any is for listening; a connection needs the peer's CID"},
        bad_case{{"run", "--target", "unix:/a", "--restart-cmd", "true"},
                 "--restart-cmd and --restart-every go together"},
        bad_case{{"run", "--target", "unix:/a", "--flap-every", "1s"},
                 "--flap-cmd and --flap-every go together"},
        bad_case{{"run", "--target", "unix:/a", "--small-burst-window", "4097"},
                 "--small-burst-window needs a number in 1..4096, not \"4097\""},
        bad_case{{"run", "--target", "unix:/a", "--small-burst-every", "3s"},
                 "--small-burst-for must be shorter than --small-burst-every"},
        bad_case{{"run", "--target", "unix:/a", "--small-burst-sizes", "0..600"},
                 "--small-burst-sizes: \"0..600\": 0 is outside 1..1048576"},
        bad_case{{"serve", "--listen", "unix:/a", "--allow-cid", "-1"},
                 "--allow-cid needs a number in 0..4294967294, not \"-1\""},
        bad_case{{"serve", "--listen", "unix:/a", "--allow-uid", "4294967295"},
                 "--allow-uid needs a number in 0..4294967294, not \"4294967295\""},
        bad_case{{"serve", "--listen", "unix:/a", "--max-connections", "0"},
                 "--max-connections needs a number in 1..65536, not \"0\""},
        bad_case{{"serve", "--listen", "unix:/a", "--inject-corruption", "7"},
                 "--inject-corruption \"7\": expected STREAM:OFFSET"},
        bad_case{{"serve", "--listen", "unix:/a", "--inject-corruption", "x:7"},
                 "--inject-corruption needs a number in 0..4294967295, not \"x\""},
        bad_case{{"run", "--config", "/nonexistent/soak.conf"},
                 "cannot read --config /nonexistent/soak.conf"}));

TEST(VsockSoakOptions, AddressErrorsNameTheOption) {
  const auto e = error_of({"run", "--target", "nonsense:1"});
  EXPECT_EQ(e.rfind("--target: bad address \"nonsense:1\": ", 0), 0u) << e;
  const auto l = error_of({"serve", "--listen", "nonsense:1"});
  EXPECT_EQ(l.rfind("--listen: bad address \"nonsense:1\": ", 0), 0u) << l;
  EXPECT_EQ(error_of({"run", "--target", "vsock-seqpacket:3:5"}),
            "--target needs a stream address, not vsock-seqpacket:3:5");
  EXPECT_EQ(error_of({"serve", "--listen", "unix:/a", "--allow-cid", "0xffffffff"}),
            "--allow-cid needs a number in 0..4294967294, not \"0xffffffff\"");
}

TEST(VsockSoakConfig, LinesBecomeArguments) {
  vsocklib::test::temp_dir dir;
  const auto path = write_file(dir,
                               "# a comment\n"
                               "\n"
                               "   target unix:/run/echo.sock\n"
                               "streams\t8  \n"
                               "  # an indented comment\n"
                               "restart-cmd systemctl restart  adbd-sim\r\n"
                               "allow-remote-tcp\r\n"
                               "streams \n");
  EXPECT_EQ(read_config(path),
            (std::vector<std::string>{"--target", "unix:/run/echo.sock", "--streams", "8",
                                      "--restart-cmd", "systemctl restart  adbd-sim",
                                      "--allow-remote-tcp", "--streams"}));
  EXPECT_TRUE(read_config(write_file(dir, "")).empty());
}

TEST(VsockSoakConfig, CommandLineWins) {
  vsocklib::test::temp_dir dir;
  const auto path = write_file(dir, "target unix:/from/config\nstreams 8\nwindow 2\nduration 5m\n");
  auto cl = parse({"run", "--streams", "3", "--config", path.c_str(), "--duration=1s"});
  ASSERT_EQ(cl.what, command_line::action::run);
  EXPECT_EQ(cl.run.target.to_string(), "unix:/from/config");
  EXPECT_EQ(cl.run.streams, 3u);
  EXPECT_EQ(cl.run.window, 2u);
  EXPECT_EQ(cl.run.duration, 1s);

  const std::string equals = "--config=" + path;
  EXPECT_EQ(parse({"run", equals.c_str()}).run.streams, 8u);
}

TEST(VsockSoakConfig, ErrorsNameTheOption) {
  vsocklib::test::temp_dir dir;
  const auto path = write_file(dir, "target unix:/a\nstreams 0x2000\n");
  EXPECT_EQ(error_of({"run", "--config", path.c_str()}),
            "--streams needs a number in 1..4096, not \"0x2000\"");
  write_file(dir, "target unix:/a\nlisten unix:/b\n");
  EXPECT_EQ(error_of({"run", "--config", path.c_str()}), "unknown option \"--listen\" for run");
  // A name with no value, last: the same message as on the command line.
  write_file(dir, "target unix:/a\nwindow   \n");
  EXPECT_EQ(error_of({"run", "--config", path.c_str()}), "--window needs a value");
}

}  // namespace
}  // namespace vsock_soak
