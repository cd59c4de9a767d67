#!/usr/bin/python3
# corral-test: guest
"""A VM under real QEMU boots from a disk corral-img converted, writes to a data
disk corral-img created, and the library then reads what the guest wrote.  The
test guest (tests/guest/build-guest, cached in build/guest) counts its boots in
the first block of its first unpartitioned disk."""
import os
import signal
import subprocess
import time

from compat_util import BUILD, ROOT, Suite, corral, expect, qemu_check_clean

S = Suite("guest")
GUEST_DIR = os.path.join(BUILD, "guest")
BOOT_TIMEOUT = 240  # seconds: TCG on a busy 2-core machine


def guest_raw():
    path = os.path.join(GUEST_DIR, "guest.raw")
    subprocess.run([os.path.join(ROOT, "tests", "guest", "build-guest"), GUEST_DIR], check=True,
                   stdout=subprocess.DEVNULL, timeout=900)
    return path


def boot(disk, data):
    """Boots until the guest reports its boot count; returns the serial output."""
    argv = ["qemu-system-x86_64", "-nodefaults", "-machine", "pc", "-accel", "tcg", "-m", "256",
            "-display", "none", "-serial", "stdio", "-monitor", "none",
            "-drive", "file=%s,if=virtio,format=qcow2" % disk,
            "-drive", "file=%s,if=virtio,format=qcow2" % data]
    vm = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out, deadline = b"", time.monotonic() + BOOT_TIMEOUT
    os.set_blocking(vm.stdout.fileno(), False)
    try:
        while b"CORRAL-BOOT-COUNT" not in out and time.monotonic() < deadline and vm.poll() is None:
            chunk = vm.stdout.read()
            out += chunk or b""
            if not chunk:
                time.sleep(0.2)
        time.sleep(1)  # the guest syncs right before it prints the count
    finally:
        vm.send_signal(signal.SIGTERM)  # QEMU flushes and closes its disks
        try:
            vm.wait(timeout=30)
        except subprocess.TimeoutExpired:
            vm.kill()
            vm.wait()
    return out.decode(errors="replace")


def case_boot():
    disk, data = S.path("boot.qcow2"), S.path("data.qcow2")
    corral("convert", "-f", "raw", "-O", "qcow2", guest_raw(), disk)
    corral("create", "-q", "-f", "qcow2", data, "16M")
    serial = boot(disk, data)
    expect("CORRAL-BOOT-COUNT 1" in serial, "the guest did not report its boot:\n" + serial[-2000:])
    out = S.path("data.raw")
    corral("convert", "-O", "raw", data, out)
    with open(out, "rb") as f:
        first = f.read(64)
    expect(first.startswith(b"CORRAL-BOOTS 1\n"), "the library reads %r" % first[:32])
    for img in (disk, data):
        qemu_check_clean(img)
        corral("check", img)


S.case("QEMU boots a corral-img disk; the guest's write reads back", case_boot)
S.finish()
