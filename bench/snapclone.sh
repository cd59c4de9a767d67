#!/bin/bash
# Snapshot and clone benchmark (bench/snapclone.py does the measuring):
# linked clone time from 1 GiB and 10 GiB templates, snapshot create/delete
# on a 10 GiB image holding 1 GiB through the API beside qemu-img and
# corral-img.  No guest runs.  Writes build/bench/snapclone.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.bash

tmp=$(mktemp -d /tmp/corral-bench-snapclone.XXXXXX)
trap bench_cleanup EXIT
start_corrald
bench_report build/bench/snapclone.md timeout 1200 /usr/bin/python3 bench/snapclone.py \
	"$corrald_port" "$tmp/corrald" "$(realpath "${CORRAL_IMG:-${CORRAL_BINDIR:-bin}/corral-img}")"
