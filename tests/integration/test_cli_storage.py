#!/usr/bin/python3
"""`corral storage` verbs (like pvesm) against a live corrald: list, status,
content, upload (multipart from the CLI, checksum), alloc, free, and their
exit statuses on bad input."""
import hashlib
import os
import shutil
import tempfile

from corral_test import Cli, Corrald, Suite, check_equal

suite = Suite("cli storage")
EXIT_API, EXIT_USAGE = 1, 2


@suite.test
def test_list_and_status(cli):
    """storage list shows local with its figures; status of one storage"""
    out = cli.ok("storage", "list")
    assert out.splitlines()[0].split()[:3] == ["storage", "type", "content"], out
    assert "local" in out and "images,import,iso" in out, out
    rows = cli.json("storage", "list", "--content", "iso")
    check_equal([r["storage"] for r in rows], ["local"])
    st = cli.json("storage", "status", "local")
    check_equal((st["type"], st["active"]), ("dir", 1))
    assert st["total"] > 0


@suite.test
def test_upload_content_free(cli):
    """upload an ISO with a checksum, see it in content, free it"""
    tmp = tempfile.mkdtemp(prefix="corral-cli-up-")
    try:
        iso = os.path.join(tmp, "tools.iso")
        with open(iso, "wb") as f:
            f.write(os.urandom(2 << 20))
        digest = hashlib.sha256(open(iso, "rb").read()).hexdigest()
        cli.ok("storage", "upload", "local", iso, "--checksum", digest,
               "--checksum-algorithm", "sha256")
        stored = os.path.join(cli.d.data_dir, "images", "iso", "tools.iso")
        check_equal(hashlib.sha256(open(stored, "rb").read()).hexdigest(), digest)
        rows = cli.json("storage", "content", "local", "--content", "iso")
        check_equal([(r["volid"], r["size"]) for r in rows], [("local:iso/tools.iso", 2 << 20)])
        out = cli.ok("storage", "content", "local")
        assert "local:iso/tools.iso" in out, out
        rc, _, err = cli.run("storage", "upload", "local", iso, "--checksum", "00" * 32,
                             "--checksum-algorithm", "sha256", "--filename", "bad.iso")
        check_equal(rc, EXIT_API, err)
        assert "checksum mismatch" in err, err
        assert not os.path.exists(os.path.join(cli.d.data_dir, "images", "iso", "bad.iso"))
        cli.ok("storage", "free", "local:iso/tools.iso")
        assert not os.path.exists(stored)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@suite.test
def test_alloc_free(cli):
    """alloc a disk (auto and explicit names), free it"""
    check_equal(cli.json("storage", "alloc", "local", "120", "", "4M"),
                "local:120/vm-120-disk-0.qcow2")
    check_equal(cli.json("storage", "alloc", "local", "120", "vm-120-scratch.raw", "1M"),
                "local:120/vm-120-scratch.raw")
    rows = cli.json("storage", "content", "local", "--vmid", "120")
    check_equal(sorted(r["volid"] for r in rows),
                ["local:120/vm-120-disk-0.qcow2", "local:120/vm-120-scratch.raw"])
    cli.ok("storage", "free", "local:120/vm-120-disk-0.qcow2")
    cli.ok("storage", "free", "local:120/vm-120-scratch.raw")
    check_equal(cli.json("storage", "content", "local", "--vmid", "120"), [])


@suite.test
def test_errors(cli):
    """usage errors exit 2, API errors exit 1 with the reason"""
    for args in [("storage",), ("storage", "bogus"), ("storage", "status"),
                 ("storage", "free", "notavolid"), ("storage", "alloc", "local", "120")]:
        rc, _, _ = cli.run(*args)
        check_equal(rc, EXIT_USAGE, args)
    rc, _, err = cli.run("storage", "status", "nope")
    check_equal(rc, EXIT_API)
    assert "storage 'nope' does not exist" in err, err
    rc, _, err = cli.run("storage", "upload", "local", "/etc/hostname", "--content", "iso")
    check_equal(rc, EXIT_API)
    assert "filename" in err, err
    rc, _, err = cli.run("storage", "free", "local:iso/none.iso")
    check_equal(rc, EXIT_API)
    assert "does not exist" in err, err


def main():
    with Corrald(node="clistor") as d:
        cli = Cli(d)
        try:
            suite.run(cli)
        finally:
            shutil.rmtree(cli.home, ignore_errors=True)


if __name__ == "__main__":
    main()
