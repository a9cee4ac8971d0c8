#!/usr/bin/env python3
"""The summary of bench/compare-mcast (see its header).

  compare-mcast.py SAMPLES COUNT TTL1 ORDER WHERE   the Markdown tables from the samples
"""
import statistics, sys
path, count, ttl1, order = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split(",")
rows = {}
for line in open(path):
    p, size, sent, got, rx = line.split()
    rows.setdefault((p, int(size)), []).append((float(sent), int(got), float(rx)))
names = {"vsock-mcast": "vsock-mcast (unix tunnel, TUN)",
         "vsock-mcast-baseline": "vsock-mcast baseline binary (unix tunnel, TUN)",
         "vsock-mcast-seqpacket": "vsock-mcast (vsock seqpacket tunnel, TUN)", "socat": "socat pipeline (unix stream)",
         "smcroute": "kernel forwarding (smcroute), TTL 2"}
keeps = {"vsock-mcast": "yes", "vsock-mcast-seqpacket": "yes", "vsock-mcast-baseline": "yes", "socat": "no (127.0.0.1, TTL 1)", "smcroute": "source yes, TTL - 1"}
for size in sorted({s for _, s in rows}):
    base = rows.get(("smcroute", size))
    base_rx = statistics.median(x[2] for x in base) if base else None
    print(f"\n{size}-byte datagrams ({count} per run)\n")
    print("| path | offered pps | delivered pps | / kernel | loss (median, worst) | source, TTL kept |")
    print("|---|---|---|---|---|---|")
    for p in order:
        if (p, size) not in rows:
            continue
        xs = rows[(p, size)]
        sent = statistics.median(x[0] for x in xs)
        rx = statistics.median(x[2] for x in xs)
        losses = [100.0 * (count - x[1]) / count for x in xs]
        loss, worst = statistics.median(losses), max(losses)
        ratio = f"{rx / base_rx:.2f}" if base_rx else "-"
        print(f"| {names[p]} | {sent:.0f} | {rx:.0f} | {ratio} | {loss:.1f} %, {worst:.1f} % | {keeps[p]} |")
where = {}
for line in open(sys.argv[5]):
    p, size, *n = line.split()
    where.setdefault((p, int(size)), []).append([int(x) for x in n])
if where:
    print(f"\nWhere vsock-mcast lost datagrams (medians per run of {count}; the rest of the loss is")
    print("the sender's own or in the kernel between the counters):\n")
    print("| path | size | LAN socket full | tunnel queue full | TUN input queue full | receiver socket full |")
    print("|---|---|---|---|---|---|")
    for (p, size), xs in sorted(where.items()):
        m = [statistics.median(col) for col in zip(*xs)]
        print(f"| {names[p]} | {size} B | {m[0]:.0f} | {m[1]:.0f} | {m[2]:.0f} | {m[3]:.0f} |")
if ttl1 != "-":
    print(f"\nkernel forwarding with TTL 1 (what Fast-DDS/CyberRT send): {ttl1} of 1000 datagrams delivered")
