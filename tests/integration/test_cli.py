"""bin/corral against a live corrald: trust on first use and pinning, login,
`api` verbs and output formats, error exit statuses, API tokens and
password logins from the environment."""
import json
import os
import pty
import re
import select
import shutil
import stat
import sys
import tempfile
import time

from corral_test import ADMIN, Cli, Corrald, Suite, binary, check_equal, seed_tasks, task_upid

suite = Suite("cli")
EXIT_API, EXIT_USAGE, EXIT_CONN, EXIT_AUTH = 1, 2, 3, 4


def login(cli, fp=None, password=None):
    args = ["login", "--password-stdin"] + (["--fingerprint", fp] if fp else [])
    return cli.run(*args, stdin=(password or cli.d.admin_password) + "\n")


@suite.test
def test_unknown_certificate_refused(d, tmp):
    """without a terminal, an unknown certificate is refused (exit 3) and shown"""
    cli = Cli(d, os.path.join(tmp, "unknown"), login=False)
    rc, out, err = login(cli)
    check_equal(rc, EXIT_CONN, f"exit status ({err})")
    assert d.fingerprint() in err, err
    assert not os.path.exists(cli.path("session.json"))
    known = cli.path("known_hosts")
    assert not os.path.exists(known) or d.fingerprint() not in open(known).read()


@suite.test
def test_login_with_fingerprint(d, tmp):
    """login --fingerprint: session.json (0600) and known_hosts written"""
    cli = Cli(d, os.path.join(tmp, "pinned"), login=False)
    rc, out, err = login(cli, d.fingerprint().lower().replace(":", ""))
    check_equal(rc, 0, f"exit status ({err})")
    session = cli.path("session.json")
    check_equal(stat.S_IMODE(os.stat(session).st_mode), 0o600, "session.json mode")
    with open(session) as f:
        s = json.load(f)
    assert s["ticket"].startswith("PVE:admin@pve:"), s
    assert s["CSRFPreventionToken"], s
    check_equal(s["port"], d.port)
    with open(cli.path("known_hosts")) as f:
        check_equal(f.read(), f"127.0.0.1:{d.port} {d.fingerprint()}\n", "known_hosts")
    # Later calls need neither the fingerprint nor the host.
    rc, out, err = cli.run("api", "get", "/nodes", "--output-format", "json", host=False)
    check_equal(rc, 0, err)
    nodes = json.loads(out)
    check_equal([n["node"] for n in nodes], [d.node])


def logged_in(d, tmp, name):
    cli = Cli(d, os.path.join(tmp, name), login=False)
    rc, _, err = login(cli, d.fingerprint())
    check_equal(rc, 0, err)
    return cli


@suite.test
def test_output_formats(d, tmp):
    """text tables, key/value lines, json and json-pretty"""
    cli = logged_in(d, tmp, "formats")
    rc, out, err = cli.run("nodes")
    check_equal(rc, 0, err)
    lines = out.splitlines()
    assert re.match(r"^node\s", lines[0]) and "status" in lines[0], out
    assert set(lines[1]) <= {"-", " "}, out
    assert lines[2].startswith(d.node) and "online" in lines[2], out
    rc, out, err = cli.run("version")
    check_equal(rc, 0, err)
    assert re.search(r"^version:\s+8\.\d+\.\d+$", out, re.M), out
    rc, out, err = cli.run("api", "get", "/version", "--output-format", "json-pretty")
    check_equal(rc, 0, err)
    assert "\n" in out.strip() and json.loads(out)["version"], out
    rc, out, err = cli.run("api", "get", "/cluster/nextid", "--output-format", "json")
    check_equal(rc, 0, err)
    assert isinstance(json.loads(out), str), out
    rc, out, err = cli.run("tasks")
    check_equal(rc, 0, err)


@suite.test
def test_api_verbs(d, tmp):
    """api create/get/set/delete map to POST/GET/PUT/DELETE with parameters"""
    cli = logged_in(d, tmp, "verbs")
    rc, out, err = cli.run("api", "create", "/access/users", "--userid", "cli@pve",
                           "--comment", "a b&c=d é")
    check_equal(rc, 0, err)
    rc, out, err = cli.run("api", "get", "/access/users/cli@pve", "--output-format", "json")
    check_equal(rc, 0, err)
    check_equal(json.loads(out)["comment"], "a b&c=d é")
    rc, out, err = cli.run("api", "set", "/access/users/cli@pve", "--comment=second")
    check_equal(rc, 0, err)
    rc, out, err = cli.run("api", "get", "/access/users", "--output-format", "json")
    users = {u["userid"]: u for u in json.loads(out)}
    check_equal(users["cli@pve"]["comment"], "second")
    rc, out, err = cli.run("api", "delete", "/access/users/cli@pve")
    check_equal(rc, 0, err)
    rc, out, err = cli.run("api", "get", "/access/users", "--output-format", "json")
    assert "cli@pve" not in {u["userid"] for u in json.loads(out)}, out


@suite.test
def test_api_errors(d, tmp):
    """API errors: exit 1 with status, reason and the errors map"""
    cli = logged_in(d, tmp, "errors")
    rc, out, err = cli.run("api", "create", "/access/users", "--comment", "x")
    check_equal(rc, EXIT_API, err)
    assert err.startswith("corral: 400 Parameter verification failed.\n"), err
    assert re.search(r"^  userid: property is missing", err, re.M), err
    rc, out, err = cli.run("api", "get", "/nope")
    check_equal(rc, EXIT_API, err)
    check_equal(err, "corral: 501 Method 'GET /nope' not implemented\n")


@suite.test
def test_login_with_realm(d, tmp):
    """login --user NAME --realm pve sends the realm apart, as Proxmox clients do"""
    cli = Cli(d, os.path.join(tmp, "realm"), login=False)
    rc, out, err = cli.run("login", "--user", "admin", "--realm", "pve", "--password-stdin",
                           "--fingerprint", d.fingerprint(), stdin=d.admin_password + "\n")
    check_equal(rc, 0, err)
    with open(cli.path("session.json")) as f:
        check_equal(json.load(f)["username"], ADMIN)


@suite.test
def test_task_of_unknown_upid(d, tmp):
    """task status/log of a UPID the node does not know is an API error (exit 1)"""
    cli = logged_in(d, tmp, "tasks")
    upid = f"UPID:{d.node}:00000001:00000002:5F5E1000:qmstart:100:root@pam:"
    for verb in ("status", "log", "wait"):
        rc, out, err = cli.run("task", verb, upid)
        check_equal(rc, EXIT_API, f"{verb}: {err}")
        assert re.match(r"corral: [45]\d\d ", err), err


@suite.test
def test_task_verbs(d, tmp):
    """tasks, task log (paged past 500 lines), task status and task wait on real tasks"""
    node = Corrald(node="clitasks", data_dir=os.path.join(tmp, "clitasks"))
    ok = task_upid("clitasks", 0x100, 0x67000001, "qmstart", "100")
    bad = task_upid("clitasks", 0x100, 0x67000002, "qmclone", "101")
    lines = [f"step {i}" for i in range(1, 621)] + ["TASK OK"]
    try:
        check_equal(node.start().stop(), 0)
        seed_tasks(node, [(ok, 0x67000001, "stopped", "OK", "\n".join(lines) + "\n"),
                          (bad, 0x67000002, "stopped", "disk full",
                           "cloning\nTASK ERROR: disk full\n")])
        node.start()
        cli = logged_in(node, tmp, "taskverbs")
        rc, out, err = cli.run("task", "log", ok)
        check_equal(rc, 0, err)
        check_equal(out.splitlines(), lines, "log lines")
        rc, out, err = cli.run("task", "wait", ok)
        check_equal((rc, out), (0, "OK\n"), err)
        rc, out, err = cli.run("task", "wait", bad)
        check_equal(rc, EXIT_API, err)
        check_equal(err, "corral: task failed: disk full\n")
        rc, out, err = cli.run("task", "status", bad, "--output-format", "json")
        check_equal(rc, 0, err)
        st = json.loads(out)
        check_equal((st["status"], st["exitstatus"], st["upid"]), ("stopped", "disk full", bad))
        rc, out, err = cli.run("tasks", "--output-format", "json")
        check_equal(rc, 0, err)
        check_equal(sorted(t["upid"] for t in json.loads(out)), sorted([ok, bad]))
        rc, out, err = cli.run("tasks")
        check_equal(rc, 0, err)
        assert out.startswith("starttime") and ok in out and bad in out, out
    finally:
        node.cleanup()


@suite.test
def test_session_renewal(d, tmp):
    """a session older than an hour is renewed (ticket as password); past 2 h it has expired"""
    cli = logged_in(d, tmp, "renew")
    path = cli.path("session.json")
    with open(path) as f:
        s = json.load(f)
    s["time"] -= 3700
    with open(path, "w") as f:
        json.dump(s, f)
    rc, out, err = cli.run("nodes")
    check_equal(rc, 0, err)
    with open(path) as f:
        renewed = json.load(f)
    assert renewed["time"] > s["time"] + 3600, (s["time"], renewed["time"])
    assert renewed["ticket"].startswith("PVE:admin@pve:"), renewed
    check_equal(stat.S_IMODE(os.stat(path).st_mode), 0o600, "mode after renewal")
    renewed["time"] -= 7300
    with open(path, "w") as f:
        json.dump(renewed, f)
    rc, out, err = cli.run("nodes")
    check_equal(rc, EXIT_AUTH, err)
    assert "expired" in err, err


@suite.test
def test_usage_errors(d, tmp):
    """usage errors exit 2; --help documents the exit statuses"""
    cli = Cli(d, os.path.join(tmp, "usage"), login=False)
    for args in (["api", "frob", "/x"], ["api", "get"], ["nodes", "--bogus", "1"],
                 ["frobnicate"], ["api", "get", "/x", "--output-format", "yaml"],
                 ["task", "log", "not-a-upid"], []):
        rc, out, err = cli.run(*args, host=False)
        check_equal(rc, EXIT_USAGE, f"{args}: {err}")
    rc, out, err = cli.run("--help", host=False)
    check_equal(rc, 0)
    for code in "01234":
        assert re.search(rf"^  {code}  ", out, re.M), out


@suite.test
def test_auth_failures(d, tmp):
    """bad password and missing session exit 4"""
    cli = Cli(d, os.path.join(tmp, "auth"), login=False)
    rc, out, err = login(cli, d.fingerprint(), password="wrong")
    check_equal(rc, EXIT_AUTH, err)
    assert "401 authentication failure" in err, err
    rc, out, err = cli.run("nodes")
    check_equal(rc, EXIT_AUTH, err)
    assert "corral login" in err, err


@suite.test
def test_changed_fingerprint(d, tmp):
    """a changed or wrongly pinned certificate is refused with exit 3"""
    cli = logged_in(d, tmp, "changed")
    real = d.fingerprint()
    fake = ":".join(["AB"] * 32)
    with open(cli.path("known_hosts"), "w") as f:
        f.write(f"127.0.0.1:{d.port} {fake}\n")
    rc, out, err = cli.run("nodes")
    check_equal(rc, EXIT_CONN, err)
    assert "CHANGED" in err and real in err, err
    rc, out, err = cli.run("nodes", "--fingerprint", fake)
    check_equal(rc, EXIT_CONN, err)
    # An explicit pin of the real certificate resolves it and is remembered.
    rc, out, err = cli.run("nodes", "--fingerprint", real)
    check_equal(rc, 0, err)
    rc, out, err = cli.run("nodes")
    check_equal(rc, 0, err)
    rc, out, err = cli.run("nodes", "--fingerprint", "12:34")
    check_equal(rc, EXIT_USAGE, err)


@suite.test
def test_token_from_environment(d, tmp):
    """CORRAL_API_TOKEN authenticates without a session, also for POST"""
    s = d.session()
    r = s.post(d.url + f"/access/users/{ADMIN}/token/clitok", data={"privsep": 0})
    check_equal(r.status_code, 200, r.text)
    token = f"{ADMIN}!clitok={r.json()['data']['value']}"
    cli = Cli(d, os.path.join(tmp, "token"), login=False)
    env = {"CORRAL_API_TOKEN": token}
    rc, out, err = cli.run("api", "get", "/nodes", "--output-format", "json", "--fingerprint",
                           d.fingerprint(), env=env)
    check_equal(rc, 0, err)
    check_equal([n["node"] for n in json.loads(out)], [d.node])
    rc, out, err = cli.run("api", "create", "/access/users", "--userid", "tokcli@pve", env=env)
    check_equal(rc, 0, err)
    rc, out, err = cli.run("nodes", env={"CORRAL_API_TOKEN": token[:-3] + "zzz"})
    check_equal(rc, EXIT_AUTH, err)


@suite.test
def test_password_from_environment(d, tmp):
    """CORRAL_HOST=host:port and CORRAL_PASSWORD work without a session"""
    cli = Cli(d, os.path.join(tmp, "envpw"), login=False)
    env = {"CORRAL_HOST": f"127.0.0.1:{d.port}", "CORRAL_PASSWORD": d.admin_password,
           "CORRAL_FINGERPRINT": d.fingerprint()}
    rc, out, err = cli.run("api", "get", "/version", "--output-format", "json", env=env,
                           host=False)
    check_equal(rc, 0, err)
    assert json.loads(out)["version"].startswith("8."), out
    assert not os.path.exists(cli.path("session.json"))


def run_on_tty(argv, env, answers, timeout=60):
    """Runs ARGV on a new pseudo-terminal; ANSWERS maps a prompt regex to the
    line typed when it appears.  Returns (exit status, everything shown)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    shown, pending = b"", list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                shown += chunk
            if pending and re.search(pending[0][0], shown.decode("utf-8", "replace")):
                os.write(fd, pending[0][1].encode() + b"\n")
                shown += b"<typed>"
                pending.pop(0)
    finally:
        os.close(fd)
    for _ in range(100):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), shown.decode("utf-8", "replace")
        time.sleep(0.1)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError(f"corral did not finish:\n{shown!r}")


@suite.test
def test_trust_on_first_use_tty(d, tmp):
    """on a terminal: fingerprint shown, accepted, stored; password asked without echo"""
    cli = Cli(d, os.path.join(tmp, "tofu"), login=False)
    argv = [binary("corral"), "login", "--host", "127.0.0.1", "--port", str(d.port)]
    rc, shown = run_on_tty(argv, cli.env({}), [(r"\[y/N\]", "y"),
                                               (r"Password for admin@pve: ", d.admin_password)])
    check_equal(rc, 0, shown)
    assert d.fingerprint() in shown, shown
    assert d.admin_password not in shown, "password echoed"
    with open(cli.path("known_hosts")) as f:
        assert d.fingerprint() in f.read()
    rc, out, err = cli.run("nodes")
    check_equal(rc, 0, err)
    # Refusing on another node's first use leaves nothing behind.
    other = Cli(d, os.path.join(tmp, "tofu-no"), login=False)
    rc, shown = run_on_tty(argv, other.env({}), [(r"\[y/N\]", "n")])
    check_equal(rc, EXIT_CONN, shown)
    assert not os.path.exists(other.path("session.json"))


@suite.test
def test_replaced_certificate(d, tmp):
    """a node that comes back with a new certificate is refused (exit 3)"""
    first = Corrald(node="cert1", data_dir=os.path.join(tmp, "cert1"))
    with first:
        cli = logged_in(first, tmp, "replaced")
        old = f"127.0.0.1:{first.port} "
    # The same address with another certificate: the entry trusted for the
    # first node now names the second one's port (no port is reused, so no
    # other process can take it in between).
    with Corrald(node="cert2", data_dir=os.path.join(tmp, "cert2")) as second:
        with open(cli.path("known_hosts")) as f:
            text = f.read()
        assert text.startswith(old), text
        with open(cli.path("known_hosts"), "w") as f:
            f.write(text.replace(old, f"127.0.0.1:{second.port} "))
        cli.d = second
        rc, out, err = cli.run("nodes", env={"CORRAL_PASSWORD": second.admin_password})
        check_equal(rc, EXIT_CONN, err)
        assert "CHANGED" in err and second.fingerprint() in err, err


if __name__ == "__main__":
    top = tempfile.mkdtemp(prefix="corral-cli-")
    try:
        with Corrald(node="clinode") as daemon:
            _, failed = suite.run(daemon, top, exit=False)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    sys.exit(1 if failed else 0)
