#!/bin/bash
# qcow2 benchmark: corral-img beside qemu-img on the same files in one run
# (convert 2 GiB raw with half zero regions to qcow2 and back, convert -c,
# create a 1 TiB image with metadata preallocation, check a fragmented 8 GiB
# image, 4 KiB random writes, 1 MiB sequential writes) and sequential writes
# against dd to a raw file, page cache against page cache (the final flush
# included) and O_DIRECT against O_DIRECT.  Times are medians of runs timed by
# hyperfine, the two tools alternating.
# Writes build/bench/qcow2.md.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=build/bench/qcow2.md
CIMG=${CORRAL_BINDIR:-bin}/corral-img
RUNS=${BENCH_RUNS:-3}
LIMIT=${BENCH_LIMIT:-300} # seconds one command may take
work=$(mktemp -d "$PWD/build/bench/qcow2.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p build/bench
rows=()

# one_run TAG CMD PREPARE: appends one run's "SECONDS EXIT" to $work/TAG.times
one_run() {
	hyperfine --style none --ignore-failure --runs 1 --prepare "$3" --export-json "$work/$1.json" "$2" \
		>/dev/null 2>&1
	python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))["results"][0]
codes = [c for c in r.get("exit_codes", [0]) if c] or [0]
print("%.3f %d" % (r["times"][0] if r.get("times") else r["mean"], codes[0]))' "$work/$1.json" >>"$work/$1.times"
}

# median TAG: "SECONDS EXIT" — the median of TAG's runs and the first failing exit status
median() {
	python3 -c 'import statistics,sys; runs = [l.split() for l in open(sys.argv[1])]
codes = [int(c) for _, c in runs if int(c)] or [0]
print("%.3f %d" % (statistics.median(float(t) for t, _ in runs), codes[0]))' "$work/$1.times"
}

# shown "SECONDS EXIT": "1.234 s", "> LIMIT s (stopped)" or "failed (exit N)"
shown() {
	set -- $1
	case $2 in
	0) echo "$1 s" ;;
	124) echo "> $LIMIT s (stopped)" ;;
	*) echo "failed (exit $2)" ;;
	esac
}

# row NAME OTHER-NAME CORRAL-CMD OTHER-CMD PREPARE [RUNS]; the two tools run in
# turn (a slow spell of the shared machine then hits both), each command under
# timeout $LIMIT
row() {
	local runs=${6:-$RUNS} n=${#rows[@]} a b i
	echo "  $1" >&2
	for ((i = 0; i < runs; i++)); do
		one_run "c$n" "timeout $LIMIT $3 >/dev/null" "$5"
		one_run "o$n" "timeout $LIMIT $4 >/dev/null" "$5"
	done
	a=$(median "c$n")
	b=$(median "o$n")
	rows+=("| $1 | $(shown "$a") | $2 $(shown "$b") | $(python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print('%.2f' % (a / b if b > 0 else 0))" ${a% *} ${b% *}) |")
}

make_source() { # 2 GiB: 64 MiB stripes of random data, base64 text, written zeros, holes
	local src=$work/src.raw i=0
	truncate -s 2G "$src"
	for ((off = 0; off < 2048; off += 64, i++)); do
		case $((i % 4)) in
		0) head -c 64M /dev/urandom ;;
		1) head -c 48M /dev/urandom | base64 -w 0 | head -c 64M ;;
		2) head -c 64M /dev/zero ;;
		3) ;; # a hole
		esac | dd of="$src" bs=1M seek="$off" conv=notrunc status=none iflag=fullblock
	done
}

echo "qcow2: preparing files in $work" >&2
make_source
qemu-img convert -f raw -O qcow2 "$work/src.raw" "$work/ref.qcow2"
qemu-img create -q -f qcow2 "$work/frag.qcow2" 8G
# 30000 scattered 4 KiB writes: every L2 table of the disk, fragmented data
qemu-img bench -q -w -c 30000 -s 4k -S 286721 "$work/frag.qcow2" >/dev/null
sync

c=$work/c.qcow2
row "convert 2 GiB raw (half zero) -> qcow2" "qemu-img" \
	"$CIMG convert -f raw -O qcow2 $work/src.raw $c" \
	"qemu-img convert -f raw -O qcow2 $work/src.raw $c" "rm -f $c; sync"
row "convert qcow2 -> raw" "qemu-img" \
	"$CIMG convert -f qcow2 -O raw $work/ref.qcow2 $work/back.raw" \
	"qemu-img convert -f qcow2 -O raw $work/ref.qcow2 $work/back.raw" "rm -f $work/back.raw; sync"
row "convert -c 2 GiB raw -> qcow2 (zlib)" "qemu-img" \
	"$CIMG convert -c -f raw -O qcow2 $work/src.raw $c" \
	"qemu-img convert -c -f raw -O qcow2 $work/src.raw $c" "rm -f $c; sync" 1
row "convert -c 2 GiB raw -> qcow2 (zstd)" "qemu-img" \
	"$CIMG convert -c -f raw -O qcow2 -o compression_type=zstd $work/src.raw $c" \
	"qemu-img convert -c -f raw -O qcow2 -o compression_type=zstd $work/src.raw $c" "rm -f $c; sync" 1
row "create 1 TiB preallocation=metadata" "qemu-img" \
	"$CIMG create -q -f qcow2 -o preallocation=metadata $work/big.qcow2 1T" \
	"qemu-img create -q -f qcow2 -o preallocation=metadata $work/big.qcow2 1T" "rm -f $work/big.qcow2; sync" 1
rm -f "$work/big.qcow2"
row "check fragmented 8 GiB (30000 scattered clusters)" "qemu-img" \
	"$CIMG check $work/frag.qcow2" "qemu-img check $work/frag.qcow2" "true" 5
fresh="rm -f $work/b.qcow2; qemu-img create -q -f qcow2 $work/b.qcow2 16G; sync"
row "bench 4 KiB random writes x50000, fresh 16 GiB" "qemu-img" \
	"$CIMG bench -q -w -c 50000 -s 4k -S 33558528 --pattern=0xab $work/b.qcow2" \
	"qemu-img bench -q -w -c 50000 -s 4k -S 33558528 --pattern=0xab $work/b.qcow2" "$fresh"
row "bench 4 KiB random writes x50000, -t none" "qemu-img" \
	"$CIMG bench -q -w -t none -c 50000 -s 4k -S 33558528 --pattern=0xab $work/b.qcow2" \
	"qemu-img bench -q -w -t none -c 50000 -s 4k -S 33558528 --pattern=0xab $work/b.qcow2" "$fresh"
row "bench 1 MiB sequential writes, 1 GiB, -t none" "qemu-img" \
	"$CIMG bench -q -w -t none -c 1024 -s 1M --pattern=0xab $work/b.qcow2" \
	"qemu-img bench -q -w -t none -c 1024 -s 1M --pattern=0xab $work/b.qcow2" "$fresh"
row "sequential 1 MiB writes, 1 GiB, page cache + flush: qcow2 vs raw" "dd" \
	"$CIMG bench -q -w -c 1024 -s 1M --pattern=0xab $work/b.qcow2" \
	"dd if=/dev/zero of=$work/seq.raw bs=1M count=1024 conv=fdatasync status=none" \
	"$fresh; rm -f $work/seq.raw"
row "sequential 1 MiB writes, 1 GiB, O_DIRECT: qcow2 vs raw" "dd" \
	"$CIMG bench -q -w -t none -c 1024 -s 1M --pattern=0xab $work/b.qcow2" \
	"dd if=/dev/zero of=$work/seq.raw bs=1M count=1024 oflag=direct conv=fdatasync status=none" \
	"$fresh; rm -f $work/seq.raw"

{
	echo "## qcow2: corral-img beside qemu-img"
	echo
	echo "\`bench/qcow2.sh\`: the same files for both tools in one run, the tools taking turns; median of $RUNS runs"
	echo "(1 for \`convert -c\` and \`create\`, 5 for \`check\`), \`sync\` before each run, at most ${LIMIT} s per command."
	echo "qemu-img $(qemu-img --version | head -1 | awk '{print $3}'); machine load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "Source: 2 GiB raw in 64 MiB stripes: random, base64 text, written zeros, holes."
	echo "Ratio = corral-img / other (below 1: corral-img is faster); for the dd rows, throughput"
	echo "relative to dd is 1 / ratio (goal: at least 0.90, i.e. a ratio of at most 1.11)."
	echo
	echo "| operation | corral-img | other | ratio |"
	echo "|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
} >"$OUT"
cat "$OUT"
