"""Authentication and authorization of a real corrald over TLS: ticket
transport and renewal, CSRF bound to its user, API-token privilege
separation, ACL propagation, password changes, and tickets that outlive a
restart (keys are files) but not their user being disabled."""
import urllib.parse

from corral_test import ADMIN, Corrald, Session, Suite, check_equal

suite = Suite("access")
CAROL, CAROL_PW = "carol@pve", "Car0l-test-pw"


def setup(d):
    admin = d.session()
    r = admin.post(d.url + "/access/users", data={"userid": CAROL, "password": CAROL_PW})
    check_equal(r.status_code, 200, r.text)
    return admin


def raw(ticket=None, authz=None, csrf=None):
    """A session with exactly the credentials given."""
    s = Session()
    if ticket:
        s.headers["Cookie"] = f"PVEAuthCookie={ticket}"
    if authz:
        s.headers["Authorization"] = authz
    if csrf:
        s.headers["CSRFPreventionToken"] = csrf
    return s


@suite.test
def test_ticket_transport(d, admin):
    """a ticket works as a cookie, URI-encoded cookie or Authorization header"""
    ticket, csrf = d.login(CAROL, CAROL_PW)
    assert ticket.startswith(f"PVE:{CAROL}:") and "::" in ticket, ticket
    check_equal(len(csrf.split(":")[1]), 43, "CSRF digest length")
    for s in (raw(ticket=ticket), raw(ticket=urllib.parse.quote(ticket, safe="")),
              raw(authz=f"PVEAuthCookie={ticket}")):
        r = s.get(d.url + "/access/permissions")
        check_equal(r.status_code, 200, r.text)


@suite.test
def test_login_forms(d, admin):
    """realm as its own parameter; a ticket renews itself but opens no other account"""
    r = Session().post(d.url + "/access/ticket",
                       data={"username": "carol", "realm": "pve", "password": CAROL_PW})
    check_equal(r.status_code, 200, r.text)
    ticket = r.json()["data"]["ticket"]
    r = Session().post(d.url + "/access/ticket", data={"username": CAROL, "password": ticket})
    check_equal(r.status_code, 200, r.text)
    r = Session().post(d.url + "/access/ticket", data={"username": ADMIN, "password": ticket})
    check_equal(r.status_code, 401)
    check_equal(r.json(), {"data": None, "message": "authentication failure"})


@suite.test
def test_csrf_bound_to_user(d, admin):
    """a CSRF token of another user is refused"""
    ticket, _ = d.login(CAROL, CAROL_PW)
    _, admin_csrf = d.login()
    r = raw(ticket=ticket, csrf=admin_csrf).put(
        d.url + "/access/password",
        data={"userid": CAROL, "password": "x" * 10, "confirmation-password": CAROL_PW})
    check_equal(r.status_code, 401)


@suite.test
def test_token_privsep(d, admin):
    """a privilege-separated token holds only what its own ACL grants, within its user's"""
    r = admin.put(d.url + "/access/acl", data={"path": "/", "users": CAROL, "roles": "PVEAuditor"})
    check_equal(r.status_code, 200, r.text)
    carol = d.session(CAROL, CAROL_PW)
    r = carol.post(d.url + f"/access/users/{CAROL}/token/sep")
    check_equal(r.status_code, 200, r.text)
    token = raw(authz=f"PVEAPIToken={CAROL}!sep={r.json()['data']['value']}")
    status = d.url + f"/nodes/{d.node}/status"
    check_equal(token.get(status).status_code, 403)
    r = admin.put(d.url + "/access/acl",
                  data={"path": "/nodes", "tokens": f"{CAROL}!sep", "roles": "Administrator"})
    check_equal(r.status_code, 200, r.text)
    check_equal(token.get(status).status_code, 200)
    perms = token.get(d.url + "/access/permissions", params={"path": f"/nodes/{d.node}"})
    got = perms.json()["data"][f"/nodes/{d.node}"]
    assert "Sys.Audit" in got and "Sys.PowerMgmt" not in got, got


@suite.test
def test_acl_propagation(d, admin):
    """an ACL without propagate covers its path only; NoAccess below clears"""
    r = admin.post(d.url + "/access/users", data={"userid": "dave@pve"})
    check_equal(r.status_code, 200, r.text)
    for path, role, prop in (("/vms", "PVEVMUser", 0), ("/storage", "PVEDatastoreUser", 1),
                             ("/storage/local", "NoAccess", 1)):
        r = admin.put(d.url + "/access/acl", data={"path": path, "users": "dave@pve",
                                                   "roles": role, "propagate": prop})
        check_equal(r.status_code, 200, r.text)

    def perms(path):
        r = admin.get(d.url + "/access/permissions", params={"userid": "dave@pve", "path": path})
        return r.json()["data"][path]

    assert perms("/vms").get("VM.PowerMgmt") == 0, perms("/vms")
    check_equal(perms("/vms/100"), {})
    assert perms("/storage/other").get("Datastore.AllocateSpace") == 1
    check_equal(perms("/storage/local"), {})


@suite.test
def test_password_change(d, admin):
    """a password change needs the caller's current password; the new one works"""
    carol = d.session(CAROL, CAROL_PW)
    r = carol.put(d.url + "/access/password", data={"userid": CAROL, "password": "N3w-carol-pw"})
    check_equal(r.status_code, 400)
    assert "confirmation-password" in r.json()["errors"], r.text
    r = carol.put(d.url + "/access/password", data={"userid": CAROL, "password": "N3w-carol-pw",
                                                    "confirmation-password": CAROL_PW})
    check_equal(r.status_code, 200, r.text)
    d.login(CAROL, "N3w-carol-pw")
    r = admin.put(d.url + "/access/password", data={"userid": CAROL, "password": CAROL_PW,
                                                    "confirmation-password": d.admin_password})
    check_equal(r.status_code, 200, r.text)


@suite.test
def test_ticket_lifecycle(d, admin):
    """tickets survive a restart (keys are files) but not their user being disabled"""
    r = admin.post(d.url + "/access/users", data={"userid": "erin@pve", "password": "Er1n-test-pw"})
    check_equal(r.status_code, 200, r.text)
    erin, _ = d.login("erin@pve", "Er1n-test-pw")
    admin_ticket, _ = d.login()
    d.stop()
    d.start()
    check_equal(raw(ticket=erin).get(d.url + "/access/permissions").status_code, 200)
    admin = raw(ticket=admin_ticket, csrf=d.login()[1])
    r = admin.put(d.url + "/access/users/erin@pve", data={"enable": 0})
    check_equal(r.status_code, 200, r.text)
    check_equal(raw(ticket=erin).get(d.url + "/access/permissions").status_code, 401)


@suite.test
def test_domains_world(d, admin):
    """GET /access/domains needs no authentication"""
    r = Session().get(d.url + "/access/domains")
    check_equal(r.status_code, 200)
    check_equal(sorted(x["realm"] for x in r.json()["data"]), ["pam", "pve"])


if __name__ == "__main__":
    with Corrald(node="accessnode") as daemon:
        suite.run(daemon, setup(daemon))
