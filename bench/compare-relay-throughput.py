#!/usr/bin/env python3
"""The client, service and summary of bench/compare-relay-throughput (see its header).

  serve ADDR...            sink ("S": 8-byte length, that many bytes, reply the count) and
                           echo ("E") service on each address
  stream ADDR MIB          connect, send MIB MiB in 4 KiB writes, print MB/s
  rtt ADDR COUNT SIZE      COUNT ping-pongs of SIZE bytes, print the median in us
  wait ADDR SECONDS        until ADDR accepts a connection
  summary SAMPLES ORDER MIB COUNT SIZE   the Markdown tables from the samples file

Addresses: unix:PATH, tcp:HOST:PORT, vsock:CID:PORT, hvsock:PATH:PORT.
"""
import socket, statistics, struct, sys, threading, time

def sockaddr(a):
    kind, rest = a.split(":", 1)
    if kind == "unix":
        return socket.AF_UNIX, rest
    if kind == "tcp":
        host, port = rest.rsplit(":", 1)
        return socket.AF_INET, (host, int(port))
    if kind == "vsock":
        cid, port = rest.split(":")
        return socket.AF_VSOCK, (socket.VMADDR_CID_ANY if cid == "any" else int(cid), int(port))
    raise SystemExit(f"bad address {a}")

def connect(a):
    if a.startswith("hvsock:"):  # hvsock:PATH:PORT, the hybrid vsock handshake
        path, port = a[len("hvsock:"):].rsplit(":", 1)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.sendall(f"CONNECT {port}\n".encode())
        line = b""
        while not line.endswith(b"\n"):
            c = s.recv(1)
            if not c:
                s.close()
                raise OSError(f"{a}: closed without answering")
            line += c
        if not line.startswith(b"OK"):
            s.close()
            raise OSError(f"{a}: answered {line!r}")
        return s
    fam, sa = sockaddr(a)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.connect(sa)
    if fam == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def recv_exact(s, n):
    b = bytearray()
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise SystemExit(f"short read: {len(b)} of {n}")
        b += d
    return bytes(b)

def handle(c):
    # First byte picks the service: S = sink (an 8-byte length, that many bytes, reply the
    # count: no half-close, which the hybrid vsock device turns into a full close), E = echo.
    with c:
        mode = c.recv(1)
        if mode == b"S":
            (want,) = struct.unpack("!Q", recv_exact(c, 8))
            n, buf = 0, bytearray(65536)
            while n < want:
                k = c.recv_into(buf, min(len(buf), want - n))
                if not k:
                    break
                n += k
            c.sendall(struct.pack("!Q", n))
        elif mode == b"E":
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)

def serve(addrs):
    def loop(l):
        while True:
            c, _ = l.accept()
            if c.family == socket.AF_INET:
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=handle, args=(c,), daemon=True).start()
    ts = []
    for a in addrs:
        fam, sa = sockaddr(a)
        l = socket.socket(fam, socket.SOCK_STREAM)
        if fam == socket.AF_INET:
            l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.bind(sa)
        l.listen(64)
        ts.append(threading.Thread(target=loop, args=(l,), daemon=True))
    print("ready", flush=True)
    for t in ts:
        t.start()
    for t in ts:
        t.join()

def stream(a, mib):
    total = mib << 20
    chunk = bytes(4096)
    t0 = time.perf_counter()
    s = connect(a)
    s.sendall(b"S" + struct.pack("!Q", total))
    for _ in range(total // 4096):
        s.sendall(chunk)
    (n,) = struct.unpack("!Q", recv_exact(s, 8))
    s.close()
    dt = time.perf_counter() - t0
    if n != total:
        raise SystemExit(f"sink counted {n} bytes, sent {total}")
    print(f"{total / dt / 1e6:.1f}")

def rtt(a, count, size):
    s = connect(a)
    s.sendall(b"E")
    msg = bytes(range(256)) * (size // 256 + 1)
    msg = msg[:size]
    samples = []
    for i in range(count + 20):  # 20 warm-up rounds
        t0 = time.perf_counter_ns()
        s.sendall(msg)
        if recv_exact(s, size) != msg:
            raise SystemExit("echo differs")
        if i >= 20:
            samples.append(time.perf_counter_ns() - t0)
    s.close()
    print(f"{statistics.median(samples) / 1000:.1f}")

def wait(a, seconds):
    deadline = time.monotonic() + seconds
    while True:
        try:
            connect(a).close()
            return
        except OSError as e:
            if time.monotonic() > deadline:
                raise SystemExit(f"{a} not accepting after {seconds} s: {e}")
            time.sleep(0.05)

def summary(path, order, mib, count, size):
    rows = {}
    for line in open(path):
        t, v, m, x = line.split()
        rows.setdefault((t, v, m), []).append(float(x))
    med = {k: statistics.median(x) for k, x in rows.items()}
    names = {"vsock-pipe": "vsock-pipe", "baseline": "vsock-pipe (baseline)",
             "socat-4k": "socat -b 4096",
             "socat": "socat (default -b 8192)", "direct": "direct (no relay)"}
    what = {"unix": "relay back side: unix", "tcp": "relay back side: tcp",
            "vsock": "relay back side: unix",
            "device-h2g": "host client -> device -> relay in the guest -> the guest's unix service",
            "device-g2h": "guest client -> relay in the guest -> vsock:2 -> device -> the host's unix service"}
    for t in order.split(","):
        d_tp = med[(t, "direct", "mbps")]
        d_rt = med[(t, "direct", "rtt")]
        print(f"\n{t} ({what[t]}; {mib} MiB streams, {count} x {size} B ping-pong)\n")
        print("| path | throughput | / direct | RTT | / direct | syscalls / MiB |")
        print("|---|---|---|---|---|---|")
        for v in ("vsock-pipe", "baseline", "socat-4k", "socat", "direct"):
            if (t, v, "mbps") not in med:
                continue  # baseline: only with --baseline
            tp, rt = med[(t, v, "mbps")], med[(t, v, "rtt")]
            tps = f"{tp:.0f}" if tp >= 10 else f"{tp:.1f}"
            sc = med.get((t, v, "syscalls"))
            scs = f"{sc:.0f}" if sc is not None else "-"
            print(f"| {names[v]} | {tps} MB/s | {tp / d_tp:.2f} | {rt:.0f} us | {rt / d_rt:.2f} | {scs} |")

cmd = sys.argv[1]
if cmd == "serve":
    serve(sys.argv[2:])
elif cmd == "stream":
    stream(sys.argv[2], int(sys.argv[3]))
elif cmd == "rtt":
    rtt(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
elif cmd == "wait":
    wait(sys.argv[2], float(sys.argv[3]))
elif cmd == "summary":
    summary(*sys.argv[2:4], *map(int, sys.argv[4:]))
