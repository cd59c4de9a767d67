#!/bin/bash
# corral-test: guest
# hv/ on real QEMU: migrates the test guest between two QEMUs through the
# library with the driver tests/integration/hv_migrate.c (built by
# tests/lib/hv_driver.sh).  O selects the build directory (default: build).
exec "$(dirname "$0")/../lib/hv_driver.sh" hv_migrate
