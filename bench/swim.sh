#!/bin/bash
# Gossip membership benchmark: builds bench/swim_sim and runs the real SWIM +
# Lifeguard code of cluster/ for N = 3, 16, 128, 1024 on the in-memory
# transport (simulated clock).  Writes build/bench/swim.md.
# SWIM_SIM_ARGS=--quick gives a shorter run with fewer trials; for iterating,
# SWIM_SIM_ARGS='--sizes 3,16 --no-fp' measures only detection and dissemination.
set -euo pipefail
cd "$(dirname "$0")/.."

make --no-print-directory build/bench/swim_sim >/dev/null
mkdir -p build/bench
# shellcheck disable=SC2086
build/bench/swim_sim ${SWIM_SIM_ARGS:-} --out build/bench/swim.md
