#!/bin/bash
# Console round-trip latency through the termproxy websocket bridge, beside
# the bare serial socket (bench/console.py measures).  Real corrald, QEMU
# (TCG here) and the test guest (make guest).  Writes build/bench/console.md.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=build/bench/console.md
[ -e build/guest/guest.qcow2 ] || make -s guest
mkdir -p "$(dirname "$OUT")"
load=$(cut -d' ' -f1-3 /proc/loadavg)
tmp=$(mktemp /tmp/corral-bench-console.XXXXXX)
trap 'rm -f "$tmp"' EXIT
CORRAL_BINDIR=${CORRAL_BINDIR:-$PWD/bin} timeout 900 /usr/bin/python3 bench/console.py >"$tmp"
{ cat "$tmp"; echo "Load average before the run: $load."; } >"$OUT"
cat "$OUT"
