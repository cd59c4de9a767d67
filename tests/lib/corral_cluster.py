"""Several real corrald nodes for multi-node suites (cluster, migrate): each
in its own network namespace (corral_netns: veth pairs to a bridge the test
process reaches), or with CORRAL_CLUSTER_LOOPBACK=1 on loopback addresses
127.X.Y.n; gossip on the node's address; links cut and healed with nft."""
import os
import random
import socket
import subprocess
import time

import corral_netns
import corral_test as ct

PASSWORD = "Adm1n-test-pw"
LOOPBACK = os.environ.get("CORRAL_CLUSTER_LOOPBACK") == "1"
TASK_TIMEOUT = 240


def nft(*args, check=True):
    return subprocess.run(["nft", *args], check=check, capture_output=True, text=True, timeout=15)


class Node(ct.Corrald):
    """A corrald on IP (in namespace NS when given, else a loopback address),
    gossip on the same address."""

    def __init__(self, name, ip, ns=None, **kw):
        self.ip, self.ns = ip, ns
        self.gossip = f"{ip}:{7946 if ns else ct.free_port()}"
        super().__init__(node=name, admin_password=PASSWORD, port=8006 if ns else None, **kw)
        self.base = f"https://{ip}:{self.port}"
        self.url = self.base + "/api2/json"
        self.args = ["--gossip-listen", self.gossip]

    def command(self):
        pre = ["ip", "netns", "exec", self.ns] if self.ns else []
        return pre + [ct.binary("corrald"), "--data-dir", self.data_dir, "--listen",
                      f"{self.ip}:{self.port}", "--node", self.node] + self.args

    def _port_open(self):
        try:
            with socket.create_connection((self.ip, self.port), timeout=1):
                return True
        except OSError:
            return False

    def fingerprint(self):
        return ct.tls_fingerprint(self.ip, self.port)

    def api(self, method, path, **kw):
        return self.session().request(method, self.url + path, **kw)

    def get(self, path, **kw):
        r = self.api("GET", path, **kw)
        assert r.status_code == 200, f"{self.node} GET {path}: {r.status_code} {r.reason} {r.text}"
        return r.json()["data"]

    def post(self, path, **data):
        r = self.api("POST", path, data=data)
        assert r.status_code == 200, f"{self.node} POST {path}: {r.status_code} {r.reason}"
        return r.json()["data"]

    def task(self, upid, timeout=TASK_TIMEOUT):
        """(exitstatus, log text) of UPID once stopped."""
        path = f"/nodes/{self.node}/tasks/{upid}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.get(path + "/status")
            if st["status"] == "stopped":
                log = self.get(path + "/log", params={"limit": 5000})
                return st["exitstatus"], "\n".join(line["t"] for line in log)
            time.sleep(0.3)
        raise AssertionError(f"task {upid} still running after {timeout}s")

    def online_count(self):
        """How many nodes this one sees online."""
        return sum(e["online"] for e in self.get("/cluster/status") if e["type"] == "node")


class Cluster:
    """Nodes NAMES (plus SPARE unused addresses), namespaces named PREFIX..."""

    def __init__(self, names, prefix, spare=0):
        n = len(names) + spare
        self.net = None if LOOPBACK else corral_netns.Net(n, prefix=prefix)
        self.table = f"{prefix}_cut_{os.getpid()}"
        self.loop = f"127.{random.randint(100, 250)}.{random.randint(1, 250)}"
        self.nodes = [self.node(name, i) for i, name in enumerate(names)]

    def node(self, name, i):
        if self.net:
            return Node(name, self.net.ips[i], self.net.ns[i])
        return Node(name, f"{self.loop}.{i + 1}")

    def start(self):
        if self.net:
            self.net.up()
        for n in self.nodes:
            n.start()
        return self

    def cut(self, i, peers):
        """Node I stops receiving from PEERS (and they from it)."""
        if self.net:
            self.net.cut(i, peers)
            for p in peers:
                self.net.cut(p, [i])
            return
        nft("add", "table", "inet", self.table)
        nft("add", "chain", "inet", self.table, "in", "{ type filter hook input priority -10 ; }")
        for p in peers:
            for src, dst in ((self.nodes[i].ip, self.nodes[p].ip),
                             (self.nodes[p].ip, self.nodes[i].ip)):
                nft("add", "rule", "inet", self.table, "in", "ip", "saddr", src, "ip", "daddr",
                    dst, "drop")

    def cut_port(self, i, peer, port):
        """Node I drops what PEER sends to its TCP PORT; the rest still flows."""
        src, dst = self.nodes[peer].ip, self.nodes[i].ip
        if self.net:
            self.net.nft(i, "add", "table", "inet", "corral_cut")
            self.net.nft(i, "add", "chain", "inet", "corral_cut", "in",
                         "{ type filter hook input priority -10 ; }")
            self.net.nft(i, "add", "rule", "inet", "corral_cut", "in", "ip", "saddr", src,
                         "tcp", "dport", str(port), "drop")
            return
        nft("add", "table", "inet", self.table)
        nft("add", "chain", "inet", self.table, "in", "{ type filter hook input priority -10 ; }")
        nft("add", "rule", "inet", self.table, "in", "ip", "saddr", src, "ip", "daddr", dst,
            "tcp", "dport", str(port), "drop")

    def heal(self):
        if self.net:
            for i in range(len(self.net.ns)):
                self.net.heal(i)
        else:
            nft("delete", "table", "inet", self.table, check=False)

    def cleanup(self):
        self.heal()
        for n in self.nodes:
            n.cleanup()
        if self.net:
            self.net.down()
