#!/usr/bin/python3
# corral-test: guest
"""Live migration between two real corrald nodes of a gossip cluster, each in
its own network namespace (corral_cluster; CORRAL_CLUSTER_LOOPBACK=1: on
loopback addresses): the test guest runs a counter on its serial console
and writes to its data disk; after POST .../migrate (online, with local
disks) the counter goes on on the target, the disk holds the writes, the VM
is listed on the target in /cluster/resources and the source keeps no copy.
Bad input as Proxmox answers it, the task stopped and the target corrald
killed mid-mirror and the link cut with nft mid-RAM-copy (source still runs,
target clean), the target's API unreachable at the switch-over (one node keeps
the VM), a live move_disk before the migration (its drive on other block
nodes), a cloud-init CD (not copied: the target writes its own image), the
way back with `corral vm migrate`, and an offline migration of the stopped VM
(disks pulled over TLS NBD)."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import corral_cluster  # noqa: E402
import corral_test as ct  # noqa: E402
from corral_guest import Serial, ensure_guest, kill_vms, put_guest_disk  # noqa: E402

suite = ct.Suite("migrate")
PASSWORD = corral_cluster.PASSWORD
VMID = 100
TEMPLATE = 101
TASK_TIMEOUT = corral_cluster.TASK_TIMEOUT
wait_for = ct.wait_for


def counter(serial):
    """Highest "TICK n END" the console shows within a few seconds."""
    best = -1
    text = b""
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        try:
            text += serial.read_until(b"\n", 1) + b"\n"
        except AssertionError:
            pass
    serial.last_text = text + serial.seen
    for part in (text + serial.seen).split(b"TICK ")[1:]:
        words = part.split()
        if len(words) >= 2 and words[1] == b"END" and words[0].isdigit():
            best = max(best, int(words[0]))
    return best


class Ctx:
    def __init__(self):
        self.cl = corral_cluster.Cluster(["mg-a", "mg-b"], prefix="crm")
        self.a, self.b = self.cl.nodes
        self.last = -1

    def home_of(self, vmid):
        return [n for n in (self.a, self.b)
                if os.path.exists(os.path.join(n.data_dir, "run", f"{vmid}.pid"))]

    def images(self, node):
        d = os.path.join(node.data_dir, "images", "images", str(VMID))
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def serial(self, node):
        s = Serial(node, VMID)
        s.connect()
        return s

    def counter_goes_on(self, node):
        s = self.serial(node)
        try:
            c = wait_for("counter on " + node.node, lambda: (lambda v: v if v > self.last else 0)(
                counter(s)), timeout=60, step=0)
        except AssertionError as e:
            raise AssertionError(f"{e}; console: {getattr(s, 'last_text', b'')[-600:]!r}")
        finally:
            s.close()
        self.last = c
        return c


@suite.test
def test_cluster(c):
    """two nodes form a cluster"""
    r = c.a.api("POST", "/cluster/config", data={"clustername": "migtest"})
    ct.check_equal(r.status_code, 200, r.text)
    r = c.b.api("POST", "/cluster/config/join",
                data={"hostname": f"{c.a.ip}:{c.a.port}", "fingerprint": c.a.fingerprint(),
                      "password": PASSWORD, "username": "admin@pve", "link0": c.b.gossip})
    ct.check_equal(r.status_code, 200, r.text)
    for n in (c.a, c.b):
        wait_for(f"{n.node} sees both", lambda n=n: n.online_count() == 2)


@suite.test
def test_guest_runs(c):
    """the guest boots on node A and runs a counter writing to its data disk"""
    boot = put_guest_disk(c.a, VMID)
    upid = c.a.post("/nodes/mg-a/qemu", vmid=VMID, name="mig", memory=256, virtio0=boot,
                    virtio1="local:0.0625", serial0="socket", boot="order=virtio0",
                    ide2="local:cloudinit", ciuser="mig")
    ct.check_equal(c.a.task(upid)[0], "OK")
    ct.check_equal(c.a.task(c.a.post(f"/nodes/mg-a/qemu/{VMID}/status/start"))[0], "OK")
    s = Serial(c.a, VMID)
    s.wait_boot()
    s.run("echo DATA-BEFORE | dd of=/dev/vdb bs=512 seek=100 conv=fsync 2>/dev/null")
    # typed in small pieces: the emulated UART drops what overflows its FIFO
    line = (b"i=0; while true; do i=$((i+1)); echo TICK $i END; echo TICK $i END | "
            b"dd of=/dev/vdb bs=512 seek=200 conv=fsync 2>/dev/null; sleep 1; done &\n")
    for i in range(0, len(line), 8):
        s.sock.sendall(line[i:i + 8])
        time.sleep(0.05)
    s.close()
    c.counter_goes_on(c.a)


@suite.test
def test_preconditions(c):
    """GET migrate reports running, allowed nodes and local disks"""
    d = c.a.get(f"/nodes/mg-a/qemu/{VMID}/migrate")
    ct.check_equal(d["running"], 1)
    ct.check_equal(d["allowed_nodes"], ["mg-b"])
    ct.check_equal(sorted(x["drivename"] for x in d["local_disks"]), ["virtio0", "virtio1"])
    ct.check_equal(d["local_resources"], [])


@suite.test
def test_bad_input(c):
    """same node, unknown node, missing flags, insecure type, a template: refused"""
    path = f"/nodes/mg-a/qemu/{VMID}/migrate"
    r = c.a.api("POST", path, data={"target": "mg-a", "online": 1, "with-local-disks": 1})
    ct.check_equal(r.status_code, 400)
    ct.check_equal(r.json()["errors"]["target"], "target is local node.")
    r = c.a.api("POST", path, data={"target": "nosuch", "online": 1, "with-local-disks": 1})
    ct.check_equal(r.status_code, 500)
    assert "no such cluster node 'nosuch'" in r.reason, r.reason
    r = c.a.api("POST", path, data={"target": "mg-b"})
    assert r.status_code == 500 and "without --online" in r.reason, r.reason
    r = c.a.api("POST", path, data={"target": "mg-b", "online": 1})
    assert r.status_code == 500 and "with-local-disks" in r.reason, r.reason
    r = c.a.api("POST", path, data={"target": "mg-b", "migration_type": "insecure"})
    ct.check_equal(r.status_code, 400)
    assert "migration_type" in r.json()["errors"], r.text
    r = c.a.api("POST", path, data={"target": "bad node!", "online": 1})
    ct.check_equal(r.status_code, 400)
    r = c.a.api("POST", path, data={"target": "mg-b", "migration_network": "10.0.0.0/33"})
    ct.check_equal(r.json()["errors"]["migration_network"],
                   "invalid format - value does not look like a valid CIDR network")
    # a migration network the target has no address in: refused there, the VM stays
    upid = c.a.post(path, target="mg-b", online=1, migration_network="198.51.100.0/24",
                    **{"with-local-disks": 1})
    status, log = c.a.task(upid)
    assert ("could not get migration ip: no IP address configured on local node for network "
            "'198.51.100.0/24'") in status, (status, log)
    ct.check_equal(c.home_of(VMID), [c.a])
    ct.check_equal(c.images(c.b), [])
    # a template does not migrate
    ct.check_equal(c.a.task(c.a.post("/nodes/mg-a/qemu", vmid=TEMPLATE, memory=64,
                                     virtio0="local:1"))[0], "OK")
    ct.check_equal(c.a.task(c.a.post(f"/nodes/mg-a/qemu/{TEMPLATE}/template"))[0], "OK")
    r = c.a.api("POST", f"/nodes/mg-a/qemu/{TEMPLATE}/migrate",
                data={"target": "mg-b", "online": 1, "with-local-disks": 1})
    assert r.status_code == 500 and "template" in r.reason, r.reason
    # the target side is internal: a user's ticket is refused
    r = c.b.api("DELETE", f"/nodes/mg-b/qemu/{VMID}/migrate_in")
    ct.check_equal(r.status_code, 403)


@suite.test
def test_stopped_mid_mirror(c):
    """the task stopped while disks copy: source runs on, target clean"""
    upid = c.a.post(f"/nodes/mg-a/qemu/{VMID}/migrate", target="mg-b", online=1,
                    bwlimit=1024, **{"with-local-disks": 1})
    log_path = f"/nodes/mg-a/tasks/{upid}/log"
    wait_for("mirror progress", lambda: any(
        "mirror: transferred" in line["t"] for line in c.a.get(log_path)), timeout=90)
    # a second migration of the same VM meanwhile is refused (task lock)
    r = c.a.api("POST", f"/nodes/mg-a/qemu/{VMID}/migrate",
                data={"target": "mg-b", "online": 1, "with-local-disks": 1})
    ct.check_equal(r.status_code, 500, r.text)
    r = c.a.api("DELETE", f"/nodes/mg-a/tasks/{upid}")
    ct.check_equal(r.status_code, 200, r.text)
    status, log = c.a.task(upid)
    assert status != "OK" and "migration aborted" in status, status + "\n" + log
    ct.check_equal(c.home_of(VMID), [c.a])
    ct.check_equal(c.images(c.b), [])
    ct.check_equal(c.a.get(f"/nodes/mg-a/qemu/{VMID}/status/current")["status"], "running")
    assert "lock" not in c.a.get(f"/nodes/mg-a/qemu/{VMID}/config")
    r = c.b.api("GET", f"/nodes/mg-b/qemu/{VMID}/config")
    ct.check_equal(r.status_code, 500)
    c.counter_goes_on(c.a)


@suite.test
def test_target_killed_mid_mirror(c):
    """target corrald killed mid-mirror: source runs on; the target cleans up at restart"""
    upid = c.a.post(f"/nodes/mg-a/qemu/{VMID}/migrate", target="mg-b", online=1,
                    bwlimit=1024, **{"with-local-disks": 1})
    wait_for("mirror progress", lambda: any(
        "mirror: transferred" in line["t"]
        for line in c.a.get(f"/nodes/mg-a/tasks/{upid}/log")), timeout=90)
    ct.check_equal(len(c.images(c.b)), 3)  # two disks and the cloud-init CD
    c.b.kill()
    status, log = c.a.task(upid, timeout=120)
    assert "migration aborted" in status and "is offline" in log, status + "\n" + log
    ct.check_equal(c.a.get(f"/nodes/mg-a/qemu/{VMID}/status/current")["status"], "running")
    assert "lock" not in c.a.get(f"/nodes/mg-a/qemu/{VMID}/config")
    c.counter_goes_on(c.a)
    # the incoming QEMU outlived its corrald (paused, -S); the restart removes it
    c.b.start()
    wait_for("mg-b clean", lambda: c.home_of(VMID) == [c.a] and c.images(c.b) == [],
             timeout=30)
    assert not os.path.exists(os.path.join(c.b.data_dir, "run", f"{VMID}.migtls"))
    wait_for("mg-b back online", lambda: c.a.online_count() == 2)


def wait_log(node, upid, text, timeout=120, step=0.2):
    """Waits until task UPID of NODE logged a line with TEXT."""
    path = f"/nodes/{node.node}/tasks/{upid}/log"
    wait_for(f"'{text}' in the task log", lambda: any(
        text in line["t"] for line in node.get(path, params={"limit": 5000})),
        timeout=timeout, step=step)


def tasks_of(node, vmid):
    return [t for t in node.get(f"/nodes/{node.node}/tasks", params={"limit": 500})
            if t.get("id") == str(vmid)]


@suite.test
def test_link_cut_mid_ram(c):
    """link cut with nft mid-RAM-copy: the task fails, the source runs on and keeps the
    configuration; the target gives its incoming VM up on its own, nothing is left there"""
    # 64 MiB of guest RAM that is not zero: at 16 MiB/s the RAM copy lasts seconds
    s = c.serial(c.a)
    try:
        out = s.run("dd if=/dev/urandom of=/tmp/b bs=1M count=64 2>/dev/null; wc -c </tmp/b",
                    timeout=120)
        assert "67108864" in out, out  # the counter's lines may come in between
    finally:
        s.close()
    upid = c.a.post(f"/nodes/mg-a/qemu/{VMID}/migrate", target="mg-b", online=1,
                    bwlimit=16384, **{"with-local-disks": 1})
    wait_log(c.a, upid, "migration active")
    c.cl.cut(1, [0])
    try:
        status, log = c.a.task(upid, timeout=120)
        # the reason comes first: gossip lost the target, or no byte moved any more
        assert "migration aborted" in status and (
            "went offline" in status or "link lost" in status), status + "\n" + log
        ct.check_equal(c.a.get(f"/nodes/mg-a/qemu/{VMID}/status/current")["status"], "running")
        assert "lock" not in c.a.get(f"/nodes/mg-a/qemu/{VMID}/config")
        c.counter_goes_on(c.a)
        # the source could not reach mg-b: mg-b drops the incoming VM by itself
        wait_for("mg-b clean", lambda: c.home_of(VMID) == [c.a] and c.images(c.b) == [],
                 timeout=60)
    finally:
        c.cl.heal()
    wait_for("mg-b back online", lambda: c.a.online_count() == 2, timeout=60)
    ct.check_equal(c.b.api("GET", f"/nodes/mg-b/qemu/{VMID}/config").status_code, 500)
    assert not os.path.exists(os.path.join(c.b.data_dir, "run", f"{VMID}.migtls"))
    watch = [t for t in tasks_of(c.b, VMID) if "source node offline" in t.get("status", "")]
    ct.check_equal(len(watch), 1, tasks_of(c.b, VMID))
    c.counter_goes_on(c.a)


@suite.test
def test_finish_unanswered(c):
    """mg-b's API unreachable from mg-a at the switch-over (RAM and disks still flow): the
    source keeps asking, and once mg-b answers exactly one node keeps and runs the VM"""
    upid = c.a.post(f"/nodes/mg-a/qemu/{VMID}/migrate", target="mg-b", online=1,
                    bwlimit=32768, **{"with-local-disks": 1})
    wait_log(c.a, upid, "target QEMU waiting")
    c.cl.cut_port(1, 0, c.b.port)
    try:
        wait_log(c.a, upid, "migration status: completed")
        time.sleep(8)  # finish cannot connect (5 s); the source keeps asking mg-b
    finally:
        c.cl.heal()
    status, log = c.a.task(upid, timeout=150)
    home = c.home_of(VMID)
    ct.check_equal(len(home), 1, f"{home} {status}\n{log}")
    owner = home[0]
    other = c.b if owner is c.a else c.a
    if owner is c.a:  # finish never arrived: mg-b dropped its copy, mg-a resumed
        assert "migration aborted" in status, status + "\n" + log
    else:  # finish arrived late: mg-b runs the VM, mg-a dropped its copy
        assert status.startswith("WARNINGS"), status + "\n" + log
    path = f"/nodes/{owner.node}/qemu/{VMID}"
    ct.check_equal(owner.get(path + "/status/current")["status"], "running")
    assert "lock" not in owner.get(path + "/config")
    ct.check_equal(other.api("GET", f"/nodes/{other.node}/qemu/{VMID}/config").status_code, 500)
    ct.check_equal(c.images(other), [])
    c.counter_goes_on(owner)
    if owner is c.b:  # the next tests start from mg-a
        upid = c.b.post(f"/nodes/mg-b/qemu/{VMID}/migrate", target="mg-a", online=1,
                        **{"with-local-disks": 1})
        ct.check_equal(c.b.task(upid)[0], "OK")


@suite.test
def test_live_move_disk(c):
    """a live move_disk first (the data disk to raw): its drive now sits on other block
    nodes, which the migration below has to mirror"""
    upid = c.a.post(f"/nodes/mg-a/qemu/{VMID}/move_disk", disk="virtio1", storage="local",
                    format="raw", delete=1)
    status, log = c.a.task(upid)
    ct.check_equal(status, "OK", log)
    assert ".raw" in c.a.get(f"/nodes/mg-a/qemu/{VMID}/config")["virtio1"]
    c.counter_goes_on(c.a)


@suite.test
def test_online_migration(c):
    """online with local disks: counter goes on, disk holds the writes, A keeps nothing"""
    before = c.last
    network = ".".join(c.b.ip.split(".")[:3]) + ".0/24"  # the cluster's subnet
    upid = c.a.post(f"/nodes/mg-a/qemu/{VMID}/migrate", target="mg-b", online=1,
                    migration_network=network, **{"with-local-disks": 1})
    status, log = c.a.task(upid)
    ct.check_equal(status, "OK", log)
    assert "migration downtime" in log and "transferred" in log, log
    if not corral_cluster.LOOPBACK:  # there every node has 127.0.0.1 in it
        assert f"target QEMU waiting on {c.b.ip};" in log, log
    ct.check_equal(c.home_of(VMID), [c.b])
    ct.check_equal(c.images(c.a), [])
    # the cloud-init CD is not copied: B wrote its own image of the same config
    assert f"vm-{VMID}-cloudinit.qcow2" in c.images(c.b), c.images(c.b)
    r = c.b.api("GET", f"/nodes/mg-b/qemu/{VMID}/cloudinit/dump", params={"type": "user"})
    ct.check_equal(r.status_code, 200, r.text)
    assert "mig" in r.json()["data"], r.text
    r = c.a.api("GET", f"/nodes/mg-a/qemu/{VMID}/config")
    ct.check_equal(r.status_code, 500)
    ct.check_equal(c.b.get(f"/nodes/mg-b/qemu/{VMID}/status/current")["status"], "running")
    assert c.counter_goes_on(c.b) > before
    s = c.serial(c.b)
    try:
        ct.check_equal(s.run("dd if=/dev/vdb bs=512 skip=100 count=1 2>/dev/null | "
                             "grep -c DATA-BEFORE"), "1")
        # no reboot: the boot counter on the data disk is still 1
        ct.check_equal(s.run("dd if=/dev/vdb bs=64 count=1 2>/dev/null | "
                             "grep -c 'CORRAL-BOOTS 1$'"), "1")
    finally:
        s.close()
    for n in (c.a, c.b):
        wait_for(f"{n.node} lists {VMID} on mg-b", lambda n=n: [
            x["node"] for x in n.get("/cluster/resources", params={"type": "vm"})
            if x.get("vmid") == VMID] == ["mg-b"])


@suite.test
def test_migrate_back_with_cli(c):
    """corral vm migrate brings it back; the counter still goes on"""
    home = os.path.join(os.path.dirname(c.b.data_dir), "home")
    os.makedirs(home, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
    env.update(HOME=home, CORRAL_HOST=f"{c.b.ip}:{c.b.port}", CORRAL_PASSWORD=PASSWORD,
               CORRAL_FINGERPRINT=c.b.fingerprint())
    r = subprocess.run([ct.binary("corral"), "vm", "migrate", str(VMID), "mg-a", "--online",
                        "--with-local-disks"], capture_output=True, text=True, env=env,
                       timeout=TASK_TIMEOUT)
    ct.check_equal(r.returncode, 0, r.stdout + r.stderr)
    ct.check_equal(c.home_of(VMID), [c.a])
    ct.check_equal(c.images(c.b), [])
    c.counter_goes_on(c.a)


def pull_task(node):
    """The newest qmigrate task of VMID on NODE: its list row."""
    rows = node.get(f"/nodes/{node.node}/tasks", params={
        "typefilter": "qmigrate", "vmid": VMID, "source": "all", "limit": 1})
    return rows[0] if rows else None


@suite.test
def test_offline_stopped(c):
    """an offline copy (bwlimit 256 KiB/s) stopped midway: the source keeps the VM, the target's
    copy task ends and leaves nothing"""
    ct.check_equal(c.a.task(c.a.post(f"/nodes/mg-a/qemu/{VMID}/status/stop"))[0], "OK")
    before = pull_task(c.b)
    upid = c.a.post(f"/nodes/mg-a/qemu/{VMID}/migrate", target="mg-b", bwlimit="256")
    pull = wait_for("mg-b copies the disks", lambda: (
        (t := pull_task(c.b)) and t != before and t.get("status") is None and t), timeout=60)
    time.sleep(1)
    ct.check_equal(c.a.api("DELETE", f"/nodes/mg-a/tasks/{upid}").status_code, 200)
    status, log = c.a.task(upid)
    assert "migration stopped" in status and "keeps no copy" in status, (status, log)
    status, log = c.b.task(pull["upid"])
    assert "aborted by the source" in status, (status, log)
    assert "copying disk" in log, log
    ct.check_equal(c.images(c.b), [])
    ct.check_equal(len(c.images(c.a)), 3)
    conf = c.a.get(f"/nodes/mg-a/qemu/{VMID}/config")
    assert "lock" not in conf, conf
    ct.check_equal(c.b.api("GET", f"/nodes/mg-b/qemu/{VMID}/config").status_code, 500)


@suite.test
def test_offline_migration(c):
    """a stopped VM moves offline (the target's task copies the disks); it boots on the target
    with its disk data"""
    upid = c.a.post(f"/nodes/mg-a/qemu/{VMID}/migrate", target="mg-b")
    status, log = c.a.task(upid)
    ct.check_equal(status, "OK", log)
    assert "offline migration" in log and "over TLS NBD" in log, log
    status, log = c.b.task(pull_task(c.b)["upid"])
    ct.check_equal(status, "OK", log)
    assert "copying disk" in log and f"VM {VMID} is on this node now" in log, log
    ct.check_equal(c.images(c.a), [])
    ct.check_equal(len(c.images(c.b)), 3)  # two disks and the cloud-init CD
    ct.check_equal(c.a.api("GET", f"/nodes/mg-a/qemu/{VMID}/config").status_code, 500)
    ct.check_equal(c.b.task(c.b.post(f"/nodes/mg-b/qemu/{VMID}/status/start"))[0], "OK")
    s = Serial(c.b, VMID)
    try:
        s.wait_boot()
        # second boot of this disk: the counter block came along
        ct.check_equal(s.run("dd if=/dev/vdb bs=64 count=1 2>/dev/null | "
                             "grep -c 'CORRAL-BOOTS 2$'"), "1")
        ct.check_equal(s.run("dd if=/dev/vdb bs=512 skip=100 count=1 2>/dev/null | "
                             "grep -c DATA-BEFORE"), "1")
    finally:
        s.close()


def main():
    ensure_guest()
    c = Ctx()
    failed = 1
    try:
        c.cl.start()
        _, failed = suite.run(c, exit=False)
    finally:
        for n in (c.a, c.b):
            kill_vms(n, [VMID])
        c.cl.cleanup()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
