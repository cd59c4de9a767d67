#!/usr/bin/python3
# corral-test: guest
"""Uploads and imports on a real corrald over TLS: multipart uploads of an
ISO and a qcow2 (requests, ticket + CSRF and API token), checksums, the
test guest uploaded, imported into a VM and booted, and every bad input
leaving nothing behind: a qcow2 naming /etc/shadow as backing file or an
external data file, truncated and aborted bodies, checksum mismatches, a
full file system (a small tmpfs), a disk full only at writeback (its sync
fails), a missing storage directory.  A 2 GiB upload (curl, streamed)
checks corrald's RSS stays flat and the file is on disk, out of the page
cache, when its task reports OK."""
import contextlib
import ctypes
import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import urllib.parse

from corral_guest import GUEST, Serial, ensure_guest, kill_vms
from corral_test import (ADMIN, Corrald, Session, Suite, check_equal, expect_error, file_sha256,
                         wait_for, wait_task)

suite = Suite("storage upload")
NODE = "upnode"
SYS_CACHESTAT = 451  # Linux 6.5, the same number on every architecture


class Ctx:
    def __init__(self, d, tmp):
        self.d = d
        self.s = d.session()
        self.tmp = tmp
        self.url = f"{d.url}/nodes/{NODE}/storage"

    def upload(self, storage, content, path, name=None, session=None, **extra):
        with open(path, "rb") as f:
            return (session or self.s).post(
                f"{self.url}/{storage}/upload", data=dict(content=content, **extra),
                files={"filename": (name or os.path.basename(path), f)}, timeout=120)

    def ok(self, r):
        check_equal(r.status_code, 200, r.text)
        upid = r.json()["data"]
        assert ":imgcopy:" in upid or ":qmcreate:" in upid or ":qmstart:" in upid, upid
        status, log = wait_task(self.s, self.d, upid)
        check_equal(status, "OK", log)
        return log

    def leftovers(self, root):
        """Hidden temporaries and files anywhere under ROOT."""
        out = []
        for dirpath, _, files in os.walk(root):
            out += [os.path.join(dirpath, f) for f in files if f.startswith(".upload-")]
        return out


def make_file(path, size, seed=b"corral"):
    """Writes SIZE varied bytes to PATH; their SHA-256 (hex)."""
    block = hashlib.sha512(seed).digest() * 16384  # 1 MiB of varied bytes
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(block[:min(left, len(block))])
            h.update(block[:min(left, len(block))])
            left -= len(block)
    return h.hexdigest()


def local_root(ctx):
    return os.path.join(ctx.d.data_dir, "images")


@suite.test
def test_upload_iso(ctx):
    """an ISO through multipart with a sha256 checksum, listed and identical"""
    src = os.path.join(ctx.tmp, "install.iso")
    make_file(src, 5 << 20)
    log = ctx.ok(ctx.upload("local", "iso", src, checksum=file_sha256(src),
                            **{"checksum-algorithm": "sha256"}))
    assert "checksum verified" in log, log
    dst = os.path.join(local_root(ctx), "iso", "install.iso")
    check_equal(file_sha256(dst), file_sha256(src))
    rows = ctx.s.get(f"{ctx.url}/local/content", params={"content": "iso"}).json()["data"]
    check_equal([(x["volid"], x["size"], x["format"]) for x in rows],
                [("local:iso/install.iso", 5 << 20, "iso")])
    r = ctx.upload("local", "iso", src)
    expect_error(r, 500, "already exists")
    check_equal(ctx.leftovers(local_root(ctx)), [])


@suite.test
def test_upload_qcow2_token(ctx):
    """a qcow2 into import/ with an API token (no CSRF), names normalized"""
    r = ctx.s.post(f"{ctx.d.url}/access/users/{ADMIN}/token/up", data={"privsep": "0"})
    value = r.json()["data"]["value"]
    tok = Session()
    tok.headers["Authorization"] = f"PVEAPIToken={ADMIN}!up={value}"
    src = os.path.join(ctx.tmp, "disk.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", src, "32M"], check=True)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x33 1M 256k", src], check=True,
                   stdout=subprocess.DEVNULL)
    ctx.ok(ctx.upload("local", "import", src, name="my disk.qcow2", session=tok))
    dst = os.path.join(local_root(ctx), "import", "my_disk.qcow2")
    check_equal(file_sha256(dst), file_sha256(src))
    info = ctx.s.get(f"{ctx.url}/local/content/local:import/my_disk.qcow2").json()["data"]
    check_equal((info["format"], info["size"], info["path"]), ("qcow2", 32 << 20, dst))


@suite.test
def test_upload_proxmoxer(ctx):
    """python3-proxmoxer's storage(...).upload.create(content=, filename=<file>) works"""
    from proxmoxer import ProxmoxAPI
    api = ProxmoxAPI("127.0.0.1", port=ctx.d.port, user=ADMIN, password=ctx.d.admin_password,
                     verify_ssl=False, backend="https", timeout=60)
    src = os.path.join(ctx.tmp, "pxr.iso")
    make_file(src, 1 << 20, seed=b"pxr")
    with open(src, "rb") as f:
        upid = api.nodes(NODE).storage("local").upload.create(content="iso", filename=f)
    status, log = wait_task(ctx.s, ctx.d, upid)
    check_equal(status, "OK", log)
    vols = [c["volid"] for c in api.nodes(NODE).storage("local").content.get(content="iso")]
    assert "local:iso/pxr.iso" in vols, vols
    info = api.nodes(NODE).storage("local").content("local:iso/pxr.iso").get()
    check_equal(info["size"], 1 << 20)


@suite.test
def test_upload_auth(ctx):
    """no ticket: 401; ticket without CSRF: 401; no Datastore.AllocateTemplate: 403"""
    src = os.path.join(ctx.tmp, "small.iso")
    make_file(src, 4096)
    expect_error(ctx.upload("local", "iso", src, session=Session()), 401, "No ticket")
    nocsrf = ctx.d.session()
    del nocsrf.headers["CSRFPreventionToken"]
    expect_error(ctx.upload("local", "iso", src, session=nocsrf), 401, "invalid csrf token")
    ctx.s.post(f"{ctx.d.url}/access/users", data={"userid": "user@pve", "password": "Us3r-pw-12"})
    ctx.s.put(f"{ctx.d.url}/access/acl", data={"path": "/storage/local", "roles": "PVEDatastoreUser",
                                              "users": "user@pve"})
    user = ctx.d.session("user@pve", "Us3r-pw-12")
    expect_error(ctx.upload("local", "iso", src, session=user), 403,
           "Permission check failed (/storage/local, Datastore.AllocateTemplate)")
    check_equal(ctx.leftovers(local_root(ctx)), [])


@suite.test
def test_upload_bad_parameters(ctx):
    """missing or wrong content, wrong extension, unknown storage: clear errors"""
    src = os.path.join(ctx.tmp, "small.iso")
    make_file(src, 4096)
    with open(src, "rb") as f:
        r = ctx.s.post(f"{ctx.url}/local/upload", files={"filename": ("a.iso", f)})
    expect_error(r, 400, "Parameter verification failed", "content")
    expect_error(ctx.upload("local", "vztmpl", src), 400, "Parameter verification failed", "content")
    expect_error(ctx.upload("local", "isos", src), 400, "Parameter verification failed", "content")
    expect_error(ctx.upload("local", "iso", src, name="x.exe"), 400, "Parameter verification failed",
           "filename")
    expect_error(ctx.upload("local", "iso", src, name=".hidden.iso"), 400,
           "Parameter verification failed", "filename")
    expect_error(ctx.upload("local", "iso", src, checksum="abc"), 400,
           "Parameter verification failed", "checksum-algorithm")
    expect_error(ctx.upload("nope", "iso", src), 500, "storage 'nope' does not exist")
    r = ctx.s.post(f"{ctx.url}/local/upload", data={"content": "iso"})
    expect_error(r, 400, "multipart/form-data")
    check_equal(ctx.leftovers(local_root(ctx)), [])
    assert not os.path.exists(os.path.join(local_root(ctx), "iso", "x.exe"))


@suite.test
def test_qcow2_backing_refused(ctx):
    """a qcow2 with backing file /etc/shadow or an external data file is refused and removed"""
    evil = os.path.join(ctx.tmp, "evil.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "/etc/shadow", "-F",
                    "raw", evil, "1M"], check=True)
    r = ctx.upload("local", "import", evil)
    check_equal(r.status_code, 200, r.text)
    status, log = wait_task(ctx.s, ctx.d, r.json()["data"])
    assert "backing file" in status, status
    ext = os.path.join(ctx.tmp, "ext.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o",
                    f"data_file={os.path.join(ctx.tmp, 'ext.raw')}", ext, "1M"], check=True)
    r = ctx.upload("local", "import", ext)
    status, log = wait_task(ctx.s, ctx.d, r.json()["data"])
    assert "external data file" in status, status
    names = os.listdir(os.path.join(local_root(ctx), "import"))
    assert "evil.qcow2" not in names and "ext.qcow2" not in names, names
    check_equal(ctx.leftovers(local_root(ctx)), [])
    # planted by hand, the import flattens nothing outside the storage: refused
    shutil.copy(evil, os.path.join(local_root(ctx), "import", "planted.qcow2"))
    r = ctx.s.post(f"{ctx.d.url}/nodes/{NODE}/qemu",
                   data={"vmid": "301", "scsi0": "local:0,import-from=local:import/planted.qcow2"})
    if r.status_code == 200:
        status, _ = wait_task(ctx.s, ctx.d, r.json()["data"])
        assert status != "OK", status
    assert not os.path.exists(os.path.join(local_root(ctx), "images", "301")) or \
        os.listdir(os.path.join(local_root(ctx), "images", "301")) == []


@suite.test
def test_checksum_mismatch(ctx):
    """a checksum mismatch fails the task and leaves nothing"""
    src = os.path.join(ctx.tmp, "sum.iso")
    make_file(src, 1 << 20)
    r = ctx.upload("local", "iso", src, checksum="00" * 20, **{"checksum-algorithm": "sha1"})
    status, log = wait_task(ctx.s, ctx.d, r.json()["data"])
    assert status.startswith("checksum mismatch: got '"), status
    assert not os.path.exists(os.path.join(local_root(ctx), "iso", "sum.iso"))
    check_equal(ctx.leftovers(local_root(ctx)), [])
    md5 = hashlib.md5(open(src, "rb").read()).hexdigest().upper()
    ctx.ok(ctx.upload("local", "iso", src, checksum=md5, **{"checksum-algorithm": "md5"}))


@suite.test
def test_checksum_after_file(ctx):
    """checksum fields sent after the file part: the task hashes the stored file"""
    src = os.path.join(ctx.tmp, "late.iso")
    make_file(src, 3 << 20, seed=b"late")
    sha512 = hashlib.sha512(open(src, "rb").read()).hexdigest()

    def post(name, checksum):
        with open(src, "rb") as f:
            return ctx.s.post(f"{ctx.url}/local/upload", timeout=120, files=[
                ("content", (None, "iso")), ("filename", (name, f)),
                ("checksum-algorithm", (None, "sha512")), ("checksum", (None, checksum))])

    r = post("late-bad.iso", "ab" * 64)
    check_equal(r.status_code, 200, r.text)
    status, _ = wait_task(ctx.s, ctx.d, r.json()["data"])
    assert status.startswith("checksum mismatch: got '" + sha512), status
    assert not os.path.exists(os.path.join(local_root(ctx), "iso", "late-bad.iso"))
    log = ctx.ok(post("late.iso", sha512.upper()))
    assert "checksum verified" in log, log
    check_equal(file_sha256(os.path.join(local_root(ctx), "iso", "late.iso")), file_sha256(src))
    check_equal(ctx.leftovers(local_root(ctx)), [])


def raw_post(ctx, body, content_length, boundary="B0und4ry"):
    """Sends a multipart POST by hand over TLS; returns the status line
    (or '' when the server closed without answering)."""
    ticket, csrf = ctx.d.login()
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    head = (f"POST /api2/json/nodes/{NODE}/storage/local/upload HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nCookie: PVEAuthCookie={urllib.parse.quote(ticket)}\r\n"
            f"CSRFPreventionToken: {csrf}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {content_length}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", ctx.d.port), timeout=30) as raw:
        with tls.wrap_socket(raw) as s:
            s.sendall(head + body)
            if content_length > len(body):
                return ""  # closed mid-body
            return s.recv(4096).decode(errors="replace").split("\r\n")[0]


@suite.test
def test_truncated_uploads(ctx):
    """a body cut before its closing boundary, and a client gone mid-body"""
    part = (b"--B0und4ry\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\niso\r\n"
            b"--B0und4ry\r\nContent-Disposition: form-data; name=\"filename\"; "
            b"filename=\"cut.iso\"\r\n\r\n" + b"x" * 300000)
    line = raw_post(ctx, part, len(part))
    assert line.startswith("HTTP/1.1 400"), line
    raw_post(ctx, part, len(part) + 1000000)
    wait_for("no upload temporaries left", lambda: ctx.leftovers(local_root(ctx)) == [],
             timeout=10, step=0.1)
    assert not os.path.exists(os.path.join(local_root(ctx), "iso", "cut.iso"))


@suite.test
def test_enospc(ctx):
    """a full file system (tmpfs of 4 MiB): a clear 500 and nothing left"""
    mnt = os.path.join(ctx.tmp, "small")
    os.makedirs(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt], check=True)
    try:
        r = ctx.s.post(f"{ctx.d.url}/storage", data={"storage": "small", "type": "dir",
                                                      "path": mnt, "content": "iso"})
        check_equal(r.status_code, 200, r.text)
        src = os.path.join(ctx.tmp, "big.iso")
        make_file(src, 12 << 20)
        r = ctx.upload("small", "iso", src)
        expect_error(r, 500, "No space left on device")
        check_equal(ctx.leftovers(mnt), [])
        check_equal(os.listdir(os.path.join(mnt, "iso")), [])
    finally:
        subprocess.run(["umount", mnt], check=False)


@contextlib.contextmanager
def thin_storage(ctx, name, size):
    """A dir storage NAME on an ext4 of SIZE bytes over a loop device whose
    image lives on a tmpfs of 12 MiB: writes fill the page cache, the disk's
    own writes fail with ENOSPC (a thin disk whose pool is full).  Yields
    the mount point."""
    backing, mnt = os.path.join(ctx.tmp, name + "-backing"), os.path.join(ctx.tmp, name)
    os.makedirs(backing)
    os.makedirs(mnt)
    loop = None
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", backing], check=True)
    try:
        img = os.path.join(backing, "disk.img")
        with open(img, "wb") as f:
            f.truncate(size)
        loop = subprocess.run(["losetup", "-f", "--show", img], check=True, capture_output=True,
                              text=True).stdout.strip()
        subprocess.run(["mkfs.ext4", "-q", "-O", "^has_journal", "-E", "lazy_itable_init=1",
                        loop], check=True)
        subprocess.run(["mount", loop, mnt], check=True)
        r = ctx.s.post(f"{ctx.d.url}/storage", data={"storage": name, "type": "dir",
                                                      "path": mnt, "content": "iso"})
        check_equal(r.status_code, 200, r.text)
        yield mnt
    finally:
        subprocess.run(["umount", mnt], check=False)
        if loop:
            subprocess.run(["losetup", "-d", loop], check=False)
        subprocess.run(["umount", backing], check=False)


@suite.test
def test_full_at_writeback(ctx):
    """a thin disk full only at writeback: the task fails on its sync and nothing is kept"""
    with thin_storage(ctx, "thin", 128 << 20) as mnt:
        src = os.path.join(ctx.tmp, "thin.iso")
        make_file(src, 40 << 20, seed=b"thin")  # within the writer's window: the task syncs
        r = ctx.upload("thin", "iso", src)
        check_equal(r.status_code, 200, r.text)
        status, log = wait_task(ctx.s, ctx.d, r.json()["data"])
        assert status.startswith("cannot sync 'thin:iso/thin.iso' to disk: "), (status, log)
        assert "No space left on device" in status or "Input/output error" in status, status
        check_equal(ctx.leftovers(mnt), [])
        check_equal(os.listdir(os.path.join(mnt, "iso")), [])
        os.unlink(src)


@suite.test
def test_full_at_writeback_midway(ctx):
    """a thin disk full at writeback, met by the writer's wait mid-upload: a clear 500"""
    with thin_storage(ctx, "thin2", 512 << 20) as mnt:
        src = os.path.join(ctx.tmp, "thin2.iso")
        make_file(src, 200 << 20, seed=b"thin2")  # past the writer's 160 MiB window
        expect_error(ctx.upload("thin2", "iso", src), 500, "No space left on device")
        check_equal(ctx.leftovers(mnt), [])
        check_equal(os.listdir(os.path.join(mnt, "iso")), [])
        os.unlink(src)


@suite.test
def test_missing_directory(ctx):
    """an upload to a storage whose directory is gone: a clear 500"""
    path = os.path.join(ctx.tmp, "vanished")
    ctx.s.post(f"{ctx.d.url}/storage", data={"storage": "vanished", "type": "dir", "path": path})
    shutil.rmtree(path)
    src = os.path.join(ctx.tmp, "small.iso")
    make_file(src, 4096)
    expect_error(ctx.upload("vanished", "iso", src), 500, "unable to activate storage 'vanished'")
    assert not os.path.exists(path)


def vm_rss_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def page_cache(path):
    """(cached, dirty, under writeback) pages of the file at PATH: cachestat(2)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                             ctypes.c_uint]
    whole = (ctypes.c_uint64 * 2)(0, 0)  # offset 0, length 0: up to the end
    stat = (ctypes.c_uint64 * 5)()  # cache, dirty, writeback, evicted, recently evicted
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.syscall(SYS_CACHESTAT, fd, whole, stat, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"cachestat: {os.strerror(err)}")
    finally:
        os.close(fd)
    return stat[0], stat[1], stat[2]


@suite.test
def test_large_upload_rss(ctx):
    """a 2 GiB upload (curl -F): RSS +<16 MiB (100 under ASan); at OK on disk, out of the
    cache, intact

    When the task says OK no page of the file is dirty or under writeback,
    nearly all of it has left the page cache, and its bytes are the ones sent."""
    src = os.path.join(ctx.tmp, "large.iso")
    want = make_file(src, 2 << 30, seed=b"large")
    pid = ctx.d.proc.pid
    before = vm_rss_kb(pid, "VmHWM")
    ticket = urllib.parse.quote(ctx.s.cookies.get("PVEAuthCookie"))
    out = subprocess.run(
        ["curl", "-sS", "-k", "--fail-with-body", "-H", f"Cookie: PVEAuthCookie={ticket}",
         "-H", f"CSRFPreventionToken: {ctx.s.headers['CSRFPreventionToken']}",
         "-F", "content=iso", "-F", f"filename=@{src}", f"{ctx.url}/local/upload"],
        capture_output=True, text=True, timeout=300)
    check_equal(out.returncode, 0, out.stdout + out.stderr)
    status, log = wait_task(ctx.s, ctx.d, json.loads(out.stdout)["data"])
    check_equal(status, "OK", log)
    stored = os.path.join(local_root(ctx), "iso", "large.iso")
    cached, dirty, writeback = page_cache(stored)
    check_equal((dirty, writeback), (0, 0))
    assert cached * os.sysconf("SC_PAGE_SIZE") < 16 << 20, f"{cached} pages still cached"
    os.unlink(src)
    check_equal(file_sha256(stored), want)
    grown = vm_rss_kb(pid, "VmHWM") - before
    # An ASan build keeps freed blocks in its quarantine: there the bound
    # only shows the body was not held whole.
    with open(f"/proc/{pid}/maps") as f:
        limit = 100 if "libasan" in f.read() else 16
    assert grown < limit * 1024, f"peak RSS grew by {grown} KiB"
    check_equal(os.path.getsize(stored), 2 << 30)
    os.unlink(stored)


@suite.test
def test_import_and_boot(ctx):
    """the test guest uploaded, imported into a VM (import-from), booted, deleted"""
    ctx.ok(ctx.upload("local", "import", GUEST, name="guest.qcow2"))
    r = ctx.s.post(f"{ctx.d.url}/nodes/{NODE}/qemu",
                   data={"vmid": "200", "name": "imported", "memory": "256", "cores": "1",
                         "virtio0": "local:0,import-from=local:import/guest.qcow2",
                         "serial0": "socket", "boot": "order=virtio0"})
    ctx.ok(r)
    conf = ctx.s.get(f"{ctx.d.url}/nodes/{NODE}/qemu/200/config").json()["data"]
    check_equal(conf["virtio0"], "local:200/vm-200-disk-0.qcow2,size=64M")
    disk = os.path.join(local_root(ctx), "images", "200", "vm-200-disk-0.qcow2")
    out = subprocess.run(["qemu-img", "compare", GUEST, disk], capture_output=True, text=True)
    check_equal(out.returncode, 0, out.stdout + out.stderr)
    # a second VM's disk imported from the first VM's disk, as raw
    r = ctx.s.post(f"{ctx.d.url}/nodes/{NODE}/qemu",
                   data={"vmid": "201", "scsi0": "local:0,format=raw,"
                                                 "import-from=local:200/vm-200-disk-0.qcow2"})
    ctx.ok(r)
    conf = ctx.s.get(f"{ctx.d.url}/nodes/{NODE}/qemu/201/config").json()["data"]
    check_equal(conf["scsi0"], "local:201/vm-201-disk-0.raw,size=64M")
    ctx.ok(ctx.s.post(f"{ctx.d.url}/nodes/{NODE}/qemu/200/status/start"))
    serial = Serial(ctx.d, 200)
    try:
        serial.wait_boot()
    finally:
        serial.close()
        r = ctx.s.post(f"{ctx.d.url}/nodes/{NODE}/qemu/200/status/stop")
        wait_task(ctx.s, ctx.d, r.json()["data"])
    r = ctx.s.delete(f"{ctx.url}/local/content/local:import/guest.qcow2")
    status, _ = wait_task(ctx.s, ctx.d, r.json()["data"])
    check_equal(status, "OK")
    r = ctx.s.delete(f"{ctx.url}/local/content/local:200/vm-200-disk-0.qcow2")
    expect_error(r, 500, "volume is used by VM 200")
    for vmid in (200, 201):
        r = ctx.s.delete(f"{ctx.d.url}/nodes/{NODE}/qemu/{vmid}", params={"purge": "1"})
        wait_task(ctx.s, ctx.d, r.json()["data"])
    assert not os.path.exists(disk)


@suite.test
def test_import_errors(ctx):
    """import-from: unknown volumes, wrong content, paths outside: 400s"""
    for src, text in [("local:import/none.qcow2", "does not exist"),
                      ("local:iso/install.iso", "content type needs to be"),
                      ("nope:import/x.qcow2", "does not exist"),
                      ("/etc/shadow", "unable to parse"),
                      ("local:import/../../x.qcow2", "unable to parse")]:
        r = ctx.s.post(f"{ctx.d.url}/nodes/{NODE}/qemu",
                       data={"vmid": "210", "scsi0": f"local:0,import-from={src}"})
        expect_error(r, 400, "Parameter verification failed", "scsi0")
        assert text in r.json()["errors"]["scsi0"], (src, r.json())


def main():
    ensure_guest()
    tmp = tempfile.mkdtemp(prefix="corral-upload-")
    failed = 1
    try:
        # A small ASan quarantine, so that a sanitized corrald's peak RSS
        # still tells whether an upload streams (TLS frees a buffer per record).
        asan = (os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=4").lstrip(":")
        with Corrald(node=NODE, env={"ASAN_OPTIONS": asan}) as d:
            try:
                _, failed = suite.run(Ctx(d, tmp), exit=False)
            finally:
                kill_vms(d, (200, 201, 301))
    finally:
        subprocess.run(["umount", os.path.join(tmp, "small")], check=False,
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
