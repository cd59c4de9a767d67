"""The list views the web UI polls, on a real corrald with real QEMU (TCG):
GET /cluster/resources and GET /nodes/{node}/qemu show a VM created,
started, renamed, stopped and destroyed at the very next request (their
rows come from a per-VM cache), agree with each other and with
status/current, and the node row carries the statistics sampler's figures."""
from proxmoxer import ProxmoxAPI

from corral_test import ADMIN, TIMEOUT, Corrald, Suite, check_equal, wait_task

suite = Suite("resources")
NODE = "resnode"
VMID = 4100


def connect(d):
    return ProxmoxAPI("127.0.0.1", port=d.port, verify_ssl=False, backend="https",
                      timeout=TIMEOUT, user=ADMIN, password=d.admin_password)


def task_ok(d, upid):
    status, log = wait_task(d.session(), d, upid)
    check_equal(status, "OK", log)


def vm_row(api, vmid):
    """VMID's /cluster/resources row and its GET /nodes/{node}/qemu row (None
    when absent)."""
    res = [r for r in api.cluster.resources.get(type="vm") if r["vmid"] == vmid]
    lst = [r for r in api.nodes(NODE).qemu.get() if r["vmid"] == vmid]
    assert len(res) <= 1 and len(lst) <= 1, (res, lst)
    return (res[0] if res else None), (lst[0] if lst else None)


def check_both(api, vmid, status, name):
    res, lst = vm_row(api, vmid)
    assert res and lst, (res, lst)
    for row in (res, lst):
        check_equal(row["status"], status, "status")
        check_equal(row["name"], name, "name")
    check_equal(res["id"], f"qemu/{vmid}")
    check_equal(res["node"], NODE)
    check_equal(res["maxmem"], lst["maxmem"])
    check_equal(res["maxcpu"], lst["cpus"])
    return res, lst


@suite.test
def test_lifecycle_rows(d):
    """create, start, rename, stop and destroy show at the next request"""
    api = connect(d)
    check_equal(vm_row(api, VMID), (None, None))
    task_ok(d, api.nodes(NODE).qemu.post(vmid=VMID, name="res-a", memory=32, cores=1))
    check_both(api, VMID, "stopped", "res-a")
    task_ok(d, api.nodes(NODE).qemu(VMID).status.start.post())
    res, lst = check_both(api, VMID, "running", "res-a")
    pid = api.nodes(NODE).qemu(VMID).status.current.get()["pid"]
    check_equal(lst["pid"], pid)
    check_equal(lst["qmpstatus"], "running")
    api.nodes(NODE).qemu(VMID).config.put(name="res-b")
    check_both(api, VMID, "running", "res-b")
    task_ok(d, api.nodes(NODE).qemu(VMID).status.stop.post())
    res, lst = check_both(api, VMID, "stopped", "res-b")
    check_equal(lst["qmpstatus"], "stopped")
    assert "pid" not in lst, lst
    api.nodes(NODE).qemu(VMID).config.put(memory=64)
    res, lst = check_both(api, VMID, "stopped", "res-b")
    check_equal((res["maxmem"], lst["maxmem"]), (64 << 20, 64 << 20))
    task_ok(d, api.nodes(NODE).qemu(VMID).delete())
    check_equal(vm_row(api, VMID), (None, None))


@suite.test
def test_many_vms(d):
    """a listing of many VMs: every one once, created and destroyed at once"""
    api = connect(d)
    vmids = list(range(VMID + 10, VMID + 22))
    for v in vmids:
        task_ok(d, api.nodes(NODE).qemu.post(vmid=v, name=f"many-{v}", memory=16))
    rows = [r for r in api.cluster.resources.get(type="vm") if r["vmid"] in vmids]
    check_equal(sorted(r["vmid"] for r in rows), vmids)
    check_equal({r["name"] for r in rows}, {f"many-{v}" for v in vmids})
    task_ok(d, api.nodes(NODE).qemu(vmids[3]).delete())
    api.nodes(NODE).qemu(vmids[4]).config.put(name="renamed")
    listed = {r["vmid"]: r["name"] for r in api.nodes(NODE).qemu.get()}
    assert vmids[3] not in listed, listed
    check_equal(listed[vmids[4]], "renamed")
    for v in vmids:
        if v != vmids[3]:
            task_ok(d, api.nodes(NODE).qemu(v).delete())
    check_equal(api.nodes(NODE).qemu.get(), [])


@suite.test
def test_node_row(d):
    """the node row carries real figures, in /cluster/resources and /nodes"""
    api = connect(d)
    status = api.nodes(NODE).status.get()
    for rows in (api.cluster.resources.get(type="node"), api.nodes.get()):
        row = [r for r in rows if r["node"] == NODE]
        assert len(row) == 1, rows
        row = row[0]
        check_equal(row["status"], "online")
        check_equal(row["maxcpu"], status["cpuinfo"]["cpus"])
        check_equal(row["maxmem"], status["memory"]["total"])
        assert 0 < row["mem"] <= row["maxmem"], row
        assert 0 < row["disk"] <= row["maxdisk"], row
        assert 0 <= row["cpu"] <= 1, row
        assert abs(row["uptime"] - status["uptime"]) <= 30, (row, status["uptime"])


if __name__ == "__main__":
    with Corrald(node=NODE) as daemon:
        suite.run(daemon)
