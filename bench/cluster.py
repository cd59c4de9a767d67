#!/usr/bin/python3
"""Failure detection of corrald's gossip on real processes: N corrald nodes,
each in its own network namespace joined by veth pairs to a bridge, form a
cluster; one node is killed with SIGKILL and the others' /cluster/status is
polled every 100 ms until the first and then every survivor marks it
offline.  The killed node restarts and rejoins before the next trial.
Writes a markdown fragment (bench/cluster.sh -> build/bench/cluster.md).

Needs root (ip netns, bridges).  Every namespace, link and process is removed
on exit."""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
import corral_netns  # noqa: E402
import corral_test as ct  # noqa: E402

PASSWORD = "Bench-cluster-pw1"
API_PORT = 8006
GOSSIP_PORT = 7946


class NsNode(ct.Corrald):
    """corrald inside namespace NS on IP (API :8006, gossip :7946)."""

    def __init__(self, name, ns, ip):
        self.ns, self.ip = ns, ip
        super().__init__(node=name, admin_password=PASSWORD, port=API_PORT)
        self.base = f"https://{ip}:{API_PORT}"
        self.url = self.base + "/api2/json"
        self.args = ["--gossip-listen", f"{ip}:{GOSSIP_PORT}"]
        self.sess = None

    def command(self):
        return ["ip", "netns", "exec", self.ns, ct.binary("corrald"), "--data-dir", self.data_dir,
                "--listen", f"{self.ip}:{API_PORT}", "--node", self.node] + self.args

    def _port_open(self):
        import socket
        try:
            with socket.create_connection((self.ip, API_PORT), timeout=1):
                return True
        except OSError:
            return False

    def online_view(self):
        if self.sess is None:
            self.sess = self.session()
        r = self.sess.get(self.url + "/cluster/status", timeout=5)
        r.raise_for_status()
        return {e["name"]: e["online"] for e in r.json()["data"] if e["type"] == "node"}


def wait(what, fn, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if fn():
                return
        except Exception:  # noqa: B902 - keep polling
            pass
        time.sleep(0.2)
    raise RuntimeError(f"timed out: {what}")


def form(nodes):
    a = nodes[0]
    s = a.session()
    s.post(a.url + "/cluster/config", data={"clustername": "bench"}).raise_for_status()
    fp = ct.tls_fingerprint(a.ip, API_PORT)
    for n in nodes[1:]:
        r = n.session().post(n.url + "/cluster/config/join",
                             data={"hostname": a.ip, "fingerprint": fp, "password": PASSWORD,
                                   "username": "admin@pve"})
        r.raise_for_status()
    names = {n.node for n in nodes}
    for n in nodes:
        wait(f"{n.node} sees all", lambda n=n: set(k for k, v in n.online_view().items() if v)
             == names, 60)


def trial(nodes, victim):
    others = [n for n in nodes if n is not victim]
    seen = {}
    t0 = time.monotonic()
    victim.kill()
    while len(seen) < len(others) and time.monotonic() - t0 < 60:
        for n in others:
            if n.node not in seen:
                try:
                    if n.online_view().get(victim.node) == 0:
                        seen[n.node] = time.monotonic() - t0
                except Exception:  # noqa: B902 - a slow answer is retried
                    pass
        time.sleep(0.1)
    first, last = min(seen.values()), max(seen.values())
    victim.start()
    wait(f"{victim.node} back", lambda: all(n.online_view().get(victim.node) == 1
                                            for n in nodes), 60)
    return first, last


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--out", required=True)
    o = ap.parse_args()
    net = corral_netns.Net(o.nodes, prefix="crl")
    nodes = []
    try:
        net.up()
        nodes = [NsNode(f"bn{i}", net.ns[i], net.ips[i]) for i in range(o.nodes)]
        for n in nodes:
            n.start()
        form(nodes)
        results = [trial(nodes, nodes[1 + t % (o.nodes - 1)]) for t in range(o.trials)]
    finally:
        for n in nodes:
            n.cleanup()
        net.down()
    write(o, results)


def write(o, results):
    firsts = sorted(r[0] for r in results)
    lasts = sorted(r[1] for r in results)
    with open(o.out, "w") as f:
        f.write("## Cluster failure detection on real processes\n\n")
        f.write(f"{o.nodes} corrald processes, each in its own network namespace (veth to a "
                "bridge), gossip with the default LAN profile (probe 1 s / 500 ms, suspicion "
                "4 x max(1, log10 N) s, Lifeguard on), AES-256-GCM.  One node is killed "
                "with SIGKILL; the survivors' `/cluster/status` is polled every 100 ms.  "
                f"{len(results)} trials, a different victim each time.\n\n")
        f.write("| crash -> | median | min | max | memberlist model (N=3 / N=16, p50) |\n")
        f.write("|---|---|---|---|---|\n")
        f.write(f"| first node marks it offline | {statistics.median(firsts):.1f} s | "
                f"{firsts[0]:.1f} s | {firsts[-1]:.1f} s | 5.6 s / 6.6 s |\n")
        f.write(f"| every node marks it offline | {statistics.median(lasts):.1f} s | "
                f"{lasts[0]:.1f} s | {lasts[-1]:.1f} s | 6.8 s / 8.0 s |\n\n")
        f.write("Each figure includes up to 100 ms of polling and the API round trip.\n")
    print(open(o.out).read())


if __name__ == "__main__":
    main()
