#!/usr/bin/python3
"""Gossip soak (make soak, not in check): four corrald nodes on their own
loopback addresses, 5 % of the packets between them dropped at random by
nft, and every minute one node (in turn) SIGSTOPped for 3 s.  For 10
minutes (CORRAL_SOAK_SECONDS) every running node's /cluster/status is read
each second: a node that was not stopped in the last STALL_GRACE seconds
must never be seen offline (zero healthy nodes declared dead).  The
stalled nodes' own suspicions and refutations are reported, not judged."""
import os
import random
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import corral_test as ct  # noqa: E402
from test_cluster import Node, nft, PASSWORD  # noqa: E402

DURATION = int(os.environ.get("CORRAL_SOAK_SECONDS", "600"))
LOSS_PERCENT = 5
STALL_S = 3
STALL_EVERY_S = 60
# A stalled node may legitimately be suspected (and even declared dead) by
# others until it has run again for a while: it is not "healthy" until then.
STALL_GRACE = 20
NET = f"127.{random.randint(100, 250)}.{random.randint(1, 250)}"
TABLE = f"corral_soak_{os.getpid()}"

suite = ct.Suite("cluster soak")
ct.TEST_ALARM = DURATION + 300  # the per-test alarm of integration suites is too short


def form(nodes):
    a = nodes[0]
    r = a.api("POST", "/cluster/config", data={"clustername": "soak"})
    assert r.status_code == 200, r.text
    fp = a.fingerprint()
    for n in nodes[1:]:
        r = n.api("POST", "/cluster/config/join",
                  data={"hostname": f"{a.ip}:{a.port}", "fingerprint": fp, "password": PASSWORD,
                        "username": "admin@pve", "link0": n.gossip})
        assert r.status_code == 200, r.text
    # Joining installed the cluster's ticket key: log in again everywhere.
    for n in nodes:
        n.sess = n.session()
    names = {n.node for n in nodes}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all({k for k, v in view(n).items() if v} == names for n in nodes):
            return
        time.sleep(0.5)
    raise AssertionError("cluster did not form")


def view(n):
    r = n.sess.get(n.url + "/cluster/status", timeout=10)
    r.raise_for_status()
    return {e["name"]: e["online"] for e in r.json()["data"] if e["type"] == "node"}


def add_loss(nodes):
    nft("add", "table", "inet", TABLE)
    nft("add", "chain", "inet", TABLE, "in", "{ type filter hook input priority -10 ; }")
    ips = "{ " + ", ".join(n.ip for n in nodes) + " }"
    nft("add", "rule", "inet", TABLE, "in", "ip", "saddr", ips, "ip", "daddr", ips,
        "numgen", "random", "mod", "100", "<", str(LOSS_PERCENT), "counter", "drop")


@suite.test
def test_no_healthy_node_declared_dead(nodes):
    """10 min at 5 % loss with a 3 s SIGSTOP every minute: no healthy node declared dead"""
    form(nodes)
    add_loss(nodes)
    last_stop = {n.node: -1e9 for n in nodes}
    false_dead, stalls, checks = [], 0, 0
    t0 = time.monotonic()
    next_stall = t0 + STALL_EVERY_S / 2
    while time.monotonic() - t0 < DURATION:
        now = time.monotonic()
        if now >= next_stall:
            victim = nodes[stalls % len(nodes)]
            victim.proc.send_signal(signal.SIGSTOP)
            time.sleep(STALL_S)
            victim.proc.send_signal(signal.SIGCONT)
            last_stop[victim.node] = time.monotonic()
            stalls += 1
            next_stall += STALL_EVERY_S
            continue
        for n in nodes:
            try:
                v = view(n)
            except Exception:  # noqa: B902 - a slow answer under load is no verdict
                continue
            checks += 1
            for name, online in v.items():
                healthy = time.monotonic() - last_stop[name] > STALL_GRACE
                if not online and healthy:
                    false_dead.append((round(time.monotonic() - t0), n.node, name))
        time.sleep(1)
    counts = nft("list", "table", "inet", TABLE).stdout
    print(f"# {stalls} stalls, {checks} status reads, nft: "
          f"{' '.join(counts.split('counter')[1].split()[:4]) if 'counter' in counts else '?'}",
          flush=True)
    for n in nodes:
        st = [e for e in n.get("/cluster/status") if e["type"] == "cluster"][0]["gossip"]
        print(f"# {n.node}: suspects {st['suspects']}, deaths {st['deaths']}, "
              f"refutations {st['refutations']}", flush=True)
    assert not false_dead, f"healthy nodes seen offline (t, observer, node): {false_dead[:10]}"


if __name__ == "__main__":
    nodes = [Node(f"sk-{i}", f"{NET}.{i + 1}") for i in range(4)]
    failed = 1
    try:
        for n in nodes:
            n.start()
        _, failed = suite.run(nodes, exit=False)
    finally:
        nft("delete", "table", "inet", TABLE, check=False)
        for n in nodes:
            if n.proc and n.proc.poll() is None:
                n.proc.send_signal(signal.SIGCONT)
            n.cleanup()
    sys.exit(1 if failed else 0)
