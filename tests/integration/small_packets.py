#!/usr/bin/env python3
"""Many small writes into a vsock stream whose reader pauses (the small-packets scenario).

Since Linux 6.12.92 a vsock stream is reset when the overhead of the packets queued at a
receiver exceeds its receive window, so many small packets and a slow reader can kill a
connection. This tool is both ends of that scenario:

  small_packets.py recv --port P --pause SECONDS [--timeout S]
      listens on vsock any:P, accepts one connection, waits SECONDS before reading, then
      reads to the end; prints "bytes=N sha256=HEX error=NAME" on stdout.
  small_packets.py send --to vsock:CID:PORT|unix:PATH|stdout --bytes N [--seed K]
                        [--max-write B] [--pace SECONDS] [--start-when PATH]
      writes N bytes of a seeded pseudo-random stream in writes of 1..B bytes (default 600)
      as fast as the socket takes them (or one every --pace seconds), then shuts down its
      write side and waits for the peer to close; prints "bytes=N writes=W sha256=HEX
      error=NAME" on stdout. With --to stdout it writes into its standard output (a pipe
      into another program, e.g. `adb shell`'s stdin), closes it at the end, and prints the
      line on stderr. --start-when waits until PATH exists before the first write.
error=none, or the name of what ended the connection (e.g. ECONNRESET). One line of words,
so the lab script reads it with the shell alone: Python starts slowly in a TCG guest.
"""
import argparse
import errno
import hashlib
import os
import random
import socket
import sys
import time


def parse_to(text):
    kind, _, rest = text.partition(":")
    if kind == "vsock":
        cid, _, port = rest.partition(":")
        return socket.AF_VSOCK, (int(cid), int(port))
    if kind == "unix":
        return socket.AF_UNIX, rest
    raise SystemExit(f"small_packets.py: --to must be vsock:CID:PORT or unix:PATH, not {text!r}")


def error_name(e):
    return errno.errorcode.get(e.errno, str(e)) if isinstance(e, OSError) and e.errno else str(e)


def recv(args):
    srv = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    srv.bind((socket.VMADDR_CID_ANY, args.port))
    srv.listen(1)
    srv.settimeout(args.timeout)
    print("listening", file=sys.stderr, flush=True)
    conn, _ = srv.accept()
    conn.settimeout(args.timeout)
    time.sleep(args.pause)
    digest, total, error = hashlib.sha256(), 0, None
    try:
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            digest.update(chunk)
            total += len(chunk)
    except OSError as e:
        error = error_name(e)
    conn.close()
    print(f"bytes={total} sha256={digest.hexdigest()} error={error or 'none'}")


def send(args):
    to_stdout = args.to == "stdout"
    if not to_stdout:
        family, addr = parse_to(args.to)
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(args.timeout)
        s.connect(addr)
    rng = random.Random(args.seed)
    data = rng.randbytes(args.bytes)
    if args.start_when:
        deadline = time.monotonic() + args.timeout
        while not os.path.exists(args.start_when):
            if time.monotonic() > deadline:
                raise SystemExit(f"small_packets.py: {args.start_when} did not appear")
            time.sleep(0.05)
    digest, sent, writes, error = hashlib.sha256(data), 0, 0, None
    try:
        while sent < len(data):
            n = rng.randint(1, args.max_write)
            if to_stdout:
                sent += os.write(1, data[sent:sent + n])
            else:
                sent += s.send(data[sent:sent + n])
            writes += 1
            if args.pace:
                time.sleep(args.pace)
        if to_stdout:
            os.close(1)
        else:
            s.shutdown(socket.SHUT_WR)
            while s.recv(4096):
                pass
    except OSError as e:
        error = error_name(e)
    if not to_stdout:
        s.close()
    print(f"bytes={sent} writes={writes} sha256={digest.hexdigest()} error={error or 'none'}",
          file=sys.stderr if to_stdout else sys.stdout)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("recv")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--pause", type=float, default=6.0)
    r.add_argument("--timeout", type=float, default=60.0)
    s = sub.add_parser("send")
    s.add_argument("--to", required=True)
    s.add_argument("--bytes", type=int, default=2 << 20)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--max-write", type=int, default=600)
    s.add_argument("--pace", type=float, default=0.0)
    s.add_argument("--start-when")
    s.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args()
    recv(args) if args.cmd == "recv" else send(args)


if __name__ == "__main__":
    main()
