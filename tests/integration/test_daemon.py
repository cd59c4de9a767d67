"""corrald as a process: first start (generated admin password, TLS key and
certificate), clean shutdown on SIGTERM/SIGINT, state kept across restarts,
two nodes side by side."""
import os
import re
import signal
import stat
import subprocess
import tempfile
import shutil
import sys

from corral_test import ADMIN, Corrald, Session, Suite, check_equal

suite = Suite("daemon")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def files_under(root):
    for dirpath, _, names in os.walk(root):
        for n in names:
            yield os.path.join(dirpath, n)


@suite.test
def test_first_start_generated_password(tmp):
    """first start without CORRAL_ADMIN_PASSWORD prints and stores a password (0600)"""
    d = Corrald(node="first", admin_password=None, data_dir=os.path.join(tmp, "first"))
    with d.start():
        path = os.path.join(d.data_dir, "initial-admin-password")
        check_equal(mode(path), 0o600, "initial-admin-password mode")
        with open(path) as f:
            password = f.read().strip()
        assert len(password) >= 12, "generated password too short"
        log = d.log()
        assert password in log, f"password not printed:\n{log}"
        fp = d.fingerprint()
        assert fp.lower() in log.lower(), f"fingerprint {fp} not printed:\n{log}"
        assert f":{d.port}" in log, f"URL not printed:\n{log}"
        d.admin_password = password
        d.login()
        check_equal(d.stop(), 0, "exit status")
    # A restart neither prints the password again nor changes it.
    again = Corrald(node="first", admin_password=None, data_dir=d.data_dir)
    with again.start():
        assert password not in again.log(), "password printed on a second start"
        again.admin_password = password
        again.login()


@suite.test
def test_env_password(tmp):
    """CORRAL_ADMIN_PASSWORD sets the admin password and nothing is written"""
    with Corrald(node="envpw", data_dir=os.path.join(tmp, "envpw")) as d:
        d.login()
        assert not os.path.exists(os.path.join(d.data_dir, "initial-admin-password"))
        assert d.admin_password not in d.log(), "password from the environment was logged"


@suite.test
def test_tls_files(tmp):
    """the TLS key is 0600 and the certificate's SAN holds 127.0.0.1"""
    with Corrald(node="tls", data_dir=os.path.join(tmp, "tls")) as d:
        keys = []
        for p in files_under(d.data_dir):
            with open(p, "rb") as f:
                if b"PRIVATE KEY-----" in f.read(4096):
                    keys.append(p)
        assert keys, "no PEM private key under the data dir"
        for k in keys:
            check_equal(oct(mode(k)), oct(0o600), k)
        der = ssl_der(d)
        out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-ext",
                              "subjectAltName"], input=der, capture_output=True, timeout=10)
        san = out.stdout.decode()
        assert re.search(r"IP Address:127\.0\.0\.1\b", san), san


def ssl_der(d):
    import socket
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as s:
            return s.getpeercert(binary_form=True)


@suite.test
def test_sigterm(tmp):
    """SIGTERM and SIGINT stop corrald with exit status 0"""
    for sig in (signal.SIGTERM, signal.SIGINT):
        d = Corrald(node="sig", data_dir=os.path.join(tmp, f"sig{int(sig)}")).start()
        try:
            d.login()
            check_equal(d.stop(sig, timeout=10), 0, f"exit status after {sig.name}")
        finally:
            d.cleanup()


@suite.test
def test_restart_keeps_state(tmp):
    """a restart keeps users, ACLs and the certificate"""
    data = os.path.join(tmp, "restart")
    with Corrald(node="keep", data_dir=data) as d:
        s = d.session()
        r = s.post(d.url + "/access/users", data={"userid": "kept@pve", "password": "Kept-pw-1"})
        check_equal(r.status_code, 200, r.text)
        r = s.put(d.url + "/access/acl", data={"path": "/", "roles": "PVEAuditor",
                                               "users": "kept@pve"})
        check_equal(r.status_code, 200, r.text)
        fp = d.fingerprint()
        check_equal(d.stop(), 0)
    with Corrald(node="keep", data_dir=data, admin_password="ignored-now") as d:
        check_equal(d.fingerprint(), fp, "certificate")
        s = d.session("kept@pve", "Kept-pw-1")
        check_equal(s.get(d.url + "/nodes").status_code, 200)
        # The admin password of the first start stays; the variable only seeds it.
        r = Session().post(d.url + "/access/ticket", data={"username": ADMIN,
                                                           "password": "ignored-now"})
        check_equal(r.status_code, 401, "admin password changed by a restart")
        d.login(ADMIN, "Adm1n-test-pw")


@suite.test
def test_side_by_side(tmp):
    """two nodes run side by side, each in its own data dir"""
    with Corrald(node="left", data_dir=os.path.join(tmp, "left")) as a, \
         Corrald(node="right", data_dir=os.path.join(tmp, "right")) as b:
        na = [n["node"] for n in a.session().get(a.url + "/nodes").json()["data"]]
        nb = [n["node"] for n in b.session().get(b.url + "/nodes").json()["data"]]
        check_equal(na, ["left"])
        check_equal(nb, ["right"])
        assert a.fingerprint() != b.fingerprint(), "both nodes share a certificate"


if __name__ == "__main__":
    top = tempfile.mkdtemp(prefix="corral-daemon-")
    try:
        _, failed = suite.run(top, exit=False)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    sys.exit(1 if failed else 0)
