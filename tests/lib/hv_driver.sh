#!/bin/bash
# Runs an hv/ driver on real QEMU: hv_driver.sh NAME builds the test guest
# (make guest) and tests/integration/NAME.c into $O (default: build), then
# runs it (it prints its own ok/not ok lines and count).
set -u
cd "${CORRAL_ROOT:-$(dirname "$0")/../..}" || exit 1
O=${O:-build}
name=$1
log=$(mktemp /tmp/corral-hv-build.XXXXXX) || exit 1

if ! make -s guest >/dev/null 2>"$log" ||
   ! make -s O="$O" "$O/tests/integration/$name" >/dev/null 2>>"$log"; then
	cat "$log"
	rm -f "$log"
	echo "not ok - build guest and driver"
	echo "0 passed, 1 failed"
	exit 1
fi
rm -f "$log"
exec "$O/tests/integration/$name"
