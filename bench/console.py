"""Console round trip (bench/console.sh runs it): one byte typed into the
test guest's shell and its echo back, through corrald's termproxy
websocket (TLS, websocket framing, the bridge thread, the VM's serial
socket) beside the same round trip on the bare serial unix socket, the
anchor.  Blocks of each alternate so drift hits both alike.  Prints a
markdown fragment."""
import os
import shutil
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from corral_test import ROOT, Corrald  # noqa: E402
from corral_ws import open_console, term_input, term_login  # noqa: E402

VMID = 100
BLOCKS = 4
PER_BLOCK = 100
GUEST = os.path.join(ROOT, "build", "guest", "guest.qcow2")


class Raw:
    """The anchor: the serial socket itself."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.s.settimeout(15)

    def send(self, data):
        self.s.sendall(data)

    def recv(self):
        return self.s.recv(65536)

    def close(self):
        self.s.close()


class Ws:
    """The same through termproxy's websocket."""

    def __init__(self, d, session, ticket):
        g = session.post(d.url + f"/nodes/{d.node}/qemu/{VMID}/termproxy").json()["data"]
        self.ws = open_console("127.0.0.1", d.port, d.node, VMID, g, ticket)
        term_login(self.ws, g)

    def send(self, data):
        self.ws.send(term_input(data))

    def recv(self):
        data, self.ws.data = self.ws.data, b""
        return data or self.ws.recv_data(15)

    def close(self):
        self.ws.close()


def drain(c, until, timeout=10):
    seen = b""
    deadline = time.monotonic() + timeout
    while until not in seen and time.monotonic() < deadline:
        seen += c.recv()
    return seen


def round_trips(c, n):
    """N times: one byte out, wait for its echo; the line is cleared (^U)
    every 40 bytes, unmeasured."""
    c.send(b"\x15")
    time.sleep(0.3)
    drain_quiet(c)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        c.send(b"x")
        seen = b""
        while b"x" not in seen:
            seen += c.recv()
        out.append((time.perf_counter() - t0) * 1e6)
        if i % 40 == 39:
            c.send(b"\x15")
            time.sleep(0.05)
            drain_quiet(c)
    c.send(b"\x15")
    return out


def drain_quiet(c):
    """Reads whatever is pending (short timeout)."""
    try:
        if isinstance(c, Raw):
            c.s.settimeout(0.2)
            while c.s.recv(65536):
                pass
        else:
            while True:
                c.ws.recv_data(0.2)
    except (socket.timeout, TimeoutError, OSError):
        pass
    finally:
        if isinstance(c, Raw):
            c.s.settimeout(15)
        else:
            c.ws.data = b""


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def boot(d, s):
    disk_dir = os.path.join(d.data_dir, "images", "images", str(VMID))
    os.makedirs(disk_dir, exist_ok=True)
    shutil.copyfile(GUEST, os.path.join(disk_dir, f"vm-{VMID}-disk-0.qcow2"))

    def wait(upid):
        while s.get(d.url + f"/nodes/{d.node}/tasks/{upid}/status").json()["data"]["status"] != "stopped":
            time.sleep(0.2)
    wait(s.post(d.url + f"/nodes/{d.node}/qemu", data={
        "vmid": VMID, "memory": 256, "cores": 1, "serial0": "socket", "boot": "order=virtio0",
        "virtio0": f"local:{VMID}/vm-{VMID}-disk-0.qcow2"}).json()["data"])
    time.sleep(1)  # a task shows "stopped" an instant before its VM lock is released
    wait(s.post(d.url + f"/nodes/{d.node}/qemu/{VMID}/status/start").json()["data"])


def main():
    with Corrald(node="bench") as d:
        s = d.session()
        ticket, _ = d.login()
        boot(d, s)
        c = Ws(d, s, ticket)
        c.ws.read_until(b"CORRAL-GUEST-READY", 150)
        time.sleep(2)
        c.send(b"\r")
        drain(c, b"# ")
        c.close()
        path = os.path.join(d.data_dir, "run", f"{VMID}.serial0")
        ws_us, raw_us = [], []
        for _ in range(BLOCKS):
            c = Raw(path)
            raw_us += round_trips(c, PER_BLOCK)
            c.close()
            time.sleep(0.2)
            c = Ws(d, s, ticket)
            ws_us += round_trips(c, PER_BLOCK)
            c.close()
            time.sleep(0.2)
        s.post(d.url + f"/nodes/{d.node}/qemu/{VMID}/status/stop")
        time.sleep(2)
    report(ws_us, raw_us)


def report(ws_us, raw_us):
    rows = [("bare serial socket (anchor)", raw_us), ("termproxy websocket via corrald", ws_us)]
    print("## Console round trip\n")
    print("One byte typed into the test guest's shell (TCG) and its echo back: through "
          "corrald's termproxy websocket (TLS 1.3, websocket framing, the bridge thread, the "
          "VM's serial socket) and, as the anchor, on the serial unix socket directly. "
          f"{BLOCKS} alternating blocks of {PER_BLOCK} round trips each "
          "(bench/console.sh, bench/console.py).\n")
    print("| path | round trips | p50 | p99 | mean |")
    print("|---|---:|---:|---:|---:|")
    for name, xs in rows:
        print(f"| {name} | {len(xs)} | {pct(xs, 50):.0f} µs | {pct(xs, 99):.0f} µs | "
              f"{statistics.mean(xs):.0f} µs |")
    print(f"\nThe bridge adds {pct(ws_us, 50) - pct(raw_us, 50):.0f} µs at the median "
          f"and {pct(ws_us, 99) - pct(raw_us, 99):.0f} µs at p99; the rest is the guest's "
          "echo under TCG.\n")


if __name__ == "__main__":
    main()
