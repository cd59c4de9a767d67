#!/bin/bash
# VM engine benchmark (bench/vm.py does the measuring): start overhead of
# Corral against the same QEMU argv launched by hand, 20 VMs started at
# once, GET /cluster/resources with 500 VMs defined.  Real QEMU (TCG here)
# and the test guest (make guest).  Writes build/bench/vm.md.
set -euo pipefail
cd "$(dirname "$0")/.."

PASSWORD=bench-admin-pw
OUT=build/bench/vm.md
CORRALD=${CORRAL_BINDIR:-bin}/corrald

[ -e build/guest/guest.qcow2 ] || make -s guest

tmp=$(mktemp -d /tmp/corral-bench-vm.XXXXXX)
corrald_pid=
cleanup() {
	[ -n "$corrald_pid" ] && kill "$corrald_pid" 2>/dev/null && wait "$corrald_pid" 2>/dev/null
	for pidfile in "$tmp"/corrald/run/*.pid; do # QEMUs left by a failed run
		[ -e "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null
	done
	sleep 0.2
	rm -rf "$tmp"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CORRAL_ADMIN_PASSWORD=$PASSWORD "$CORRALD" --data-dir "$tmp/corrald" \
	--listen "127.0.0.1:$port" --node bench --log-level error >"$tmp/corrald.log" 2>&1 &
corrald_pid=$!
for _ in $(seq 300); do
	curl -sk --max-time 5 -o /dev/null "https://127.0.0.1:$port/api2/json/version" && break
	kill -0 "$corrald_pid" 2>/dev/null || { cat "$tmp/corrald.log" >&2; exit 1; }
	sleep 0.1
done

mkdir -p "$(dirname "$OUT")"
load=$(cut -d' ' -f1-3 /proc/loadavg)
timeout 1800 python3 bench/vm.py "$port" "$tmp/corrald" >"$tmp/vm.md"
{ cat "$tmp/vm.md"; echo "Load average before the run: $load."; } >"$OUT"
cat "$OUT"
