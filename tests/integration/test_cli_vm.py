"""`corral vm` verbs against a live corrald with real QEMU: create, list,
config show and set, start, status, shutdown with forceStop, stop, destroy,
and their exit statuses.  The VM has a blank disk (no guest to boot): QEMU
runs all the same, and a guest without an OS ignores the power button."""
import os
import shutil

from corral_test import Cli, Corrald, Suite, check_equal

suite = Suite("cli vm")
EXIT_API, EXIT_USAGE = 1, 2
VMID = "210"


@suite.test
def test_create_list_config(cli):
    """vm create, list, config (show and set)"""
    out = cli.ok("vm", "create", VMID, "--name", "clivm", "--memory", "128",
                 "--scsi0", "local:1", "--serial0", "socket")
    check_equal(out.strip(), "OK")
    rows = cli.json("vm", "list")
    check_equal([(r["vmid"], r["name"], r["status"]) for r in rows], [(210, "clivm", "stopped")])
    assert "clivm" in cli.ok("vm", "list"), "text table"
    conf = cli.json("vm", "config", VMID)
    check_equal(conf["scsi0"], f"local:{VMID}/vm-{VMID}-disk-0.qcow2,size=1G")
    cli.ok("vm", "config", VMID, "--name", "renamed", "--cores", "2")
    conf = cli.json("vm", "config", VMID)
    check_equal((conf["name"], conf["cores"]), ("renamed", 2))


@suite.test
def test_bad_input(cli):
    """a bad value exits 1 with the parameter error; bad words exit 2"""
    rc, out, err = cli.run("vm", "config", VMID, "--name", "a,b")
    check_equal(rc, EXIT_API, err)
    assert "name" in err, err
    rc, out, err = cli.run("vm", "create", "211", "--scsi0", "/etc/shadow")
    check_equal(rc, EXIT_API, err)
    assert "scsi0" in err, err
    check_equal(cli.run("vm", "start")[0], EXIT_USAGE)
    check_equal(cli.run("vm", "frobnicate", VMID)[0], EXIT_USAGE)
    check_equal(cli.run("vm", "start", "abc")[0], EXIT_USAGE)


@suite.test
def test_power(cli):
    """vm start, status, shutdown (forced after its timeout), start, stop"""
    check_equal(cli.ok("vm", "start", VMID).strip(), "OK")
    st = cli.json("vm", "status", VMID)
    check_equal(st["status"], "running")
    assert isinstance(st["pid"], int), st
    rc, out, err = cli.run("vm", "start", VMID)
    check_equal(rc, EXIT_API, err)
    assert f"VM {VMID} already running" in out + err, (out, err)
    cli.ok("vm", "shutdown", VMID, "--timeout", "2", "--forceStop", "1")
    check_equal(cli.json("vm", "status", VMID)["status"], "stopped")
    cli.ok("vm", "start", VMID)
    cli.ok("vm", "stop", VMID)
    check_equal(cli.json("vm", "status", VMID)["status"], "stopped")


@suite.test
def test_create_and_start(cli):
    """vm create --start 1 leaves the VM running"""
    cli.ok("vm", "create", "212", "--memory", "64", "--start", "1")
    check_equal(cli.json("vm", "status", "212")["status"], "running")
    cli.ok("vm", "stop", "212")
    cli.ok("vm", "destroy", "212")


@suite.test
def test_destroy(cli):
    """vm destroy removes the VM and its disk"""
    cli.ok("vm", "destroy", VMID, "--purge", "1")
    check_equal(cli.json("vm", "list"), [])
    assert not os.path.exists(os.path.join(cli.d.data_dir, "images", "images", VMID))
    rc, out, err = cli.run("vm", "status", VMID)
    check_equal(rc, EXIT_API, err)
    assert "does not exist" in err, err


if __name__ == "__main__":
    with Corrald() as daemon:
        c = Cli(daemon)
        try:
            suite.run(c)
        finally:
            shutil.rmtree(c.home, ignore_errors=True)
