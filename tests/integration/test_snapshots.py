# corral-test: guest
"""Snapshots and disk growth through the REST API with real QEMU (TCG here)
and the test guest: the guest writes markers on its data disk through its
serial shell; snapshots are taken while it runs (QMP, with and without the
VM state) and while it is stopped (the native engine); rollbacks bring the
markers back (and, with the VM state, the running guest itself); a middle
snapshot is deleted and qemu-img check finds the images clean; the data disk
grows while the guest runs and the guest sees the new size.  Bad input gets
Proxmox's answers.  One VM boots twice; the cases run in order."""
import os
import subprocess

from corral_guest import (VmCtx, images_dir, put_guest_disk, run_suite,
                          wait_task)
from corral_test import Suite, check_equal

suite = Suite("snapshots")
VMID = 100
RAWID = 101


class Ctx(VmCtx):
    def __init__(self, d):
        super().__init__(d, VMID)

    def raw(self, method, path, **kw):
        return super().raw(method, f"/nodes/{self.d.node}/qemu" + path, **kw)

    def snaps(self):
        return {s["name"]: s for s in self.vm.snapshot.get()}

    def disk(self, n):
        return os.path.join(images_dir(self.d, VMID), f"vm-{VMID}-disk-{n}.qcow2")


def qemu_img(*args):
    return subprocess.run(["qemu-img", *args], capture_output=True, text=True, timeout=60)


@suite.test
def test_create(ctx):
    """a VM with the guest disk and an empty data disk; a raw-disk VM"""
    boot = put_guest_disk(ctx.d, VMID)
    ctx.ok(ctx.node.qemu.create(vmid=VMID, name="snap", memory=256, cores=1, virtio0=boot,
                                virtio1="local:1", serial0="socket", boot="order=virtio0"))
    ctx.ok(ctx.node.qemu.create(vmid=RAWID, name="raw", memory=128, virtio0="local:1,format=raw"))
    snaps = ctx.vm.snapshot.get()
    check_equal([s["name"] for s in snaps], ["current"])
    check_equal(snaps[0]["description"], "You are here!")


@suite.test
def test_bad_input(ctx):
    """bad names (400), reserved and duplicate names, missing snapshots (500), raw disks"""
    for name in ("1abc", "a", "x" * 41, "a b", "a.b"):
        r = ctx.raw("POST", f"/{VMID}/snapshot", data={"snapname": name})
        check_equal(r.status_code, 400, name)
        assert "snapname" in r.json()["errors"], r.json()
    r = ctx.raw("POST", f"/{VMID}/snapshot", data={"snapname": "current"})
    check_equal((r.status_code, r.reason),
                (500, "unable to use snapshot name 'current' (reserved name)"))
    r = ctx.raw("POST", f"/{VMID}/snapshot/nope/rollback")
    check_equal((r.status_code, r.reason), (500, "snapshot 'nope' does not exist"))
    r = ctx.raw("DELETE", f"/{VMID}/snapshot/nope")
    check_equal((r.status_code, r.reason), (500, "snapshot 'nope' does not exist"))
    r = ctx.raw("GET", f"/{VMID}/snapshot/nope/config")
    check_equal((r.status_code, r.reason), (500, "snapshot 'nope' does not exist"))
    r = ctx.raw("POST", f"/{RAWID}/snapshot", data={"snapname": "s1"})
    check_equal((r.status_code, r.reason), (500, "snapshot feature is not available"))
    r = ctx.raw("GET", "/4242/snapshot")
    check_equal(r.status_code, 500)
    assert "does not exist" in r.reason, r.reason


@suite.test
def test_snapshot_running(ctx):
    """running: marker A, snapshot s1 (disks), marker B, s2 with the VM state, marker C, s3"""
    ctx.ok(ctx.vm.status.start.post())
    ctx.console.wait_boot()
    ctx.console.write_marker("vdb", "MARK-A")
    check_equal(ctx.console.read_marker("vdb", 6), "MARK-A")
    log = ctx.ok(ctx.vm.snapshot.post(snapname="s1", description="first"))
    assert "running VM" in log, log
    ctx.console.write_marker("vdb", "MARK-B")
    upid = ctx.vm.snapshot.post(snapname="s2", vmstate=1)
    check_equal(upid.split(":")[5], "qmsnapshot")
    ctx.ok(upid, timeout=170)
    ctx.console.write_marker("vdb", "MARK-C")
    ctx.ok(ctx.vm.snapshot.post(snapname="s3"))
    r = ctx.raw("POST", f"/{VMID}/snapshot", data={"snapname": "s3"})
    check_equal((r.status_code, r.reason), (500, "snapshot name 's3' already used"))
    snaps = ctx.snaps()
    check_equal([n for n in snaps], ["s1", "s2", "s3", "current"])
    check_equal((snaps["s1"].get("parent"), snaps["s2"]["parent"], snaps["s3"]["parent"],
                 snaps["current"]["parent"]), (None, "s1", "s2", "s3"))
    check_equal((snaps["s1"]["vmstate"], snaps["s2"]["vmstate"]), (0, 1))
    check_equal(snaps["s1"]["description"], "first")
    check_equal(snaps["current"]["running"], 1)
    out = qemu_img("snapshot", "-U", "-l", ctx.disk(0)).stdout
    assert "s1" in out and "s2" in out and "s3" in out, out


@suite.test
def test_rollback_vmstate(ctx):
    """rollback to s2 (VM state): the guest runs on where it was, marker B is back"""
    ctx.console.write_marker("vdb", "MARK-D")
    upid = ctx.vm.snapshot("s2").rollback.post()
    check_equal(upid.split(":")[5], "qmrollback")
    ctx.ok(upid, timeout=170)
    check_equal(ctx.vm.status.current.get()["status"], "running")
    ctx.console.connect()
    check_equal(ctx.console.read_marker("vdb", 6), "MARK-B")
    check_equal(ctx.snaps()["current"]["parent"], "s2")


@suite.test
def test_delete_middle_online(ctx):
    """delete the middle snapshot s2 of the running VM: s3 and the VM re-parented"""
    upid = ctx.vm.snapshot("s2").delete()
    check_equal(upid.split(":")[5], "qmdelsnapshot")
    ctx.ok(upid)
    snaps = ctx.snaps()
    check_equal(sorted(snaps), ["current", "s1", "s3"])
    check_equal((snaps["s3"]["parent"], snaps["current"]["parent"]), ("s1", "s1"))
    out = qemu_img("snapshot", "-U", "-l", ctx.disk(0)).stdout
    assert "s2" not in out and "s3" in out, out


@suite.test
def test_resize_online(ctx):
    """grow the running data disk by 1G: the guest sees the new size; shrinking refused"""
    before = int(ctx.console.run("cat /sys/block/vdb/size"))
    check_equal(before * 512, 1 << 30)
    upid = ctx.vm.resize.put(disk="virtio1", size="+1G")
    check_equal(upid.split(":")[5], "resize")
    ctx.ok(upid)
    check_equal(int(ctx.console.run("cat /sys/block/vdb/size")) * 512, 2 << 30)
    assert ctx.vm.config.get()["virtio1"].endswith(",size=2G"), ctx.vm.config.get()
    r = ctx.raw("PUT", f"/{VMID}/resize", data={"disk": "virtio1", "size": "1G"})
    check_equal((r.status_code, r.reason), (500, "shrinking disks is not supported"))
    r = ctx.raw("PUT", f"/{VMID}/resize", data={"disk": "virtio1", "size": "-1G"})
    check_equal(r.status_code, 400)
    assert "size" in r.json()["errors"], r.json()
    r = ctx.raw("PUT", f"/{VMID}/resize", data={"disk": "virtio5", "size": "+1G"})
    check_equal((r.status_code, r.reason), (500, "disk 'virtio5' does not exist"))
    r = ctx.raw("PUT", f"/{VMID}/resize",
                data={"disk": "virtio1", "size": "+1G", "digest": "0" * 40})
    check_equal(r.status_code, 500)
    assert "modified" in r.reason, r.reason


@suite.test
def test_rollback_disks_and_start(ctx):
    """rollback to s1 (disks only) with start=1: the VM boots again with marker A"""
    ctx.console.close()
    ctx.ok(ctx.vm.snapshot("s1").rollback.post(start=1))
    ctx.console.wait_boot()
    check_equal(ctx.console.read_marker("vdb", 6), "MARK-A")
    check_equal(ctx.snaps()["current"]["parent"], "s1")
    # the snapshot's configuration came back: the data disk's old size
    assert ctx.vm.config.get()["virtio1"].endswith(",size=1G"), ctx.vm.config.get()


@suite.test
def test_offline(ctx):
    """stopped: snapshot through the engine, delete the middle one, images clean"""
    ctx.console.close()
    ctx.ok(ctx.vm.status.stop.post())
    ctx.ok(ctx.vm.snapshot.post(snapname="off1", description="offline", vmstate=1))
    snaps = ctx.snaps()
    check_equal((snaps["off1"]["parent"], snaps["off1"]["vmstate"]), ("s1", 0))
    check_equal(snaps["current"]["running"], 0)
    ctx.ok(ctx.vm.snapshot.post(snapname="off2"))
    ctx.ok(ctx.vm.snapshot("off1").delete())
    check_equal(ctx.snaps()["off2"]["parent"], "s1")
    for n in (0, 1):
        r = qemu_img("check", ctx.disk(n))
        check_equal(r.returncode, 0, r.stdout + r.stderr)
        out = qemu_img("snapshot", "-l", ctx.disk(n)).stdout
        assert "off2" in out and "off1" not in out, out
    ctx.ok(ctx.vm.snapshot("off2").rollback.post())
    check_equal(ctx.vm.status.current.get()["status"], "stopped")
    ctx.ok(ctx.vm.resize.put(disk="virtio1", size="3G"))
    out = qemu_img("info", ctx.disk(1)).stdout
    assert "virtual size: 3 GiB" in out, out


@suite.test
def test_snapshot_config(ctx):
    """snapshot index, config (the VM config when taken), config?snapshot=, description"""
    idx = ctx.vm.snapshot("s1").get()
    check_equal(sorted(i["cmd"] for i in idx), ["config", "rollback"])
    conf = ctx.vm.snapshot("s1").config.get()
    check_equal((conf["name"], conf["memory"], conf["description"]), ("snap", "256", "first"))
    assert isinstance(conf["snaptime"], int), conf
    check_equal(ctx.vm.config.get(snapshot="s1")["virtio1"], conf["virtio1"])
    conf = ctx.vm.config.get()
    check_equal((conf["parent"], "lock" in conf), ("off2", False))
    r = ctx.raw("GET", f"/{VMID}/config", params={"snapshot": "nope"})
    check_equal((r.status_code, r.reason), (500, "snapshot 'nope' does not exist"))
    check_equal(ctx.vm.snapshot("s1").config.put(description="new words"), None)
    check_equal(ctx.snaps()["s1"]["description"], "new words")


@suite.test
def test_delete_force(ctx):
    """a disk lost its snapshot: delete fails, force=1 drops the section with a warning"""
    ctx.ok(ctx.vm.snapshot.post(snapname="gone"))
    r = qemu_img("snapshot", "-d", "gone", ctx.disk(1))
    check_equal(r.returncode, 0, r.stderr)
    status, log = wait_task(ctx.node, ctx.vm.snapshot("gone").delete())
    assert "snapshot 'gone' does not exist" in status, (status, log)
    assert "gone" in ctx.snaps(), ctx.snaps()
    assert "gone" in qemu_img("snapshot", "-l", ctx.disk(0)).stdout, "refused: nothing lost"
    status, log = wait_task(ctx.node, ctx.vm.snapshot("gone").delete(force=1))
    check_equal(status, "WARNINGS: 1", log)
    assert "gone" not in ctx.snaps(), ctx.snaps()
    assert "gone" not in qemu_img("snapshot", "-l", ctx.disk(0)).stdout
    check_equal(qemu_img("check", ctx.disk(0)).returncode, 0)


if __name__ == "__main__":
    run_suite(suite, Ctx, (VMID, RAWID))
