#!/bin/bash
# Live migration benchmark: the test guest (512 MiB, rewriting 64 MiB of its
# RAM-backed root in a loop) migrates back and forth N times between two
# QEMUs on this host through Corral's hv/migrate.h (TLS for RAM and disks,
# local disks mirrored), then N times with QEMU's own migration of two bare
# processes (plain TCP, disk files shared).  Real QEMU (TCG here).
# Writes build/bench/migrate.md.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${MIGRATE_BENCH_N:-10}
MEM=${MIGRATE_BENCH_MEM:-512}
O=${O:-build}
OUT=build/bench/migrate.md

[ -e build/guest/guest.qcow2 ] || make -s guest
make -s O="$O" "$O/bench/migrate_bench" >/dev/null

tmp=$(mktemp -d /tmp/corral-bench-migrate.XXXXXX)
cleanup() {
	for pidfile in "$tmp"/*/run/*.pid; do # QEMUs left by a failed run
		[ -e "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null
	done
	sleep 0.2
	rm -rf "$tmp"
}
trap cleanup EXIT

load=$(cut -d' ' -f1-3 /proc/loadavg)
timeout 1800 "$O/bench/migrate_bench" "$PWD/build/guest/guest.qcow2" "$tmp" "$N" "$MEM" >"$tmp/runs"
mkdir -p "$(dirname "$OUT")"
/usr/bin/python3 - "$tmp/runs" "$N" "$MEM" "$load" >"$OUT" <<'PY'
import sys

runs, n, mem, load = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows = {"corral": [], "qemu": []}
for line in open(runs):
    kind, down, total, wall = line.split()
    rows[kind].append((int(down), int(total), int(wall)))


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def stats(kind, col):
    v = [r[col] for r in rows[kind]]
    return pct(v, 50), pct(v, 99)


print("## Live migration\n")
print(f"Test guest with {mem} MiB RAM rewriting 64 MiB of its RAM-backed root in a loop, "
      f"{n} migrations back and forth between two QEMUs on this host (TCG, loopback). "
      "*Corral*: hv/migrate.h as the qmigrate task runs it — per-migration TLS CA, RAM "
      "over TLS, both local disks (64 MiB qcow2 boot disk, 1 MiB raw data disk) mirrored "
      "over TLS NBD, pause-before-switchover, target started with `-incoming defer`. "
      "*QEMU*: the same QEMUs migrating by hand over plain TCP with the disk files shared "
      "(nothing copied but RAM). Both targets start paused (`-S`); *pause* is QEMU's "
      "downtime plus the wait until the target was resumed (Corral: its finish step, "
      "bare: an immediate `cont`), i.e. what the guest sees. Migration time as QEMU "
      "reports it; wall time from starting the target QEMU to the source stopped.\n")
print("| path | pause p50 | pause p99 | migration time p50 | p99 | wall p50 | p99 |")
print("|---|---|---|---|---|---|---|")
for kind in ("corral", "qemu"):
    d, t, w = stats(kind, 0), stats(kind, 1), stats(kind, 2)
    print(f"| {'Corral (TLS, disks mirrored)' if kind == 'corral' else 'bare QEMU (TCP, shared disks)'} "
          f"| {d[0]} ms | {d[1]} ms | {t[0]} ms | {t[1]} ms | {w[0]} ms | {w[1]} ms |")
cd, qd = stats("corral", 0)[0], stats("qemu", 0)[0]
cw, qw = stats("corral", 2)[0], stats("qemu", 2)[0]
print(f"\nRatio Corral / bare QEMU: pause p50 {cd / max(qd, 1):.1f}x, wall time p50 "
      f"{cw / max(qw, 1):.1f}x (goal: ≤ 1.1x; downtime goal ≤ 300 ms). The bare run copies "
      "no disk and encrypts nothing; Corral's extra is TLS on RAM and the disk mirror "
      "(whose final catch-up happens inside the downtime, at pre-switchover).\n")
print(f"Load average before the run: {load}.")
PY
cat "$OUT"
