"""Driving the test guest (build/guest/guest.qcow2) of a VM that a real corrald
runs: put the guest disk into the pool, wait for its boot marker on the serial
console and run shell commands through it (the guest keeps a root shell on
ttyS0).  Used by the snapshot and clone suites; standard library only."""
import os
import shutil
import signal
import socket
import subprocess
import time

from corral_test import ADMIN, ROOT, TIMEOUT, check_equal

GUEST = os.path.join(ROOT, "build", "guest", "guest.qcow2")
READY = b"CORRAL-GUEST-READY"
BOOT_TIMEOUT = 150     # seconds for the guest to print its marker under TCG
TASK_TIMEOUT = 150


def ensure_guest():
    """Builds the test guest when it is missing or tests/guest/build-guest changed."""
    subprocess.run(["make", "-s", "guest"], cwd=ROOT, check=True, timeout=900)


def images_dir(d, vmid):
    return os.path.join(d.data_dir, "images", "images", str(vmid))


def put_guest_disk(d, vmid):
    """Copies the guest disk to the pool as vm-<vmid>-disk-0.qcow2; its volume id."""
    os.makedirs(images_dir(d, vmid), exist_ok=True)
    shutil.copyfile(GUEST, os.path.join(images_dir(d, vmid), f"vm-{vmid}-disk-0.qcow2"))
    return f"local:{vmid}/vm-{vmid}-disk-0.qcow2"


def api(d):
    from proxmoxer import ProxmoxAPI
    return ProxmoxAPI("127.0.0.1", port=d.port, user=ADMIN, password=d.admin_password,
                      verify_ssl=False, backend="https", timeout=TIMEOUT)


def wait_task(node, upid, timeout=TASK_TIMEOUT):
    """(exitstatus, log text) of task UPID once it has stopped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = node.tasks(upid).status.get()
        if st["status"] == "stopped":
            log = node.tasks(upid).log.get(limit=1000)
            return st["exitstatus"], "\n".join(line["t"] for line in log)
        assert "exitstatus" not in st, st
        time.sleep(0.2)
    raise AssertionError(f"task {upid} still running after {timeout}s")


def task_ok(node, upid, timeout=TASK_TIMEOUT):
    status, log = wait_task(node, upid, timeout)
    check_equal(status, "OK", f"task {upid} (log:\n{log})")
    return log


class VmCtx:
    """A suite's context around VM VMID of corrald D: the API (connect again
    after a restart), its node and VM, task waits, plain requests, and the
    serial consoles (run_suite closes them)."""

    def __init__(self, d, vmid):
        self.d = d
        self.vmid = vmid
        self.serials = {}
        self.connect()

    def connect(self):
        self.api = api(self.d)

    @property
    def node(self):
        return self.api.nodes(self.d.node)

    @property
    def vm(self):
        return self.node.qemu(self.vmid)

    def serial(self, vmid):
        if vmid not in self.serials:
            self.serials[vmid] = Serial(self.d, vmid)
        return self.serials[vmid]

    @property
    def console(self):
        """The serial console of the context's VM."""
        return self.serial(self.vmid)

    def wait(self, upid, timeout=TASK_TIMEOUT):
        """(exitstatus, log text) of task UPID once it has stopped."""
        return wait_task(self.node, upid, timeout)

    def ok(self, upid, timeout=TASK_TIMEOUT):
        return task_ok(self.node, upid, timeout)

    def raw(self, method, path, **kw):
        """A plain HTTP request below the API root (status codes, reasons)."""
        return self.d.session().request(method, self.d.url + path, **kw)


class Serial:
    """The guest's ttyS0 through the VM's serial socket in the run dir."""

    def __init__(self, d, vmid):
        self.path = os.path.join(d.data_dir, "run", f"{vmid}.serial0")
        self.sock = None
        self.seen = b""
        self.n = 0
        self.log_mark = 0   # console log bytes of earlier boots (QEMU appends)

    def connect(self):
        self._disconnect()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)
        self.sock.settimeout(0.3)
        self.seen = b""

    def log(self):
        try:
            with open(self.path + ".log", "rb") as f:
                return f.read()
        except OSError:
            return b""

    def close(self):
        """Disconnects; the next wait_boot looks only at what the console
        logs from now on (call it before the VM starts again)."""
        self._disconnect()
        self.log_mark = len(self.log())

    def _disconnect(self):
        if self.sock:
            self.sock.close()
            self.sock = None

    def read_until(self, token, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            i = self.seen.find(token)
            if i >= 0:
                out, self.seen = self.seen[:i], self.seen[i + len(token):]
                return out
            try:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.seen += chunk
            except socket.timeout:
                pass
        raise AssertionError(f"no {token!r} on the serial console within {timeout}s; "
                             f"got {self.seen[-1500:]!r}")

    def wait_boot(self, timeout=BOOT_TIMEOUT):
        """Connects and waits for the boot marker (the log file kept beside the
        socket covers a marker printed before the connection)."""
        self.connect()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.read_until(READY, 1)
                return
            except AssertionError:
                log = self.log()
                # this boot's output: past the mark, unless QEMU started a new log
                if READY in (log[self.log_mark:] if len(log) >= self.log_mark else log):
                    return
        raise AssertionError(f"guest did not boot within {timeout}s")

    def run(self, cmd, timeout=60):
        """Runs CMD in the guest shell; its output (text, stripped).  The end
        tag is computed by the shell, so the echo of the typed line (which
        the line editor may redraw) never holds it: the output is what
        follows the typed line's end."""
        self.n += 1
        typed_end = f"+{self.n}))".encode()
        self.sock.sendall(f"{cmd}; echo CMD-END-$((100000+{self.n}))\n".encode())
        out = self.read_until(f"CMD-END-{100000 + self.n}".encode(), timeout)
        i = out.rfind(typed_end)
        if i >= 0:
            out = out[i + len(typed_end):]
        return out.decode(errors="replace").replace("\r", "").strip()

    def write_marker(self, dev, text):
        self.run(f"printf '{text}' | dd of=/dev/{dev} bs=1 seek=4096 conv=notrunc "
                 f"2>/dev/null; sync")

    def read_marker(self, dev, n):
        return self.run(f"echo 3 > /proc/sys/vm/drop_caches; "
                        f"dd if=/dev/{dev} bs=1 skip=4096 count={n} 2>/dev/null")


def kill_vms(d, vmids):
    """No QEMU of VMIDS outlives a suite."""
    for vmid in vmids:
        try:
            with open(os.path.join(d.data_dir, "run", f"{vmid}.pid")) as f:
                os.kill(int(f.read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def run_suite(suite, ctx_class, vmids, guest=True, **corrald_kw):
    """Runs SUITE against one corrald (Corrald(**CORRALD_KW)) with a
    CTX_CLASS(d) context, the test guest built first unless GUEST is false;
    no QEMU of VMIDS outlives it; exits."""
    import sys
    from corral_test import Corrald
    if guest:
        ensure_guest()
    failed = 1
    with Corrald(**corrald_kw) as d:
        ctx = ctx_class(d)
        try:
            _, failed = suite.run(ctx, exit=False)
        finally:
            for s in getattr(ctx, "serials", {}).values():
                s.close()
            kill_vms(d, vmids)
    sys.exit(1 if failed else 0)
