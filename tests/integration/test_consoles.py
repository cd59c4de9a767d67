# corral-test: guest
"""Consoles through the REST API with real corrald, QEMU (TCG here) and the
test guest: termproxy's websocket reads the guest's serial marker and runs
a shell command; the VNC websocket completes the RFB handshake and gets a
framebuffer update; tickets are one-time, bound to their VM and user, and
VM.Console is required.  The websocket client is tests/lib/corral_ws.py."""
import struct
import time
import urllib.parse

from corral_guest import BOOT_TIMEOUT, READY, put_guest_disk, run_suite
from corral_test import ADMIN, Suite, check_equal, wait_task
from corral_ws import Refused, open_console, term_input, term_login

suite = Suite("consoles")
VMID = 100
AUDITOR = "viewer@pve"
AUDITOR_PW = "Viewer-pw-1"
CONSOLE_LIMIT = 4    # corrald --console-max for this suite


class Ctx:
    def __init__(self, d):
        self.d = d
        self.ticket, _ = d.login()
        self.s = d.session()
        self.term = None  # the serial console kept open across cases

    def api(self, method, path, **kw):
        r = self.s.request(method, self.d.url + path, **kw)
        return r

    def ok(self, method, path, **kw):
        deadline = time.monotonic() + 10
        r = self.api(method, path, **kw)
        # A task shows "stopped" an instant before its VM lock is released.
        while r.status_code == 500 and "can't lock" in r.reason and time.monotonic() < deadline:
            time.sleep(0.1)
            r = self.api(method, path, **kw)
        assert r.status_code == 200, (path, r.status_code, r.reason, r.text)
        return r.json()["data"]

    def vm_path(self, vmid=VMID):
        return f"/nodes/{self.d.node}/qemu/{vmid}"

    def wait_task(self, upid):
        return wait_task(self.s, self.d, upid)[0]

    def grant(self, kind, vmid=VMID, **params):
        return self.ok("POST", f"{self.vm_path(vmid)}/{kind}", data=params)

    def connect(self, grant, vmid=VMID, cookie=None):
        return open_console("127.0.0.1", self.d.port, self.d.node, vmid, grant,
                            cookie or self.ticket)


def refused(fn):
    """The HTTP status of a refused upgrade (AssertionError if it succeeded)."""
    try:
        ws = fn()
    except Refused as e:
        return e.status, e.reason
    ws.close()
    raise AssertionError("the websocket was opened")


@suite.test
def test_create_start(ctx):
    """a VM from the test guest with a serial console starts"""
    upid = ctx.ok("POST", f"/nodes/{ctx.d.node}/qemu",
                  data={"vmid": VMID, "name": "consoles", "memory": 256, "cores": 1,
                        "virtio0": put_guest_disk(ctx.d, VMID),
                        "serial0": "socket", "boot": "order=virtio0"})
    check_equal(ctx.wait_task(upid), "OK")
    check_equal(ctx.wait_task(ctx.ok("POST", f"{ctx.vm_path()}/status/start")), "OK")


@suite.test
def test_termproxy_marker(ctx):
    """termproxy: Proxmox's answer, login line, the guest's marker through the websocket"""
    g = ctx.grant("termproxy", serial="serial0")
    assert set(g) >= {"user", "ticket", "port", "upid"}, g
    check_equal(g["user"], ADMIN)
    assert g["ticket"].startswith("PVEVNC:"), g
    assert 5900 <= g["port"] <= 5999, g
    check_equal(ctx.wait_task(g["upid"]), "OK")
    ws = ctx.connect(g)
    check_equal(ws.headers.get("sec-websocket-protocol"), "binary")
    term_login(ws, g)
    ctx.term = ws
    # The guest prints it once, seconds into its boot under TCG: well after
    # this connection, made right after the start task.
    ws.read_until(READY, BOOT_TIMEOUT)


@suite.test
def test_termproxy_command(ctx):
    """termproxy: typed input reaches the guest shell and its answer comes back"""
    ws = ctx.term
    ws.send(b"2")                                   # keep-alive ping
    ws.send(b"1:120:40:")                           # resize
    ws.send(term_input("\n"))
    # The command split over two messages, one of them with two elements.
    ws.send(term_input("echo $((6*")[:7])
    ws.send(term_input("echo $((6*")[7:] + term_input("7))\n"))
    out = ws.read_until(b"42", 60)
    assert b"\n42" in out or out.endswith(b"42"), out[-500:]


@suite.test
def test_termproxy_bad_login(ctx):
    """termproxy: a wrong login line closes the websocket"""
    ctx.term.close()
    g = ctx.grant("termproxy")
    ws = ctx.connect(g)
    ws.send(f"{g['user']}:PVEVNC:00000000::forged\n")
    try:
        while True:
            ws.recv_data(15)
    except ConnectionError:
        pass
    check_equal(ws.closed, 1002)
    ws.close()


def rfb_handshake(ws):
    """Client side of RFB 3.8 with security None; returns (width, height, name)."""
    version = ws.read_exact(12)
    assert version.startswith(b"RFB 003."), version
    ws.send(b"RFB 003.008\n")
    n = ws.read_exact(1)[0]
    assert n > 0, "server refused the connection"
    types = ws.read_exact(n)
    assert 1 in types, f"no security type None in {list(types)}"
    ws.send(bytes([1]))
    check_equal(struct.unpack("!I", ws.read_exact(4))[0], 0)  # SecurityResult OK
    ws.send(bytes([1]))  # ClientInit: shared
    init = ws.read_exact(24)
    width, height = struct.unpack("!HH", init[:4])
    name = ws.read_exact(struct.unpack("!I", init[20:24])[0])
    return width, height, name


@suite.test
def test_vnc_rfb(ctx):
    """vncproxy + vncwebsocket: RFB handshake and a framebuffer update"""
    g = ctx.grant("vncproxy", websocket=1)
    assert set(g) >= {"user", "ticket", "port", "upid", "cert"}, g
    assert g["cert"].startswith("-----BEGIN CERTIFICATE-----"), g["cert"][:40]
    ws = ctx.connect(g)
    width, height, name = rfb_handshake(ws)
    assert width > 0 and height > 0, (width, height)
    assert b"consoles" in name, name
    ws.send(struct.pack("!BBHHHH", 3, 0, 0, 0, width, height))  # FramebufferUpdateRequest
    msg = ws.read_exact(4)
    check_equal(msg[0], 0)  # FramebufferUpdate
    assert struct.unpack("!H", msg[2:4])[0] >= 1, msg
    ws.close()


@suite.test
def test_vnc_generate_password(ctx):
    """vncproxy generate-password=1 answers a password as Proxmox does"""
    g = ctx.grant("vncproxy", websocket=1, **{"generate-password": 1})
    assert len(g["password"]) == 8 and g["password"].isalnum(), g


@suite.test
def test_ticket_reuse(ctx):
    """a vncticket opens one connection: reuse is refused"""
    g = ctx.grant("vncproxy", websocket=1)
    ws = ctx.connect(g)
    ws.read_exact(12)
    status, reason = refused(lambda: ctx.connect(g))
    check_equal(status, 403)
    assert "invalid vnc ticket" in reason, reason
    ws.close()


@suite.test
def test_ticket_wrong(ctx):
    """a forged ticket, a wrong port, another VM's ticket are refused"""
    g = ctx.grant("vncproxy", websocket=1)
    forged = dict(g, ticket=g["ticket"][:-6] + ("AAAAA=" if not g["ticket"].endswith("AAAAA=") else "BBBBB="))
    check_equal(refused(lambda: ctx.connect(forged))[0], 403)
    other_port = dict(g, port=5900 if g["port"] != 5900 else 5901)
    check_equal(refused(lambda: ctx.connect(other_port))[0], 403)
    check_equal(refused(lambda: ctx.connect(g, vmid=VMID + 1))[0], 403)
    # None of these used the grant up: the real ticket still opens it.
    ws = ctx.connect(g)
    ws.read_exact(12)
    ws.close()


@suite.test
def test_ticket_other_user(ctx):
    """a ticket is bound to its user; a user without VM.Console is refused"""
    ctx.ok("POST", "/access/users", data={"userid": AUDITOR, "password": AUDITOR_PW})
    ctx.ok("PUT", "/access/acl", data={"path": f"/vms/{VMID}", "users": AUDITOR,
                                       "roles": "PVEAuditor"})
    viewer_ticket, _ = ctx.d.login(AUDITOR, AUDITOR_PW)
    viewer = ctx.d.session(AUDITOR, AUDITOR_PW)
    r = viewer.post(ctx.d.url + f"{ctx.vm_path()}/vncproxy", data={"websocket": 1})
    check_equal(r.status_code, 403)
    r = viewer.post(ctx.d.url + f"{ctx.vm_path()}/termproxy")
    check_equal(r.status_code, 403)
    g = ctx.grant("vncproxy", websocket=1)
    check_equal(refused(lambda: ctx.connect(g, cookie=viewer_ticket))[0], 403)
    # Given VM.Console, the viewer still cannot use the admin's ticket.
    ctx.ok("PUT", "/access/acl", data={"path": f"/vms/{VMID}", "users": AUDITOR,
                                       "roles": "PVEVMUser"})
    status, reason = refused(lambda: ctx.connect(g, cookie=viewer_ticket))
    check_equal(status, 403)
    assert "invalid vnc ticket" in reason, reason


@suite.test
def test_connection_limit(ctx):
    """console connections are bounded: one past the limit is refused until one closes"""
    open_ws = []
    try:
        for _ in range(CONSOLE_LIMIT):
            ws = ctx.connect(ctx.grant("vncproxy", websocket=1))
            check_equal(ws.read_exact(12)[:4], b"RFB ")
            open_ws.append(ws)
        status, reason = refused(lambda: ctx.connect(ctx.grant("vncproxy", websocket=1)))
        check_equal(status, 500)
        assert "too many console connections" in reason, reason
        open_ws.pop().close()
        deadline = time.monotonic() + 30
        while True:  # the slot frees once the bridge and its request have ended
            try:
                ws = ctx.connect(ctx.grant("vncproxy", websocket=1))
                break
            except Refused:
                assert time.monotonic() < deadline, "no slot came free"
                time.sleep(0.2)
        check_equal(ws.read_exact(12)[:4], b"RFB ")
        open_ws.append(ws)
    finally:
        for ws in open_ws:
            ws.close()


@suite.test
def test_bad_requests(ctx):
    """a plain GET, bad parameters, a stopped or missing VM"""
    g = ctx.grant("vncproxy", websocket=1)
    q = urllib.parse.urlencode({"port": g["port"], "vncticket": g["ticket"]})
    r = ctx.api("GET", f"{ctx.vm_path()}/vncwebsocket?{q}")
    check_equal(r.status_code, 400)
    assert "websocket" in r.reason, r.reason
    r = ctx.api("GET", f"{ctx.vm_path()}/vncwebsocket?port=80&vncticket=x")
    check_equal(r.status_code, 400)
    assert "port" in r.json().get("errors", {}), r.text
    r = ctx.api("POST", f"{ctx.vm_path()}/termproxy", data={"serial": "serial4"})
    check_equal(r.status_code, 400)
    r = ctx.api("POST", f"{ctx.vm_path()}/termproxy", data={"serial": "serial1"})
    check_equal(r.status_code, 500)
    assert "serial1" in r.reason, r.reason
    r = ctx.api("POST", f"{ctx.vm_path(VMID + 7)}/vncproxy")
    check_equal(r.status_code, 500)
    assert "does not exist" in r.reason, r.reason


@suite.test
def test_stop_closes_console(ctx):
    """stopping the VM closes an open console; a stopped VM gets no ticket"""
    g = ctx.grant("termproxy")
    ws = ctx.connect(g)
    term_login(ws, g)
    check_equal(ctx.wait_task(ctx.ok("POST", f"{ctx.vm_path()}/status/stop")), "OK")
    try:
        while True:
            ws.recv_data(30)
    except ConnectionError:
        pass
    check_equal(ws.closed, 1001)
    ws.close()
    r = ctx.api("POST", f"{ctx.vm_path()}/vncproxy", data={"websocket": 1})
    check_equal(r.status_code, 500)
    assert "not running" in r.reason, r.reason


@suite.test
def test_daemon_stop_closes_console(ctx):
    """corrald stopping closes open consoles (1001) and exits cleanly"""
    check_equal(ctx.wait_task(ctx.ok("POST", f"{ctx.vm_path()}/status/start")), "OK")
    ws = ctx.connect(ctx.grant("vncproxy", websocket=1))
    check_equal(ws.read_exact(12)[:4], b"RFB ")
    check_equal(ctx.d.stop(), 0)
    try:
        while True:
            ws.recv_data(15)
    except ConnectionError:
        pass
    check_equal(ws.closed, 1001)
    ws.close()
    with open(ctx.d.log_path, "rb") as f:
        log = f.read()
    assert b"Sanitizer" not in log and b"runtime error" not in log, log[-3000:]


if __name__ == "__main__":
    run_suite(suite, Ctx, (VMID,), args=["--console-max", str(CONSOLE_LIMIT)])
