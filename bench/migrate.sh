#!/bin/bash
# Live migration benchmark: the test guest (512 MiB, rewriting 64 MiB of its
# RAM-backed root in a loop) migrates back and forth N times between two
# QEMUs on this host through Corral's hv/migrate.h (bench/migrate_bench.c),
# alternating with the same work done by hand on bare QEMUs
# (bench/migrate_anchor.py: disks mirrored and RAM over TLS) and with RAM
# alone over TCP.  Real QEMU (TCG here).  Writes build/bench/migrate.md.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${MIGRATE_BENCH_N:-10}
MEM=${MIGRATE_BENCH_MEM:-512}
SETTLE=${MIGRATE_BENCH_SETTLE:-2} # seconds the paused guest runs before it moves
O=${O:-build}
OUT=build/bench/migrate.md

[ -e build/guest/guest.qcow2 ] || make -s guest
make -s O="$O" "$O/bench/migrate_bench" >/dev/null

tmp=$(mktemp -d /tmp/corral-bench-migrate.XXXXXX)
driver=
cleanup() {
	set +e
	[ -n "$driver" ] && kill "$driver" 2>/dev/null && wait "$driver" 2>/dev/null
	for pidfile in $(find "$tmp" -name '*.pid'); do # QEMUs left by a failed run
		kill -9 "$(cat "$pidfile")" 2>/dev/null
	done
	sleep 0.2
	rm -rf "$tmp"
}
trap cleanup EXIT

load=$(cut -d' ' -f1-3 /proc/loadavg)
timeout 2400 /usr/bin/python3 bench/migrate_anchor.py "$PWD/$O/bench/migrate_bench" \
	"$PWD/build/guest/guest.qcow2" "$tmp" "$N" "$MEM" "$SETTLE" >"$tmp/runs" &
driver=$!
wait "$driver"
driver=
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$(dirname "$OUT")"
/usr/bin/python3 bench/migrate_report.py "$tmp/runs" "$N" "$MEM" "$load" "$load_end" >"$OUT"
cp "$tmp/runs" build/bench/migrate.runs
cat "$OUT"
