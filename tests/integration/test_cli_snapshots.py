"""`corral vm` verbs for snapshots, templates, clones and resize against a live
corrald, with words as qm takes them: snapshot, listsnapshot, rollback,
delsnapshot, resize, template, clone; their exit statuses on bad input.
The VM is never started (the engine takes the snapshots)."""
from corral_test import Cli, Corrald, Suite, check_equal

suite = Suite("cli snapshots")
EXIT_API, EXIT_USAGE = 1, 2
VMID, CLONE = "220", "221"


@suite.test
def test_snapshots(cli):
    """snapshot, listsnapshot, rollback, delsnapshot"""
    cli.ok("vm", "create", VMID, "--name", "clisnap", "--memory", "128", "--scsi0", "local:1")
    check_equal(cli.ok("vm", "snapshot", VMID, "first", "--description", "one").strip(), "OK")
    cli.ok("vm", "snapshot", VMID, "second")
    rows = cli.json("vm", "listsnapshot", VMID)
    check_equal([r["name"] for r in rows], ["first", "second", "current"])
    check_equal(rows[0]["description"], "one")
    cli.ok("vm", "rollback", VMID, "first")
    check_equal(cli.json("vm", "listsnapshot", VMID)[-1]["parent"], "first")
    cli.ok("vm", "delsnapshot", VMID, "second")
    check_equal([r["name"] for r in cli.json("vm", "listsnapshot", VMID)], ["first", "current"])
    rc, out, err = cli.run("vm", "rollback", VMID, "nope")
    check_equal(rc, EXIT_API, err)
    assert "snapshot 'nope' does not exist" in err, err
    cli.ok("vm", "delsnapshot", VMID, "first")


@suite.test
def test_resize_template_clone(cli):
    """resize, template, a linked clone"""
    cli.ok("vm", "resize", VMID, "scsi0", "+1G")
    check_equal(cli.json("vm", "config", VMID)["scsi0"], f"local:{VMID}/vm-{VMID}-disk-0.qcow2,size=2G")
    rc, out, err = cli.run("vm", "resize", VMID, "scsi0", "1G")
    check_equal(rc, EXIT_API, err)
    assert "shrinking disks is not supported" in err, err
    cli.ok("vm", "template", VMID)
    check_equal(cli.json("vm", "config", VMID)["template"], 1)
    cli.ok("vm", "clone", VMID, CLONE, "--name", "fromcli")
    conf = cli.json("vm", "config", CLONE)
    check_equal((conf["name"], conf["scsi0"]),
                ("fromcli", f"local:{CLONE}/vm-{CLONE}-disk-0.qcow2,size=2G"))
    rc, out, err = cli.run("vm", "destroy", VMID)
    check_equal(rc, EXIT_API, err)
    assert "linked clone" in err, err
    cli.ok("vm", "destroy", CLONE)
    cli.ok("vm", "destroy", VMID)


@suite.test
def test_bad_words(cli):
    """missing or extra words and names that cannot be snapshot names exit 2"""
    check_equal(cli.run("vm", "snapshot", VMID)[0], EXIT_USAGE)
    check_equal(cli.run("vm", "rollback", VMID, "a", "b")[0], EXIT_USAGE)
    check_equal(cli.run("vm", "rollback", VMID, "../x")[0], EXIT_USAGE)
    check_equal(cli.run("vm", "resize", VMID, "scsi0")[0], EXIT_USAGE)
    check_equal(cli.run("vm", "clone", "abc", "300")[0], EXIT_USAGE)


def main():
    with Corrald() as d:
        suite.run(Cli(d))


if __name__ == "__main__":
    main()
