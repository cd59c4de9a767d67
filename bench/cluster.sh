#!/bin/bash
# Cluster failure detection on real corrald processes, N = 5, each in its own
# network namespace (bench/cluster.py).  Needs root.  Writes build/bench/cluster.md.
# CLUSTER_BENCH_ARGS="--trials 3" shortens the run.
set -euo pipefail
cd "$(dirname "$0")/.."

make --no-print-directory bin/corrald >/dev/null
mkdir -p build/bench
# shellcheck disable=SC2086
CORRAL_BINDIR=${CORRAL_BINDIR:-$PWD/bin} /usr/bin/python3 bench/cluster.py --nodes 5 \
	${CLUSTER_BENCH_ARGS:-} --out build/bench/cluster.md
