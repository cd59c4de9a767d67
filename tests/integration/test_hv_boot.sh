#!/bin/bash
# hv/ on real QEMU: builds the test guest (make guest) and the driver
# tests/integration/hv_boot.c, then boots the guest through the library.
# O selects the build directory (default: build).
set -u
cd "${CORRAL_ROOT:-$(dirname "$0")/../..}" || exit 1
O=${O:-build}

if ! make -s guest >/dev/null 2>/tmp/corral-hv-guest.$$ ||
   ! make -s O="$O" "$O/tests/integration/hv_boot" >/dev/null 2>>/tmp/corral-hv-guest.$$; then
	cat /tmp/corral-hv-guest.$$
	rm -f /tmp/corral-hv-guest.$$
	echo "not ok - build guest and driver"
	echo "0 passed, 1 failed"
	exit 1
fi
rm -f /tmp/corral-hv-guest.$$
exec "$O/tests/integration/hv_boot"
