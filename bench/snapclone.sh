#!/bin/bash
# Snapshot and clone benchmark (bench/snapclone.py does the measuring):
# linked clone time from 1 GiB and 10 GiB templates, snapshot create/delete
# on a 10 GiB image holding 1 GiB through the API beside qemu-img and
# corral-img.  No guest runs.  Writes build/bench/snapclone.md.
set -euo pipefail
cd "$(dirname "$0")/.."

PASSWORD=bench-admin-pw
OUT=build/bench/snapclone.md
BINDIR=${CORRAL_BINDIR:-bin}

tmp=$(mktemp -d /tmp/corral-bench-snapclone.XXXXXX)
corrald_pid=
cleanup() {
	[ -n "$corrald_pid" ] && kill "$corrald_pid" 2>/dev/null && wait "$corrald_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CORRAL_ADMIN_PASSWORD=$PASSWORD "$BINDIR/corrald" --data-dir "$tmp/corrald" \
	--listen "127.0.0.1:$port" --node bench --log-level error >"$tmp/corrald.log" 2>&1 &
corrald_pid=$!
for _ in $(seq 300); do
	curl -sk --max-time 5 -o /dev/null "https://127.0.0.1:$port/api2/json/version" && break
	kill -0 "$corrald_pid" 2>/dev/null || { cat "$tmp/corrald.log" >&2; exit 1; }
	sleep 0.1
done

mkdir -p "$(dirname "$OUT")"
load=$(cut -d' ' -f1-3 /proc/loadavg)
timeout 1200 /usr/bin/python3 bench/snapclone.py "$port" "$tmp/corrald" \
	"$(realpath "${CORRAL_IMG:-$BINDIR/corral-img}")" >"$tmp/snapclone.md"
{ cat "$tmp/snapclone.md"; echo; echo "Load average before the run: $load."; } >"$OUT"
cat "$OUT"
