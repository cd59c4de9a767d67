#!/usr/bin/python3
"""Resource pools across a two-node cluster (real corralds in network
namespaces, or loopback addresses with CORRAL_CLUSTER_LOOPBACK=1): a pool
created on A exists on B, a VM created on B with pool= is a member seen
from A, a pool ACL set on A lets a user read that VM through B, and
destroying the VM on B takes it out of the pool everywhere."""
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import corral_test as ct  # noqa: E402
from corral_cluster import PASSWORD, Cluster  # noqa: E402

suite = ct.Suite("pools cluster")
USER, USER_PW = "pooler@pve", "Po0ler-pw-1"


def members(node, pool):
    r = node.api("GET", "/pools", params={"poolid": pool})
    if r.status_code != 200:
        return None
    return sorted(m["id"] for m in r.json()["data"][0]["members"] if m["type"] == "qemu")


@suite.test
def test_join(c):
    """A creates the cluster, B joins"""
    a, b = c.nodes
    r = a.api("POST", "/cluster/config", data={"clustername": "pooltest"})
    ct.check_equal(r.status_code, 200, r.text)
    r = b.api("POST", "/cluster/config/join",
              data={"hostname": f"{a.ip}:{a.port}", "fingerprint": a.fingerprint(),
                    "password": PASSWORD, "username": "admin@pve", "link0": b.gossip})
    ct.check_equal(r.status_code, 200, f"join: {r.reason} {r.text}")
    for n in c.nodes:
        ct.wait_for(f"{n.node} sees 2 online", lambda n=n: n.online_count() == 2)


@suite.test
def test_pool_on_both(c):
    """a pool made on A reaches B; B's new VM joins it; A sees the member"""
    a, b = c.nodes
    r = a.api("POST", "/pools", data={"poolid": "shared", "comment": "made on A"})
    ct.check_equal(r.status_code, 200, r.text)
    ct.wait_for("the pool on B", lambda: [p["poolid"] for p in b.get("/pools")] == ["shared"],
                timeout=60, step=0.5)
    ct.check_equal(b.get("/pools/shared")["comment"], "made on A")
    st, log = b.task(b.post(f"/nodes/{b.node}/qemu", vmid=700, memory=64, name="on-b",
                            pool="shared"))
    ct.check_equal(st, "OK", log)
    ct.check_equal(members(b, "shared"), ["qemu/700"])
    ct.wait_for("the member seen from A", lambda: members(a, "shared") == ["qemu/700"],
                timeout=60, step=0.5)
    res = [r for r in a.get("/cluster/resources") if r.get("vmid") == 700]
    ct.check_equal([(r["node"], r.get("pool")) for r in res], [(b.node, "shared")])
    # one member row per storage, the asking node's own
    r = a.api("PUT", "/pools", data={"poolid": "shared", "storage": "local"})
    ct.check_equal(r.status_code, 200, r.text)
    for n in c.nodes:
        ct.wait_for(f"{n.node} lists both nodes' local", lambda n=n: len(
            [r for r in n.get("/cluster/resources", params={"type": "storage"})
             if r["storage"] == "local"]) == 2, timeout=60, step=0.5)
        ct.wait_for(f"the storage member on {n.node}", lambda n=n: [
            (m["id"], m["node"]) for m in n.get("/pools", params={"poolid": "shared"})[0]["members"]
            if m["type"] == "storage"] == [(f"storage/{n.node}/local", n.node)],
            timeout=60, step=0.5)
    r = a.api("PUT", "/pools", data={"poolid": "shared", "storage": "local", "delete": 1})
    ct.check_equal(r.status_code, 200, r.text)


@suite.test
def test_pool_acl_on_b(c):
    """PVEVMUser on /pool/shared set on A lets the user read B's VM through B"""
    a, b = c.nodes
    r = a.api("POST", "/access/users", data={"userid": USER, "password": USER_PW})
    ct.check_equal(r.status_code, 200, r.text)
    r = a.api("PUT", "/access/acl", data={"path": "/pool/shared", "users": USER,
                                          "roles": "PVEVMUser"})
    ct.check_equal(r.status_code, 200, r.text)

    def user_reads():
        s = ct.Session()
        r = s.post(b.url + "/access/ticket", data={"username": USER, "password": USER_PW})
        if r.status_code != 200:
            return False
        s.cookies.set("PVEAuthCookie", r.json()["data"]["ticket"])
        r = s.get(f"{b.url}/nodes/{b.node}/qemu/700/status/current")
        return r.status_code == 200 and r.json()["data"]["vmid"] == 700
    ct.wait_for("the pool user reads VM 700 on B", user_reads, timeout=60, step=0.5)


@suite.test
def test_destroy_on_b(c):
    """destroying the VM on B empties the pool on A; A deletes the pool"""
    a, b = c.nodes
    st, log = b.task(b.api("DELETE", f"/nodes/{b.node}/qemu/700").json()["data"])
    ct.check_equal(st, "OK", log)
    ct.wait_for("the pool empty on A", lambda: members(a, "shared") == [], timeout=60, step=0.5)
    r = a.api("DELETE", "/pools", params={"poolid": "shared"})
    ct.check_equal(r.status_code, 200, r.text)
    ct.wait_for("the pool gone on B", lambda: b.get("/pools") == [], timeout=60, step=0.5)


if __name__ == "__main__":
    for tool in ("nft", "ip"):
        if not shutil.which(tool):
            print(f"{tool} is missing (apt-get install nftables iproute2)")
            sys.exit(1)
    cl = Cluster(["pl-a", "pl-b"], prefix="cpl")
    failed = 1
    try:
        cl.start()
        _, failed = suite.run(cl, exit=False)
    finally:
        cl.cleanup()
    sys.exit(1 if failed else 0)
