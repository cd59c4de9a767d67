# corral-test: guest
"""Templates and clones through the REST API with real QEMU (TCG here) and the
test guest: a VM becomes a template (read-only base disks, start refused);
two linked clones (qcow2 over the bases, nothing copied) boot at the same
time while the template's files stay byte for byte the same; a running clone
is fully cloned through QEMU's backup job and the copy boots with the data
it had; a clone from a snapshot and a full clone of the template match
their sources; a template with linked clones cannot be deleted.  Bad input
gets Proxmox's answers.  The cases run in order."""
import os
import subprocess
import tempfile

from corral_guest import VmCtx, images_dir, put_guest_disk, run_suite, wait_task
from corral_test import Suite, check_equal, file_sha256

suite = Suite("clones")
TPL, C1, C2, FULL, SNAPC, TFULL, LIVEC = 200, 201, 202, 203, 204, 205, 206


class Ctx(VmCtx):
    """Around the template; vm(VMID) names any VM of the suite."""

    def __init__(self, d):
        super().__init__(d, TPL)
        self.sums = {}

    def vm(self, vmid):
        return self.node.qemu(vmid)

    def raw(self, method, path, **kw):
        return super().raw(method, f"/nodes/{self.d.node}/qemu" + path, **kw)

    def disk(self, vmid, name):
        return os.path.join(images_dir(self.d, vmid), name)


def qemu_img(*args):
    return subprocess.run(["qemu-img", *args], capture_output=True, text=True, timeout=120)


def base_files(ctx):
    return [ctx.disk(TPL, f"base-{TPL}-disk-{n}.qcow2") for n in (0, 1)]


@suite.test
def test_template(ctx):
    """a VM becomes a template: base-<vmid>-disk-N, read-only, template: 1, start refused"""
    boot = put_guest_disk(ctx.d, TPL)
    ctx.ok(ctx.node.qemu.create(vmid=TPL, name="tpl", memory=192, cores=1, virtio0=boot,
                                virtio1="local:1", serial0="socket", net0="virtio",
                                boot="order=virtio0"))
    before = ctx.vm(TPL).config.get()
    upid = ctx.vm(TPL).template.post()
    check_equal(upid.split(":")[5], "qmtemplate")
    ctx.ok(upid)
    conf = ctx.vm(TPL).config.get()
    check_equal(conf["template"], 1)
    check_equal(conf["virtio0"], f"local:{TPL}/base-{TPL}-disk-0.qcow2,size=64M")
    assert conf["virtio1"].startswith(f"local:{TPL}/base-{TPL}-disk-1.qcow2"), conf
    check_equal(conf["net0"], before["net0"])
    for path in base_files(ctx):
        check_equal(os.stat(path).st_mode & 0o777, 0o444, path)
        ctx.sums[path] = file_sha256(path)
    assert not os.path.exists(ctx.disk(TPL, f"vm-{TPL}-disk-0.qcow2"))
    status, log = wait_task(ctx.node, ctx.vm(TPL).status.start.post())
    assert "template" in status, (status, log)
    check_equal(ctx.vm(TPL).status.current.get()["status"], "stopped")


@suite.test
def test_bad_input(ctx):
    """existing newid, other target node, linked-clone options, template refusals"""
    r = ctx.raw("POST", f"/{TPL}/clone", data={"newid": TPL})
    check_equal((r.status_code, r.reason),
                (500, f"unable to create VM {TPL}: config file already exists"))
    r = ctx.raw("POST", f"/{TPL}/clone", data={"newid": 300, "target": "elsewhere"})
    check_equal(r.status_code, 500)
    assert "elsewhere" in r.reason, r.reason
    r = ctx.raw("POST", f"/{TPL}/clone", data={"newid": 300, "storage": "local"})
    check_equal((r.status_code, r.reason),
                (500, "parameter 'storage' not allowed for linked clones"))
    r = ctx.raw("POST", f"/{TPL}/clone", data={"newid": 300, "full": 1, "storage": "nope"})
    check_equal((r.status_code, r.reason), (500, "storage 'nope' does not exist"))
    r = ctx.raw("POST", f"/{TPL}/clone", data={"newid": 99})
    check_equal(r.status_code, 400)
    assert "newid" in r.json()["errors"], r.json()
    r = ctx.raw("POST", f"/{TPL}/clone", data={"newid": 300, "format": "vmdk"})
    check_equal(r.status_code, 400)
    r = ctx.raw("POST", f"/{TPL}/template")
    check_equal((r.status_code, r.reason), (500, "you can't convert a template to a template"))
    r = ctx.raw("POST", f"/{TPL}/snapshot", data={"snapname": "s1"})
    check_equal((r.status_code, r.reason), (500, "you can't take a snapshot if it's a template"))
    check_equal(ctx.raw("GET", "/300/config").status_code, 500)


@suite.test
def test_linked_clones(ctx):
    """two linked clones: qcow2 over the bases, new MACs and uuid, names"""
    tconf = ctx.vm(TPL).config.get()
    for vmid in (C1, C2):
        upid = ctx.vm(TPL).clone.post(newid=vmid, name=f"linked-{vmid}")
        check_equal((upid.split(":")[5], upid.split(":")[6]), ("qmclone", str(TPL)))
        ctx.ok(upid)
        conf = ctx.vm(vmid).config.get()
        check_equal(conf["name"], f"linked-{vmid}")
        assert "template" not in conf, conf
        check_equal(conf["virtio0"], f"local:{vmid}/vm-{vmid}-disk-0.qcow2,size=64M")
        assert conf["net0"] != tconf["net0"] and conf["net0"].startswith("virtio=BC:24:11:"), conf
        assert conf["smbios1"] != tconf["smbios1"], conf
        info = qemu_img("info", ctx.disk(vmid, f"vm-{vmid}-disk-0.qcow2")).stdout
        assert f"backing file: ../{TPL}/base-{TPL}-disk-0.qcow2" in info, info
    r = ctx.raw("DELETE", f"/{TPL}")
    check_equal(r.status_code, 500)
    assert "still in use by linked clone" in r.reason, r.reason


@suite.test
def test_linked_clones_boot(ctx):
    """both linked clones boot at once; the template's files stay unchanged"""
    for vmid in (C1, C2):
        ctx.ok(ctx.vm(vmid).status.start.post())
    for vmid in (C1, C2):
        ctx.serial(vmid).wait_boot()
        check_equal(ctx.serial(vmid).run("cat /sys/block/vdb/size"), str((1 << 30) // 512))
    for path in base_files(ctx):
        check_equal(file_sha256(path), ctx.sums[path], path)


@suite.test
def test_full_clone_running(ctx):
    """full clones of a running VM (backup job; from a live snapshot): the VM's data"""
    ctx.serial(C1).write_marker("vdb", "FULL-CLONE")
    log = ctx.ok(ctx.vm(C1).clone.post(newid=FULL, full=1, name="full"))
    assert "running VM" in log, log
    info = qemu_img("info", ctx.disk(FULL, f"vm-{FULL}-disk-0.qcow2")).stdout
    assert "backing file" not in info, info
    # from a snapshot of the running VM, read beside QEMU as qemu-img convert -l does
    ctx.ok(ctx.vm(C1).snapshot.post(snapname="live"))
    ctx.serial(C1).write_marker("vdb", "AFTER-SNAP")
    ctx.ok(ctx.vm(C1).clone.post(newid=LIVEC, full=1, snapname="live"))
    for vmid in (C1, C2):
        ctx.serial(vmid).close()
        ctx.ok(ctx.vm(vmid).status.stop.post())
    ctx.ok(ctx.vm(FULL).status.start.post())
    ctx.serial(FULL).wait_boot()
    check_equal(ctx.serial(FULL).read_marker("vdb", 10), "FULL-CLONE")
    ctx.serial(FULL).close()
    ctx.ok(ctx.vm(FULL).status.stop.post())
    same_as_snapshot(ctx, C1, LIVEC, "live")


def same_as_snapshot(ctx, src, copy, snap):
    """qemu-img compare: COPY's disks hold SRC's disks at snapshot SNAP."""
    with tempfile.TemporaryDirectory() as tmp:
        for n in (0, 1):
            ref = os.path.join(tmp, f"ref{n}.raw")
            r = qemu_img("convert", "-l", f"snapshot.name={snap}", "-O", "raw",
                         ctx.disk(src, f"vm-{src}-disk-{n}.qcow2"), ref)
            check_equal(r.returncode, 0, r.stderr)
            r = qemu_img("compare", ref, ctx.disk(copy, f"vm-{copy}-disk-{n}.qcow2"))
            check_equal(r.returncode, 0, r.stdout + r.stderr)


@suite.test
def test_clone_from_snapshot(ctx):
    """full clone of a snapshot equals the disk at the snapshot; full clone of the template"""
    ctx.ok(ctx.vm(C2).snapshot.post(snapname="snap1"))
    ctx.ok(ctx.vm(C2).resize.put(disk="virtio1", size="+1G"))
    r = ctx.raw("POST", f"/{C2}/clone", data={"newid": SNAPC, "snapname": "nope", "full": 1})
    check_equal((r.status_code, r.reason), (500, "snapshot 'nope' does not exist"))
    ctx.ok(ctx.vm(C2).clone.post(newid=SNAPC, snapname="snap1", full=1, format="qcow2"))
    check_equal(ctx.vm(SNAPC).config.get()["virtio1"],
                f"local:{SNAPC}/vm-{SNAPC}-disk-1.qcow2,size=1G")
    same_as_snapshot(ctx, C2, SNAPC, "snap1")
    ctx.ok(ctx.vm(TPL).clone.post(newid=TFULL, full=1, format="raw"))
    conf = ctx.vm(TFULL).config.get()
    assert conf["virtio0"].startswith(f"local:{TFULL}/vm-{TFULL}-disk-0.raw"), conf
    r = qemu_img("compare", base_files(ctx)[0], ctx.disk(TFULL, f"vm-{TFULL}-disk-0.raw"))
    check_equal(r.returncode, 0, r.stdout + r.stderr)


@suite.test
def test_delete_template_last(ctx):
    """the template goes once its linked clones are gone; its files were never written"""
    for path in base_files(ctx):
        check_equal(file_sha256(path), ctx.sums[path], path)
    for vmid in (C1, C2, FULL, SNAPC, TFULL, LIVEC):
        ctx.ok(ctx.vm(vmid).delete())
    ctx.ok(ctx.vm(TPL).delete())
    check_equal(ctx.node.qemu.get(), [])
    check_equal(os.path.exists(images_dir(ctx.d, TPL)), False)


if __name__ == "__main__":
    run_suite(suite, Ctx, (TPL, C1, C2, FULL, SNAPC, TFULL, LIVEC))
