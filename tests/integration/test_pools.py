"""Resource pools on a real corrald through the real Debian python3-proxmoxer,
with the calls Ansible's proxmox_pool / proxmox_pool_member and Terraform
make: pools.post, pools.get(poolid=)[0], pools.put(poolid=) and the legacy
pools(poolid).put/get/delete, a VM created with pool=, a user holding
PVEVMUser on /pool/<id> (the pool's VMs only), /cluster/resources pool rows
and fields, destroy leaving the pool, pools kept across a restart, and the
`corral pool` verbs."""
import shutil

from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException

from corral_test import ADMIN, TIMEOUT, Cli, Corrald, Suite, check_equal, wait_task

suite = Suite("pools")
NODE = "poolnode"
USER, USER_PW = "pooluser@pve", "Po0l-user-pw"


def connect(d, user=ADMIN, password=None):
    return ProxmoxAPI("127.0.0.1", port=d.port, verify_ssl=False, backend="https",
                      timeout=TIMEOUT, user=user, password=password or d.admin_password)


def refused(fn, status, text):
    try:
        fn()
    except ResourceException as e:
        msg = f"{e} {getattr(e, 'errors', None) or ''}"
        check_equal(e.status_code, status, msg)
        assert text in msg, (text, msg)
        return
    raise AssertionError(f"call succeeded, expected {status} {text!r}")


def task_ok(d, api, upid):
    status, log = wait_task(d.session(), d, upid)
    check_equal(status, "OK", log)


@suite.test
def test_ansible_calls(d):
    """create, read with ?poolid=, update (both forms), refusals, delete"""
    api = connect(d)
    api.pools.post(poolid="web", comment="Web servers")
    refused(lambda: api.pools.post(poolid="web"), 500, "pool 'web' already exists")
    refused(lambda: api.pools.post(poolid="a/b"), 400, "Parameter verification failed")
    pool = api.pools.get(poolid="web")[0]
    check_equal(pool["poolid"], "web")
    check_equal(pool["comment"], "Web servers")
    check_equal(pool["members"], [])
    assert "web" in [p["poolid"] for p in api.pools.get()]
    api.pools.put(poolid="web", comment="Front ends")
    api.pools("web").put(storage="local")
    got = api.pools("web").get()
    check_equal(got["comment"], "Front ends")
    check_equal([(m["type"], m["id"]) for m in got["members"]],
                [("storage", f"storage/{NODE}/local")])
    refused(lambda: api.pools.put(poolid="web", storage="local"), 500,
            "Storage 'local' is already a pool member")
    refused(lambda: api.pools.delete(poolid="web"), 500,
            "pool 'web' is not empty (contains storage 'local')")
    api.pools.put(poolid="web", storage="local", delete=1)
    api.pools.delete(poolid="web")
    assert "web" not in [p["poolid"] for p in api.pools.get()]
    refused(lambda: api.pools("web").get(), 500, "pool 'web' does not exist")


@suite.test
def test_vm_in_pool(d):
    """a VM created with pool= is a member; moving needs allow-move; resources show it"""
    api = connect(d)
    api.pools.post(poolid="dev")
    api.pools.post(poolid="ops")
    task_ok(d, api, api.nodes(NODE).qemu.post(vmid=300, name="dev-a", memory=64, pool="dev"))
    task_ok(d, api, api.nodes(NODE).qemu.post(vmid=301, name="other", memory=64))
    members = api.pools.get(poolid="dev")[0]["members"]
    check_equal([(m["id"], m["type"], m["vmid"], m["node"], m["name"]) for m in members],
                [("qemu/300", "qemu", 300, NODE, "dev-a")])
    refused(lambda: api.pools.put(poolid="ops", vms="300"), 500,
            "VM 300 belongs already to pool 'dev' and allow-move is not set")
    api.pools.put(poolid="ops", vms="300", **{"allow-move": 1})
    check_equal(api.pools.get(poolid="dev")[0]["members"], [])
    api.pools.put(poolid="dev", vms="300", **{"allow-move": 1})
    # proxmox_pool_member passes one-element lists
    api.pools("ops").put(vms=[301])
    check_equal([m["vmid"] for m in api.pools("ops").get()["members"]], [301])
    api.pools("ops").put(vms=[301], delete=1)
    res = api.cluster.resources.get()
    vms = {r["vmid"]: r for r in res if r["type"] == "qemu"}
    check_equal(vms[300].get("pool"), "dev")
    assert "pool" not in vms[301], vms[301]
    pools = sorted(r["pool"] for r in res if r["type"] == "pool")
    check_equal(pools, ["dev", "ops"])
    check_equal(sorted(r["id"] for r in res if r["type"] == "pool"), ["/pool/dev", "/pool/ops"])
    # as in Proxmox, "pool" is no ?type= filter
    refused(lambda: api.cluster.resources.get(type="pool"), 400, "Parameter verification failed")


@suite.test
def test_pool_user(d):
    """PVEVMUser on /pool/dev reads the pool's VM and not another one"""
    api = connect(d)
    api.access.users.post(userid=USER, password=USER_PW)
    api.access.acl.put(path="/pool/dev", users=USER, roles="PVEVMUser")
    user = connect(d, USER, USER_PW)
    check_equal(user.nodes(NODE).qemu(300).status.current.get()["vmid"], 300)
    refused(lambda: user.nodes(NODE).qemu(301).status.current.get(), 403,
            "Permission check failed")
    check_equal(sorted(v["vmid"] for v in user.nodes(NODE).qemu.get()), [300])
    refused(lambda: user.pools.post(poolid="mine"), 403, "Pool.Allocate")
    refused(lambda: user.nodes(NODE).qemu.post(vmid=302, pool="dev"), 403,
            "Permission check failed")


@suite.test
def test_destroy_and_restart(d):
    """destroy takes the VM out of its pool; pools survive a restart"""
    api = connect(d)
    task_ok(d, api, api.nodes(NODE).qemu(300).delete())
    check_equal(api.pools.get(poolid="dev")[0]["members"], [])
    api.pools.put(poolid="dev", comment="kept")
    d.stop()
    d.start()
    api = connect(d)
    check_equal(api.pools("dev").get().get("comment"), "kept")
    api.pools.delete(poolid="dev")
    task_ok(d, api, api.nodes(NODE).qemu(301).delete())
    api.pools.delete(poolid="ops")
    check_equal(api.pools.get(), [])


@suite.test
def test_cli(d):
    """corral pool create|list|set|show|delete"""
    cli = Cli(d)
    try:
        cli.ok("pool", "create", "clip", "--comment", "from the cli")
        out = cli.ok("pool", "list")
        check_equal(out.splitlines()[0].split(), ["poolid", "comment"])
        assert any(line.split()[0] == "clip" and "from the cli" in line
                   for line in out.splitlines()[1:]), out
        cli.ok("pool", "set", "clip", "--storage", "local")
        members = cli.json("pool", "show", "clip")
        check_equal([(m["id"], m["type"]) for m in members], [(f"storage/{NODE}/local", "storage")])
        rc, _, err = cli.run("pool", "delete", "clip")
        check_equal(rc, 1, err)
        assert "is not empty (contains storage 'local')" in err, err
        cli.ok("pool", "set", "clip", "--storage", "local", "--delete", "1")
        cli.ok("pool", "delete", "clip")
        check_equal([p["poolid"] for p in cli.json("pool", "list")], [])
        rc, _, err = cli.run("pool", "show", "../x")
        check_equal(rc, 2, err)
    finally:
        shutil.rmtree(cli.home, ignore_errors=True)


if __name__ == "__main__":
    with Corrald(node=NODE) as daemon:
        suite.run(daemon)
