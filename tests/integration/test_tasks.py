#!/usr/bin/python3
"""Task endpoints on a real corrald: the task index and logs a previous run
left behind (written with lmdb-utils' mdb_load while corrald is stopped),
the restart that closes tasks left running, and the list, status, log and
stop endpoints through python3-proxmoxer and raw HTTPS."""
import os
import subprocess
import urllib.parse

from proxmoxer import ProxmoxAPI

from corral_test import ADMIN, Corrald, Suite, check_equal

suite = Suite("tasks")
NODE = "tasknode"


def upid(pid, starttime, typ, vmid, user=ADMIN):
    return f"UPID:{NODE}:{pid:08X}:00ABCDEF:{starttime:08X}:{typ}:{vmid}:{user}:"


OK = upid(0x100, 0x67000001, "qmstart", "100")
FAILED = upid(0x100, 0x67000002, "qmclone", "101")
ORPHAN = upid(0x100, 0x67000003, "qmigrate", "102")


def entry(u, starttime, typ, vmid, status, exitstatus=None, endtime=None):
    e = {"upid": u, "node": NODE, "pid": 0x100, "pstart": 0xABCDEF, "starttime": starttime,
         "type": typ, "id": vmid, "user": ADMIN, "status": status}
    if exitstatus is not None:
        e.update(exitstatus=exitstatus, endtime=endtime)
    return e


def write_log(d, u, starttime, text):
    sub = os.path.join(d.data_dir, "tasks", "%X" % (starttime & 0xF))
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, u), "w") as f:
        f.write(text)


def seed(d):
    """What a corrald killed in the middle of a migration leaves on disk."""
    import json
    entries = [
        entry(OK, 0x67000001, "qmstart", "100", "stopped", "OK", 0x67000010),
        entry(FAILED, 0x67000002, "qmclone", "101", "stopped", "disk full", 0x67000011),
        entry(ORPHAN, 0x67000003, "qmigrate", "102", "running"),
    ]
    text = "".join(f"{e['upid']}\n{json.dumps(e, separators=(',', ':'))}\n" for e in entries)
    subprocess.run(["mdb_load", "-T", "-s", "tasks", os.path.join(d.data_dir, "db")],
                   input=text.encode(), check=True)
    write_log(d, OK, 0x67000001, "starting VM 100\nTASK OK\n")
    write_log(d, FAILED, 0x67000002, "cloning\nTASK ERROR: disk full\n")
    write_log(d, ORPHAN, 0x67000003, "starting migration of VM 102\n")


def connect(d):
    return ProxmoxAPI("127.0.0.1", port=d.port, user=ADMIN, password=d.admin_password,
                      verify_ssl=False)


@suite.test
def test_restart_closes_running(d):
    """a task left running by a dead corrald shows as stopped with 'unexpected status'"""
    st = connect(d).nodes(NODE).tasks(ORPHAN).status.get()
    check_equal(st["status"], "stopped")
    check_equal(st["exitstatus"], "unexpected status")
    check_equal(st["type"], "qmigrate")
    check_equal(st["id"], "102")
    log = connect(d).nodes(NODE).tasks(ORPHAN).log.get()
    check_equal([line["t"] for line in log],
                ["starting migration of VM 102", "TASK ERROR: unexpected status"])


@suite.test
def test_status_fields(d):
    """status has Proxmox's fields and types: numbers stay numbers, id a string"""
    st = connect(d).nodes(NODE).tasks(OK).status.get()
    check_equal(st["upid"], OK)
    check_equal(st["exitstatus"], "OK")
    check_equal(st["pid"], 0x100)
    check_equal(st["pstart"], 0xABCDEF)
    check_equal(st["starttime"], 0x67000001)
    check_equal(st["id"], "100")
    check_equal(st["user"], ADMIN)
    check_equal(len(st["upid"].split(":")), 9, "UPID fields")
    st = connect(d).nodes(NODE).tasks(FAILED).status.get()
    check_equal(st["exitstatus"], "disk full")


@suite.test
def test_list(d):
    """the list is newest first, filters by type and errors, and pages with total"""
    api = connect(d)
    rows = api.nodes(NODE).tasks.get()
    check_equal([r["upid"] for r in rows], [ORPHAN, FAILED, OK])
    check_equal(rows[0]["status"], "unexpected status")
    assert all(isinstance(r["endtime"], int) for r in rows), rows
    check_equal([r["upid"] for r in api.nodes(NODE).tasks.get(typefilter="qmclone")], [FAILED])
    check_equal([r["upid"] for r in api.nodes(NODE).tasks.get(errors=1)], [ORPHAN, FAILED])
    check_equal([r["upid"] for r in api.nodes(NODE).tasks.get(vmid=100)], [OK])
    check_equal([r["upid"] for r in api.nodes(NODE).tasks.get(statusfilter="unknown")], [ORPHAN])
    s = d.session()
    r = s.get(d.url + f"/nodes/{NODE}/tasks", params={"start": 1, "limit": 1})
    body = r.json()
    check_equal(body["total"], 3)
    check_equal([t["upid"] for t in body["data"]], [FAILED])


@suite.test
def test_log_paging(d):
    """the log pages with start/limit, numbers lines from 1 and gives total"""
    s = d.session()
    path = f"/nodes/{NODE}/tasks/{urllib.parse.quote(OK, safe='')}/log"
    body = s.get(d.url + path, params={"start": 1, "limit": 5}).json()
    check_equal(body["data"], [{"n": 2, "t": "TASK OK"}])
    check_equal(body["total"], 2)


@suite.test
def test_bad_upids(d):
    """a malformed or unknown UPID is a 400 with errors.upid"""
    s = d.session()
    r = s.get(d.url + f"/nodes/{NODE}/tasks/UPID:nonsense/status")
    check_equal(r.status_code, 400, r.text)
    check_equal(r.json()["errors"], {"upid": "unable to parse worker upid"})
    unknown = upid(0x1, 0x1, "qmstart", "100")
    r = s.get(d.url + f"/nodes/{NODE}/tasks/{urllib.parse.quote(unknown, safe='')}/status")
    check_equal(r.status_code, 400, r.text)
    check_equal(r.json()["errors"], {"upid": "no such task"})
    r = s.get(d.url + f"/nodes/othernode/tasks/{urllib.parse.quote(OK, safe='')}/status")
    check_equal(r.status_code, 500, r.text)


@suite.test
def test_stop_finished(d):
    """DELETE on a finished task answers null and changes nothing"""
    s = d.session()
    r = s.delete(d.url + f"/nodes/{NODE}/tasks/{urllib.parse.quote(OK, safe='')}")
    check_equal(r.status_code, 200, r.text)
    check_equal(r.json(), {"data": None})
    check_equal(connect(d).nodes(NODE).tasks(OK).status.get()["exitstatus"], "OK")


if __name__ == "__main__":
    daemon = Corrald(node=NODE)
    try:
        daemon.start()
        check_equal(daemon.stop(), 0, "first stop")
        seed(daemon)
        daemon.start()
        suite.run(daemon)
    finally:
        daemon.cleanup()
