"""A small RFC 6455 websocket client over TLS (Python's ssl and socket only)
for the console tests and benchmark: opens corrald's vncwebsocket with the
auth cookie, sends masked frames, reads frames, and speaks the client side
of Proxmox's termproxy framing."""
import base64
import hashlib
import os
import socket
import ssl
import struct
import time
import urllib.parse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class Refused(Exception):
    """The server answered the upgrade with something other than 101."""

    def __init__(self, status, reason, body):
        super().__init__(f"{status} {reason}: {body[:200]!r}")
        self.status = status
        self.reason = reason
        self.body = body


class WebSocket:
    def __init__(self, host, port, path, cookie=None, protocols="binary", timeout=15):
        raw = socket.create_connection((host, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.s = ctx.wrap_socket(raw, server_hostname=host)
        self.buf = b""
        self.data = b""  # data bytes received but not yet read
        self.closed = None
        key = base64.b64encode(os.urandom(16)).decode()
        head = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
                "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                "Sec-WebSocket-Version: 13"]
        if protocols:
            head.append(f"Sec-WebSocket-Protocol: {protocols}")
        if cookie:
            head.append("Cookie: PVEAuthCookie=" + urllib.parse.quote(cookie, safe=""))
        self.s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        status, reason, headers = self._read_head()
        if status != 101:
            raise Refused(status, reason, self._read_body(headers))
        want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        if headers.get("sec-websocket-accept") != want:
            raise AssertionError(f"bad Sec-WebSocket-Accept in {headers}")
        self.headers = headers

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        self.buf += chunk

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return int(parts[1]), parts[2] if len(parts) > 2 else "", headers

    def _read_body(self, headers):
        n = int(headers.get("content-length", "0"))
        try:
            while len(self.buf) < n:
                self._fill()
        except (ConnectionError, OSError):
            pass
        return self.buf[:n]

    def send(self, data, opcode=OP_BINARY, fin=True):
        if isinstance(data, str):
            data = data.encode()
        n = len(data)
        first = (0x80 if fin else 0) | opcode
        if n < 126:
            hdr = struct.pack("!BB", first, 0x80 | n)
        elif n <= 0xFFFF:
            hdr = struct.pack("!BBH", first, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", first, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(data))
        self.s.sendall(hdr + mask + masked)

    def recv_frame(self, timeout=None):
        """(opcode, payload) of the next frame from the server."""
        if timeout is not None:
            self.s.settimeout(timeout)
        while len(self.buf) < 2:
            self._fill()
        b0, b1 = self.buf[0], self.buf[1]
        if b1 & 0x80:
            raise AssertionError("server frames must not be masked")
        n, pos = b1 & 0x7F, 2
        if n == 126:
            while len(self.buf) < 4:
                self._fill()
            n, pos = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            while len(self.buf) < 10:
                self._fill()
            n, pos = struct.unpack("!Q", self.buf[2:10])[0], 10
        while len(self.buf) < pos + n:
            self._fill()
        payload, self.buf = self.buf[pos:pos + n], self.buf[pos + n:]
        op = b0 & 0x0F
        if op == OP_CLOSE:
            self.closed = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        return op, payload

    def recv_data(self, timeout=None):
        """The next data payload; answers pings; raises at a close."""
        while True:
            op, payload = self.recv_frame(timeout)
            if op == OP_PING:
                self.send(payload, OP_PONG)
            elif op == OP_CLOSE:
                raise ConnectionError(f"closed by the server ({self.closed}): {payload[2:]!r}")
            elif op in (OP_BINARY, OP_TEXT):
                return payload

    def read_exact(self, n, timeout=15):
        """N bytes of the data stream (frames concatenated); the rest of a
        frame stays for the next read."""
        while len(self.data) < n:
            self.data += self.recv_data(timeout)
        out, self.data = self.data[:n], self.data[n:]
        return out

    def read_until(self, needle, timeout):
        """Reads the data stream until NEEDLE appears; returns all read."""
        seen, self.data = self.data, b""
        deadline = time.monotonic() + timeout
        while needle not in seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{needle!r} not seen within {timeout}s; got {seen[-2000:]!r}")
            try:
                seen += self.recv_data(min(left, 1.0))
            except (socket.timeout, ssl.SSLError) as e:
                if "timed out" not in str(e):
                    raise
        return seen

    def close(self):
        try:
            self.send(struct.pack("!H", 1000), OP_CLOSE)
        except OSError:
            pass
        self.s.close()


def open_console(url_host, port, node, vmid, grant, cookie, **kw):
    """Opens vncwebsocket for GRANT (the vncproxy/termproxy answer)."""
    q = urllib.parse.urlencode({"port": grant["port"], "vncticket": grant["ticket"]})
    return WebSocket(url_host, port, f"/api2/json/nodes/{node}/qemu/{vmid}/vncwebsocket?{q}",
                     cookie, **kw)


def term_login(ws, grant):
    """termproxy: the first line is USER:TICKET; the server answers OK."""
    ws.send(f"{grant['user']}:{grant['ticket']}\n")
    ok = ws.read_exact(2)
    if ok != b"OK":
        raise AssertionError(f"termproxy answered {ok!r}")


def term_input(text):
    """A termproxy data message."""
    data = text.encode() if isinstance(text, str) else text
    return b"0:%d:" % len(data) + data
