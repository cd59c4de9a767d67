"""corrald driven by the real Debian python3-proxmoxer (1.2.0): password and
token logins, ticket renewal, nodes, version, nextid, node status, tasks and
user CRUD."""
import requests
from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException

from corral_test import ADMIN, TIMEOUT, Corrald, Suite, check_equal

suite = Suite("proxmoxer")


def connect(d, **kw):
    kw.setdefault("user", ADMIN)
    if "token_name" not in kw:
        kw.setdefault("password", d.admin_password)
    return ProxmoxAPI("127.0.0.1", port=d.port, verify_ssl=False, backend="https",
                      timeout=TIMEOUT, **kw)


@suite.test
def test_login(d):
    """login with user and password"""
    api = connect(d)
    ticket, csrf = api.get_tokens()
    assert ticket.startswith("PVE:admin@pve:"), ticket
    assert csrf and ":" in csrf, csrf


@suite.test
def test_bad_password(d):
    """a wrong password raises AuthenticationError (needs the 401 JSON body)"""
    from proxmoxer.backends.https import AuthenticationError
    try:
        connect(d, password="not-the-password")
    except AuthenticationError:
        return
    raise AssertionError("login with a wrong password succeeded")


@suite.test
def test_nodes(d):
    """nodes.get() lists this node online"""
    nodes = connect(d).nodes.get()
    mine = [n for n in nodes if n["node"] == d.node]
    assert len(mine) == 1, nodes
    check_equal(mine[0]["status"], "online")
    check_equal(mine[0]["type"], "node")
    check_equal(mine[0]["id"], f"node/{d.node}")
    assert isinstance(mine[0]["maxcpu"], int) and mine[0]["maxcpu"] >= 1, mine
    check_equal(mine[0]["ssl_fingerprint"], d.fingerprint(), "ssl_fingerprint")


@suite.test
def test_version(d):
    """version.get() is a Proxmox semver >= 8.0.0"""
    v = connect(d).version.get()
    parts = [int(x) for x in v["version"].split(".")]
    assert len(parts) == 3 and parts >= [8, 0, 0], v
    assert v["release"], v


@suite.test
def test_nextid(d):
    """cluster.nextid.get() is a string"""
    nid = connect(d).cluster.nextid.get()
    assert isinstance(nid, str) and nid.isdigit() and int(nid) >= 100, repr(nid)


@suite.test
def test_node_status(d):
    """nodes(n).status.get() has real figures from /proc"""
    st = connect(d).nodes(d.node).status.get()
    with open("/proc/meminfo") as f:
        total_kb = int(f.readline().split()[1])
    check_equal(st["memory"]["total"], total_kb * 1024, "memory.total")
    assert 0 < st["memory"]["used"] <= st["memory"]["total"], st["memory"]
    assert st["uptime"] > 0, st
    assert len(st["loadavg"]) == 3 and all(isinstance(x, str) for x in st["loadavg"]), st
    assert st["cpuinfo"]["cpus"] >= 1, st["cpuinfo"]
    assert st["rootfs"]["total"] > 0, st["rootfs"]
    assert st["kversion"] and st["pveversion"], st


@suite.test
def test_tasks(d):
    """nodes(n).tasks.get() is a list"""
    tasks = connect(d).nodes(d.node).tasks.get()
    assert isinstance(tasks, list), tasks
    for t in tasks:
        check_equal(len(t["upid"].split(":")), 9, "UPID fields")


@suite.test
def test_ticket_renewal(d):
    """ticket renewal: proxmoxer logs in again with its ticket as the password"""
    api = connect(d)
    auth = api._backend.auth
    old_birth = auth.birth_time
    auth.renew_age = 0
    api.version.get()
    assert auth.birth_time > old_birth, "no renewal happened"
    assert auth.pve_auth_ticket.startswith("PVE:admin@pve:"), auth.pve_auth_ticket
    api.nodes.get()
    # The ticket alone is also a password for a fresh client.
    ticket, _ = api.get_tokens()
    again = connect(d, password=ticket)
    assert again.nodes.get(), "ticket as password refused"


@suite.test
def test_token_auth(d):
    """token auth: create a token through the API, then use it"""
    api = connect(d)
    made = api.access.users(ADMIN).token("pxtest").post(privsep=0, comment="proxmoxer")
    check_equal(made["full-tokenid"], f"{ADMIN}!pxtest")
    tok = connect(d, token_name="pxtest", token_value=made["value"])
    assert tok.version.get()["version"], "token GET failed"
    assert [n for n in tok.nodes.get() if n["node"] == d.node]
    # Non-GET with a token needs no CSRF header.
    tok.access.users.post(userid="tokenmade@pve", comment="by token")
    assert any(u["userid"] == "tokenmade@pve" for u in api.access.users.get())
    bad = connect(d, token_name="pxtest", token_value="00000000-0000-0000-0000-000000000000")
    try:
        bad.version.get()
    except ResourceException as e:
        check_equal(e.status_code, 401)
        return
    raise AssertionError("a wrong token value was accepted")


@suite.test
def test_user_crud(d):
    """user CRUD: create, read, update, list, delete"""
    api = connect(d)
    api.access.users.post(userid="crud@pve", password="Crud-pw-123", comment="first",
                          email="crud@example.com")
    u = api.access.users("crud@pve").get()
    check_equal(u["comment"], "first")
    check_equal(u["email"], "crud@example.com")
    api.access.users("crud@pve").put(comment="second")
    check_equal(api.access.users("crud@pve").get()["comment"], "second")
    listed = [x for x in api.access.users.get() if x["userid"] == "crud@pve"]
    check_equal(len(listed), 1, "listed once")
    check_equal(listed[0]["enable"], 1)
    # The new user can log in (no privileges yet, but authenticated).
    connect(d, user="crud@pve", password="Crud-pw-123").version.get()
    try:
        api.access.users.post(userid="crud@pve")
        raise AssertionError("duplicate user created")
    except ResourceException as e:
        check_equal(e.status_code, 500)
    # proxmoxer 1.2.0 shows only the reason phrase; the message is in the body.
    ticket, csrf = api.get_tokens()
    r = requests.post(d.url + "/access/users", data={"userid": "crud@pve"}, verify=False,
                      timeout=TIMEOUT, cookies={"PVEAuthCookie": ticket},
                      headers={"CSRFPreventionToken": csrf})
    check_equal(r.status_code, 500)
    assert "already exists" in (r.reason + r.json().get("message", "")), r.text
    api.access.users("crud@pve").delete()
    assert not [x for x in api.access.users.get() if x["userid"] == "crud@pve"]
    try:
        api.access.users("crud@pve").get()
        raise AssertionError("deleted user still readable")
    except ResourceException as e:
        assert e.status_code in (404, 500), e


@suite.test
def test_errors_reach_the_client(d):
    """a parameter error reaches proxmoxer as ResourceException 400"""
    api = connect(d)
    try:
        api.access.users.post(comment="no userid")
    except ResourceException as e:
        check_equal(e.status_code, 400)
        return
    raise AssertionError("missing userid accepted")


if __name__ == "__main__":
    with Corrald(node="pxnode") as daemon:
        suite.run(daemon)
