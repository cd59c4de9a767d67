"""Error semantics of corrald's REST API over real TLS, as proxmox-api.md
describes them: 401/403/400/413/501 answers, CSRF, tickets, tokens, TLS
versions and the envelope's value types."""
import base64
import http.client
import re
import socket
import ssl
import time

from corral_test import ADMIN, TIMEOUT, Corrald, Session, Suite, check_equal

suite = Suite("api_errors")
AUDITOR = "auditor@pve"
AUDITOR_PW = "Aud1tor-pw"


# Whether corrald sends Proxmox's message as the HTTP reason phrase (decided
# once from a 501 in main; libmicrohttpd may only send the standard phrases).
CUSTOM_REASONS = None


def reason_is(r, text):
    """The Proxmox message is the reason phrase.  Where the HTTP layer cannot
    set one, a JSON error body must carry it as its message, and an empty
    body (401s, as Proxmox sends them) must come with the standard phrase."""
    if r.reason == text:
        return
    assert not CUSTOM_REASONS, f"reason {r.reason!r}, want {text!r}"
    if not r.content:
        check_equal(r.reason, http.client.responses[r.status_code], "standard reason")
        return
    msg = (json_body(r).get("message") or "").split("\n")[0]
    if msg != text:
        raise AssertionError(f"reason {r.reason!r} / message {msg!r}, want {text!r}")


def json_body(r):
    try:
        return r.json()
    except ValueError:
        raise AssertionError(f"{r.status_code} body is not JSON: {r.text[:200]!r}")


def setup(d):
    global CUSTOM_REASONS
    admin = d.session()
    r = admin.get(d.url + "/nope")
    CUSTOM_REASONS = r.reason != http.client.responses[r.status_code]
    print(f"# reason phrases: {'Proxmox messages' if CUSTOM_REASONS else 'standard'}")
    r = admin.post(d.url + "/access/users", data={"userid": AUDITOR, "password": AUDITOR_PW})
    assert r.status_code == 200, (r.status_code, r.reason, r.text)
    r = admin.put(d.url + "/access/acl", data={"path": "/", "roles": "PVEAuditor",
                                                 "users": AUDITOR})
    assert r.status_code == 200, (r.status_code, r.reason, r.text)
    return admin


def user_exists(admin, d, userid):
    r = admin.get(d.url + "/access/users")
    assert r.status_code == 200, r.text
    return any(u["userid"] == userid for u in r.json()["data"])


@suite.test
def test_bad_login(d, admin):
    """bad login: 401 authentication failure, {"data":null} body, delayed"""
    start = time.monotonic()
    r = Session().post(d.url + "/access/ticket", data={"username": ADMIN, "password": "wrong"})
    took = time.monotonic() - start
    check_equal(r.status_code, 401, "status")
    reason_is(r, "authentication failure")
    body = json_body(r)
    assert "data" in body and body["data"] is None, body
    assert set(body) <= {"data", "message"}, body
    # Proxmox delays every failed login (3 s); a lower bound cannot flake.
    assert took >= 2.0, f"failed login answered after {took:.2f}s, not delayed"


@suite.test
def test_unknown_user_login(d, admin):
    """login of an unknown user looks like a bad password"""
    r = Session().post(d.url + "/access/ticket", data={"username": "nobody@pve",
                                                       "password": "x"})
    check_equal(r.status_code, 401)
    check_equal(json_body(r)["data"], None)


@suite.test
def test_no_ticket(d, admin):
    """no ticket: 401 No ticket with an empty body"""
    r = Session().get(d.url + "/nodes")
    check_equal(r.status_code, 401)
    check_equal(r.content, b"", "body")
    reason_is(r, "No ticket")


def forged(ticket, **change):
    parts = ticket.split(":")
    # PVE:<userid>:<HEXTIME>::<signature>
    if "user" in change:
        parts[1] = change["user"]
    if "time" in change:
        parts[2] = "%08X" % change["time"]
    if "sig" in change:
        parts[-1] = change["sig"]
    return ":".join(parts)


@suite.test
def test_forged_tickets(d, admin):
    """forged, re-dated and expired-looking tickets are refused with 401"""
    ticket, _ = d.login()
    assert re.fullmatch(r"PVE:admin@pve:[0-9A-F]{8}::\S+", ticket), ticket
    bad = [
        forged(ticket, user=AUDITOR),
        forged(ticket, time=int(time.time()) - 3 * 3600),
        forged(ticket, time=int(time.time()) + 3600),
        forged(ticket, sig=base64.b64encode(b"x" * 256).decode()),
        forged(ticket, sig=""),
        "PVE:admin@pve",
        "garbage",
        ticket + "x",
    ]
    for t in bad:
        s = Session()
        s.cookies.set("PVEAuthCookie", t)
        r = s.get(d.url + "/nodes")
        assert r.status_code == 401, (t, r.status_code, r.text)
        check_equal(r.content, b"", f"body for {t!r}")


@suite.test
def test_authorization_header_ticket(d, admin):
    """Authorization: PVEAuthCookie=<ticket> is accepted"""
    ticket, _ = d.login()
    r = Session().get(d.url + "/nodes", headers={"Authorization": f"PVEAuthCookie={ticket}"})
    check_equal(r.status_code, 200, r.text)
    assert any(n["node"] == d.node for n in r.json()["data"]), r.text


@suite.test
def test_csrf_missing(d, admin):
    """POST with a ticket but no CSRF token: 401, store unchanged"""
    ticket, _ = d.login()
    s = Session()
    s.cookies.set("PVEAuthCookie", ticket)
    r = s.post(d.url + "/access/users", data={"userid": "csrf1@pve"})
    check_equal(r.status_code, 401)
    reason_is(r, "Permission denied - invalid csrf token")
    assert not user_exists(admin, d, "csrf1@pve")


@suite.test
def test_csrf_of_another_user(d, admin):
    """CSRF token of another user: 401, store unchanged"""
    ticket, _ = d.login()
    _, other_csrf = d.login(AUDITOR, AUDITOR_PW)
    s = Session()
    s.cookies.set("PVEAuthCookie", ticket)
    r = s.post(d.url + "/access/users", data={"userid": "csrf2@pve"},
               headers={"CSRFPreventionToken": other_csrf})
    check_equal(r.status_code, 401)
    reason_is(r, "Permission denied - invalid csrf token")
    r = s.delete(d.url + f"/access/users/{AUDITOR}", headers={"CSRFPreventionToken": "0:x"})
    check_equal(r.status_code, 401)
    assert not user_exists(admin, d, "csrf2@pve")
    assert user_exists(admin, d, AUDITOR)


@suite.test
def test_get_needs_no_csrf(d, admin):
    """GET with a ticket needs no CSRF token"""
    ticket, _ = d.login()
    s = Session()
    s.cookies.set("PVEAuthCookie", ticket)
    check_equal(s.get(d.url + "/version").status_code, 200)


def param_error(r, name, pattern):
    check_equal(r.status_code, 400, f"status ({r.text})")
    reason_is(r, "Parameter verification failed.")
    body = json_body(r)
    assert body.get("data", 0) is None, body
    errors = body.get("errors")
    assert isinstance(errors, dict) and name in errors, body
    assert re.search(pattern, errors[name]), (name, errors[name])


@suite.test
def test_param_missing(d, admin):
    """400 Parameter verification failed: missing required parameter"""
    r = admin.post(d.url + "/access/users", data={"comment": "no id"})
    param_error(r, "userid", r"property is missing and it is not optional")


@suite.test
def test_param_unknown(d, admin):
    """400 Parameter verification failed: unknown parameter"""
    r = admin.get(d.url + "/nodes", params={"bogus": "1"})
    param_error(r, "bogus", r"property is not defined in schema")


@suite.test
def test_param_wrong_type(d, admin):
    """400 Parameter verification failed: wrong types"""
    r = admin.get(d.url + "/cluster/nextid", params={"vmid": "abc"})
    param_error(r, "vmid", r"type check|invalid|not a valid")
    r = admin.get(d.url + f"/nodes/{d.node}/tasks", params={"limit": "many"})
    param_error(r, "limit", r"type check|invalid|not a valid")
    r = admin.post(d.url + "/access/users", data={"userid": "typ@pve", "enable": "maybe"})
    param_error(r, "enable", r"type check \('boolean'\) failed|boolean")
    assert not user_exists(admin, d, "typ@pve")


@suite.test
def test_no_empty_errors(d, admin):
    """error bodies leave out an empty errors map; success has none"""
    r = admin.get(d.url + "/nope")
    assert "errors" not in json_body(r), r.text
    r = admin.get(d.url + "/version")
    assert "errors" not in json_body(r), r.text


@suite.test
def test_not_implemented(d, admin):
    """501 Method 'GET /nope' not implemented"""
    r = admin.get(d.url + "/nope")
    check_equal(r.status_code, 501)
    reason_is(r, "Method 'GET /nope' not implemented")
    check_equal(json_body(r).get("data", 0), None)
    r = admin.post(d.url + "/version")
    check_equal(r.status_code, 501)
    reason_is(r, "Method 'POST /version' not implemented")


@suite.test
def test_malformed_json(d, admin):
    """a malformed JSON body is a 400 and changes nothing"""
    for body in (b'{"userid": "js@pve"', b"[1,2", b'{"userid": 5}x', b"\xff\xfe"):
        r = admin.post(d.url + "/access/users", data=body,
                       headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (body, r.status_code, r.text)
    assert not user_exists(admin, d, "js@pve")


@suite.test
def test_json_body_accepted(d, admin):
    """a JSON body works like a form (booleans may be true/false there)"""
    r = admin.post(d.url + "/access/users", json={"userid": "json@pve", "enable": True,
                                                  "comment": "from json"})
    check_equal(r.status_code, 200, r.text)
    assert user_exists(admin, d, "json@pve")


def tls_connection(d):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return http.client.HTTPSConnection("127.0.0.1", d.port, timeout=TIMEOUT, context=ctx)


@suite.test
def test_oversized_body(d, admin):
    """an oversized body gets 413 (or the connection is cut), never a crash"""
    ticket, csrf = d.login()
    size = 64 << 20
    conn = tls_connection(d)
    conn.putrequest("POST", "/api2/json/access/users")
    conn.putheader("Cookie", f"PVEAuthCookie={ticket}")
    conn.putheader("CSRFPreventionToken", csrf)
    conn.putheader("Content-Type", "application/x-www-form-urlencoded")
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    chunk = b"comment=" + b"x" * (1 << 20)
    try:
        sent = 0
        while sent < size:
            part = chunk[:size - sent]
            conn.send(part)
            sent += len(part)
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
        pass
    r = conn.getresponse()
    check_equal(r.status, 413, "status")
    conn.close()
    check_equal(Session().get(d.url + "/version", headers={
        "Cookie": f"PVEAuthCookie={ticket}"}).status_code, 200, "still serving")


@suite.test
def test_static_dotdot(d, admin):
    """'..' in static paths is refused"""
    for path in ("/../../../../etc/passwd", "/pve2/../../../etc/passwd",
                 "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc/passwd",
                 "/static/..%2f..%2f..%2f..%2fetc/passwd"):
        conn = tls_connection(d)
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        conn.close()
        assert b"root:" not in body, (path, body[:100])
        assert r.status in (400, 403, 404), (path, r.status)


def slow_client(d, first_bytes):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", d.port), timeout=TIMEOUT)
    s = ctx.wrap_socket(raw)
    s.sendall(first_bytes)
    return s


@suite.test
def test_slow_clients(d, admin):
    """slow clients hold no thread: others are served, and idle ones are cut"""
    slow = [slow_client(d, b"GET /api2/json/version HTTP/1.1\r\nHost: x\r\n")
            for _ in range(30)]
    slow += [slow_client(d, b"POST /api2/json/access/ticket HTTP/1.1\r\nHost: x\r\n"
                            b"Content-Length: 100000\r\n\r\nusername=")
             for _ in range(10)]
    try:
        for _ in range(5):
            check_equal(admin.get(d.url + "/version").status_code, 200, "served meanwhile")
        # The server drops a connection that stays silent (its idle timeout is
        # 4 s here); waiting up to 60 s for that is bounded, not a timing check.
        slow[0].settimeout(60)
        try:
            data = slow[0].recv(4096)
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:100]
    finally:
        for s in slow:
            s.close()


def negotiated(d, version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = version
    ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", d.port), timeout=TIMEOUT) as raw:
        with ctx.wrap_socket(raw) as s:
            return s.version()


@suite.test
def test_tls_versions(d, admin):
    """TLS 1.3 and TLS 1.2 both negotiate"""
    check_equal(negotiated(d, ssl.TLSVersion.TLSv1_3), "TLSv1.3")
    check_equal(negotiated(d, ssl.TLSVersion.TLSv1_2), "TLSv1.2")


def make_token(admin, d, user, name, privsep):
    r = admin.post(d.url + f"/access/users/{user}/token/{name}", data={"privsep": privsep})
    check_equal(r.status_code, 200, r.text)
    data = r.json()["data"]
    check_equal(data["full-tokenid"], f"{user}!{name}")
    return f"PVEAPIToken={data['full-tokenid']}={data['value']}"


@suite.test
def test_token_needs_no_csrf(d, admin):
    """API-token requests work without CSRF, also for POST"""
    header = {"Authorization": make_token(admin, d, ADMIN, "nocsrf", 0)}
    s = Session()
    check_equal(s.get(d.url + "/nodes", headers=header).status_code, 200)
    r = s.post(d.url + "/access/users", data={"userid": "bytoken@pve"}, headers=header)
    check_equal(r.status_code, 200, r.text)
    assert user_exists(admin, d, "bytoken@pve")


@suite.test
def test_token_refused(d, admin):
    """a wrong token secret is a 401; tokens may not call /access/ticket"""
    good = make_token(admin, d, ADMIN, "refused", 0)
    bad = good[:-4] + ("0000" if not good.endswith("0000") else "1111")
    r = Session().get(d.url + "/nodes", headers={"Authorization": bad})
    check_equal(r.status_code, 401)
    r = Session().post(d.url + "/access/ticket", headers={"Authorization": good},
                       data={"username": ADMIN, "password": "x"})
    assert r.status_code in (401, 403), (r.status_code, r.text)


@suite.test
def test_auditor(d, admin):
    """a PVEAuditor reads /nodes but gets 403 Permission check failed on a change"""
    s = d.session(AUDITOR, AUDITOR_PW)
    r = s.get(d.url + "/nodes")
    check_equal(r.status_code, 200, r.text)
    assert r.json()["data"], r.text
    r = s.post(d.url + "/access/users", data={"userid": "byaud@pve"})
    check_equal(r.status_code, 403, r.text)
    reason = r.reason if r.reason.startswith("Permission") else json_body(r).get("message", "")
    assert re.fullmatch(r"Permission check failed \(/\S*, [A-Za-z.]+\)", reason), reason
    assert "errors" not in json_body(r)
    assert not user_exists(admin, d, "byaud@pve")


def is_number01(v):
    return type(v) is int and v in (0, 1)


@suite.test
def test_booleans_are_numbers(d, admin):
    """booleans are 0/1 numbers: login caps, users' enable"""
    r = Session().post(d.url + "/access/ticket", data={"username": ADMIN,
                                                       "password": d.admin_password})
    data = r.json()["data"]
    caps = data["cap"]
    assert caps and all(is_number01(v) for group in caps.values() for v in group.values()), caps
    assert caps["access"].get("User.Modify") == 1, caps
    users = admin.get(d.url + "/access/users").json()["data"]
    assert users and all(is_number01(u["enable"]) for u in users if "enable" in u), users
    assert any("enable" in u for u in users), users


@suite.test
def test_envelope(d, admin):
    """success is 200 application/json with data; nextid is a string"""
    r = admin.get(d.url + "/cluster/nextid")
    check_equal(r.status_code, 200)
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    assert isinstance(r.json()["data"], str) and r.json()["data"].isdigit(), r.text
    r = admin.get(d.url + "/version")
    v = r.json()["data"]
    major = int(v["version"].split(".")[0])
    assert major >= 8, v


if __name__ == "__main__":
    # a short idle timeout (--http-idle-timeout) so the idle cut comes soon
    with Corrald(node="errnode", args=["--http-idle-timeout", "4"]) as daemon:
        suite.run(daemon, setup(daemon))
