#include "adbd_sim/options.hpp"

#include "vsocklib/privileges.hpp"

namespace adbd_sim {

const char* const kUsage = R"(usage: adbd-sim [OPTIONS]

A guest-side ADB device daemon for tests and soak runs: answers the real adb client (or a
relay in front of it) with a CNXN handshake, streams with flow control, and the services
below. Not a real adbd: no Android, no root, files live under --root.

Options
  --listen ADDRESS       where to listen (repeatable; default vsock:any:5555):
                         vsock:any:PORT, vsock:CID:PORT, hvsock:UDS_PATH:PORT, unix:PATH
                         (unix:@NAME is abstract), tcp:HOST:PORT (port 0 picks one; the
                         log line "listening on ..." shows it)
  --root DIR             directory for sync: (adb push/pull) and the shell's working
                         directory; adb paths are resolved inside it and cannot leave it
                         (default: a new temporary directory, removed at exit)
  --auth                 require AUTH: send a token, treat every key as unknown, accept the
                         host's public key (as a user tapping "Allow" would)
  --max-payload BYTES    largest message payload accepted and sent; the session uses the
                         smaller of this and the host's (default 1048576; 256..1048576)
  --max-streams N        open streams per connection; more OPENs are refused (default 32)
  --no-delayed-ack       do not advertise delayed_ack (one WRTE in flight per stream and
                         direction, whatever the host offers)
  --max-expansion N      a compressed push (adb push -z) may decompress to at most N times
                         its compressed size + 64 MiB; more is cut off as a decompression
                         bomb with FAIL (default 1024; 0: no limit)
  --max-connections N    connections served at once; more wait in the backlog (default 16)
  --threads N            threads serving connections, each connection on one (default 1)
  --allow-cid CID        with vsock, accept only this peer CID (repeatable)
  --allow-uid UID        with unix/hvsock, accept only this peer uid (repeatable)
  --allow-remote-tcp     with tcp, accept peers that are not on loopback
  --log-level LEVEL      trace, debug, info, warn, error, off (default info)
  -h, --help             this text
  --version              the version

Services (the OPEN destinations adbd-sim answers)
  shell:CMD              /bin/sh -c CMD in --root; stdin, stdout and stderr on the stream
                         (raw, no pty, no exit code); "shell:" alone reads commands from
                         the stream
  shell,v2:CMD           the same with the shell protocol (shell_v2): stdout, stderr and
                         the exit status as separate packets (no pty either)
  exec:CMD               the raw shell (adb exec-out)
  sync:                  adb push, pull, ls: sync v1 (STAT LIST SEND RECV QUIT) and v2
                         (STA2 LST2 LIS2 SND2 RCV2, brotli, lz4 and zstd compression)
  abb:ARGS, abb_exec:ARGS  a simulated binder bridge: "package list packages" and a
                         streamed "package install -S SIZE"
  sink:N                 reads and discards N bytes, then closes
  source:N               sends N bytes (byte i is i % 251), then closes

Examples
  adbd-sim --listen vsock:any:5555                       as a guest's adbd
  adbd-sim --listen tcp:127.0.0.1:5555 --root /tmp/dev   then: adb connect 127.0.0.1:5555

Exit status: 0 after SIGINT/SIGTERM, 1 when a listener cannot be set up, 2 on usage errors.
)";

command_line parse_command_line(int argc, const char* const* argv) {
  vsocklib::arg_reader in(argc, argv);
  command_line cl;
  options& o = cl.opt;
  while (in.next()) {
    const std::string& a = in.option();
    if (auto stop = in.help_or_version(command_line::action::help, command_line::action::version)) {
      cl.what = *stop;
      return cl;
    } else if (a == "--listen") {
      o.listen.push_back(in.stream_address());
    } else if (a == "--root") {
      o.root = in.value();
      if (o.root.empty()) in.fail("--root needs a directory");
    } else if (a == "--auth") {
      o.auth = true;
    } else if (a == "--max-payload") {
      // 256: room for a sync DATA header and some data in every WRTE.
      o.max_payload = in.number<std::uint32_t>(256, adb_protocol::kMaxPayload);
    } else if (a == "--max-streams") {
      o.max_streams = in.number<unsigned>(1, 4096);
    } else if (a == "--no-delayed-ack") {
      o.delayed_ack = false;
    } else if (a == "--max-expansion") {
      o.max_expansion = in.number<std::uint32_t>(0, 1000000000);
    } else if (a == "--max-connections") {
      o.max_connections = in.number<unsigned>(1, 4096);
    } else if (a == "--threads") {
      o.threads = in.number<unsigned>(1, 256);
    } else if (vsocklib::read_peer_policy_option(in, o.policy, vsocklib::number_base::decimal)) {
      // --allow-cid, --allow-uid, --allow-remote-tcp: read into o.policy
    } else if (a == "--log-level") {
      o.log_level = in.value();
    } else {
      in.unknown();
    }
  }
  if (o.listen.empty()) o.listen.push_back(vsocklib::parse_address("vsock:any:5555"));
  return cl;
}

}  // namespace adbd_sim
