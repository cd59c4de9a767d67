"""UEFI boot through the REST API with real QEMU (TCG here): bios=ovmf with an
efidisk0 allocated as Proxmox makes it (raw, the size of OVMF's variable
store, a copy of Debian's OVMF_VARS_4M.fd), booting the test guest's kernel
from its FAT partition through the EFI shell's startup.nsh; the guest's
marker on the serial console proves the whole chain."""
import os
import signal
import socket
import subprocess
import sys
import time

from proxmoxer import ProxmoxAPI

from corral_test import ADMIN, ROOT, TIMEOUT, Corrald, Suite, check_equal

suite = Suite("vm ovmf")
VMID = 140
GUEST_RAW = os.path.join(ROOT, "build", "guest", "guest.raw")
VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
FAT_OFFSET = 1 << 20   # the guest disk's FAT partition starts at 1 MiB
BOOT_TIMEOUT = 170
MARKER = b"CORRAL-GUEST-READY"


class Ctx:
    def __init__(self, d):
        self.d = d
        self.api = ProxmoxAPI("127.0.0.1", port=d.port, user=ADMIN, password=d.admin_password,
                              verify_ssl=False, backend="https", timeout=TIMEOUT)
        self.vm = self.api.nodes(d.node).qemu(VMID)

    def ok(self, upid, timeout=120):
        node = self.api.nodes(self.d.node)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = node.tasks(upid).status.get()
            if st["status"] == "stopped":
                log = "\n".join(x["t"] for x in node.tasks(upid).log.get(limit=1000))
                check_equal(st["exitstatus"], "OK", f"task log:\n{log}")
                return log
            time.sleep(0.2)
        raise AssertionError(f"task {upid} still running")


def efi_guest_disk(path):
    """The test guest with an EFI shell script that boots its kernel."""
    subprocess.run(["cp", "--sparse=always", GUEST_RAW, path], check=True, timeout=60)
    script = path + ".nsh"
    with open(script, "w") as f:
        f.write("fs0:\r\n\\vmlinuz initrd=\\initrd.gz console=ttyS0,115200 quiet panic=-1\r\n")
    subprocess.run(["mcopy", "-i", f"{path}@@{FAT_OFFSET}", script, "::startup.nsh"],
                   check=True, timeout=30)
    os.unlink(script)


def serial_until(path, token, timeout):
    seen = b""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        s.settimeout(0.5)
        while time.monotonic() < deadline and token not in seen:
            try:
                chunk = s.recv(4096)
                if not chunk:
                    break
                seen += chunk
            except socket.timeout:
                pass
    return seen


@suite.test
def test_create_efidisk(ctx):
    """efidisk0 'local:1,efitype=4m' becomes a raw copy of OVMF_VARS_4M.fd, sized 528K"""
    disk_dir = os.path.join(ctx.d.data_dir, "images", "images", str(VMID))
    os.makedirs(disk_dir, exist_ok=True)
    efi_guest_disk(os.path.join(disk_dir, f"vm-{VMID}-disk-0.raw"))
    ctx.ok(ctx.api.nodes(ctx.d.node).qemu.create(
        vmid=VMID, name="uefi", memory=256, bios="ovmf", efidisk0="local:1,efitype=4m",
        virtio0=f"local:{VMID}/vm-{VMID}-disk-0.raw", serial0="socket", boot="order=virtio0"))
    conf = ctx.vm.config.get()
    check_equal(conf["efidisk0"], f"local:{VMID}/vm-{VMID}-disk-1.raw,efitype=4m,size=528K")
    with open(os.path.join(disk_dir, f"vm-{VMID}-disk-1.raw"), "rb") as f, open(VARS, "rb") as t:
        assert f.read() == t.read(), "efidisk0 is not a copy of the OVMF variable template"


@suite.test
def test_uefi_boot(ctx):
    """start with OVMF: the EFI shell runs startup.nsh and the guest's marker appears"""
    ctx.ok(ctx.vm.status.start.post())
    seen = serial_until(os.path.join(ctx.d.data_dir, "run", f"{VMID}.serial0"), MARKER,
                        BOOT_TIMEOUT)
    assert MARKER in seen, seen[-2000:]
    assert b"startup.nsh" in seen, seen[-2000:]
    ctx.ok(ctx.vm.status.stop.post())


def main():
    if not os.path.exists(GUEST_RAW):
        subprocess.run(["make", "-s", "guest"], cwd=ROOT, check=True, timeout=900)
    with Corrald() as d:
        try:
            _, failed = suite.run(Ctx(d), exit=False)
        finally:
            try:
                with open(os.path.join(d.data_dir, "run", f"{VMID}.pid")) as f:
                    os.kill(int(f.read().strip()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
