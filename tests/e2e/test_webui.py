# corral-test: guest
"""The web UI in a real browser: starts a real corrald, then runs
tests/e2e/run.mjs, which drives Debian's chromium through playwright-core
(the test guest's disk goes in through the UI's upload) and prints ok /
not ok lines and the closing count.  This wrapper passes them through."""
import os
import subprocess
import sys

from corral_test import ROOT, Corrald, free_port

E2E = os.path.join(ROOT, "tests", "e2e")
GUEST = os.path.join(ROOT, "build", "guest", "guest.qcow2")
RUN_TIMEOUT = 300   # seconds for the whole browser run
VMID = 100


def ensure_deps():
    if not os.path.isdir(os.path.join(E2E, "node_modules", "playwright-core")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=E2E, check=True, timeout=300)
    if not os.path.exists(GUEST):
        subprocess.run(["make", "-s", "guest"], cwd=ROOT, check=True, timeout=900)


def main():
    try:
        ensure_deps()
    except (OSError, subprocess.SubprocessError) as e:
        print(f"not ok - e2e dependencies: {e}")
        print("0 passed, 1 failed")
        return 1
    # Gossip on free ports: the cluster step creates a cluster on the first
    # node and joins the second one to it through the second one's UI.
    webui = os.path.join(ROOT, "webui")
    with Corrald(node="e2e", args=["--webui-dir", webui, "--gossip-listen", f"127.0.0.1:{free_port()}"]) as d, \
         Corrald(node="e2e2", args=["--webui-dir", webui, "--gossip-listen", f"127.0.0.1:{free_port()}"]) as d2:
        env = dict(os.environ, CORRAL_URL=d.base, CORRAL_URL2=d2.base, CORRAL_NODE2=d2.node,
                   CORRAL_USER="admin@pve", CORRAL_PASSWORD=d.admin_password,
                   CORRAL_NODE=d.node, CORRAL_VMID=str(VMID), CORRAL_GUEST=GUEST,
                   CORRAL_SCREENSHOTS=os.path.join(E2E, "screenshots"))
        try:
            proc = subprocess.run(["node", os.path.join(E2E, "run.mjs")], env=env, timeout=RUN_TIMEOUT)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            print(f"not ok - browser run finished within {RUN_TIMEOUT}s")
            print("0 passed, 1 failed")
            rc = 1
        if rc:
            sys.stdout.write("    corrald log (tail):\n")
            for line in d.log().splitlines()[-40:]:
                sys.stdout.write(f"    {line}\n")
        return rc


if __name__ == "__main__":
    sys.exit(main())
