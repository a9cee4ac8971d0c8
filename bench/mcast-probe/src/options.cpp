#include "mcast_probe/options.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "mcast_probe/wire.hpp"

namespace mcast_probe {

const char* const kUsage = R"(usage: mcast-probe COMMAND [OPTIONS]

Commands
  send --group G:PORT     send numbered datagrams to G:PORT (multicast or unicast)
       [--ttl N]            IP TTL (default 1: what discovery stacks send)
       [--tos N]            IP TOS byte, decimal or 0x.. (default 0)
       [--count N]          datagrams (default 10)
       [--size B]           UDP payload bytes (default 64; at least 18 + text)
       [--rate PPS]         pace to PPS datagrams/s (default 0: as fast as possible)
       [--interface IF | --source-addr A]   outgoing interface / source address
       [--port-from P]      source port (default: any)
       [--run-id N]         id carried in every datagram (default: random)
       [--text STR]         text carried after the header (e.g. a discovery locator)
       [--no-loop]          IP_MULTICAST_LOOP off (default on, the kernel default)
       [--json]             print the summary as JSON on stdout
  recv --group G:PORT     join G on IF and receive (G unicast: just bind)
       [--interface IF]     where to join (default: the kernel's choice by route)
       [--count N]          expected datagrams: stop once N distinct arrived (then linger);
                            0 = expect none: succeed only if nothing arrives before --timeout
       [--timeout S]        give up after S seconds (default 10)
       [--idle S]           stop S seconds after the last datagram (default: off)
       [--linger S]         keep counting S seconds after --count is reached, to catch
                            duplicates (default 0.3)
       [--run-id N]         count only datagrams of this run (default: the first one seen)
       [--expect-ttl N] [--expect-tos N] [--expect-source A[:P]]
                            fail (exit 1) if any datagram differs
       [--each]             one line per datagram on stdout
       [--json]             print the summary as JSON on stdout
  echo --port P           answer every datagram with the same payload
       [--bind A] [--count N] [--timeout S (default 30)]
  ping --to A:P           send numbered datagrams, wait for each echo
       [--count N (default 3)] [--wait S per reply (default 1)] [--source-addr A]
       [--expect-source A]  reply source (default: A of --to) [--json]

Datagram: "MCP1", run id (u32), sequence (u64), text length (u16), text, zero padding.
recv/ping print "ready" on stderr once joined/bound. Exit: 0 ok, 1 check failed
(loss, duplicates, mismatch, no reply), 2 usage or system error.
)";

namespace {

using vsocklib::arg_reader;

// Counts and ids take "0x.." too: TOS bytes are written in hex (0x28, 0xb8).
constexpr auto kBase = vsocklib::number_base::decimal_or_hex;
constexpr std::uint64_t kMaxCount = 1'000'000'000;
constexpr double kMaxSeconds = 86400;  // a day: longer is a typo

template <typename T = std::uint64_t>
T number(arg_reader& in, std::uint64_t hi) {
  return in.number<T>(0, hi, kBase);
}

double seconds(arg_reader& in) {
  const std::string text = in.value();
  double x = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !(x >= 0) ||
      x > kMaxSeconds)
    in.fail(in.option() + " needs seconds in 0..86400, not \"" + text + "\"");
  return x;
}

in_addr ip_in(const arg_reader& in, const std::string& text) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1)
    in.fail(in.option() + ": not an IPv4 address: '" + text + "'");
  return a;
}

in_addr ip(arg_reader& in) { return ip_in(in, in.value()); }

// ADDRESS:PORT, or ADDRESS alone when PORT_OPTIONAL (port 0 then).
sockaddr_in endpoint_in(const arg_reader& in, const std::string& text, bool port_optional) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    if (!port_optional) in.fail(in.option() + " takes ADDRESS:PORT, got '" + text + "'");
    sa.sin_addr = ip_in(in, text);
    return sa;
  }
  sa.sin_addr = ip_in(in, text.substr(0, colon));
  sa.sin_port =
      htons(static_cast<std::uint16_t>(in.number_in(text.substr(colon + 1), 0, 65535, kBase)));
  return sa;
}

sockaddr_in endpoint(arg_reader& in) { return endpoint_in(in, in.value(), false); }

// The next option of the command; a bare word is a mistake, not a positional argument.
bool next_option(arg_reader& in) {
  if (!in.next()) return false;
  if (!in.option().starts_with("--")) in.fail("unexpected argument '" + in.option() + "'");
  return true;
}

[[noreturn]] void unknown(const arg_reader& in) {
  in.fail(in.command() + ": unknown option " + in.option());
}

send_options parse_send(arg_reader& in) {
  send_options o;
  bool have_group = false;
  while (next_option(in)) {
    const std::string& n = in.option();
    if (n == "--group") {
      o.group = endpoint(in);
      have_group = true;
    } else if (n == "--ttl") o.ttl = number<int>(in, 255);
    else if (n == "--tos") o.tos = number<int>(in, 255);
    else if (n == "--count") o.count = number(in, kMaxCount);
    else if (n == "--size") o.size = number(in, kMaxDatagram);
    else if (n == "--rate") o.rate = number(in, 10'000'000);
    else if (n == "--interface") o.interface = in.value();
    else if (n == "--source-addr") o.source = ip(in);
    else if (n == "--port-from") o.port_from = number<std::uint16_t>(in, 65535);
    else if (n == "--run-id") o.run_id = number<std::uint32_t>(in, UINT32_MAX);
    else if (n == "--text") o.text = in.value();
    else if (n == "--no-loop") o.loop = false;
    else if (n == "--json") o.json = true;
    else unknown(in);
  }
  if (!have_group) in.fail("send needs --group G:PORT");
  if (!o.interface.empty() && o.source)
    in.fail("send: --interface and --source-addr exclude each other");
  if (o.text.size() > kMaxText || o.size < kHeader + o.text.size())
    in.fail("send: --size must be at least " + std::to_string(kHeader + o.text.size()) +
            " (header + text)");
  return o;
}

recv_options parse_recv(arg_reader& in) {
  recv_options o;
  bool have_group = false;
  while (next_option(in)) {
    const std::string& n = in.option();
    if (n == "--group") {
      o.group = endpoint(in);
      have_group = true;
    } else if (n == "--interface") o.interface = in.value();
    else if (n == "--count") o.count = number(in, kMaxCount);
    else if (n == "--timeout") o.timeout = seconds(in);
    else if (n == "--idle") o.idle = seconds(in);
    else if (n == "--linger") o.linger = seconds(in);
    else if (n == "--run-id") o.run_id = number<std::uint32_t>(in, UINT32_MAX);
    else if (n == "--expect-ttl") o.expect.ttl = number<int>(in, 255);
    else if (n == "--expect-tos") o.expect.tos = number<int>(in, 255);
    else if (n == "--expect-source") {
      const std::string v = in.value();
      o.expect.source = endpoint_in(in, v, true);
      o.expect.source_port = v.find(':') != std::string::npos;
    } else if (n == "--each") o.each = true;
    else if (n == "--json") o.json = true;
    else unknown(in);
  }
  if (!have_group) in.fail("recv needs --group G:PORT");
  return o;
}

echo_options parse_echo(arg_reader& in) {
  echo_options o;
  bool have_port = false;
  while (next_option(in)) {
    const std::string& n = in.option();
    if (n == "--port") {
      o.port = number<std::uint16_t>(in, 65535);
      have_port = true;
    } else if (n == "--bind") o.bind = ip(in);
    else if (n == "--count") o.count = number(in, kMaxCount);
    else if (n == "--timeout") o.timeout = seconds(in);
    else unknown(in);
  }
  if (!have_port) in.fail("echo needs --port P");
  return o;
}

ping_options parse_ping(arg_reader& in) {
  ping_options o;
  bool have_to = false;
  std::optional<in_addr> expect;
  while (next_option(in)) {
    const std::string& n = in.option();
    if (n == "--to") {
      o.to = endpoint(in);
      have_to = true;
    } else if (n == "--count") o.count = number(in, 1'000'000);
    else if (n == "--wait") o.wait = seconds(in);
    else if (n == "--source-addr") o.source = ip(in);
    else if (n == "--expect-source") expect = ip(in);
    else if (n == "--json") o.json = true;
    else unknown(in);
  }
  if (!have_to) in.fail("ping needs --to A:P");
  o.expect_source = expect ? *expect : o.to.sin_addr;
  return o;
}

bool is_help(const std::string& a) { return a == "-h" || a == "--help"; }

}  // namespace

command_line parse_command_line(int argc, const char* const* argv) {
  std::vector<std::string> args = vsocklib::split_option_values(argc, argv);
  if (args.size() < 2) throw usage_error("missing COMMAND");
  const std::string cmd = args[1];
  command_line cl;
  if (is_help(cmd) || cmd == "help") return cl;  // action::help
  if (cmd == "--version") {
    cl.what = command_line::action::version;
    return cl;
  }
  // --help anywhere after the command wins over every mistake on the line.
  if (std::any_of(args.begin() + 2, args.end(), is_help)) return cl;
  arg_reader in(std::move(args), 2, cmd);
  using action = command_line::action;
  if (cmd == "send") {
    cl.what = action::send;
    cl.send = parse_send(in);
  } else if (cmd == "recv") {
    cl.what = action::recv;
    cl.recv = parse_recv(in);
  } else if (cmd == "echo") {
    cl.what = action::echo;
    cl.echo = parse_echo(in);
  } else if (cmd == "ping") {
    cl.what = action::ping;
    cl.ping = parse_ping(in);
  } else {
    throw usage_error("unknown command '" + cmd + "'");
  }
  return cl;
}

}  // namespace mcast_probe
