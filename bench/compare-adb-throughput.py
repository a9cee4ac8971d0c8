#!/usr/bin/env python3
"""The summary of bench/compare-adb-throughput (see its header).

  compare-adb-throughput.py SAMPLES MIB CPU SYSCALLS SECOND_LABEL
      the Markdown tables from the samples, CPU and system-call files; SECOND_LABEL names
      the second relay's row
"""
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    p, op, us = line.split()
    rows.setdefault((p, op), []).append(int(us) / 1e6)
mb = (int(sys.argv[2]) << 20) / 1e6
med = {k: statistics.median(v) for k, v in rows.items()}
names = {"relay": "adbd-relay (USB gadget -> vsock)",
         "second": sys.argv[5],
         "vsock": "adb connect vsock:1:5555 (direct)",
         "tcp": "adb connect 127.0.0.1 (direct, tcp)"}
paths = [p for p in ("relay", "second", "vsock", "tcp") if (p, "push") in med]
relays = ("relay", "second")
print("\n| path | push | MB/s | / vsock | pull | MB/s | / vsock |")
print("|---|---|---|---|---|---|---|")
for p in paths:
    cells = []
    for op in ("push", "pull"):
        s = med[(p, op)]
        cells += [f"{s:.2f} s", f"{mb / s:.1f}", f"{med[('vsock', op)] / s:.2f}"]
    print(f"| {names[p]} | " + " | ".join(cells) + " |")
# Where the time goes: CPU ms used per command by the relay, the PC's adb server and
# adbd-sim (medians), next to the wall time. Two vCPUs: what nobody's CPU explains is
# waiting (dummy_hcd's frame timer, wakeups, the adb client). Then the relay's system calls
# per MiB, counted in one more (untimed) command under strace.
cpu = {}
for line in open(sys.argv[3]):
    p, op, *ms = line.split()
    cpu.setdefault((p, op), []).append([int(x) for x in ms])
calls = {}
for line in open(sys.argv[4]):
    p, op, n = line.split()
    calls[(p, op)] = n
print("\n| path | op | wall | relay CPU | relay syscalls/MiB | adb server CPU | adbd-sim CPU |")
print("|---|---|---|---|---|---|---|")
for p in paths:
    for op in ("push", "pull"):
        m = [statistics.median(col) for col in zip(*cpu[(p, op)])]
        relay_cells = f"{m[0]:.0f} ms | {calls[(p, op)]}" if p in relays else "- | -"
        print(f"| {names[p]} | {op} | {med[(p, op)] * 1000:.0f} ms | {relay_cells} | {m[1]:.0f} ms | {m[2]:.0f} ms |")
