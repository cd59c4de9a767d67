#!/bin/bash
# Web UI benchmark (bench/webui.py measures): first-load bytes and time to an
# interactive tree in chromium, tree render time with 500 VMs.  Writes
# build/bench/webui.md.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=build/bench/webui.md
export CORRAL_BINDIR=${CORRAL_BINDIR:-$PWD/bin}
[ -d tests/e2e/node_modules/playwright-core ] || make -s e2e-deps
mkdir -p "$(dirname "$OUT")"
load=$(cut -d' ' -f1-3 /proc/loadavg)
tmp=$(mktemp /tmp/corral-bench-webui.XXXXXX)
trap 'rm -f "$tmp"' EXIT
timeout 1200 /usr/bin/python3 bench/webui.py >"$tmp"
{ cat "$tmp"; echo "Load average before the run: $load."; } >"$OUT"
cat "$OUT"
