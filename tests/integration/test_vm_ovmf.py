# corral-test: guest
"""UEFI boot through the REST API with real QEMU (TCG here): bios=ovmf with an
efidisk0 allocated as Proxmox makes it (raw, the size of OVMF's variable
store, a copy of Debian's OVMF_VARS_4M.fd), booting the test guest's kernel
from its FAT partition through the EFI shell's startup.nsh; the guest's
marker on the serial console proves the whole chain."""
import os
import subprocess

from corral_guest import VmCtx, images_dir, run_suite
from corral_test import ROOT, Suite, check_equal

suite = Suite("vm ovmf")
VMID = 140
GUEST_RAW = os.path.join(ROOT, "build", "guest", "guest.raw")
VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
FAT_OFFSET = 1 << 20   # the guest disk's FAT partition starts at 1 MiB
BOOT_TIMEOUT = 170


class Ctx(VmCtx):
    def __init__(self, d):
        super().__init__(d, VMID)


def efi_guest_disk(path):
    """The test guest with an EFI shell script that boots its kernel."""
    subprocess.run(["cp", "--sparse=always", GUEST_RAW, path], check=True, timeout=60)
    script = path + ".nsh"
    with open(script, "w") as f:
        f.write("fs0:\r\n\\vmlinuz initrd=\\initrd.gz console=ttyS0,115200 quiet panic=-1\r\n")
    subprocess.run(["mcopy", "-i", f"{path}@@{FAT_OFFSET}", script, "::startup.nsh"],
                   check=True, timeout=30)
    os.unlink(script)


@suite.test
def test_create_efidisk(ctx):
    """efidisk0 'local:1,efitype=4m' becomes a raw copy of OVMF_VARS_4M.fd, sized 528K"""
    disk_dir = images_dir(ctx.d, VMID)
    os.makedirs(disk_dir, exist_ok=True)
    efi_guest_disk(os.path.join(disk_dir, f"vm-{VMID}-disk-0.raw"))
    ctx.ok(ctx.node.qemu.create(
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
    ctx.console.wait_boot(BOOT_TIMEOUT)
    seen = ctx.console.log()
    assert b"startup.nsh" in seen, seen[-2000:]
    ctx.ok(ctx.vm.status.stop.post())


if __name__ == "__main__":
    if not os.path.exists(GUEST_RAW):
        subprocess.run(["make", "-s", "guest"], cwd=ROOT, check=True, timeout=900)
    run_suite(suite, Ctx, [VMID])
