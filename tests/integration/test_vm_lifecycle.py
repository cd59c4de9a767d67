# corral-test: guest
"""A VM's life through the REST API with the real Debian python3-proxmoxer and
real QEMU (TCG here): create from the test guest, start, the guest's marker on
its serial console, status fields, ACPI shutdown, reboot, suspend/resume,
one task per VM, corrald restarting under a running VM, QEMU killed, destroy
with purge.

The test guest (build/guest/guest.qcow2, `make guest`) is put into the pool
by copying the file to images/<vmid>/vm-<vmid>-disk-0.qcow2: the import API
arrives with the storage work.  The cases run in order and share one VM."""
import os
import signal

from corral_guest import BOOT_TIMEOUT, READY, Serial, VmCtx, put_guest_disk, run_suite
from corral_test import Suite, check_equal, wait_for

suite = Suite("vm lifecycle")
VMID = 100


class Ctx(VmCtx):
    def __init__(self, d):
        super().__init__(d, VMID)

    def status(self):
        return self.vm.status.current.get()

    def run_dir(self):
        return os.path.join(self.d.data_dir, "run")


def serial_marker(ctx, timeout=BOOT_TIMEOUT):
    """Waits for the guest marker on the VM's serial socket, in what the
    console prints from now on (the VM was just started or reset)."""
    serial = Serial(ctx.d, VMID)
    serial.connect()
    try:
        serial.read_until(READY, timeout)
    finally:
        serial.close()


def qemu_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


@suite.test
def test_create(ctx):
    """create a VM from the test guest disk"""
    upid = ctx.node.qemu.create(vmid=VMID, name="lifecycle", memory=256, cores=1,
                                virtio0=put_guest_disk(ctx.d, VMID),
                                serial0="socket", net0="virtio", boot="order=virtio0")
    assert upid.split(":")[5] == "qmcreate", upid
    ctx.ok(upid)
    conf = ctx.vm.config.get()
    check_equal(conf["virtio0"], f"local:{VMID}/vm-{VMID}-disk-0.qcow2,size=64M")
    check_equal(conf["memory"], "256")
    assert conf["net0"].startswith("virtio=BC:24:11:"), conf
    content = ctx.node.storage("local").content.get()
    assert [c for c in content if c["volid"] == f"local:{VMID}/vm-{VMID}-disk-0.qcow2"
            and c["vmid"] == VMID and c["size"] == 64 << 20], content
    check_equal(ctx.status()["status"], "stopped")


@suite.test
def test_start(ctx):
    """start: the task log names the accelerator, the guest marker appears"""
    log = ctx.ok(ctx.vm.status.start.post())
    assert "-accel tcg" in log or "-accel kvm" in log, log
    if not os.path.exists("/dev/kvm"):
        assert "-accel tcg" in log, log
    serial_marker(ctx)


@suite.test
def test_status_running(ctx):
    """status/current of a running VM: fields and types as Proxmox's"""
    st = ctx.status()
    check_equal(st["status"], "running")
    check_equal(st["qmpstatus"], "running")
    check_equal(st["name"], "lifecycle")
    check_equal(st["vmid"], VMID)
    for key in ("pid", "uptime", "cpus", "maxmem", "mem", "maxdisk", "netin", "netout",
                "diskread", "diskwrite"):
        assert isinstance(st[key], int) and not isinstance(st[key], bool), (key, st)
    assert isinstance(st["cpu"], (int, float)) and 0 <= st["cpu"] <= 1, st
    check_equal(st["cpus"], 1)
    check_equal(st["maxmem"], 256 << 20)
    check_equal(st["maxdisk"], 64 << 20)
    assert st["mem"] > 0 and st["diskread"] > 0, st
    assert qemu_alive(st["pid"]), st
    check_equal(st["ha"], {"managed": 0})
    assert st["running-qemu"].count(".") == 2, st
    rows = ctx.api.cluster.resources.get(type="vm")
    row = [r for r in rows if r["id"] == f"qemu/{VMID}"]
    assert row and row[0]["status"] == "running" and row[0]["vmid"] == VMID, rows
    assert all(r["type"] == "qemu" for r in rows), rows


@suite.test
def test_shutdown(ctx):
    """shutdown sends ACPI power-down and the guest powers itself off"""
    pid = ctx.status()["pid"]
    upid = ctx.vm.status.shutdown.post(timeout=120)
    assert upid.split(":")[5] == "qmshutdown", upid
    ctx.ok(upid)
    st = ctx.status()
    check_equal(st["status"], "stopped")
    check_equal(st["qmpstatus"], "stopped")
    assert "pid" not in st, st
    wait_for("QEMU gone", lambda: not qemu_alive(pid), 10)


@suite.test
def test_not_running_errors(ctx):
    """reset/reboot/suspend/resume of a stopped VM: 500 'VM 100 not running'"""
    for op in ("reset", "reboot", "suspend", "resume"):
        r = ctx.raw("POST", f"/nodes/{ctx.d.node}/qemu/{VMID}/status/{op}")
        check_equal(r.status_code, 500, op)
        check_equal(r.reason, f"VM {VMID} not running", op)


@suite.test
def test_start_and_reboot(ctx):
    """start again, then reboot: the guest boots again"""
    ctx.ok(ctx.vm.status.start.post())
    serial_marker(ctx)
    status, log = ctx.wait(ctx.vm.status.start.post())
    check_equal(status, f"VM {VMID} already running")
    # A change that needs a restart waits in pending while the VM runs.
    check_equal(ctx.vm.config.put(memory=320, description="web"), None)
    rows = {r["key"]: r for r in ctx.vm.pending.get()}
    check_equal((rows["memory"]["value"], rows["memory"]["pending"]), ("256", "320"))
    check_equal(rows["description"].get("pending"), None)   # applied at once
    check_equal(ctx.vm.config.get(current=1)["memory"], "256")
    check_equal(ctx.status()["maxmem"], 256 << 20)
    pid = ctx.status()["pid"]
    upid = ctx.vm.status.reboot.post(timeout=120)
    assert upid.split(":")[5] == "qmreboot", upid
    ctx.ok(upid)
    serial_marker(ctx)
    st = ctx.status()
    check_equal(st["status"], "running")
    assert st["pid"] != pid, (pid, st)
    check_equal(st["maxmem"], 320 << 20)   # the reboot applied the pending change
    assert all("pending" not in r for r in ctx.vm.pending.get())


@suite.test
def test_suspend_resume(ctx):
    """suspend: running but paused; resume: running"""
    upid = ctx.vm.status.suspend.post()
    assert upid.split(":")[5] == "qmpause", upid
    ctx.ok(upid)
    st = ctx.status()
    check_equal((st["status"], st["qmpstatus"]), ("running", "paused"))
    upid = ctx.vm.status.resume.post()
    assert upid.split(":")[5] == "qmresume", upid
    ctx.ok(upid)
    check_equal(ctx.status()["qmpstatus"], "running")


@suite.test
def test_task_lock(ctx):
    """a second task on a busy VM fails with a clear lock error"""
    ctx.ok(ctx.vm.status.suspend.post())
    # A paused guest ignores the power button: the shutdown task holds the
    # VM's lock until its timeout, then stops it (forceStop).
    upid = ctx.vm.status.shutdown.post(timeout=8, forceStop=1)
    r = ctx.raw("POST", f"/nodes/{ctx.d.node}/qemu/{VMID}/status/stop")
    check_equal(r.status_code, 500)
    assert r.reason.startswith(f"can't lock 'vm:{VMID}' - it is held by task qmshutdown"), \
        r.reason
    ctx.ok(upid, 60)
    check_equal(ctx.status()["status"], "stopped")


@suite.test
def test_corrald_restart(ctx):
    """corrald restarts under a running VM: same QEMU, managed again"""
    ctx.ok(ctx.vm.status.start.post())
    pid = ctx.status()["pid"]
    ctx.d.stop()
    assert qemu_alive(pid), "QEMU died with corrald"
    ctx.d.start()
    ctx.connect()
    assert f"VM {VMID}: running, re-attached" in ctx.d.log(), ctx.d.log()
    st = ctx.status()
    check_equal((st["status"], st["pid"]), ("running", pid))
    upid = ctx.vm.status.stop.post()
    assert upid.split(":")[5] == "qmstop", upid
    ctx.ok(upid)
    check_equal(ctx.status()["status"], "stopped")
    assert not qemu_alive(pid)


@suite.test
def test_qemu_killed(ctx):
    """QEMU killed with SIGKILL: status turns stopped and the log says so"""
    ctx.ok(ctx.vm.status.start.post())
    pid = ctx.status()["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for("status stopped", lambda: ctx.status()["status"] == "stopped")
    wait_for("exit logged", lambda: f"VM {VMID}: QEMU exited" in ctx.d.log(), 10)


@suite.test
def test_start_error(ctx):
    """a VM QEMU refuses to start: the task fails with QEMU's own message"""
    other = ctx.node.qemu(VMID + 1)
    ctx.ok(ctx.node.qemu.create(vmid=VMID + 1, memory=64, scsi0="local:1"))
    path = os.path.join(ctx.d.data_dir, "images", "images", str(VMID + 1),
                        f"vm-{VMID + 1}-disk-0.qcow2")
    with open(path, "wb") as f:
        f.write(b"this is not a disk image\n" * 100)
    status, log = ctx.wait(other.status.start.post())
    assert status.startswith("start failed: ") and "qcow2" in status, status
    assert "qemu-system-x86_64" in log or "Image" in log, log
    check_equal(other.status.current.get()["status"], "stopped")
    ctx.ok(other.delete(purge=1))


@suite.test
def test_destroy(ctx):
    """destroy with purge removes the configuration and the disk files"""
    disk_dir = os.path.join(ctx.d.data_dir, "images", "images", str(VMID))
    assert os.listdir(disk_dir), disk_dir
    upid = ctx.vm.delete(purge=1, **{"destroy-unreferenced-disks": 1})
    assert upid.split(":")[5] == "qmdestroy", upid
    ctx.ok(upid)
    assert not os.path.exists(disk_dir), os.listdir(disk_dir)
    r = ctx.raw("GET", f"/nodes/{ctx.d.node}/qemu/{VMID}/config")
    check_equal(r.status_code, 500)
    assert "does not exist" in r.reason, r.reason
    check_equal(ctx.node.qemu.get(), [])


if __name__ == "__main__":
    run_suite(suite, Ctx, (VMID,))
