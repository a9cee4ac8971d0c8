#include "vsock_pipe/options.hpp"

#include <cstdint>
#include <vector>

#include "vsocklib/address.hpp"
#include "vsocklib/privileges.hpp"

namespace vsock_pipe {

const char* const kUsage = R"(usage: vsock-pipe [OPTIONS] LEFT RIGHT

Moves bytes both ways between LEFT and RIGHT, passing end of stream on (half-close) and
stopping when both directions have ended. Each write into a vsock or hvsock side is at most
one chunk (4 KiB), so the guest kernel never builds a larger packet; unix, tcp and standard
output take whatever is buffered, up to --chunks x --chunk-size, in one write.

Each of LEFT and RIGHT is one of
  ADDRESS          connect to it
  listen:ADDRESS   accept connections on it (LEFT only); each connection gets its own
                   connection to RIGHT
  -                standard input and output (RIGHT only)
ADDRESS is vsock:CID:PORT, hvsock:UDS_PATH:PORT, unix:PATH (unix:@NAME is abstract) or
tcp:HOST:PORT. Listening on vsock takes CID "any"; listening on hvsock binds UDS_PATH_PORT.

Options
  --chunk-size BYTES     largest write into a vsock side (default 4096; 1..1048576)
  --chunks N             buffer per direction, in chunks (default 16; 1..64)
  --once                 with listen:, serve one connection and exit
  --max-connections N    with listen:, connections served at once (default 64; 1..65536)
  --retry                keep reconnecting to RIGHT with backoff instead of failing
  --connect-timeout MS   bound on each connect attempt (default 5000; 1..86400000)
  --half-close MODE      how end of input reaches a side: pass (shutdown at once), linger
                         (hold it until the peer's direction ends or is quiet for --linger,
                         then close), or auto (default: linger towards hvsock:, where a
                         half-close closes both directions and would cut the reply; pass
                         elsewhere)
  --linger MS            quiet time before a held half-close goes out (default 1000; 1..3600000)
  --allow-cid CID        with listen:vsock, accept only this peer CID (repeatable)
  --allow-uid UID        with listen:unix/hvsock, accept only this peer uid (repeatable)
  --allow-remote-tcp     with listen:tcp, accept peers that are not on loopback
  --log-level LEVEL      trace, debug, info, warn, error, off (default info)
  -h, --help             this text
  --version              the version

Examples
  vsock-pipe listen:tcp:127.0.0.1:5555 vsock:3:5555     forward local TCP to a guest
  vsock-pipe listen:vsock:any:9000 unix:/run/app.sock    expose a Unix service to guests
  echo hello | vsock-pipe unix:/run/echo.sock -          one request from a shell

Exit status: 0 when every pump finished cleanly, 1 when one failed, 2 on usage errors.
)";

namespace {

constexpr std::uint64_t kMaxMs = 86'400'000;  // one day

}  // namespace

command_line parse_command_line(int argc, const char* const* argv) {
  vsocklib::arg_reader in(argc, argv);
  command_line cl;
  options& o = cl.opt;
  std::vector<std::string> positional;
  while (in.next()) {
    const std::string& a = in.option();
    if (auto stop = in.help_or_version(command_line::action::help, command_line::action::version)) {
      cl.what = *stop;
      return cl;
    } else if (a == "--chunk-size") {
      o.pump.chunk_size = in.number<std::size_t>(1, 1048576);
    } else if (a == "--chunks") {
      o.pump.chunks_in_flight = in.number<unsigned>(1, 64);
    } else if (a == "--once") {
      o.once = true;
    } else if (a == "--retry") {
      o.retry = true;
    } else if (a == "--max-connections") {
      o.max_connections = in.number<unsigned>(1, 65536);
    } else if (a == "--connect-timeout") {
      o.connect_timeout = std::chrono::milliseconds(in.number(1, kMaxMs));
    } else if (a == "--half-close") {
      o.half_close = in.value();
      if (o.half_close != "auto" && o.half_close != "pass" && o.half_close != "linger") {
        in.fail("--half-close takes auto, pass or linger, not \"" + o.half_close + "\"");
      }
    } else if (a == "--linger") {
      // The pump's own bounds, so the error names --linger.
      o.pump.linger = std::chrono::milliseconds(
          in.number(1, static_cast<std::uint64_t>(vsocklib::pump_options::kMaxLinger.count())));
    } else if (vsocklib::read_peer_policy_option(in, o.policy, vsocklib::number_base::decimal)) {
      // --allow-cid, --allow-uid, --allow-remote-tcp: read into o.policy
    } else if (a == "--log-level") {
      o.log_level = in.value();
    } else if (a.size() > 1 && a[0] == '-' && a != "-") {
      in.unknown();
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2) throw usage_error("expected two addresses, LEFT and RIGHT");
  o.left = positional[0];
  o.right = positional[1];
  if (o.left.rfind("listen:", 0) == 0) {
    o.listen = true;
    o.left = o.left.substr(7);
  }
  if (o.right.rfind("listen:", 0) == 0) throw usage_error("only LEFT may be a listen: address");
  if (o.left == "-") throw usage_error("standard input/output (-) may only be RIGHT");
  o.stdio = o.right == "-";
  if (o.stdio && o.listen) throw usage_error("listen: and - cannot be combined");
  if (auto why = o.pump.validate(); !why.empty()) throw usage_error(why);
  return cl;
}

}  // namespace vsock_pipe
