#!/usr/bin/python3
"""Three real corrald processes, each in its own network namespace (veth
pairs to a bridge; CORRAL_CLUSTER_LOOPBACK=1 puts them on loopback addresses
127.X.Y.1-3 instead), form a gossip cluster: create + join, one view of nodes and VMs from every
node, a VM created and started on node C through node A's API with
proxmoxer, forwarding, cluster-wide tickets and users, kill -9 and restart,
an nft partition that heals without help, VMID conflicts reported after the
merge, and packets sealed with a foreign key dropped and counted."""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import corral_ws  # noqa: E402
import corral_test as ct  # noqa: E402
from corral_cluster import PASSWORD, Cluster  # noqa: E402
from proxmoxer import ProxmoxAPI  # noqa: E402

suite = ct.Suite("cluster")


def corral(node, *args, stdin=None, env=None):
    """bin/corral against NODE with a private HOME; returns (rc, stdout, stderr)."""
    home = os.path.join(os.path.dirname(node.data_dir), "home")
    os.makedirs(home, exist_ok=True)
    e = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
    e.update(HOME=home, CORRAL_HOST=f"{node.ip}:{node.port}", CORRAL_PASSWORD=PASSWORD,
             CORRAL_FINGERPRINT=node.fingerprint())
    e.update(env or {})
    r = subprocess.run([ct.binary("corral"), *args], input=stdin, capture_output=True,
                       text=True, env=e, timeout=60)
    return r.returncode, r.stdout, r.stderr


def online_view(node):
    st = node.get("/cluster/status")
    return {e["name"]: e["online"] for e in st if e["type"] == "node"}


@suite.test
def test_create_and_join(c):
    """create on A, join B and C with A's address, fingerprint and password"""
    a, b, cc = c.nodes
    r = a.api("POST", "/cluster/config", data={"clustername": "corraltest"})
    ct.check_equal(r.status_code, 200, r.text)
    r = a.api("POST", "/cluster/config", data={"clustername": "again"})
    assert r.status_code == 500 and "already exists" in r.reason, r.reason
    fp = a.fingerprint()
    r = b.api("POST", "/cluster/config/join",
              data={"hostname": f"{a.ip}:{a.port}", "fingerprint": fp, "password": "wrong",
                    "username": "admin@pve"})
    assert r.status_code >= 400, r.text
    r = b.api("POST", "/cluster/config/join",
              data={"hostname": f"{a.ip}:{a.port}", "fingerprint": fp, "password": PASSWORD,
                    "username": "admin@pve", "link0": b.gossip})
    ct.check_equal(r.status_code, 200, f"join {b.node}: {r.reason} {r.text}")
    # C joins with the command-line client, the password on standard input.
    rc, out, err = corral(cc, "cluster", "join", f"{a.ip}:{a.port}", fp, "--username",
                          "admin@pve", "--link0", cc.gossip, stdin=PASSWORD + "\n")
    ct.check_equal(rc, 0, f"corral cluster join: {out} {err}")
    want = {"cl-a": 1, "cl-b": 1, "cl-c": 1}
    for n in c.nodes:
        ct.wait_for(f"{n.node} sees 3 online", lambda n=n: online_view(n) == want)


@suite.test
def test_cli_status(c):
    """corral cluster status and nodes show the members"""
    rc, out, err = corral(c.nodes[1], "cluster", "status", "--output-format", "json")
    ct.check_equal(rc, 0, err)
    names = sorted(e["name"] for e in json.loads(out) if e["type"] == "node")
    ct.check_equal(names, ["cl-a", "cl-b", "cl-c"])
    rc, out, err = corral(c.nodes[1], "cluster", "nodes")
    ct.check_equal(rc, 0, err)
    assert "cl-a" in out and "cl-c" in out, out


@suite.test
def test_join_validation(c):
    """join parameters are validated as Proxmox does (400 with errors)"""
    a = c.nodes[0]
    r = a.api("POST", "/cluster/config/join",
              data={"hostname": "bad host!", "fingerprint": "zz", "password": "x"})
    ct.check_equal(r.status_code, 400)
    errs = r.json()["errors"]
    assert "hostname" in errs and "fingerprint" in errs, errs
    r = a.api("POST", "/cluster/config", data={"clustername": "-bad_name"})
    ct.check_equal(r.status_code, 400)
    assert "clustername" in r.json()["errors"]


@suite.test
def test_config_nodes_and_joininfo(c):
    """GET /cluster/config/nodes and /cluster/config/join list every member"""
    for n in c.nodes:
        nodes = sorted(e["node"] for e in n.get("/cluster/config/nodes"))
        ct.check_equal(nodes, ["cl-a", "cl-b", "cl-c"], n.node)
    info = c.nodes[1].get("/cluster/config/join")
    fps = {e["name"]: e["pve_fp"] for e in info["nodelist"]}
    ct.check_equal(fps["cl-a"], c.nodes[0].fingerprint())
    ct.check_equal(info["totem"]["cluster_name"], "corraltest")


@suite.test
def test_ticket_valid_everywhere(c):
    """a ticket from node A is accepted by B and C (shared signing key)"""
    a = c.nodes[0]
    s = a.session()
    for n in c.nodes[1:]:
        r = s.get(n.url + "/nodes")
        ct.check_equal(r.status_code, 200, n.node)


@suite.test
def test_nodes_list_everywhere(c):
    """/nodes on every node lists all three, online, with fingerprints"""
    for n in c.nodes:
        rows = {r["node"]: r for r in n.get("/nodes")}
        ct.check_equal(sorted(rows), ["cl-a", "cl-b", "cl-c"], n.node)
        for m in c.nodes:
            ct.check_equal(rows[m.node]["status"], "online")
            ct.check_equal(rows[m.node]["ssl_fingerprint"], m.fingerprint())


@suite.test
def test_forwarding(c):
    """/nodes/cl-c/... asked on A is answered by C; unknown node fails"""
    a = c.nodes[0]
    st = a.get("/nodes/cl-c/status")
    assert "uptime" in st and "memory" in st, st
    r = a.api("GET", "/nodes/cl-zz/status")
    ct.check_equal(r.status_code, 500)
    assert "hostname lookup 'cl-zz' failed" in r.reason, r.reason


@suite.test
def test_upload_relayed_to_c(c):
    """an ISO uploaded to C's storage through A is streamed on to C; C's refusal comes back"""
    a, cc = c.nodes[0], c.nodes[2]
    src = os.path.join(os.path.dirname(a.data_dir), "relayed.iso")
    with open(src, "wb") as f:
        f.write(hashlib.sha512(b"relayed").digest() * (12 << 14))  # 12 MiB
    digest = ct.file_sha256(src)
    s = a.session()
    url = f"{a.url}/nodes/cl-c/storage/local/upload"
    with open(src, "rb") as f:
        r = s.post(url, files={"filename": ("relayed.iso", f)}, timeout=120,
                   data={"content": "iso", "checksum": digest, "checksum-algorithm": "sha256"})
    ct.check_equal(r.status_code, 200, f"{r.reason} {r.text}")
    upid = r.json()["data"]
    assert upid.startswith("UPID:cl-c:"), upid
    status, log = cc.task(upid)
    ct.check_equal(status, "OK", log)
    ct.check_equal(ct.file_sha256(os.path.join(cc.data_dir, "images", "iso", "relayed.iso")),
                   digest)
    assert not os.path.exists(os.path.join(a.data_dir, "images", "iso", "relayed.iso"))
    with open(src, "rb") as f:  # C answers: the volume exists now
        r = s.post(url, files={"filename": ("relayed.iso", f)}, data={"content": "iso"},
                   timeout=120)
    ct.check_equal(r.status_code, 500, r.text)
    assert "already exists" in r.reason, r.reason
    with open(src, "rb") as f:
        r = s.post(url, files={"filename": ("x.txt", f)}, data={"content": "iso"}, timeout=120)
    ct.check_equal(r.status_code, 400, r.text)
    assert "filename" in r.json()["errors"], r.text
    os.unlink(src)


@suite.test
def test_vm_on_c_through_a(c):
    """proxmoxer on A creates and starts a VM on C; every node lists it"""
    a, b, cc = c.nodes
    px = ProxmoxAPI(a.ip, port=a.port, user="admin@pve", password=PASSWORD, verify_ssl=False,
                    timeout=30)
    vmid = int(px.cluster.nextid.get())
    upid = px.nodes("cl-c").qemu.post(vmid=vmid, name="on-c", memory=64, cores=1,
                                      serial0="socket")
    wait_task(px, "cl-c", upid)
    upid = px.nodes("cl-c").qemu(vmid).status.start.post()
    wait_task(px, "cl-c", upid)
    ct.check_equal(px.nodes("cl-c").qemu(vmid).status.current.get()["status"], "running")
    local = cc.get(f"/nodes/cl-c/qemu/{vmid}/status/current")
    ct.check_equal(local["status"], "running")
    for n in c.nodes:
        ct.wait_for(f"VM {vmid} running on cl-c in {n.node}'s resources",
                 lambda n=n: any(r.get("vmid") == vmid and r["node"] == "cl-c"
                                 and r["status"] == "running"
                                 for r in n.get("/cluster/resources", params={"type": "vm"})))
    c.vmid = vmid
    # nextid on B skips it; create of the same id on A is refused.
    nxt = int(b.get("/cluster/nextid"))
    assert nxt != vmid, nxt
    r = a.api("POST", "/nodes/cl-a/qemu", data={"vmid": vmid, "memory": 64})
    ct.check_equal(r.status_code, 400, r.text)
    assert "already exists" in json.dumps(r.json()), r.text
    console_through_a(a, vmid)
    upid = px.nodes("cl-c").qemu(vmid).status.stop.post()
    wait_task(px, "cl-c", upid)


def console_through_a(a, vmid):
    """vncproxy and termproxy for the VM on C asked on A (forwarded), their
    websockets opened on A (relayed to C's): the RFB handshake and the
    termproxy login go through both ways."""
    ticket, _ = a.login()
    s = a.session()
    r = s.post(a.url + f"/nodes/cl-c/qemu/{vmid}/vncproxy", data={"websocket": 1})
    ct.check_equal(r.status_code, 200, r.text)
    g = r.json()["data"]
    # A forged ticket: C refuses the upgrade and A passes the refusal on.
    forged = dict(g, ticket=g["ticket"][:-6] + ("AAAAA=" if not g["ticket"].endswith("AAAAA=")
                                                else "BBBBB="))
    try:
        corral_ws.open_console(a.ip, a.port, "cl-c", vmid, forged, ticket).close()
        raise AssertionError("the websocket was opened with a forged ticket")
    except corral_ws.Refused as e:
        ct.check_equal(e.status, 403)
    ws = corral_ws.open_console(a.ip, a.port, "cl-c", vmid, g, ticket)
    try:
        ct.check_equal(ws.headers.get("sec-websocket-protocol"), "binary")
        version = ws.read_exact(12)
        assert version.startswith(b"RFB 003."), version
        ws.send(b"RFB 003.008\n")
        n = ws.read_exact(1)[0]
        types = ws.read_exact(n)
        assert 1 in types, f"no security type None in {list(types)}"
        ws.send(bytes([1]))
        ct.check_equal(struct.unpack("!I", ws.read_exact(4))[0], 0)  # SecurityResult OK
        ws.send(bytes([1]))  # ClientInit
        init = ws.read_exact(24)
        width, height = struct.unpack("!HH", init[:4])
        assert width > 0 and height > 0, (width, height)
    finally:
        ws.close()
    # termproxy: the login line C checks, answered through A.
    r = s.post(a.url + f"/nodes/cl-c/qemu/{vmid}/termproxy", data={"serial": "serial0"})
    ct.check_equal(r.status_code, 200, r.text)
    g = r.json()["data"]
    ws = corral_ws.open_console(a.ip, a.port, "cl-c", vmid, g, ticket)
    try:
        corral_ws.term_login(ws, g)
        ws.send(corral_ws.term_input("\n"))
    finally:
        ws.close()


def wait_task(px, node, upid):
    def done():
        st = px.nodes(node).tasks(upid).status.get()
        return st if st["status"] == "stopped" else None
    st = ct.wait_for(f"task {upid}", done, timeout=90)
    ct.check_equal(st.get("exitstatus"), "OK", upid)


@suite.test
def test_same_resources_everywhere(c):
    """/cluster/resources shows the same nodes, VMs and storages from every node"""
    def view(n):
        rows = n.get("/cluster/resources")
        return sorted((r["type"], r["id"], r.get("node")) for r in rows
                      if r["type"] in ("node", "qemu", "storage"))
    want = view(c.nodes[2])
    assert ("node", "node/cl-a", "cl-a") in want, want
    for m in c.nodes:
        assert ("storage", f"storage/{m.node}/local", m.node) in want, want
    for n in c.nodes[:2]:
        ct.wait_for(f"{n.node} view", lambda n=n: view(n) == want, timeout=30)
    # Another member's storage row carries the fields of a local one.
    local = {r["id"]: r for r in c.nodes[2].get("/cluster/resources",
                                                params={"type": "storage"})}
    remote = {r["id"]: r for r in c.nodes[0].get("/cluster/resources",
                                                 params={"type": "storage"})}
    row = remote["storage/cl-c/local"]
    for k in ("storage", "node", "plugintype", "content", "shared", "status", "maxdisk"):
        ct.check_equal(row[k], local["storage/cl-c/local"][k], k)
    ct.check_equal(row["status"], "available")
    assert row["maxdisk"] > 0 and "disk" in row, row


@suite.test
def test_user_created_on_a_logs_in_on_b(c):
    """a user created on A logs in on B (cluster-wide access config)"""
    a, b, _ = c.nodes
    r = a.api("POST", "/access/users", data={"userid": "gossip@pve", "password": "G0ssip-pw1"})
    ct.check_equal(r.status_code, 200, r.text)

    def login():
        r = ct.requests.post(b.url + "/access/ticket", verify=False, timeout=10,
                             data={"username": "gossip@pve", "password": "G0ssip-pw1"})
        return r.status_code == 200
    ct.wait_for("login of gossip@pve on B", login, timeout=30, step=1)


def gossip_stats(node):
    return [e for e in node.get("/cluster/status") if e["type"] == "cluster"][0]["gossip"]


@suite.test
def test_key_rotation(c):
    """the gossip key is rotated on the running cluster through A: nobody is marked dead"""
    a = c.nodes[0]
    with open(os.path.join(a.data_dir, "cluster", "cluster.json")) as f:
        old = json.load(f)["key"]
    new = os.urandom(32).hex()
    before = {n.node: gossip_stats(n) for n in c.nodes}
    want = {n.node: "ok" for n in c.nodes}
    for method, kw in (("POST", {"data": {"key": new}}), ("PUT", {"data": {"key": new}})):
        r = a.api(method, "/cluster/config/keys", **kw)
        ct.check_equal(r.status_code, 200, f"{method}: {r.reason} {r.text}")
        ct.check_equal(r.json()["data"], want, method)
    # The last step with the command-line client.
    rc, out, err = corral(a, "cluster", "key", "remove", old, "--output-format", "json")
    ct.check_equal(rc, 0, f"corral cluster key remove: {out} {err}")
    ct.check_equal(json.loads(out), want)
    r = a.api("DELETE", "/cluster/config/keys", params={"key": new})
    assert r.status_code >= 400 and "in use" in r.reason, r.reason
    r = a.api("PUT", "/cluster/config/keys", data={"key": "12ab"})
    ct.check_equal(r.status_code, 400)
    assert "key" in r.json()["errors"], r.text
    for n in c.nodes:
        with open(os.path.join(n.data_dir, "cluster", "cluster.json")) as f:
            st = json.load(f)
        ct.check_equal((st["key"], st.get("keys", [])), (new, []), n.node)
    # Gossip goes on under the new key alone: more probes, no death declared.
    for n in c.nodes:
        ct.wait_for(f"{n.node} probes under the new key",
                    lambda n=n: gossip_stats(n)["probes"] > before[n.node]["probes"] + 10,
                    timeout=30)
        ct.check_equal(gossip_stats(n)["deaths"], before[n.node]["deaths"], n.node)
        ct.check_equal(online_view(n), {"cl-a": 1, "cl-b": 1, "cl-c": 1}, n.node)


@suite.test
def test_kill_and_restart(c):
    """kill -9 C: A and B mark it offline; restarted, it is online again"""
    a, b, cc = c.nodes
    cc.kill()
    for n in (a, b):
        ct.wait_for(f"{n.node} marks cl-c offline", lambda n=n: online_view(n).get("cl-c") == 0,
                 timeout=40)
    r = a.api("GET", "/nodes/cl-c/status")
    ct.check_equal(r.status_code, 595, r.text)
    cc.start()
    for n in c.nodes:
        ct.wait_for(f"{n.node} sees cl-c online", lambda n=n: online_view(n).get("cl-c") == 1,
                 timeout=40)


@suite.test
def test_partition_and_heal(c):
    """nft cuts A from B+C: both halves serve; healed, one view within 60 s"""
    a, b, cc = c.nodes
    c.cut(0, [1, 2])
    ct.wait_for("A sees B and C offline",
             lambda: online_view(a) == {"cl-a": 1, "cl-b": 0, "cl-c": 0}, timeout=40)
    ct.wait_for("B sees A offline", lambda: online_view(b).get("cl-a") == 0, timeout=40)
    # Each half keeps working: the same new VMID created on both sides.
    dup = 4242
    for n in (a, b):
        r = n.api("POST", f"/nodes/{n.node}/qemu", data={"vmid": dup, "memory": 64})
        ct.check_equal(r.status_code, 200, f"{n.node}: {r.text}")
    c.heal()
    t0 = time.monotonic()
    want = {"cl-a": 1, "cl-b": 1, "cl-c": 1}
    for n in c.nodes:
        ct.wait_for(f"{n.node} one view", lambda n=n: online_view(n) == want, timeout=60)
    print(f"# partition healed in {time.monotonic() - t0:.1f} s", flush=True)

    def conflict(n):
        st = n.get("/cluster/status")
        cl = [e for e in st if e["type"] == "cluster"][0]
        return [x for x in cl["conflicts"] if x["vmid"] == dup]
    for n in c.nodes:
        got = ct.wait_for(f"{n.node} reports VMID {dup} conflict", lambda n=n: conflict(n),
                       timeout=30)
        ct.check_equal(sorted(got[0]["nodes"]), ["cl-a", "cl-b"])


@suite.test
def test_foreign_key_dropped(c):
    """a node sealing gossip with another cluster's key is dropped and counted"""
    a = c.nodes[0]
    st = [e for e in a.get("/cluster/status") if e["type"] == "cluster"][0]
    before = st["gossip"]["drop_decrypt"]
    d = c.node("cl-x", 3)
    try:
        d.start()
        r = d.api("POST", "/cluster/config", data={"clustername": "foreign"})
        ct.check_equal(r.status_code, 200, r.text)
        d.stop()
        path = os.path.join(d.data_dir, "cluster", "cluster.json")
        with open(path) as f:
            cfg = json.load(f)
        cfg["nodes"]["cl-a"] = {"api": f"{a.ip}:{a.port}", "gossip": a.gossip,
                                "fp": a.fingerprint()}
        with open(path, "w") as f:
            json.dump(cfg, f)
        d.start()

        def dropped():
            st = [e for e in a.get("/cluster/status") if e["type"] == "cluster"][0]
            return st["gossip"]["drop_decrypt"] > before
        ct.wait_for("A counts undecryptable packets", dropped, timeout=30)
        ct.check_equal(sorted(online_view(a)), ["cl-a", "cl-b", "cl-c"])
    finally:
        d.cleanup()


def state_file(node):
    with open(os.path.join(node.data_dir, "cluster", "cluster.json")) as f:
        return json.load(f)


@suite.test
def test_remove_node(c):
    """delnode C on A and B while C still runs, A restarted: C stays out; C leaves and
    joins again through A: B takes it back"""
    a, b, cc = c.nodes
    for n in (a, b):
        r = n.api("DELETE", "/cluster/config/nodes/cl-c")
        ct.check_equal(r.status_code, 200, r.text)
        ct.check_equal(sorted(online_view(n)), ["cl-a", "cl-b"])
    st = state_file(a)
    assert "cl-c" not in st["nodes"], st
    ct.check_equal([e["node"] for e in st.get("removed", [])], ["cl-c"])
    # C still gossips (and retries A every 5 s): a restarted A refuses it.
    a.kill()
    a.start()
    ct.wait_for("restarted A sees B online", lambda: online_view(a) == {"cl-a": 1, "cl-b": 1},
                timeout=40)
    ct.wait_for("C's view has A again", lambda: online_view(cc).get("cl-a") == 1, timeout=40)
    time.sleep(6)  # C's record has reached A by now; A must not adopt it
    ct.check_equal(sorted(online_view(a)), ["cl-a", "cl-b"])
    ct.check_equal(sorted(e["node"] for e in a.get("/cluster/config/nodes")), ["cl-a", "cl-b"])
    assert "cl-c" not in state_file(a)["nodes"], state_file(a)
    assert not any(r.get("node") == "cl-c" for r in a.get("/cluster/resources")), "cl-c rows"
    rc, out, err = corral(cc, "cluster", "leave")
    ct.check_equal(rc, 0, f"corral cluster leave: {out} {err}")
    st = cc.get("/cluster/status")
    ct.check_equal([e["name"] for e in st], ["cl-c"])
    # C joins again through A: B, which removed it earlier, takes it back by
    # gossip (its record says it joined after the removal).
    rc, out, err = corral(cc, "cluster", "join", f"{a.ip}:{a.port}", a.fingerprint(),
                          "--username", "admin@pve", "--link0", cc.gossip, stdin=PASSWORD + "\n")
    ct.check_equal(rc, 0, f"corral cluster join again: {out} {err}")
    ct.wait_for("B sees the rejoined C online", lambda: online_view(b).get("cl-c") == 1,
                timeout=40)
    assert not state_file(b).get("removed"), state_file(b)


if __name__ == "__main__":
    for tool in ("nft", "ip"):
        if not shutil.which(tool):
            print(f"{tool} is missing (apt-get install nftables iproute2)")
            sys.exit(1)
    cl = Cluster(["cl-a", "cl-b", "cl-c"], prefix="crc", spare=1)
    failed = 1
    try:
        cl.start()
        _, failed = suite.run(cl, exit=False)
    finally:
        cl.cleanup()
    sys.exit(1 if failed else 0)
