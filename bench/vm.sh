#!/bin/bash
# VM engine benchmark (bench/vm.py does the measuring): start overhead of
# Corral against the same QEMU argv launched by hand, 20 VMs started at
# once, GET /cluster/resources with 500 VMs defined.  Real QEMU (TCG here)
# and the test guest (make guest).  Writes build/bench/vm.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.bash

[ -e build/guest/guest.qcow2 ] || make -s guest

tmp=$(mktemp -d /tmp/corral-bench-vm.XXXXXX)
trap bench_cleanup EXIT
start_corrald
bench_report build/bench/vm.md timeout 1800 python3 bench/vm.py "$corrald_port" "$tmp/corrald" "$corrald_pid"
