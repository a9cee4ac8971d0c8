// mcast-probe's logic without sockets: its command line (every command, good and bad
// input, the errors main prints), the datagram format, the receiver's bookkeeping (loss,
// duplicates, reordering, other runs, expectations, failures) and the summaries it prints.
// The real sockets are exercised by tests/integration/vsock_mcast_netns.sh.
#include <arpa/inet.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "argv.hpp"
#include "mcast_probe/options.hpp"
#include "mcast_probe/receive_stats.hpp"
#include "mcast_probe/report.hpp"
#include "mcast_probe/wire.hpp"

namespace mcast_probe {
namespace {

using namespace std::chrono_literals;
using action = command_line::action;

command_line parse(std::vector<const char*> args) {
  return vsocklib::test::parse_argv(parse_command_line, "mcast-probe", std::move(args));
}

std::string error_of(std::vector<const char*> args) {
  return vsocklib::test::usage_error_of(parse_command_line, "mcast-probe", std::move(args));
}

in_addr ip(const char* text) {
  in_addr a{};
  EXPECT_EQ(inet_pton(AF_INET, text, &a), 1) << text;
  return a;
}

sockaddr_in endpoint(const char* addr, std::uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr = ip(addr);
  sa.sin_port = htons(port);
  return sa;
}

// ---- command line --------------------------------------------------------------------------

TEST(McastProbeOptions, HelpAndVersion) {
  EXPECT_EQ(parse({"--help"}).what, action::help);
  EXPECT_EQ(parse({"-h"}).what, action::help);
  EXPECT_EQ(parse({"help"}).what, action::help);
  EXPECT_EQ(parse({"--version"}).what, action::version);
  // --help anywhere after the command wins, even over mistakes before it.
  EXPECT_EQ(parse({"send", "--ttl", "300", "--help"}).what, action::help);
  EXPECT_EQ(parse({"nonsense", "-h"}).what, action::help);
  EXPECT_NE(std::string(kUsage).find("usage: mcast-probe COMMAND [OPTIONS]"), std::string::npos);
}

TEST(McastProbeOptions, SendDefaults) {
  auto cl = parse({"send", "--group", "239.255.0.1:7400"});
  ASSERT_EQ(cl.what, action::send);
  const auto& o = cl.send;
  EXPECT_EQ(to_string(o.group), "239.255.0.1:7400");
  EXPECT_EQ(o.ttl, 1);
  EXPECT_EQ(o.tos, 0);
  EXPECT_EQ(o.count, 10u);
  EXPECT_EQ(o.size, 64u);
  EXPECT_EQ(o.rate, 0u);
  EXPECT_EQ(o.port_from, 0);
  EXPECT_FALSE(o.run_id);
  EXPECT_FALSE(o.source);
  EXPECT_TRUE(o.interface.empty());
  EXPECT_TRUE(o.loop);
  EXPECT_FALSE(o.json);
}

TEST(McastProbeOptions, SendEveryOption) {
  auto cl = parse({"send",        "--group",     "10.0.0.1:9",
                   "--ttl",       "7",           "--tos",
                   "0xb8",        "--count",     "20",
                   "--size",      "100",         "--rate",
                   "200",         "--interface", "lan0",
                   "--port-from", "5001",        "--run-id",
                   "42",          "--text",      "locator=10.77.0.50:7411",
                   "--no-loop",   "--json"});
  const auto& o = cl.send;
  EXPECT_EQ(o.ttl, 7);
  EXPECT_EQ(o.tos, 0xb8);
  EXPECT_EQ(o.count, 20u);
  EXPECT_EQ(o.size, 100u);
  EXPECT_EQ(o.rate, 200u);
  EXPECT_EQ(o.interface, "lan0");
  EXPECT_EQ(o.port_from, 5001);
  EXPECT_EQ(o.run_id, 42u);
  EXPECT_EQ(o.text, "locator=10.77.0.50:7411");
  EXPECT_FALSE(o.loop);
  EXPECT_TRUE(o.json);
  // --source-addr instead of --interface; --name=value as --name value.
  cl = parse({"send", "--group=239.1.2.3:7400", "--source-addr", "10.77.0.2", "--count=0"});
  EXPECT_EQ(to_string(cl.send.group), "239.1.2.3:7400");
  ASSERT_TRUE(cl.send.source);
  EXPECT_EQ(to_string(*cl.send.source), "10.77.0.2");
  EXPECT_EQ(cl.send.count, 0u);
}

TEST(McastProbeOptions, SendRejects) {
  EXPECT_EQ(error_of({"send"}), "send needs --group G:PORT");
  EXPECT_EQ(error_of({"send", "--group", "239.1.1.1"}),
            "--group takes ADDRESS:PORT, got '239.1.1.1'");
  EXPECT_EQ(error_of({"send", "--group", "239.1.1:7"}), "--group: not an IPv4 address: '239.1.1'");
  EXPECT_EQ(error_of({"send", "--group", "239.1.1.1:65536"}),
            "--group needs a number in 0..65535, not \"65536\"");
  EXPECT_EQ(error_of({"send", "--ttl", "256"}), "--ttl needs a number in 0..255, not \"256\"");
  for (const char* bad : {"-1", " 5", "5x", "", "+5", "99999999999999999999"})
    EXPECT_EQ(error_of({"send", "--count", bad}),
              std::string("--count needs a number in 0..1000000000, not \"") + bad + "\"");
  EXPECT_EQ(error_of({"send", "--size", "65508"}),
            "--size needs a number in 0..65507, not \"65508\"");
  EXPECT_EQ(error_of({"send", "--count"}), "--count needs a value");
  EXPECT_EQ(error_of({"send", "--bogus"}), "send: unknown option --bogus");
  EXPECT_EQ(error_of({"send", "stray"}), "unexpected argument 'stray'");
  EXPECT_EQ(error_of({"send", "--group", "239.1.1.1:1", "--interface", "lo", "--source-addr",
                      "127.0.0.1"}),
            "send: --interface and --source-addr exclude each other");
  EXPECT_EQ(error_of({"send", "--group", "239.1.1.1:1", "--size", "20", "--text", "abc"}),
            "send: --size must be at least 21 (header + text)");
  EXPECT_EQ(parse({"send", "--group", "239.1.1.1:1", "--size", "21", "--text", "abc"}).send.size,
            21u);
}

TEST(McastProbeOptions, Recv) {
  auto cl = parse({"recv", "--group", "239.255.0.1:7400"});
  ASSERT_EQ(cl.what, action::recv);
  EXPECT_FALSE(cl.recv.count);
  EXPECT_EQ(cl.recv.timeout, 10);
  EXPECT_EQ(cl.recv.idle, 0);
  EXPECT_EQ(cl.recv.linger, 0.3);
  EXPECT_FALSE(cl.recv.expect.ttl || cl.recv.expect.tos || cl.recv.expect.source);

  cl = parse({"recv",
              "--group",
              "239.255.0.1:7400",
              "--interface",
              "tun0",
              "--count",
              "0",
              "--timeout",
              "2.5",
              "--idle",
              "2",
              "--linger",
              "0",
              "--run-id",
              "0xffffffff",
              "--expect-ttl",
              "1",
              "--expect-tos",
              "0x28",
              "--expect-source",
              "10.77.0.2:5001",
              "--each",
              "--json"});
  const auto& o = cl.recv;
  EXPECT_EQ(o.interface, "tun0");
  EXPECT_EQ(o.count, 0u);
  EXPECT_EQ(o.timeout, 2.5);
  EXPECT_EQ(o.idle, 2);
  EXPECT_EQ(o.linger, 0);
  EXPECT_EQ(o.run_id, 0xffffffffu);
  EXPECT_EQ(o.expect.ttl, 1);
  EXPECT_EQ(o.expect.tos, 0x28);
  ASSERT_TRUE(o.expect.source);
  EXPECT_EQ(to_string(*o.expect.source), "10.77.0.2:5001");
  EXPECT_TRUE(o.expect.source_port);
  EXPECT_TRUE(o.each && o.json);

  cl = parse({"recv", "--group", "239.255.0.1:7400", "--expect-source", "10.77.0.50"});
  EXPECT_FALSE(cl.recv.expect.source_port);
  EXPECT_EQ(to_string(cl.recv.expect.source->sin_addr), "10.77.0.50");

  EXPECT_EQ(error_of({"recv"}), "recv needs --group G:PORT");
  for (const char* bad : {"-1", "86401", "nan", "inf", "1s", " 1", ""})
    EXPECT_EQ(error_of({"recv", "--timeout", bad}),
              std::string("--timeout needs seconds in 0..86400, not \"") + bad + "\"");
  EXPECT_EQ(error_of({"recv", "--run-id", "4294967296"}),
            "--run-id needs a number in 0..4294967295, not \"4294967296\"");
  EXPECT_EQ(error_of({"recv", "--expect-source", "10.0.0.1:x"}),
            "--expect-source needs a number in 0..65535, not \"x\"");
  EXPECT_EQ(error_of({"recv", "--ttl", "1"}), "recv: unknown option --ttl");
}

TEST(McastProbeOptions, EchoAndPing) {
  auto cl = parse({"echo", "--port", "7411"});
  ASSERT_EQ(cl.what, action::echo);
  EXPECT_EQ(cl.echo.port, 7411);
  EXPECT_EQ(to_string(cl.echo.bind), "0.0.0.0");
  EXPECT_FALSE(cl.echo.count);
  EXPECT_EQ(cl.echo.timeout, 30);
  cl = parse({"echo", "--port", "7411", "--bind", "127.0.0.1", "--count", "3", "--timeout", "20"});
  EXPECT_EQ(to_string(cl.echo.bind), "127.0.0.1");
  EXPECT_EQ(cl.echo.count, 3u);
  EXPECT_EQ(cl.echo.timeout, 20);
  EXPECT_EQ(error_of({"echo"}), "echo needs --port P");
  EXPECT_EQ(error_of({"echo", "--port", "7411", "--bind", "localhost"}),
            "--bind: not an IPv4 address: 'localhost'");

  cl = parse({"ping", "--to", "10.77.0.50:7411"});
  ASSERT_EQ(cl.what, action::ping);
  EXPECT_EQ(cl.ping.count, 3u);
  EXPECT_EQ(cl.ping.wait, 1);
  EXPECT_EQ(to_string(cl.ping.expect_source), "10.77.0.50");  // the address of --to
  cl = parse({"ping", "--to", "10.77.0.50:7411", "--count", "5", "--wait", "2", "--source-addr",
              "10.77.0.2", "--expect-source", "10.77.0.1", "--json"});
  EXPECT_EQ(cl.ping.count, 5u);
  EXPECT_EQ(cl.ping.wait, 2);
  EXPECT_EQ(to_string(*cl.ping.source), "10.77.0.2");
  EXPECT_EQ(to_string(cl.ping.expect_source), "10.77.0.1");
  EXPECT_TRUE(cl.ping.json);
  EXPECT_EQ(error_of({"ping"}), "ping needs --to A:P");
  EXPECT_EQ(error_of({"ping", "--to", "1.2.3.4:1", "--count", "1000001"}),
            "--count needs a number in 0..1000000, not \"1000001\"");
}

TEST(McastProbeOptions, Commands) {
  EXPECT_EQ(error_of({}), "missing COMMAND");
  EXPECT_EQ(error_of({"listen"}), "unknown command 'listen'");
}

// ---- datagram ------------------------------------------------------------------------------

TEST(McastProbeWire, RoundTripAndRejects) {
  std::vector<std::uint8_t> buf(64, 0);
  encode(buf, 0xdeadbeef, 0x0102030405060708ull, "hello");
  EXPECT_EQ(std::string(buf.begin(), buf.begin() + 4), "MCP1");
  EXPECT_EQ(buf[4], 0xde);   // big-endian run id
  EXPECT_EQ(buf[15], 0x08);  // big-endian sequence
  auto d = decode(buf.data(), buf.size());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->run_id, 0xdeadbeefu);
  EXPECT_EQ(d->seq, 0x0102030405060708ull);
  EXPECT_EQ(d->text, "hello");
  EXPECT_TRUE(decode(buf.data(), kHeader + 5));   // exactly header + text
  EXPECT_FALSE(decode(buf.data(), kHeader + 4));  // text cut short
  EXPECT_FALSE(decode(buf.data(), kHeader - 1));  // header cut short
  buf[0] = 'X';
  EXPECT_FALSE(decode(buf.data(), buf.size()));  // not a probe datagram
}

// ---- receiver bookkeeping -------------------------------------------------------------------

struct feeder {
  receive_stats stats;
  arrival a;
  clock_type::time_point t0 = clock_type::time_point{} + 1h;

  explicit feeder(std::optional<std::uint32_t> run = {}, expectation e = {})
      : stats(run, std::move(e)) {
    a.from = endpoint("10.77.0.2", 5001);
    a.ttl = 1;
    a.tos = 0x28;
  }
  receive_stats::outcome add(std::uint64_t seq, std::uint32_t run = 7,
                             std::chrono::milliseconds at = 0ms) {
    return stats.add(datagram{run, seq, ""}, 64, a, "tun0", t0 + at);
  }
};

TEST(McastProbeStats, CountsLossDuplicatesAndReorder) {
  feeder f;
  EXPECT_EQ(f.add(0), receive_stats::outcome::fresh);
  EXPECT_EQ(f.add(2), receive_stats::outcome::fresh);
  EXPECT_EQ(f.add(1), receive_stats::outcome::fresh);      // after 2: out of order
  EXPECT_EQ(f.add(2), receive_stats::outcome::duplicate);  // not counted as reordered
  EXPECT_EQ(f.add(5), receive_stats::outcome::fresh);      // 3 and 4 lost
  EXPECT_EQ(f.stats.run_id(), 7);
  EXPECT_EQ(f.stats.unique(), 4u);
  EXPECT_EQ(f.stats.duplicates(), 1u);
  EXPECT_EQ(f.stats.out_of_order(), 1u);
  EXPECT_EQ(f.stats.bytes(), 5u * 64);
  EXPECT_EQ(f.stats.lost(std::nullopt), 2u);  // gaps between 0 and 5
  EXPECT_EQ(f.stats.lost(10), 6u);            // of 10 expected
  EXPECT_EQ(f.stats.lost(3), 0u);             // more arrived than expected
  EXPECT_EQ(f.stats.failures(4, 10), std::vector<std::string>{"1 duplicate datagrams"});
  EXPECT_EQ(
      f.stats.failures(10, 10),
      (std::vector<std::string>{"expected 10 datagrams, got 4 (6 lost)", "1 duplicate datagrams"}));
}

TEST(McastProbeStats, FirstRunWinsUnlessGiven) {
  feeder f;
  f.add(0, 7);
  EXPECT_EQ(f.add(0, 8), receive_stats::outcome::other_run);
  EXPECT_EQ(f.add(1, 8), receive_stats::outcome::other_run);
  f.stats.add_foreign();
  EXPECT_EQ(f.stats.unique(), 1u);
  EXPECT_EQ(f.stats.other_runs(), 2u);
  EXPECT_EQ(f.stats.foreign(), 1u);

  feeder g(8);
  EXPECT_EQ(g.stats.run_id(), 8);
  EXPECT_EQ(g.add(0, 7), receive_stats::outcome::other_run);
  EXPECT_EQ(g.add(0, 8), receive_stats::outcome::fresh);
  EXPECT_EQ(feeder().stats.run_id(), -1);  // none seen yet
}

TEST(McastProbeStats, RateOverTheRun) {
  feeder f;
  EXPECT_EQ(f.stats.seconds(), 0);
  EXPECT_EQ(f.stats.pps(), 0);
  f.add(0, 7, 0ms);
  EXPECT_EQ(f.stats.pps(), 0);  // one datagram: no interval yet
  for (std::uint64_t i = 1; i <= 10; ++i) f.add(i, 7, std::chrono::milliseconds(100 * i));
  EXPECT_DOUBLE_EQ(f.stats.seconds(), 1.0);
  EXPECT_DOUBLE_EQ(f.stats.pps(), 10.0);  // 10 intervals in 1 s
}

TEST(McastProbeStats, NothingExpectedOrNothingArrived) {
  feeder none;
  EXPECT_TRUE(none.stats.failures(0, 2).empty());
  EXPECT_EQ(none.stats.failures(std::nullopt, 2),
            std::vector<std::string>{"no datagram arrived within 2.000000 s"});
  EXPECT_EQ(none.stats.failures(3, 2),
            std::vector<std::string>{"expected 3 datagrams, got 0 (3 lost)"});
  none.add(0);
  EXPECT_EQ(none.stats.failures(0, 2), std::vector<std::string>{"expected no datagram, got 1"});
  EXPECT_TRUE(none.stats.failures(std::nullopt, 2).empty());
}

TEST(McastProbeStats, Expectations) {
  expectation e;
  e.ttl = 1;
  e.tos = 0x28;
  e.source = endpoint("10.77.0.2", 5001);
  e.source_port = true;
  arrival a;
  a.from = endpoint("10.77.0.2", 5001);
  a.ttl = 1;
  a.tos = 0x28;
  EXPECT_EQ(mismatch(e, a), "");
  a.from.sin_port = htons(5002);
  EXPECT_EQ(mismatch(e, a), "source 10.77.0.2:5002, expected 10.77.0.2:5001");
  e.source_port = false;  // address only
  EXPECT_EQ(mismatch(e, a), "");
  a.from = endpoint("10.77.0.9", 5001);
  EXPECT_EQ(mismatch(e, a), "source 10.77.0.9:5001, expected 10.77.0.2");
  a.tos = 0;
  EXPECT_EQ(mismatch(e, a), "TOS 0, expected 40");
  a.ttl = 2;
  EXPECT_EQ(mismatch(e, a), "TTL 2, expected 1");  // TTL first
  EXPECT_EQ(mismatch(expectation{}, a), "");

  feeder f(std::nullopt, e);
  f.add(0);  // matches
  f.a.ttl = 7;
  f.add(1);  // first mismatch
  f.a.ttl = 1;
  f.a.tos = 0;
  f.add(2);
  EXPECT_EQ(f.stats.mismatches(), 2u);
  EXPECT_EQ(f.stats.failures(3, 10),
            std::vector<std::string>{
                "2 datagrams differ from the expectation, first: seq 1: TTL 7, expected 1"});
  EXPECT_EQ(f.stats.ttls(), (std::set<int>{1, 7}));
  EXPECT_EQ(f.stats.toss(), (std::set<int>{0, 0x28}));
}

TEST(McastProbeStats, ListsAtMostEightSourcesAndInterfaces) {
  feeder f;
  for (std::uint16_t i = 0; i < 12; ++i) {
    f.a.from.sin_port = htons(static_cast<std::uint16_t>(6000 + i));
    f.stats.add(datagram{7, i, ""}, 64, f.a, "if" + std::to_string(i), f.t0);
  }
  EXPECT_EQ(f.stats.sources().size(), 8u);
  EXPECT_EQ(f.stats.interfaces().size(), 8u);
  EXPECT_EQ(f.stats.unique(), 12u);
}

TEST(McastProbeStats, SeqSetTracksDuplicatesUpToItsBound) {
  seq_set s;
  EXPECT_TRUE(s.insert(0));
  EXPECT_TRUE(s.insert(1'000'000));
  EXPECT_FALSE(s.insert(1'000'000));
  EXPECT_FALSE(s.insert(0));
  EXPECT_TRUE(s.insert(seq_set::kMaxTracked));  // past the bound: never a duplicate
  EXPECT_TRUE(s.insert(seq_set::kMaxTracked));
}

// ---- summaries -----------------------------------------------------------------------------

TEST(McastProbeReport, RecvJsonAndText) {
  recv_options o;
  o.group = endpoint("239.255.0.1", 7400);
  o.interface = "tun0";
  o.count = 4;
  feeder f;
  f.stats.add(datagram{7, 0, "locator=10.77.0.50:7411"}, 64, f.a, "tun0", f.t0);
  f.add(2, 7, 500ms);
  f.add(1, 7, 1000ms);
  f.add(1, 7, 1500ms);
  f.stats.add_foreign();
  EXPECT_EQ(
      recv_json(o, f.stats, 3),
      R"j({"socket_drops":3,"group":"239.255.0.1:7400","interface":"tun0","run_id":7,"received":3,)j"
      R"j("lost":1,"duplicates":1,"out_of_order":1,"foreign":1,"other_runs":0,"mismatches":0,"bytes":256,)j"
      R"j("seconds":1.5,"pps":2,"sources":["10.77.0.2:5001"],"interfaces":["tun0"],"ttl":[1],"tos":[40],)j"
      R"j("text":"locator=10.77.0.50:7411","ok":false,"failures":["expected 4 datagrams, got 3 (1 lost)",)j"
      R"j("1 duplicate datagrams"]})j"
      "\n");
  // What scripts read back (bench/compare-mcast, vsock_mcast_netns.sh's l3 scenario).
  const auto doc = boost::json::parse(recv_json(o, f.stats, 3)).as_object();
  EXPECT_EQ(doc.at("pps").to_number<double>(), 2.0);
  EXPECT_EQ(doc.at("text").as_string(), "locator=10.77.0.50:7411");

  EXPECT_EQ(recv_text(f.stats, o.count),
            "received 3 lost 1 duplicates 1 out-of-order 1 foreign 1 from [10.77.0.2:5001] ttl [1] "
            "tos [40] "
            "if [tun0] text locator=10.77.0.50:7411\n");
  EXPECT_EQ(recv_failures(o, f.stats),
            "mcast-probe recv 239.255.0.1:7400: FAIL: expected 4 datagrams, got 3 (1 lost)\n"
            "mcast-probe recv 239.255.0.1:7400: FAIL: 1 duplicate datagrams\n");

  feeder empty;
  o.count.reset();
  o.interface.clear();
  EXPECT_EQ(
      recv_text(empty.stats, o.count),
      "received 0 lost 0 duplicates 0 out-of-order 0 foreign 0 from [] ttl [] tos [] if []\n");
  EXPECT_EQ(
      recv_json(o, empty.stats, 0),
      R"j({"socket_drops":0,"group":"239.255.0.1:7400","interface":"","run_id":-1,"received":0,"lost":0,)j"
      R"j("duplicates":0,"out_of_order":0,"foreign":0,"other_runs":0,"mismatches":0,"bytes":0,"seconds":0,)j"
      R"j("pps":0,"sources":[],"interfaces":[],"ttl":[],"tos":[],"text":"","ok":false,)j"
      R"j("failures":["no datagram arrived within 10.000000 s"]})j"
      "\n");
}

TEST(McastProbeReport, DatagramLines) {
  arrival a;
  a.from = endpoint("10.77.0.2", 5001);
  a.dst = ip("239.255.0.1");
  a.ttl = 1;
  a.tos = 0x28;
  EXPECT_EQ(datagram_line(datagram{7, 3, ""}, 64, a, "tun0", false),
            "seq=3 from=10.77.0.2:5001 ttl=1 tos=0x28 if=tun0 dst=239.255.0.1 len=64\n");
  EXPECT_EQ(datagram_line(datagram{7, 3, "x=1"}, 64, a, "tun0", true),
            "seq=3 from=10.77.0.2:5001 ttl=1 tos=0x28 if=tun0 dst=239.255.0.1 len=64 DUPLICATE "
            "text=x=1\n");
  EXPECT_EQ(foreign_line(5, a), "foreign 5 B from 10.77.0.2:5001\n");
  EXPECT_EQ(echo_line(64, a, "lo"),
            "echo 64 B from=10.77.0.2:5001 to=239.255.0.1 ttl=1 tos=0x28 if=lo\n");
}

TEST(McastProbeReport, SendAndPing) {
  send_options s;
  s.group = endpoint("239.255.0.1", 7400);
  s.tos = 0x28;
  send_result r{42, 20, 1, 0.5};
  EXPECT_EQ(
      send_json(s, r),
      R"j({"sent":20,"size":64,"group":"239.255.0.1:7400","run_id":42,"seconds":0.5,"pps":40,"retries":1})j"
      "\n");
  EXPECT_EQ(send_text(s, r),
            "mcast-probe send: 20 datagrams of 64 B to 239.255.0.1:7400 (ttl 1, tos 0x28, run 42) "
            "in 0.500 s, 40 pps\n");

  ping_options p;
  p.to = endpoint("10.77.0.50", 7411);
  p.expect_source = p.to.sin_addr;
  ping_result ok{3, 0, "10.77.0.50:7411", 123.4};
  EXPECT_TRUE(ok.ok(p));
  EXPECT_EQ(
      ping_json(p, ok),
      R"j({"to":"10.77.0.50:7411","sent":3,"replies":3,"wrong_source":0,"from":"10.77.0.50:7411",)j"
      R"j("rtt_median_us":123.4,"ok":true})j"
      "\n");
  EXPECT_EQ(ping_text(p, ok),
            "ping 10.77.0.50:7411: 3/3 replies, last from 10.77.0.50:7411, median RTT 123 us\n");
  EXPECT_EQ(ping_failures(p, ok), "");
  ping_result bad{2, 2, "10.77.0.1:7411", 0};
  EXPECT_FALSE(bad.ok(p));
  EXPECT_EQ(ping_failures(p, bad),
            "mcast-probe ping: FAIL: expected 3 replies from 10.77.0.50:7411, got 2\n"
            "mcast-probe ping: FAIL: 2 replies came from 10.77.0.1:7411, expected 10.77.0.50\n");
  EXPECT_EQ(ping_text(p, ping_result{}),
            "ping 10.77.0.50:7411: 0/3 replies, last from -, median RTT 0 us\n");
}

}  // namespace
}  // namespace mcast_probe
