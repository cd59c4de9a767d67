"""Web UI benchmark (run by bench/webui.sh): a real corrald, Debian's
chromium over loopback.  (a) first load: bytes on the wire and time to an
interactive resource tree; (b) the same with 500 VMs defined (stopped, no
disks) and the tree's render time.  Prints markdown."""
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from corral_test import ROOT, Corrald  # noqa: E402

N_VMS = int(os.environ.get("BENCH_WEBUI_VMS", "500"))
FIRST = 1000


def browser(d, phase):
    env = dict(os.environ, CORRAL_URL=d.base, CORRAL_PASSWORD=d.admin_password)
    out = subprocess.run(["node", os.path.join(ROOT, "bench", "webui.mjs"), phase], env=env,
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                         timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def define(d):
    s = d.session()

    def one(i):
        r = s.post(f"{d.url}/nodes/{d.node}/qemu",
                   data={"vmid": FIRST + i, "name": f"bench{i}", "memory": 32, "cores": 1})
        r.raise_for_status()
        return r.json()["data"]

    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as ex:
        upids = list(ex.map(one, range(N_VMS)))
    for u in upids:
        while s.get(f"{d.url}/nodes/{d.node}/tasks/{u}/status").json()["data"]["status"] != "stopped":
            time.sleep(0.01)
    return time.monotonic() - t0


def ms(xs):
    xs = sorted(xs)
    return f"{xs[len(xs) // 2]:.0f} ms (min {xs[0]:.0f}, max {xs[-1]:.0f})"


def ms1(xs):
    xs = sorted(xs)
    return f"{xs[len(xs) // 2]:.1f} ms (min {xs[0]:.1f}, max {xs[-1]:.1f})"


def main():
    with Corrald(node="bench", args=["--webui-dir", os.path.join(ROOT, "webui"), "--log-level", "error"]) as d:
        first = browser(d, "first")
        took = define(d)
        many = browser(d, "many")
    kb = first["staticBytes"] / 1024
    print("## Web UI (bench/webui.sh)\n")
    print("Debian's chromium (headless) through playwright-core against a real corrald on loopback "
          "(TLS 1.3, gzip, ETag); median of 5 reloads where a range is given.\n")
    print("| measure | result | goal |")
    print("|---|---|---|")
    print(f"| first load, static files on the wire (login page, app, modules, styles) | {kb:.1f} KiB "
          f"in {len(first['files'])} files | < 300 KB |")
    print(f"| first load, API answers (domains, ticket, resources, tasks) | {first['apiBytes'] / 1024:.1f} KiB | |")
    print(f"| charts, consoles loaded before the tree | {len(first['lazyLoaded'])} files | 0 (lazy) |")
    print(f"| login submit to interactive tree (ticket, resources, first render) | {ms(first['login']['total'])} | < 1 s |")
    print(f"| of which POST /access/ticket (password check) | {ms(first['login']['ticket'])} | |")
    print(f"| reload to interactive tree, logged in, cached (ETag 304s) | {ms(first['warm'])} | < 1 s |")
    print(f"| reload to interactive tree, logged in, cache disabled | {ms(first['cold'])} | < 1 s |")
    print(f"| reload to interactive tree with {N_VMS} VMs, cached | {ms(many['warm'])} | < 1 s |")
    print(f"| reload to interactive tree with {N_VMS} VMs, cache disabled | {ms(many['cold'])} | < 1 s |")
    t = many["tree"]
    print(f"| tree build with {t['vms']} VMs ({t['rows']} rows: DOM + style + layout) | {ms1(t['full'])} | < 100 ms |")
    print(f"| tree update, one VM changed, {t['vms']} VMs | {ms1(t['patch'])} | |")
    print(f"\nDefining the {N_VMS} VMs through the API took {took:.1f} s.")


if __name__ == "__main__":
    main()
