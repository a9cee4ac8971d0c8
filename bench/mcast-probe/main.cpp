// mcast-probe: sends numbered UDP datagrams (multicast or unicast) and receives them with
// the per-datagram facts a multicast tunnel must preserve (source address and port, TTL,
// TOS, arrival interface), counting losses, duplicates and reordering. Used by the
// vsock-mcast tests and bench/compare-mcast. Plain sockets on purpose: the checker must not
// share code with the daemon it checks.
#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// Boost.JSON compiled into this tool alone: it shares no code with the daemon it checks.
#include <boost/json/src.hpp>

namespace {

using clock_type = std::chrono::steady_clock;

constexpr char kUsage[] = R"(usage: mcast-probe COMMAND [OPTIONS]

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

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "mcast-probe: %s (see --help)\n", msg.c_str());
  std::exit(2);
}

[[noreturn]] void sys_error(const std::string& what) {
  std::fprintf(stderr, "mcast-probe: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(2);
}

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

// ---- wire format -------------------------------------------------------------------------

constexpr char kMagic[4] = {'M', 'C', 'P', '1'};
constexpr std::size_t kHeader = 4 + 4 + 8 + 2;
constexpr std::size_t kMaxDatagram = 65507;  // largest UDP payload over IPv4

struct Datagram {
  std::uint32_t run_id = 0;
  std::uint64_t seq = 0;
  std::string text;
};

void put_be(std::uint8_t* p, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
std::uint64_t get_be(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

void encode(std::vector<std::uint8_t>& buf, std::uint32_t run_id, std::uint64_t seq,
            const std::string& text) {
  std::memcpy(buf.data(), kMagic, 4);
  put_be(buf.data() + 4, run_id, 4);
  put_be(buf.data() + 8, seq, 8);
  put_be(buf.data() + 16, text.size(), 2);
  std::memcpy(buf.data() + kHeader, text.data(), text.size());
}

std::optional<Datagram> decode(const std::uint8_t* p, std::size_t n) {
  if (n < kHeader || std::memcmp(p, kMagic, 4) != 0) return std::nullopt;
  Datagram d;
  d.run_id = static_cast<std::uint32_t>(get_be(p + 4, 4));
  d.seq = get_be(p + 8, 8);
  std::size_t len = get_be(p + 16, 2);
  if (kHeader + len > n) return std::nullopt;
  d.text.assign(reinterpret_cast<const char*>(p + kHeader), len);
  return d;
}

// ---- argument helpers ----------------------------------------------------------------------

std::uint64_t parse_uint(const std::string& opt, const std::string& v, std::uint64_t max) {
  try {
    std::size_t used = 0;
    // stoull would skip leading blanks and wrap a '-': a number starts with a digit here.
    if (v.empty() || !std::isdigit(static_cast<unsigned char>(v[0]))) throw std::out_of_range(v);
    unsigned long long x = std::stoull(v, &used, 0);
    if (used != v.size() || x > max) throw std::out_of_range(v);
    return x;
  } catch (const std::exception&) {
    usage_error(opt + " takes an integer 0.." + std::to_string(max) + ", got '" + v + "'");
  }
}

double parse_seconds(const std::string& opt, const std::string& v) {
  try {
    std::size_t used = 0;
    double x = std::stod(v, &used);
    if (used != v.size() || !(x >= 0) || x > 86400) throw std::out_of_range(v);
    return x;
  } catch (const std::exception&) {
    usage_error(opt + " takes seconds (0..86400), got '" + v + "'");
  }
}

in_addr parse_ip(const std::string& opt, const std::string& v) {
  in_addr a{};
  if (inet_pton(AF_INET, v.c_str(), &a) != 1) usage_error(opt + ": not an IPv4 address: '" + v + "'");
  return a;
}

sockaddr_in parse_endpoint(const std::string& opt, const std::string& v, bool port_optional) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  auto colon = v.rfind(':');
  if (colon == std::string::npos) {
    if (!port_optional) usage_error(opt + " takes ADDRESS:PORT, got '" + v + "'");
    sa.sin_addr = parse_ip(opt, v);
    return sa;
  }
  sa.sin_addr = parse_ip(opt, v.substr(0, colon));
  sa.sin_port = htons(static_cast<std::uint16_t>(parse_uint(opt, v.substr(colon + 1), 65535)));
  return sa;
}

std::string to_string(const sockaddr_in& sa) {
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
  return std::string(ip) + ":" + std::to_string(ntohs(sa.sin_port));
}

std::string to_string(in_addr a) {
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, ip, sizeof ip);
  return ip;
}

unsigned if_index(const std::string& name) {
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) usage_error("no interface '" + name + "' in this network namespace");
  return idx;
}

// One JSON summary line on stdout, what --json promises the scripts that parse it.
void print_json(const boost::json::object& summary) {
  std::printf("%s\n", boost::json::serialize(summary).c_str());
}

template <typename Items>
boost::json::array json_array(const Items& items) {
  return boost::json::array(items.begin(), items.end());
}

std::string if_name(unsigned idx) {
  char name[IF_NAMESIZE] = {};
  if (idx == 0 || if_indextoname(idx, name) == nullptr) return "if" + std::to_string(idx);
  return name;
}

// Walks "--name value" / "--flag" pairs; every command declares which names it takes.
class Args {
 public:
  Args(int argc, char** argv, int first) : argv_(argv + first, argv + argc) {}

  bool next(std::string& name) {
    if (i_ >= argv_.size()) return false;
    name = argv_[i_++];
    if (name.rfind("--", 0) != 0) usage_error("unexpected argument '" + name + "'");
    return true;
  }
  std::string value(const std::string& name) {
    if (i_ >= argv_.size()) usage_error(name + " needs a value");
    return argv_[i_++];
  }

 private:
  std::vector<std::string> argv_;
  std::size_t i_ = 0;
};

int make_udp_socket() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) sys_error("socket");
  return fd;
}

void set_int(int fd, int level, int opt, int v, const char* what) {
  if (setsockopt(fd, level, opt, &v, sizeof v) != 0) sys_error(what);
}

void install_signals() {
  struct sigaction sa{};
  sa.sa_handler = on_signal;  // no SA_RESTART: poll/recvmsg return EINTR and the loop ends
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// ---- send --------------------------------------------------------------------------------

int cmd_send(Args& args) {
  std::optional<sockaddr_in> group;
  int ttl = 1, tos = 0;
  std::uint64_t count = 10, size = 64, rate = 0, port_from = 0;
  std::string interface, text;
  std::optional<in_addr> source;
  std::uint32_t run_id = std::random_device{}();
  bool loop = true, json = false;
  std::string n;
  while (args.next(n)) {
    if (n == "--group") group = parse_endpoint(n, args.value(n), false);
    else if (n == "--ttl") ttl = static_cast<int>(parse_uint(n, args.value(n), 255));
    else if (n == "--tos") tos = static_cast<int>(parse_uint(n, args.value(n), 255));
    else if (n == "--count") count = parse_uint(n, args.value(n), 1'000'000'000);
    else if (n == "--size") size = parse_uint(n, args.value(n), kMaxDatagram);
    else if (n == "--rate") rate = parse_uint(n, args.value(n), 10'000'000);
    else if (n == "--interface") interface = args.value(n);
    else if (n == "--source-addr") source = parse_ip(n, args.value(n));
    else if (n == "--port-from") port_from = parse_uint(n, args.value(n), 65535);
    else if (n == "--run-id") run_id = static_cast<std::uint32_t>(parse_uint(n, args.value(n), UINT32_MAX));
    else if (n == "--text") text = args.value(n);
    else if (n == "--no-loop") loop = false;
    else if (n == "--json") json = true;
    else usage_error("send: unknown option " + n);
  }
  if (!group) usage_error("send needs --group G:PORT");
  if (!interface.empty() && source) usage_error("send: --interface and --source-addr exclude each other");
  if (text.size() > 65535 || size < kHeader + text.size())
    usage_error("send: --size must be at least " + std::to_string(kHeader + text.size()) +
                " (header + text)");

  int fd = make_udp_socket();
  if (source || port_from) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr = source ? *source : in_addr{htonl(INADDR_ANY)};
    local.sin_port = htons(static_cast<std::uint16_t>(port_from));
    set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
      sys_error("bind " + to_string(local));
  }
  if (!interface.empty()) {
    ip_mreqn m{};
    m.imr_ifindex = static_cast<int>(if_index(interface));
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m) != 0) sys_error("IP_MULTICAST_IF " + interface);
  } else if (source) {
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &*source, sizeof *source) != 0)
      sys_error("IP_MULTICAST_IF " + to_string(*source));
  }
  set_int(fd, IPPROTO_IP, IP_MULTICAST_TTL, ttl, "IP_MULTICAST_TTL");
  set_int(fd, IPPROTO_IP, IP_TTL, ttl == 0 ? 1 : ttl, "IP_TTL");  // unicast targets; 0 is invalid there
  set_int(fd, IPPROTO_IP, IP_TOS, tos, "IP_TOS");
  set_int(fd, IPPROTO_IP, IP_MULTICAST_LOOP, loop ? 1 : 0, "IP_MULTICAST_LOOP");
  install_signals();

  std::vector<std::uint8_t> buf(size, 0);
  std::uint64_t sent = 0, retries = 0;
  auto t0 = clock_type::now();
  for (std::uint64_t seq = 0; seq < count && !g_stop; ++seq) {
    if (rate > 0) {
      auto due = t0 + std::chrono::nanoseconds(seq * 1'000'000'000ull / rate);
      if (clock_type::now() < due) std::this_thread::sleep_until(due);
    }
    encode(buf, run_id, seq, text);
    // A full qdisc or socket buffer (ENOBUFS/EAGAIN) is back-pressure, not loss to report:
    // wait a little and offer the same datagram again, a bounded number of times.
    int tries = 0;
    while (sendto(fd, buf.data(), buf.size(), 0, reinterpret_cast<const sockaddr*>(&*group),
                  sizeof *group) < 0) {
      if ((errno != ENOBUFS && errno != EAGAIN) || ++tries > 1000) sys_error("sendto " + to_string(*group));
      ++retries;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    ++sent;
  }
  double secs = seconds_since(t0);
  double pps = secs > 0 ? sent / secs : 0;
  if (json) {
    print_json({{"sent", sent}, {"size", size}, {"group", to_string(*group)}, {"run_id", run_id},
                {"seconds", secs}, {"pps", pps}, {"retries", retries}});
  } else {
    std::fprintf(stderr, "mcast-probe send: %llu datagrams of %llu B to %s (ttl %d, tos 0x%02x, run %u) in %.3f s, %.0f pps\n",
                 static_cast<unsigned long long>(sent), static_cast<unsigned long long>(size),
                 to_string(*group).c_str(), ttl, tos, run_id, secs, pps);
  }
  close(fd);
  return 0;
}

// ---- recv --------------------------------------------------------------------------------

struct Arrival {
  sockaddr_in from{};
  int ttl = -1, tos = -1;
  unsigned ifindex = 0;
  in_addr dst{};
};

// Reads one datagram with its ancillary data; false on timeout/EINTR.
bool receive(int fd, std::vector<std::uint8_t>& buf, std::size_t& len, Arrival& a, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int r = poll(&p, 1, timeout_ms);
  if (r < 0 && errno == EINTR) return false;
  if (r < 0) sys_error("poll");
  if (r == 0) return false;
  iovec iov{buf.data(), buf.size()};
  alignas(cmsghdr) char control[256];
  msghdr msg{};
  msg.msg_name = &a.from;
  msg.msg_namelen = sizeof a.from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
  if (n < 0) sys_error("recvmsg");
  len = static_cast<std::size_t>(n);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != IPPROTO_IP) continue;
    if (c->cmsg_type == IP_TTL) {
      int v;
      std::memcpy(&v, CMSG_DATA(c), sizeof v);
      a.ttl = v;
    } else if (c->cmsg_type == IP_TOS) {
      a.tos = *CMSG_DATA(c);
    } else if (c->cmsg_type == IP_PKTINFO) {
      in_pktinfo pi;
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      a.ifindex = static_cast<unsigned>(pi.ipi_ifindex);
      a.dst = pi.ipi_addr;
    }
  }
  return true;
}

// Distinct sequence numbers seen, as a bitmap that grows on demand. Bounded: sequences past
// kMaxTracked are counted as received but not checked for duplicates.
class SeqSet {
 public:
  static constexpr std::uint64_t kMaxTracked = 1ull << 27;  // 16 MiB of bits
  bool insert(std::uint64_t seq) {  // false if already present
    if (seq >= kMaxTracked) return true;
    if (seq / 8 >= bits_.size()) bits_.resize(std::max<std::size_t>(seq / 8 + 1, bits_.size() * 2), 0);
    std::uint8_t mask = static_cast<std::uint8_t>(1u << (seq % 8));
    if (bits_[seq / 8] & mask) return false;
    bits_[seq / 8] |= mask;
    return true;
  }

 private:
  std::vector<std::uint8_t> bits_;
};

int cmd_recv(Args& args) {
  std::optional<sockaddr_in> group;
  std::string interface;
  std::optional<std::uint64_t> count, run_filter;
  double timeout = 10, idle = 0, linger = 0.3;
  std::optional<int> expect_ttl, expect_tos;
  std::optional<sockaddr_in> expect_source;
  bool expect_port = false, each = false, json = false;
  std::string n;
  while (args.next(n)) {
    if (n == "--group") group = parse_endpoint(n, args.value(n), false);
    else if (n == "--interface") interface = args.value(n);
    else if (n == "--count") count = parse_uint(n, args.value(n), 1'000'000'000);
    else if (n == "--timeout") timeout = parse_seconds(n, args.value(n));
    else if (n == "--idle") idle = parse_seconds(n, args.value(n));
    else if (n == "--linger") linger = parse_seconds(n, args.value(n));
    else if (n == "--run-id") run_filter = parse_uint(n, args.value(n), UINT32_MAX);
    else if (n == "--expect-ttl") expect_ttl = static_cast<int>(parse_uint(n, args.value(n), 255));
    else if (n == "--expect-tos") expect_tos = static_cast<int>(parse_uint(n, args.value(n), 255));
    else if (n == "--expect-source") {
      std::string v = args.value(n);
      expect_source = parse_endpoint(n, v, true);
      expect_port = v.find(':') != std::string::npos;
    } else if (n == "--each") each = true;
    else if (n == "--json") json = true;
    else usage_error("recv: unknown option " + n);
  }
  if (!group) usage_error("recv needs --group G:PORT");
  bool multicast = IN_MULTICAST(ntohl(group->sin_addr.s_addr));

  int fd = make_udp_socket();
  // Several receivers (and the daemon under test) may share the port in one namespace.
  set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  // Benchmarks blast datagrams; a large buffer keeps this checker from being the bottleneck.
  int rcvbuf = 8 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  // Bound to the group address, the socket sees only that group; with IP_MULTICAST_ALL off
  // only through our own membership (not through one the daemon holds on another interface).
  if (bind(fd, reinterpret_cast<sockaddr*>(&*group), sizeof *group) != 0) sys_error("bind " + to_string(*group));
  set_int(fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO");
  set_int(fd, IPPROTO_IP, IP_RECVTTL, 1, "IP_RECVTTL");
  set_int(fd, IPPROTO_IP, IP_RECVTOS, 1, "IP_RECVTOS");
  std::string where = interface.empty() ? "(route's interface)" : interface;
  if (multicast) {
    set_int(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0, "IP_MULTICAST_ALL");
    ip_mreqn m{};
    m.imr_multiaddr = group->sin_addr;
    m.imr_ifindex = interface.empty() ? 0 : static_cast<int>(if_index(interface));
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0)
      sys_error("join " + to_string(group->sin_addr) + " on " + where);
  }
  install_signals();
  std::fprintf(stderr, "mcast-probe recv: ready: %s %s on %s\n", multicast ? "joined" : "bound",
               to_string(*group).c_str(), where.c_str());

  std::vector<std::uint8_t> buf(kMaxDatagram + 1);
  SeqSet seen;
  std::uint64_t unique = 0, dups = 0, reordered = 0, foreign = 0, other_runs = 0, mismatches = 0;
  std::uint64_t max_seq = 0, min_seq = UINT64_MAX, bytes = 0;
  // -1 until the first datagram picks the run (when --run-id did not).
  std::int64_t run_id = run_filter ? static_cast<std::int64_t>(*run_filter) : -1;
  std::set<std::string> sources, ifaces;
  std::set<int> ttls, toss;
  std::string first_mismatch, text;
  auto t0 = clock_type::now();
  auto deadline = t0 + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(timeout));
  std::optional<clock_type::time_point> first_at, last_at, done_at;

  while (!g_stop) {
    auto now = clock_type::now();
    auto until = deadline;
    if (done_at) until = std::min(until, *done_at);
    if (idle > 0 && last_at)
      until = std::min(until, *last_at + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(idle)));
    if (now >= until) break;
    int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count()) + 1;
    std::size_t len = 0;
    Arrival a;
    if (!receive(fd, buf, len, a, ms)) continue;
    auto d = decode(buf.data(), len);
    if (!d) {
      ++foreign;
      if (each) std::printf("foreign %zu B from %s\n", len, to_string(a.from).c_str());
      continue;
    }
    if (run_id < 0) run_id = d->run_id;
    if (d->run_id != run_id) {
      ++other_runs;
      continue;
    }
    last_at = clock_type::now();
    if (!first_at) first_at = last_at;
    bytes += len;
    bool fresh = seen.insert(d->seq);
    if (!fresh) {
      ++dups;
    } else {
      if (unique > 0 && d->seq < max_seq) ++reordered;
      ++unique;
      max_seq = std::max(max_seq, d->seq);
      min_seq = std::min(min_seq, d->seq);
    }
    if (text.empty()) text = d->text;
    if (sources.size() < 8) sources.insert(to_string(a.from));
    if (ifaces.size() < 8) ifaces.insert(if_name(a.ifindex));
    ttls.insert(a.ttl);
    toss.insert(a.tos);
    std::string why;
    if (expect_ttl && a.ttl != *expect_ttl)
      why = "TTL " + std::to_string(a.ttl) + ", expected " + std::to_string(*expect_ttl);
    else if (expect_tos && a.tos != *expect_tos)
      why = "TOS " + std::to_string(a.tos) + ", expected " + std::to_string(*expect_tos);
    else if (expect_source && (a.from.sin_addr.s_addr != expect_source->sin_addr.s_addr ||
                               (expect_port && a.from.sin_port != expect_source->sin_port)))
      why = "source " + to_string(a.from) + ", expected " +
            (expect_port ? to_string(*expect_source) : to_string(expect_source->sin_addr));
    if (!why.empty() && mismatches++ == 0) first_mismatch = "seq " + std::to_string(d->seq) + ": " + why;
    if (each)
      std::printf("seq=%llu from=%s ttl=%d tos=0x%02x if=%s dst=%s len=%zu%s%s\n",
                  static_cast<unsigned long long>(d->seq), to_string(a.from).c_str(), a.ttl, a.tos,
                  if_name(a.ifindex).c_str(), to_string(a.dst).c_str(), len, fresh ? "" : " DUPLICATE",
                  d->text.empty() ? "" : (" text=" + d->text).c_str());
    if (count && *count > 0 && unique >= *count && !done_at)
      done_at = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(linger));
  }
  if (each) std::fflush(stdout);

  std::uint64_t lost = 0;
  if (count) lost = *count > unique ? *count - unique : 0;
  else if (unique > 0) lost = max_seq - min_seq + 1 - unique;
  double span = first_at && last_at ? std::chrono::duration<double>(*last_at - *first_at).count() : 0;
  double pps = span > 0 ? (unique + dups - 1) / span : 0;

  std::vector<std::string> failures;
  if (count && *count == 0 && unique + dups > 0)
    failures.push_back("expected no datagram, got " + std::to_string(unique + dups));
  else if (count && *count > 0 && unique < *count)
    failures.push_back("expected " + std::to_string(*count) + " datagrams, got " + std::to_string(unique) +
                       " (" + std::to_string(lost) + " lost)");
  else if (!count && unique == 0)
    failures.push_back("no datagram arrived within " + std::to_string(timeout) + " s");
  if (dups > 0) failures.push_back(std::to_string(dups) + " duplicate datagrams");
  if (mismatches > 0)
    failures.push_back(std::to_string(mismatches) + " datagrams differ from the expectation, first: " + first_mismatch);

  auto join = [](const auto& set) {
    std::string s;
    for (const auto& x : set) {
      if (!s.empty()) s += ",";
      if constexpr (std::is_same_v<std::decay_t<decltype(x)>, int>) s += std::to_string(x);
      else s += x;
    }
    return s;
  };
  // Datagrams the kernel dropped at this socket (its receive buffer was full): loss that
  // happened here, not on the path under test.
  std::uint32_t meminfo[SK_MEMINFO_VARS] = {};
  socklen_t meminfo_len = sizeof meminfo;
  const unsigned long long socket_drops =
      getsockopt(fd, SOL_SOCKET, SO_MEMINFO, meminfo, &meminfo_len) == 0 ? meminfo[SK_MEMINFO_DROPS] : 0;
  if (json) {
    print_json({{"socket_drops", socket_drops}, {"group", to_string(*group)}, {"interface", interface},
                {"run_id", run_id}, {"received", unique}, {"lost", lost}, {"duplicates", dups},
                {"out_of_order", reordered}, {"foreign", foreign}, {"other_runs", other_runs},
                {"mismatches", mismatches}, {"bytes", bytes}, {"seconds", span}, {"pps", pps},
                {"sources", json_array(sources)}, {"interfaces", json_array(ifaces)},
                {"ttl", json_array(ttls)}, {"tos", json_array(toss)}, {"text", text},
                {"ok", failures.empty()}, {"failures", json_array(failures)}});
  } else {
    std::printf("received %llu lost %llu duplicates %llu out-of-order %llu foreign %llu from [%s] "
                "ttl [%s] tos [%s] if [%s]%s%s\n",
                static_cast<unsigned long long>(unique), static_cast<unsigned long long>(lost),
                static_cast<unsigned long long>(dups), static_cast<unsigned long long>(reordered),
                static_cast<unsigned long long>(foreign + other_runs), join(sources).c_str(),
                join(ttls).c_str(), join(toss).c_str(), join(ifaces).c_str(),
                text.empty() ? "" : " text ", text.c_str());
  }
  std::fflush(stdout);
  for (const auto& f : failures) std::fprintf(stderr, "mcast-probe recv %s: FAIL: %s\n", to_string(*group).c_str(), f.c_str());
  close(fd);
  return failures.empty() ? 0 : 1;
}

// ---- echo / ping (unicast) ---------------------------------------------------------------

int cmd_echo(Args& args) {
  std::optional<std::uint64_t> port, count;
  in_addr bind_addr{htonl(INADDR_ANY)};
  double timeout = 30;
  std::string n;
  while (args.next(n)) {
    if (n == "--port") port = parse_uint(n, args.value(n), 65535);
    else if (n == "--bind") bind_addr = parse_ip(n, args.value(n));
    else if (n == "--count") count = parse_uint(n, args.value(n), 1'000'000'000);
    else if (n == "--timeout") timeout = parse_seconds(n, args.value(n));
    else usage_error("echo: unknown option " + n);
  }
  if (!port) usage_error("echo needs --port P");
  int fd = make_udp_socket();
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr = bind_addr;
  local.sin_port = htons(static_cast<std::uint16_t>(*port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) sys_error("bind " + to_string(local));
  set_int(fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO");
  set_int(fd, IPPROTO_IP, IP_RECVTTL, 1, "IP_RECVTTL");
  set_int(fd, IPPROTO_IP, IP_RECVTOS, 1, "IP_RECVTOS");
  install_signals();
  std::fprintf(stderr, "mcast-probe echo: ready: bound %s\n", to_string(local).c_str());
  std::vector<std::uint8_t> buf(kMaxDatagram + 1);
  std::uint64_t echoed = 0;
  auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(timeout));
  while (!g_stop && (!count || echoed < *count)) {
    auto now = clock_type::now();
    if (now >= deadline) break;
    int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()) + 1;
    std::size_t len = 0;
    Arrival a;
    if (!receive(fd, buf, len, a, ms)) continue;
    if (sendto(fd, buf.data(), len, 0, reinterpret_cast<sockaddr*>(&a.from), sizeof a.from) < 0) {
      std::fprintf(stderr, "mcast-probe echo: reply to %s: %s\n", to_string(a.from).c_str(), std::strerror(errno));
      continue;
    }
    ++echoed;
    std::printf("echo %zu B from=%s to=%s ttl=%d tos=0x%02x if=%s\n", len, to_string(a.from).c_str(),
                to_string(a.dst).c_str(), a.ttl, a.tos, if_name(a.ifindex).c_str());
    std::fflush(stdout);
  }
  close(fd);
  if (count && echoed < *count) {
    std::fprintf(stderr, "mcast-probe echo: FAIL: expected %llu datagrams, echoed %llu\n",
                 static_cast<unsigned long long>(*count), static_cast<unsigned long long>(echoed));
    return 1;
  }
  return 0;
}

int cmd_ping(Args& args) {
  std::optional<sockaddr_in> to;
  std::optional<in_addr> source, expect;
  std::uint64_t count = 3;
  double wait = 1;
  bool json = false;
  std::string n;
  while (args.next(n)) {
    if (n == "--to") to = parse_endpoint(n, args.value(n), false);
    else if (n == "--count") count = parse_uint(n, args.value(n), 1'000'000);
    else if (n == "--wait") wait = parse_seconds(n, args.value(n));
    else if (n == "--source-addr") source = parse_ip(n, args.value(n));
    else if (n == "--expect-source") expect = parse_ip(n, args.value(n));
    else if (n == "--json") json = true;
    else usage_error("ping: unknown option " + n);
  }
  if (!to) usage_error("ping needs --to A:P");
  if (!expect) expect = to->sin_addr;
  int fd = make_udp_socket();
  if (source) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr = *source;
    if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) sys_error("bind " + to_string(*source));
  }
  install_signals();
  std::uint32_t run_id = std::random_device{}();
  std::vector<std::uint8_t> out(64, 0), in(kMaxDatagram + 1);
  std::vector<double> rtts;
  std::uint64_t wrong_source = 0;
  std::string last_from;
  for (std::uint64_t seq = 0; seq < count && !g_stop; ++seq) {
    encode(out, run_id, seq, "");
    auto t0 = clock_type::now();
    if (sendto(fd, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&*to), sizeof *to) < 0) {
      std::fprintf(stderr, "mcast-probe ping: send to %s: %s\n", to_string(*to).c_str(), std::strerror(errno));
      std::this_thread::sleep_for(std::chrono::duration<double>(wait));
      continue;
    }
    auto deadline = t0 + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(wait));
    while (!g_stop) {
      auto now = clock_type::now();
      if (now >= deadline) break;
      int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()) + 1;
      std::size_t len = 0;
      Arrival a;
      if (!receive(fd, in, len, a, ms)) continue;
      auto d = decode(in.data(), len);
      if (!d || d->run_id != run_id || d->seq != seq) continue;
      last_from = to_string(a.from);
      if (a.from.sin_addr.s_addr != expect->s_addr) ++wrong_source;
      rtts.push_back(seconds_since(t0) * 1e6);
      break;
    }
  }
  close(fd);
  std::sort(rtts.begin(), rtts.end());
  double median = rtts.empty() ? 0 : rtts[rtts.size() / 2];
  bool ok = rtts.size() == count && wrong_source == 0;
  if (json)
    print_json({{"to", to_string(*to)}, {"sent", count}, {"replies", rtts.size()},
                {"wrong_source", wrong_source}, {"from", last_from}, {"rtt_median_us", median}, {"ok", ok}});
  else
    std::printf("ping %s: %zu/%llu replies, last from %s, median RTT %.0f us\n", to_string(*to).c_str(),
                rtts.size(), static_cast<unsigned long long>(count), last_from.empty() ? "-" : last_from.c_str(), median);
  if (rtts.size() != count)
    std::fprintf(stderr, "mcast-probe ping: FAIL: expected %llu replies from %s, got %zu\n",
                 static_cast<unsigned long long>(count), to_string(*to).c_str(), rtts.size());
  if (wrong_source > 0)
    std::fprintf(stderr, "mcast-probe ping: FAIL: %llu replies came from %s, expected %s\n",
                 static_cast<unsigned long long>(wrong_source), last_from.c_str(), to_string(*expect).c_str());
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage_error("missing COMMAND");
  std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "--version") {
    std::printf("mcast-probe %s\n", VSOCKLIB_VERSION);
    return 0;
  }
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  Args args(argc, argv, 2);
  if (cmd == "send") return cmd_send(args);
  if (cmd == "recv") return cmd_recv(args);
  if (cmd == "echo") return cmd_echo(args);
  if (cmd == "ping") return cmd_ping(args);
  usage_error("unknown command '" + cmd + "'");
}
