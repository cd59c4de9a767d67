"""Network namespaces for multi-node suites and benchmarks: a bridge in the
root namespace (with an address, so the test process reaches every node),
one namespace per node joined to it by a veth pair, and nft rules inside a
namespace to cut links.  Names carry the pid; down() removes everything.
Needs root."""
import os
import random
import subprocess


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=30)


class Net:
    def __init__(self, n, prefix="crl"):
        tag = f"{os.getpid() % 100000}"
        self.bridge = f"{prefix}b{tag}"
        self.subnet = f"10.{random.randint(64, 127)}.{random.randint(0, 255)}"
        self.ns = [f"{prefix}{tag}n{i}" for i in range(n)]
        self.ips = [f"{self.subnet}.{i + 1}" for i in range(n)]
        self.made = []

    def up(self):
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        self.made.append(("link", self.bridge))
        sh("ip", "addr", "add", f"{self.subnet}.254/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for i in range(len(self.ns)):
            self.add(i)
        return self

    def add(self, i):
        ns, host, peer = self.ns[i], f"{self.ns[i]}h", f"{self.ns[i]}p"
        sh("ip", "netns", "add", ns)
        self.made.append(("netns", ns))
        sh("ip", "link", "add", host, "type", "veth", "peer", "name", peer)
        self.made.append(("link", host))
        sh("ip", "link", "set", peer, "netns", ns)
        sh("ip", "link", "set", host, "master", self.bridge, "up")
        sh("ip", "-n", ns, "addr", "add", f"{self.ips[i]}/24", "dev", peer)
        sh("ip", "-n", ns, "link", "set", peer, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")

    def nft(self, i, *args, check=True):
        """nft inside node I's namespace."""
        return sh("ip", "netns", "exec", self.ns[i], "nft", *args, check=check)

    def cut(self, i, peers):
        """Drops everything node I receives from PEERS (indexes)."""
        self.nft(i, "add", "table", "inet", "corral_cut")
        self.nft(i, "add", "chain", "inet", "corral_cut", "in",
                 "{ type filter hook input priority -10 ; }")
        for p in peers:
            self.nft(i, "add", "rule", "inet", "corral_cut", "in", "ip", "saddr", self.ips[p],
                     "counter", "drop")

    def heal(self, i):
        self.nft(i, "delete", "table", "inet", "corral_cut", check=False)

    def down(self):
        for kind, name in reversed(self.made):
            if kind == "link":
                sh("ip", "link", "del", name, check=False)
            else:
                sh("ip", "netns", "del", name, check=False)
        self.made = []
