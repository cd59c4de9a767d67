"""Helpers for Corral's integration suites: start a real corrald on a free
loopback port in a temporary data directory, talk to it over TLS, and report
results as "ok - name" / "not ok - name" lines with a closing
"N passed, N failed" (exit status 1 on any failure).

Standard library and requests only; run with Debian's /usr/bin/python3.
Every network call has a timeout and every test runs under an alarm, so a
suite never hangs.
"""
import atexit
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

import requests
import urllib3

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
warnings.filterwarnings("ignore", message="Unverified HTTPS request")

ROOT = os.environ.get("CORRAL_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# CORRAL_BINDIR lets a private build (make O=build/x) be tested.
BINDIR = os.environ.get("CORRAL_BINDIR") or os.path.join(ROOT, "bin")
TIMEOUT = 15          # seconds for any single request
TEST_ALARM = 180      # seconds for any single test
ADMIN = "admin@pve"

_running = []


def binary(name):
    """Path of bin/NAME (corrald, corral)."""
    return os.path.join(BINDIR, name)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Session(requests.Session):
    """requests.Session that never verifies the self-signed certificate and
    always has a timeout."""

    def __init__(self):
        super().__init__()
        self.verify = False

    def request(self, method, url, **kw):
        kw.setdefault("timeout", TIMEOUT)
        # Per request: REQUESTS_CA_BUNDLE in the environment beats self.verify.
        kw.setdefault("verify", False)
        return super().request(method, url, **kw)


class Corrald:
    """One corrald process on 127.0.0.1:<free port> with its own data dir.

    Use as a context manager; stop() sends SIGTERM (SIGKILL after a timeout),
    cleanup() also removes the data directory."""

    def __init__(self, node="corral-test", admin_password="Adm1n-test-pw", data_dir=None,
                 port=None, env=None, args=()):
        self.node = node
        self.admin_password = admin_password
        self.own_dir = data_dir is None
        if self.own_dir:
            self.top = tempfile.mkdtemp(prefix="corral-test-")
            data_dir = os.path.join(self.top, "data")
        self.data_dir = os.path.abspath(data_dir)
        self.port = port or free_port()
        self.base = f"https://127.0.0.1:{self.port}"
        self.url = self.base + "/api2/json"
        self.extra_env = env or {}
        self.args = list(args)
        self.proc = None
        # Beside the data dir, so that corrald creates the data dir itself.
        self.log_path = self.data_dir.rstrip("/") + f"-corrald-{self.port}.log"
        self.log_pos = 0

    # --- process ---

    def command(self):
        return [binary("corrald"), "--data-dir", self.data_dir,
                "--listen", f"127.0.0.1:{self.port}", "--node", self.node] + self.args

    def start(self, wait=True, timeout=30):
        env = dict(os.environ)
        env.pop("CORRAL_ADMIN_PASSWORD", None)
        if self.admin_password is not None:
            env["CORRAL_ADMIN_PASSWORD"] = self.admin_password
        env.update(self.extra_env)
        log = open(self.log_path, "ab")
        self.log_pos = log.tell()
        self.proc = subprocess.Popen(self.command(), env=env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        _running.append(self)
        if wait:
            self.wait_ready(timeout)
        return self

    def log(self):
        """What this run of corrald wrote to stdout and stderr so far."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_pos)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_ready(self, timeout=30):
        """Waits until GET /api2/json/version answers over TLS (any HTTP
        status: without a ticket it is a 401)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"corrald exited with {self.proc.returncode}:\n{self.log()}")
            try:
                r = requests.get(self.url + "/version", verify=False, timeout=5,
                                 headers=self._probe_headers())
                if r.status_code:
                    return
            except requests.RequestException as e:
                last = e
            time.sleep(0.1)
        raise RuntimeError(f"corrald did not answer within {timeout}s ({last}):\n{self.log()}")

    def _probe_headers(self):
        # A forged-looking cookie still gets an answer; with a password we can
        # do better and skip the 401 delay by logging in once the port is open.
        if self.admin_password is None or not self._port_open():
            return {}
        try:
            ticket, _ = self.login()
            return {"Cookie": f"PVEAuthCookie={ticket}"}
        except Exception:
            return {}

    def _port_open(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Stops corrald with SIG (SIGKILL after TIMEOUT s); returns its exit code."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)
        return self.proc.returncode

    def kill(self):
        """kill -9."""
        return self.stop(signal.SIGKILL)

    def kill_vms(self):
        """SIGKILL every QEMU this corrald left running (they outlive corrald
        by design), found by the pidfiles in its run directory."""
        run = os.path.join(self.data_dir, "run")
        for name in os.listdir(run) if os.path.isdir(run) else ():
            if not name.endswith(".pid"):
                continue
            try:
                with open(os.path.join(run, name)) as f:
                    os.kill(int(f.read().strip()), signal.SIGKILL)
            except (OSError, ValueError):
                pass

    def cleanup(self):
        self.stop()
        if self in _running:
            _running.remove(self)
        if self.own_dir:
            self.kill_vms()
            shutil.rmtree(self.top, ignore_errors=True)

    def __enter__(self):
        if not self.proc:
            self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # --- API ---

    def login(self, user=ADMIN, password=None):
        """POST /access/ticket; returns (ticket, CSRFPreventionToken)."""
        r = requests.post(self.url + "/access/ticket", verify=False, timeout=TIMEOUT,
                          data={"username": user, "password": password or self.admin_password})
        r.raise_for_status()
        d = r.json()["data"]
        return d["ticket"], d["CSRFPreventionToken"]

    def session(self, user=ADMIN, password=None):
        """A Session logged in as USER: ticket cookie plus the CSRF header."""
        ticket, csrf = self.login(user, password)
        s = Session()
        s.cookies.set("PVEAuthCookie", ticket)
        s.headers["CSRFPreventionToken"] = csrf
        return s

    def fingerprint(self):
        """SHA-256 fingerprint of the certificate the node presents, AA:BB:..."""
        return tls_fingerprint("127.0.0.1", self.port)


def task_upid(node, pid, starttime, typ, vmid, user=ADMIN):
    """A UPID in Proxmox's format (9 fields, uppercase hex)."""
    return f"UPID:{node}:{pid:08X}:00ABCDEF:{starttime:08X}:{typ}:{vmid}:{user}:"


def seed_tasks(d, tasks):
    """Leaves TASKS in a stopped corrald's data dir as an earlier run would:
    index entries in LMDB (written with lmdb-utils' mdb_load) and log files.
    TASKS is a list of (upid, starttime, status, exitstatus or None, log text)."""
    import json
    index, node = "", d.node
    for upid, start, status, exitstatus, log in tasks:
        f = upid.split(":")
        e = {"upid": upid, "node": node, "pid": int(f[2], 16), "pstart": int(f[3], 16),
             "starttime": start, "type": f[5], "id": f[6], "user": f[7], "status": status}
        if exitstatus is not None:
            e.update(exitstatus=exitstatus, endtime=start + 1)
        index += f"{upid}\n{json.dumps(e, separators=(',', ':'))}\n"
        sub = os.path.join(d.data_dir, "tasks", "%X" % (start & 0xF))
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, upid), "w") as out:
            out.write(log)
    subprocess.run(["mdb_load", "-T", "-s", "tasks", os.path.join(d.data_dir, "db")],
                   input=index.encode(), check=True, timeout=TIMEOUT)


def wait_for(what, fn, timeout=60, step=0.2):
    """FN's first true value, polling every STEP seconds; an exception from
    FN counts as not yet (the last one is reported on timeout)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
            last = v
        except Exception as e:  # noqa: B902 - keep polling, report the last
            last = e
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def wait_task(s, d, upid, node=None, timeout=150):
    """(exitstatus, log text) of task UPID on NODE (D's node by default) once
    it has stopped, through the requests session S."""
    import urllib.parse
    url = f"{d.url}/nodes/{node or d.node}/tasks/{urllib.parse.quote(upid, safe='')}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = s.get(f"{url}/status", timeout=TIMEOUT).json()["data"]
        if st["status"] == "stopped":
            log = s.get(f"{url}/log", params={"limit": 1000}, timeout=TIMEOUT).json()["data"]
            return st["exitstatus"], "\n".join(x["t"] for x in log)
        assert "exitstatus" not in st, st
        time.sleep(0.1)
    raise AssertionError(f"task {upid} still running after {timeout}s")


def expect_error(r, status, text, param=None):
    """Response R has STATUS with TEXT in its reason or body (and an entry
    for PARAM in its errors map, when given)."""
    body = r.text or ""
    if r.status_code != status or text not in r.reason + body:
        raise AssertionError(f"want {status} '{text}', got {r.status_code} {r.reason} {body}")
    if param is not None and param not in r.json().get("errors", {}):
        raise AssertionError(f"no error on '{param}': {body}")


def file_sha256(path):
    """Hex SHA-256 of a file's content, read in 1 MiB chunks."""
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Cli:
    """Runs bin/corral against corrald D with a private HOME (a new temporary
    one unless given) and no controlling terminal.  With login, every call
    carries the admin password (environment) and the node's fingerprint."""

    def __init__(self, d, home=None, login=True):
        self.d = d
        self.home = home or tempfile.mkdtemp(prefix="corral-cli-")
        self.fp = d.fingerprint() if login else None

    def env(self, extra=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
        env.pop("XDG_CONFIG_HOME", None)
        env["HOME"] = self.home
        if self.fp:
            env.update(CORRAL_USER=ADMIN, CORRAL_PASSWORD=self.d.admin_password)
        env.update(extra or {})
        return env

    def run(self, *args, stdin=None, env=None, host=True, timeout=120):
        """(exit status, stdout, stderr) of `corral ARGS`."""
        argv = [binary("corral")] + list(args)
        if host:
            argv += ["--host", "127.0.0.1", "--port", str(self.d.port)]
            argv += ["--fingerprint", self.fp] if self.fp else []
        p = subprocess.run(argv, input=(stdin or "").encode(), capture_output=True,
                           env=self.env(env), timeout=timeout, start_new_session=True)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def ok(self, *args):
        rc, out, err = self.run(*args)
        check_equal(rc, 0, f"corral {' '.join(args)}: {err}")
        return out

    def json(self, *args):
        import json
        return json.loads(self.ok(*args, "--output-format", "json"))

    def path(self, name):
        """A file of the CLI's configuration directory."""
        return os.path.join(self.home, ".config", "corral", name)


def tls_fingerprint(host, port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            der = s.getpeercert(binary_form=True)
    import hashlib
    h = hashlib.sha256(der).hexdigest().upper()
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


@atexit.register
def _stop_all():
    for d in list(_running):
        try:
            d.cleanup()
        except Exception:
            pass


class _Alarm(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Alarm(f"test took longer than {TEST_ALARM}s")


class Suite:
    """A tiny test registry: @suite.test registers a function; run() calls
    each with ARGS and prints TAP-like lines and the closing count."""

    def __init__(self, name):
        self.name = name
        self.tests = []

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def run(self, *args, exit=True):
        passed = failed = 0
        signal.signal(signal.SIGALRM, _on_alarm)
        only = os.environ.get("CORRAL_TEST_ONLY")
        for fn in self.tests:
            name = fn.__name__[5:] if fn.__name__.startswith("test_") else fn.__name__
            name = (fn.__doc__ or name).strip().splitlines()[0]
            if only and only not in fn.__name__:
                continue
            signal.alarm(TEST_ALARM)
            start = time.monotonic()
            try:
                fn(*args)
                print(f"ok - {name} ({time.monotonic() - start:.1f}s)", flush=True)
                passed += 1
            except BaseException as e:  # noqa: B902 - report everything, even SystemExit
                if isinstance(e, KeyboardInterrupt):
                    raise
                print(f"not ok - {name} ({time.monotonic() - start:.1f}s)", flush=True)
                for line in traceback.format_exc().rstrip().splitlines():
                    print("    " + line, flush=True)
                failed += 1
            finally:
                signal.alarm(0)
        print(f"{passed} passed, {failed} failed", flush=True)
        if exit:
            sys.exit(1 if failed else 0)
        return passed, failed


def check_equal(got, want, what=""):
    if got != want:
        raise AssertionError(f"{what + ': ' if what else ''}got {got!r}, want {want!r}")
