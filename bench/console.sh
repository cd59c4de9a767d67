#!/bin/bash
# Console round-trip latency through the termproxy websocket bridge, beside
# the bare serial socket (bench/console.py measures).  Real corrald, QEMU
# (TCG here) and the test guest (make guest).  Writes build/bench/console.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.bash

[ -e build/guest/guest.qcow2 ] || make -s guest
tmp=$(mktemp -d /tmp/corral-bench-console.XXXXXX)
trap bench_cleanup EXIT
export CORRAL_BINDIR=${CORRAL_BINDIR:-$PWD/bin}
bench_report build/bench/console.md \
	timeout 900 /usr/bin/python3 bench/console.py
