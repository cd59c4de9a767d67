#!/bin/bash
# hv/ on real QEMU: builds the test guest (make guest) and the driver
# tests/integration/hv_migrate.c, then migrates the guest between two QEMUs through the library.
# O selects the build directory (default: build).
set -u
cd "${CORRAL_ROOT:-$(dirname "$0")/../..}" || exit 1
O=${O:-build}

if ! make -s guest >/dev/null 2>/tmp/corral-hv-mig.$$ ||
   ! make -s O="$O" "$O/tests/integration/hv_migrate" >/dev/null 2>>/tmp/corral-hv-mig.$$; then
	cat /tmp/corral-hv-mig.$$
	rm -f /tmp/corral-hv-mig.$$
	echo "not ok - build guest and driver"
	echo "0 passed, 1 failed"
	exit 1
fi
rm -f /tmp/corral-hv-mig.$$
exec "$O/tests/integration/hv_migrate"
