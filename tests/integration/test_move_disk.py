#!/usr/bin/python3
# corral-test: guest
"""move_disk (POST /nodes/{node}/qemu/{vmid}/move_disk and its move-disk
alias) between the pool "local" and a second directory storage created
through POST /storage, with real QEMU (TCG) and the test guest: the boot
disk of the stopped VM is copied by the storage engine and the VM boots from
the new storage; the data disk of the running VM is mirrored by QEMU while the
guest keeps running and writing (no reboot: its boot counter stays 1), and the
new raw file holds every write; after a live move the drive sits on other
block nodes, and a snapshot, an online resize and a hot-unplug still find it;
`corral vm move-disk` moves disks of the stopped VM.  Bad input gets Proxmox's
answers."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from corral_guest import VmCtx, images_dir, put_guest_disk, run_suite  # noqa: E402
from corral_test import Cli, Suite, check_equal, expect_error, wait_for  # noqa: E402

suite = Suite("move_disk")
VMID = 100
TEMPLATE = 101


class Ctx(VmCtx):
    def __init__(self, d):
        super().__init__(d, VMID)
        self.store2 = os.path.join(os.path.dirname(d.data_dir), "store2")

    def move(self, vmid=VMID, alias=False, **data):
        verb = "move-disk" if alias else "move_disk"
        return self.raw("POST", f"/nodes/{self.d.node}/qemu/{vmid}/{verb}", data=data)

    def config(self):
        return self.vm.config.get()

    def store2_images(self):
        d = os.path.join(self.store2, "images", str(VMID))
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def local_images(self):
        d = images_dir(self.d, VMID)
        return sorted(os.listdir(d)) if os.path.isdir(d) else []


@suite.test
def test_setup(ctx):
    """a second dir storage through POST /storage; a VM with the guest disk and a data disk"""
    r = ctx.raw("POST", "/storage", data={"storage": "store2", "type": "dir",
                                          "path": ctx.store2, "content": "images"})
    check_equal(r.status_code, 200, r.text)
    boot = put_guest_disk(ctx.d, VMID)
    ctx.ok(ctx.node.qemu.create(vmid=VMID, name="mv", memory=256, virtio0=boot,
                                virtio1="local:1", serial0="socket", boot="order=virtio0"))


@suite.test
def test_bad_input(ctx):
    """same storage and format, missing disk, bad format, unknown storage, a template"""
    r = ctx.move(disk="virtio1", storage="local")
    expect_error(r, 500, "you can't move to the same storage with same format")
    r = ctx.move(disk="virtio1", storage="local", format="qcow2")
    expect_error(r, 500, "you can't move to the same storage with same format")
    r = ctx.move(disk="virtio5", storage="store2")
    expect_error(r, 500, "disk 'virtio5' does not exist")
    r = ctx.move(disk="virtio1", storage="store2", format="vmdk")
    check_equal(r.status_code, 400, r.text)
    assert "format" in r.json()["errors"], r.text
    r = ctx.move(disk="virtio1", storage="nosuch")
    check_equal(r.status_code, 500, r.text)
    assert "nosuch" in r.reason, r.reason
    for bad in ("nic0", "unused256", "unused01", "ide3|sata0"):
        r = ctx.move(disk=bad, storage="store2")
        check_equal(r.status_code, 400, r.text)
        assert "disk" in r.json()["errors"], r.text
    r = ctx.move(disk="unused0", storage="store2")
    expect_error(r, 500, "disk 'unused0' does not exist")
    r = ctx.move(disk="virtio1", storage="store2", digest="0" * 40)
    check_equal(r.status_code, 500, r.text)
    assert "modified configuration" in r.reason, r.reason
    ctx.ok(ctx.node.qemu.create(vmid=TEMPLATE, memory=64, virtio0="local:1"))
    ctx.ok(ctx.node.qemu(TEMPLATE).template.post())
    r = ctx.move(vmid=TEMPLATE, disk="virtio0", storage="store2")
    check_equal(r.status_code, 500, r.text)
    assert "template" in r.reason, r.reason
    check_equal(ctx.store2_images(), [])


@suite.test
def test_stopped(ctx):
    """stopped VM: the boot disk is copied to store2, the old one kept as unused0"""
    r = ctx.move(disk="virtio0", storage="store2")
    check_equal(r.status_code, 200, r.text)
    log = ctx.ok(r.json()["data"])
    assert "transferred" in log, log
    conf = ctx.config()
    assert conf["virtio0"].startswith(f"store2:{VMID}/vm-{VMID}-disk-"), conf
    check_equal(conf["unused0"], f"local:{VMID}/vm-{VMID}-disk-0.qcow2")
    check_equal(len(ctx.store2_images()), 1)
    assert f"vm-{VMID}-disk-0.qcow2" in ctx.local_images()


@suite.test
def test_second_storage_disk(ctx):
    """a disk on store2 (VM stopped): snapshot, rollback, delete, resize and full clones to
    store2 and to local go through the disk's own storage"""
    ctx.ok(ctx.vm.snapshot.post(snapname="s2snap"))
    ctx.ok(ctx.vm.snapshot("s2snap").rollback.post())
    ctx.ok(ctx.vm.snapshot("s2snap").delete())
    def vsize():
        f = ctx.config()["virtio0"].split(",")[0].split("/")[-1]
        out = subprocess.run(["qemu-img", "info", "-U", "--output=json",
                              os.path.join(ctx.store2, "images", str(VMID), f)],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out)["virtual-size"]
    before = vsize()
    ctx.ok(ctx.vm.resize.put(disk="virtio0", size="+16M"))
    check_equal(vsize(), before + (16 << 20))
    assert ctx.config()["virtio0"].startswith("store2:"), ctx.config()
    for newid, storage in ((110, "store2"), (111, "local")):
        ctx.ok(ctx.vm.clone.post(newid=newid, full=1, storage=storage))
        cconf = ctx.node.qemu(newid).config.get()
        assert cconf["virtio0"].startswith(f"{storage}:{newid}/vm-{newid}-disk-"), cconf
        ctx.ok(ctx.node.qemu(newid).delete(purge=1))
    r = ctx.raw("POST", f"/nodes/{ctx.d.node}/qemu/{VMID}/clone",
                data={"newid": 112, "full": 1, "storage": "nosuch"})
    expect_error(r, 500, "storage 'nosuch' does not exist")


@suite.test
def test_boots_from_new_storage(ctx):
    """the VM boots from store2; the guest writes to its data disk"""
    ctx.ok(ctx.vm.status.start.post())
    s = ctx.console
    s.wait_boot()
    check_equal(s.run("dd if=/dev/vdb bs=64 count=1 2>/dev/null | grep -c 'CORRAL-BOOTS 1$'"),
                "1")
    s.write_marker("vdb", "BEFORE-MOVE")


@suite.test
def test_running(ctx):
    """running VM (move-disk alias): the data disk is mirrored to store2 as raw, the old one deleted"""
    conf = ctx.config()
    old = conf["virtio1"].split(",")[0].split("/")[-1]
    s = ctx.console
    r = ctx.move(alias=True, disk="virtio1", storage="store2", format="raw", delete=1,
                 digest=conf["digest"])
    check_equal(r.status_code, 200, r.text)
    # the guest keeps writing while its disk moves
    s.run("printf 'DURING-MOVE' | dd of=/dev/vdb bs=1 seek=8192 conv=notrunc 2>/dev/null; sync")
    log = ctx.ok(r.json()["data"])
    assert "drive mirror" in log and "in sync" in log, log
    conf = ctx.config()
    assert conf["virtio1"].startswith(f"store2:{VMID}/vm-{VMID}-disk-"), conf
    assert ".raw" in conf["virtio1"], conf
    assert "unused1" not in conf, conf
    assert old not in ctx.local_images(), ctx.local_images()
    check_equal(ctx.vm.status.current.get()["status"], "running")
    s.write_marker("vdb", "AFTER--MOVE")
    check_equal(s.read_marker("vdb", 11), "AFTER--MOVE")
    # no reboot
    check_equal(s.run("dd if=/dev/vdb bs=64 count=1 2>/dev/null | grep -c 'CORRAL-BOOTS 1$'"),
                "1")
    raw = [f for f in ctx.store2_images() if f.endswith(".raw")]
    check_equal(len(raw), 1)
    with open(os.path.join(ctx.store2, "images", str(VMID), raw[0]), "rb") as f:
        data = f.read(16384)
    assert data.startswith(b"CORRAL-BOOTS 1"), data[:32]
    check_equal(data[4096:4107], b"AFTER--MOVE")
    check_equal(data[8192:8203], b"DURING-MOVE")


@suite.test
def test_running_again(ctx):
    """a second live move of the same disk (back to local as qcow2) while it still runs"""
    r = ctx.move(disk="virtio1", storage="local", format="qcow2", delete=1)
    check_equal(r.status_code, 200, r.text)
    ctx.ok(r.json()["data"])
    conf = ctx.config()
    assert conf["virtio1"].startswith(f"local:{VMID}/") and ".qcow2" in conf["virtio1"], conf
    check_equal([f for f in ctx.store2_images() if f.endswith(".raw")], [])
    s = ctx.console
    check_equal(s.read_marker("vdb", 11), "AFTER--MOVE")
    check_equal(ctx.vm.status.current.get()["status"], "running")


def qemu_open_files(ctx):
    """Paths of the files the VM's QEMU holds open."""
    with open(os.path.join(ctx.d.data_dir, "run", f"{VMID}.pid")) as f:
        pid = int(f.read().split()[0])
    fds = f"/proc/{pid}/fd"
    out = []
    for fd in os.listdir(fds):
        try:
            out.append(os.readlink(os.path.join(fds, fd)))
        except OSError:
            pass
    return out


@suite.test
def test_moved_drive_resize(ctx):
    """after a live move (the drive on new block nodes) an online resize reaches the guest"""
    ctx.ok(ctx.move(disk="virtio1", storage="local", format="raw", delete=1).json()["data"])
    ctx.ok(ctx.vm.resize.put(disk="virtio1", size="+64M"))
    assert "size=1088M" in ctx.config()["virtio1"], ctx.config()
    s = ctx.console
    wait_for("vdb grown in the guest", lambda: int(
        s.run("cat /sys/block/vdb/size").split()[-1]) * 512 == (1 << 30) + (64 << 20),
        timeout=30)
    check_equal(s.read_marker("vdb", 11), "AFTER--MOVE")
    # back to qcow2 (the original node names) for the snapshot below
    ctx.ok(ctx.move(disk="virtio1", storage="local", format="qcow2", delete=1).json()["data"])


@suite.test
def test_moved_drive_snapshot(ctx):
    """a snapshot of the running VM with one drive moved live (new nodes) and one not"""
    ctx.ok(ctx.move(disk="virtio0", storage="local", delete=1).json()["data"])
    assert ctx.config()["virtio0"].startswith(f"local:{VMID}/"), ctx.config()
    ctx.ok(ctx.vm.snapshot.post(snapname="moved"))
    assert "moved" in [x["name"] for x in ctx.vm.snapshot.get()]
    ctx.ok(ctx.vm.snapshot("moved").delete())
    assert "moved" not in [x["name"] for x in ctx.vm.snapshot.get()]
    check_equal(ctx.vm.status.current.get()["status"], "running")
    check_equal(ctx.console.read_marker("vdb", 11), "AFTER--MOVE")


@suite.test
def test_moved_drive_unplug(ctx):
    """a disk plugged, moved live and unplugged: QEMU lets go of its new image"""
    ctx.vm.config.put(virtio2="local:0.0625")
    ctx.ok(ctx.move(disk="virtio2", storage="store2", format="raw", delete=1).json()["data"])
    raw = [f for f in ctx.store2_images() if f.endswith(".raw")]
    check_equal(len(raw), 1)
    path = os.path.join(ctx.store2, "images", str(VMID), raw[0])
    assert path in qemu_open_files(ctx), qemu_open_files(ctx)
    ctx.vm.config.put(delete="virtio2")
    conf = ctx.config()
    check_equal(conf["unused1"], f"store2:{VMID}/{raw[0]}")
    wait_for("image closed", lambda: path not in qemu_open_files(ctx), timeout=30)


@suite.test
def test_cli_stopped(ctx):
    """corral vm move-disk moves the stopped VM's boot disk to store2 and an unused disk"""
    ctx.ok(ctx.vm.status.stop.post())
    cli = Cli(ctx.d)
    try:
        rc, out, err = cli.run("vm", "move-disk", str(VMID), "virtio0", "store2")
        check_equal(rc, 0, out + err)  # qcow2 on local -> a new qcow2 on store2
        rc, out, err = cli.run("vm", "move-disk", str(VMID), "virtio1", "local")
        assert rc != 0 and "same storage with same format" in err, (rc, out, err)
        cli.ok("vm", "move-disk", str(VMID), "unused0", "store2", "--delete", "1")
    finally:
        shutil.rmtree(cli.home, ignore_errors=True)
    conf = ctx.config()
    assert conf["virtio0"].startswith(f"store2:{VMID}/vm-{VMID}-disk-"), conf
    assert conf["unused0"].startswith(f"store2:{VMID}/"), conf
    assert conf.get("unused1", "").endswith(".raw"), conf  # the unplugged disk
    assert conf.get("unused2", "").startswith(f"local:{VMID}/"), conf
    check_equal(len(ctx.store2_images()), 3)


if __name__ == "__main__":
    run_suite(suite, Ctx, [VMID, TEMPLATE])
