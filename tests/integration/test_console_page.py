# corral-test: guest
"""The console page (webui/console.html) in a real browser: a real corrald
serving webui/ with its CSP, a running test guest, and Debian's chromium
driven by tests/integration/console_page.mjs (playwright-core from
tests/e2e).  The serial page types a command and sees its answer; the VNC
page gets noVNC connected and drawing.  Results pass through."""
import os
import subprocess
import sys
import time

from corral_guest import READY, ensure_guest, put_guest_disk
from corral_test import ROOT, Corrald, wait_task

E2E = os.path.join(ROOT, "tests", "e2e")
VMID = 100
RUN_TIMEOUT = 180


def ensure_deps():
    if not os.path.isdir(os.path.join(E2E, "node_modules", "playwright-core")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=E2E, check=True, timeout=300)
    ensure_guest()


def post_task(s, url, **data):
    """POSTs a task request; a task shows "stopped" an instant before its VM
    lock is released, so a lock conflict is retried briefly."""
    deadline = time.monotonic() + 10
    while True:
        r = s.post(url, data=data)
        if r.status_code == 500 and "can't lock" in r.reason and time.monotonic() < deadline:
            time.sleep(0.1)
            continue
        assert r.status_code == 200, (url, r.status_code, r.reason)
        return r.json()["data"]


def start_guest(d, s):
    """Boots the guest; returns once its shell printed the marker (from the
    console log QEMU keeps)."""
    upid = s.post(d.url + f"/nodes/{d.node}/qemu", data={
        "vmid": VMID, "memory": 256, "cores": 1, "serial0": "socket", "boot": "order=virtio0",
        "virtio0": put_guest_disk(d, VMID)}).json()["data"]
    assert wait_task(s, d, upid)[0] == "OK"
    upid = post_task(s, d.url + f"/nodes/{d.node}/qemu/{VMID}/status/start")
    assert wait_task(s, d, upid)[0] == "OK"
    log = os.path.join(d.data_dir, "run", f"{VMID}.serial0.log")
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        if os.path.exists(log) and READY in open(log, "rb").read():
            return
        time.sleep(0.5)
    raise AssertionError("the guest did not boot")


def main():
    try:
        ensure_deps()
    except (OSError, subprocess.SubprocessError) as e:
        print(f"not ok - console page dependencies: {e}")
        print("0 passed, 1 failed")
        return 1
    with Corrald(node="console-page", args=["--webui-dir", os.path.join(ROOT, "webui")]) as d:
        s = d.session()
        try:
            start_guest(d, s)
        except AssertionError as e:
            print(f"not ok - boot the test guest: {e}")
            print("0 passed, 1 failed")
            return 1
        ticket, _ = d.login()
        env = dict(os.environ, BASE=d.base, TICKET=ticket, NODE=d.node, VMID=str(VMID))
        try:
            r = subprocess.run(["node", os.path.join(ROOT, "tests", "integration", "console_page.mjs")],
                               env=env, timeout=RUN_TIMEOUT)
            rc = r.returncode
        finally:
            wait_task(s, d, post_task(s, d.url + f"/nodes/{d.node}/qemu/{VMID}/status/stop"))
    return rc


if __name__ == "__main__":
    sys.exit(main())
