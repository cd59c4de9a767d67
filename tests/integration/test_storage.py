#!/usr/bin/python3
"""Storages on a real corrald: definitions under /storage (validation,
privileges, the default "local"), the node's storage list and status with
real file system figures, volumes (list, allocate, info, delete as a task,
copy), strict volume ids, a storage whose directory went away, and the
storage rows of /cluster/resources."""
import os
import shutil
import subprocess
import tempfile
import urllib.parse

from corral_test import Corrald, Suite, check_equal, expect_error, wait_for, wait_task

suite = Suite("storage")
NODE = "stornode"


@suite.test
def test_local_default(d, s, tmp):
    """'local' exists from the first start with its content and path"""
    rows = s.get(f"{d.url}/storage").json()["data"]
    local = [x for x in rows if x["storage"] == "local"]
    check_equal(len(local), 1)
    check_equal(local[0]["type"], "dir")
    check_equal(local[0]["content"], "images,import,iso")
    check_equal(local[0]["path"], os.path.join(d.data_dir, "images"))
    assert len(local[0]["digest"]) == 40
    got = s.get(f"{d.url}/storage/local").json()["data"]
    check_equal(got["path"], local[0]["path"])


@suite.test
def test_create_update_delete(d, s, tmp):
    """POST/GET/PUT/DELETE /storage with Proxmox's parameters"""
    path = os.path.join(tmp, "store1")
    r = s.post(f"{d.url}/storage", data={"storage": "store1", "type": "dir", "path": path,
                                          "content": "iso,images,snippets"})
    check_equal(r.status_code, 200, r.text)
    check_equal(r.json()["data"], {"storage": "store1", "type": "dir"})
    assert os.path.isdir(os.path.join(path, "iso")) and os.path.isdir(os.path.join(path, "snippets"))
    got = s.get(f"{d.url}/storage/store1").json()["data"]
    check_equal(got["content"], "images,iso,snippets")
    r = s.post(f"{d.url}/storage", data={"storage": "store1", "type": "dir", "path": path})
    expect_error(r, 500, "storage ID 'store1' already defined")
    r = s.put(f"{d.url}/storage/store1", data={"content": "iso", "shared": "1",
                                               "digest": "0" * 40})
    expect_error(r, 500, "detected modified configuration")
    r = s.put(f"{d.url}/storage/store1", data={"content": "iso", "shared": "1",
                                               "nodes": NODE, "digest": got["digest"]})
    check_equal(r.status_code, 200, r.text)
    got = s.get(f"{d.url}/storage/store1").json()["data"]
    check_equal((got["content"], got["shared"], got["nodes"]), ("iso", 1, NODE))
    r = s.put(f"{d.url}/storage/store1", data={"delete": "shared,nodes"})
    check_equal(r.status_code, 200, r.text)
    got = s.get(f"{d.url}/storage/store1").json()["data"]
    assert "shared" not in got and "nodes" not in got, got
    r = s.put(f"{d.url}/storage/store1", data={"path": "/etc"})
    expect_error(r, 400, "Parameter verification failed", "path")
    check_equal(s.delete(f"{d.url}/storage/store1").status_code, 200)
    expect_error(s.get(f"{d.url}/storage/store1"), 500, "storage 'store1' does not exist")
    expect_error(s.delete(f"{d.url}/storage/store1"), 500, "does not exist")


@suite.test
def test_create_validation(d, s, tmp):
    """bad storage ids, types, paths, content and node lists are 400s"""
    base = {"storage": "x1", "type": "dir", "path": os.path.join(tmp, "x1")}
    for key, val in [("storage", "1abc"), ("storage", "a b"), ("type", "lvm"),
                     ("path", "relative/dir"), ("path", "/a/../etc"), ("path", "/a/\x01"),
                     ("content", "iso,vztmpl"), ("content", "rootdir"), ("nodes", "a,b c!"),
                     ("shared", "yes"), ("disable", "2")]:
        r = s.post(f"{d.url}/storage", data=dict(base, **{key: val}))
        expect_error(r, 400, "Parameter verification failed", key)
    r = s.post(f"{d.url}/storage", data={"storage": "x1", "type": "dir"})
    expect_error(r, 400, "Parameter verification failed", "path")
    r = s.post(f"{d.url}/storage", data=dict(base, bogus="1"))
    expect_error(r, 400, "Parameter verification failed", "bogus")


@suite.test
def test_privileges(d, s, tmp):
    """Datastore.Allocate on /storage creates; an auditor only lists what it may see"""
    s.post(f"{d.url}/access/users", data={"userid": "aud@pve", "password": "Aud1t-pw-123"})
    s.put(f"{d.url}/access/acl", data={"path": "/storage/local", "roles": "PVEAuditor",
                                      "users": "aud@pve"})
    a = d.session("aud@pve", "Aud1t-pw-123")
    r = a.post(f"{d.url}/storage", data={"storage": "y1", "type": "dir",
                                          "path": os.path.join(tmp, "y1")})
    expect_error(r, 403, "Permission check failed (/storage, Datastore.Allocate)")
    expect_error(a.delete(f"{d.url}/storage/local"), 403, "Permission check failed")
    expect_error(a.get(f"{d.url}/storage/local"), 403, "Datastore.Allocate")
    check_equal([x["storage"] for x in a.get(f"{d.url}/storage").json()["data"]], ["local"])
    rows = a.get(f"{d.url}/nodes/{NODE}/storage").json()["data"]
    check_equal([x["storage"] for x in rows], ["local"])
    r = a.post(f"{d.url}/nodes/{NODE}/storage/local/content",
               data={"vmid": "150", "filename": "", "size": "1M"})
    expect_error(r, 403, "Datastore.AllocateSpace")


@suite.test
def test_node_storage_list(d, s, tmp):
    """/nodes/{node}/storage: real figures, content/storage/enabled filters"""
    path = os.path.join(tmp, "isos")
    s.post(f"{d.url}/storage", data={"storage": "isos", "type": "dir", "path": path,
                                      "content": "iso"})
    s.post(f"{d.url}/storage", data={"storage": "off", "type": "dir", "disable": "1",
                                      "path": os.path.join(tmp, "off")})
    s.post(f"{d.url}/storage", data={"storage": "elsewhere", "type": "dir", "nodes": "other1",
                                      "path": os.path.join(tmp, "elsewhere")})
    rows = {x["storage"]: x for x in s.get(f"{d.url}/nodes/{NODE}/storage").json()["data"]}
    check_equal(sorted(rows), ["isos", "local", "off"])
    st = os.statvfs(path)
    total = st.f_blocks * st.f_frsize
    check_equal(rows["isos"]["total"], total)
    assert 0 < rows["isos"]["avail"] <= total and 0 < rows["isos"]["used"] <= total
    check_equal((rows["isos"]["active"], rows["isos"]["enabled"]), (1, 1))
    check_equal((rows["off"]["active"], rows["off"]["enabled"]), (0, 0))
    got = s.get(f"{d.url}/nodes/{NODE}/storage", params={"content": "iso"}).json()["data"]
    check_equal(sorted(x["storage"] for x in got), ["isos", "local", "off"])
    got = s.get(f"{d.url}/nodes/{NODE}/storage",
                params={"content": "images", "enabled": "1"}).json()["data"]
    check_equal(sorted(x["storage"] for x in got), ["local"])
    got = s.get(f"{d.url}/nodes/{NODE}/storage", params={"enabled": "1"}).json()["data"]
    check_equal(sorted(x["storage"] for x in got), ["isos", "local"])
    got = s.get(f"{d.url}/nodes/{NODE}/storage", params={"storage": "isos"}).json()["data"]
    check_equal([x["storage"] for x in got], ["isos"])
    idx = s.get(f"{d.url}/nodes/{NODE}/storage/isos").json()["data"]
    check_equal(sorted(x["subdir"] for x in idx),
                ["content", "download-url", "status", "upload"])
    st = s.get(f"{d.url}/nodes/{NODE}/storage/isos/status").json()["data"]
    check_equal((st["type"], st["content"], st["active"], st["total"]), ("dir", "iso", 1, total))
    expect_error(s.get(f"{d.url}/nodes/{NODE}/storage/nope/status"), 500,
                 "storage 'nope' does not exist")
    expect_error(s.get(f"{d.url}/nodes/{NODE}/storage/off/content"), 500, "is disabled")
    expect_error(s.get(f"{d.url}/nodes/{NODE}/storage/elsewhere/content"), 500,
                 "does not exist")


@suite.test
def test_content_alloc_info_delete(d, s, tmp):
    """allocate, list (content and vmid filters), info, delete as a task"""
    url = f"{d.url}/nodes/{NODE}/storage/local/content"
    r = s.post(url, data={"vmid": "150", "filename": "", "size": "4M"})
    check_equal(r.json()["data"], "local:150/vm-150-disk-0.qcow2", r.text)
    r = s.post(url, data={"vmid": "150", "filename": "vm-150-data.raw", "size": "2048"})
    check_equal(r.json()["data"], "local:150/vm-150-data.raw", r.text)
    expect_error(s.post(url, data={"vmid": "150", "filename": "vm-150-data.raw", "size": "1M"}),
                 500, "already exists")
    expect_error(s.post(url, data={"vmid": "150", "filename": "vm-151-x.qcow2", "size": "1M"}),
                 400, "Parameter verification failed", "filename")
    expect_error(s.post(url, data={"vmid": "150", "filename": "", "size": "1T"}), 400,
                 "Parameter verification failed", "size")
    s.post(url, data={"vmid": "151", "filename": "", "size": "1M", "format": "raw"})
    rows = s.get(url, params={"vmid": "150"}).json()["data"]
    check_equal(sorted(x["volid"] for x in rows),
                ["local:150/vm-150-data.raw", "local:150/vm-150-disk-0.qcow2"])
    check_equal([x["size"] for x in rows if x["format"] == "raw"], [2 << 20])
    check_equal(s.get(url, params={"content": "iso"}).json()["data"], [])
    info = s.get(f"{url}/local:150/vm-150-disk-0.qcow2").json()["data"]
    check_equal(info["path"], os.path.join(d.data_dir, "images/images/150/vm-150-disk-0.qcow2"))
    check_equal((info["format"], info["size"]), ("qcow2", 4 << 20))
    assert info["used"] > 0
    info2 = s.get(f"{url}/" + urllib.parse.quote("150/vm-150-disk-0.qcow2", safe="")).json()
    check_equal(info2["data"]["path"], info["path"])
    r = s.delete(f"{url}/local:150/vm-150-disk-0.qcow2")
    upid = r.json()["data"]
    assert upid, r.text
    assert upid.startswith(f"UPID:{NODE}:") and ":imgdel:" in upid, upid
    check_equal(wait_task(s, d, upid)[0], "OK")
    assert not os.path.exists(info["path"])
    expect_error(s.get(f"{url}/local:150/vm-150-disk-0.qcow2"), 500, "does not exist")


@suite.test
def test_volume_validation(d, s, tmp):
    """.., absolute paths, NUL, symlinks out, wrong content, unknown storages"""
    url = f"{d.url}/nodes/{NODE}/storage/local/content"
    for vol in ["local:iso/../../etc/shadow", "local:/etc/shadow", "local:iso/x\x00.iso",
                "iso/../../etc/passwd", "local:etc/passwd", "local:100/vm-101-disk-0.qcow2",
                "other:iso/x.iso"]:
        r = s.get(f"{url}/" + urllib.parse.quote(vol, safe=""))
        expect_error(r, 400, "Parameter verification failed", "volume")
    os.symlink("/etc/passwd", os.path.join(d.data_dir, "images/iso/evil.iso"))
    try:
        r = s.get(f"{url}/local:iso/evil.iso")
        expect_error(r, 500, "leads outside the storage")
        names = [x["volid"] for x in s.get(url).json()["data"]]
        assert "local:iso/evil.iso" not in names, names
        expect_error(s.delete(f"{url}/local:iso/evil.iso"), 500, "leads outside the storage")
    finally:
        os.unlink(os.path.join(d.data_dir, "images/iso/evil.iso"))
    path = os.path.join(tmp, "onlyiso")
    s.post(f"{d.url}/storage", data={"storage": "onlyiso", "type": "dir", "path": path,
                                      "content": "iso"})
    os.makedirs(os.path.join(path, "import"), exist_ok=True)
    open(os.path.join(path, "import/x.qcow2"), "w").close()
    r = s.get(f"{d.url}/nodes/{NODE}/storage/onlyiso/content/onlyiso:import/x.qcow2")
    expect_error(r, 400, "does not support content-type 'import'")
    r = s.post(f"{d.url}/nodes/{NODE}/storage/onlyiso/content",
               data={"vmid": "150", "filename": "", "size": "1M"})
    expect_error(r, 400, "does not support content-type 'images'")


@suite.test
def test_missing_directory(d, s, tmp):
    """a storage whose directory went away: clear errors, nothing recreated"""
    path = os.path.join(tmp, "gone")
    s.post(f"{d.url}/storage", data={"storage": "gone", "type": "dir", "path": path})
    shutil.rmtree(path)
    msg = f"unable to activate storage 'gone' - directory '{path}' does not exist"
    expect_error(s.get(f"{d.url}/nodes/{NODE}/storage/gone/content"), 500, msg)
    r = s.post(f"{d.url}/nodes/{NODE}/storage/gone/content",
               data={"vmid": "150", "filename": "", "size": "1M"})
    expect_error(r, 500, msg)
    row = [x for x in s.get(f"{d.url}/nodes/{NODE}/storage").json()["data"]
           if x["storage"] == "gone"][0]
    check_equal((row["active"], row["enabled"], row["total"]), (0, 1, 0))
    assert not os.path.exists(path)


@suite.test
def test_copy_between_storages(d, s, tmp):
    """POST content/{volume} copies a disk or an ISO to another storage as a task"""
    path = os.path.join(tmp, "second")
    s.post(f"{d.url}/storage", data={"storage": "second", "type": "dir", "path": path})
    url = f"{d.url}/nodes/{NODE}/storage/local/content"
    vol = s.post(url, data={"vmid": "160", "filename": "", "size": "8M"}).json()["data"]
    src = s.get(f"{url}/{vol}").json()["data"]["path"]
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 1M 64k", src], check=True,
                   stdout=subprocess.DEVNULL)
    upid = s.post(f"{url}/{vol}", data={"target": "second"}).json()["data"]
    check_equal(wait_task(s, d, upid)[0], "OK")
    dst = os.path.join(path, "images/160/vm-160-disk-0.qcow2")
    out = subprocess.run(["qemu-img", "compare", src, dst], capture_output=True, text=True)
    check_equal(out.returncode, 0, out.stdout + out.stderr)
    r = s.post(f"{url}/{vol}", data={"target": "nope"})
    expect_error(r, 500, "storage 'nope' does not exist")
    # a file volume keeps its name on the target storage
    with open(os.path.join(d.data_dir, "images/iso/copy-me.iso"), "wb") as f:
        f.write(b"\x42" * 300000)
    upid = s.post(f"{url}/local:iso/copy-me.iso", data={"target": "second"}).json()["data"]
    check_equal(wait_task(s, d, upid)[0], "OK")
    with open(os.path.join(path, "iso/copy-me.iso"), "rb") as f:
        check_equal(f.read(), b"\x42" * 300000)
    upid = s.post(f"{url}/local:iso/copy-me.iso", data={"target": "second"}).json()["data"]
    assert "already exists" in wait_task(s, d, upid)[0]
    check_equal([f for f in os.listdir(os.path.join(path, "iso")) if f.startswith(".")], [])


@suite.test
def test_cluster_resources(d, s, tmp):
    """/cluster/resources has a storage row per storage of the node"""
    rows = s.get(f"{d.url}/cluster/resources", params={"type": "storage"}).json()["data"]
    local = [x for x in rows if x["id"] == f"storage/{NODE}/local"]
    check_equal(len(local), 1, rows)
    x = local[0]
    check_equal((x["type"], x["storage"], x["node"], x["plugintype"], x["status"], x["shared"]),
                ("storage", "local", NODE, "dir", "available", 0))
    check_equal(x["content"], "images,import,iso")
    assert 0 < x["disk"] <= x["maxdisk"]
    vm_rows = s.get(f"{d.url}/cluster/resources", params={"type": "vm"}).json()["data"]
    assert all(r["type"] != "storage" for r in vm_rows)


class HttpServer:
    """python3 -m http.server on a free loopback port serving DIR."""

    def __init__(self, directory):
        from corral_test import free_port
        self.port = free_port()
        self.proc = subprocess.Popen(["/usr/bin/python3", "-m", "http.server", "--bind",
                                      "127.0.0.1", "--directory", directory, str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import socket
        wait_for("http.server listening", lambda: socket.create_connection(
            ("127.0.0.1", self.port), timeout=1).close() or True, timeout=15, step=0.1)

    def url(self, name):
        return f"http://127.0.0.1:{self.port}/{name}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@suite.test
def test_download_url(d, s, tmp):
    """download-url from a local HTTP server: checksum, 404, qcow2 with a backing file"""
    import hashlib
    www = os.path.join(tmp, "www")
    os.makedirs(www)
    with open(os.path.join(www, "boot.iso"), "wb") as f:
        f.write(os.urandom(3 << 20))
    digest = hashlib.sha256(open(os.path.join(www, "boot.iso"), "rb").read()).hexdigest()
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", os.path.join(www, "disk.qcow2"),
                    "16M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "/etc/shadow", "-F",
                    "raw", os.path.join(www, "evil.qcow2"), "1M"], check=True)
    srv = HttpServer(www)
    url = f"{d.url}/nodes/{NODE}/storage/local/download-url"
    try:
        r = s.post(url, data={"url": srv.url("boot.iso"), "filename": "boot.iso", "content": "iso",
                              "checksum": digest, "checksum-algorithm": "sha256"})
        check_equal(r.status_code, 200, r.text)
        assert ":download:" in r.json()["data"]
        check_equal(wait_task(s, d, r.json()["data"])[0], "OK")
        got = os.path.join(d.data_dir, "images/iso/boot.iso")
        check_equal(hashlib.sha256(open(got, "rb").read()).hexdigest(), digest)
        r = s.post(url, data={"url": srv.url("disk.qcow2"), "filename": "disk.qcow2",
                              "content": "import", "verify-certificates": "0"})
        check_equal(wait_task(s, d, r.json()["data"])[0], "OK")
        r = s.post(url, data={"url": srv.url("boot.iso"), "filename": "bad.iso", "content": "iso",
                              "checksum": "0" * 64, "checksum-algorithm": "sha256"})
        assert wait_task(s, d, r.json()["data"])[0].startswith("checksum mismatch"), r.text
        r = s.post(url, data={"url": srv.url("missing.iso"), "filename": "m.iso", "content": "iso"})
        status = wait_task(s, d, r.json()["data"])[0]
        assert "download failed" in status and "404" in status, status
        r = s.post(url, data={"url": srv.url("evil.qcow2"), "filename": "evil.qcow2",
                              "content": "import"})
        assert "backing file" in wait_task(s, d, r.json()["data"])[0]
        for name in ("bad.iso", "m.iso"):
            assert not os.path.exists(os.path.join(d.data_dir, "images/iso", name))
        assert not os.path.exists(os.path.join(d.data_dir, "images/import/evil.qcow2"))
        left = [f for sub in ("iso", "import") for f in os.listdir(os.path.join(d.data_dir, "images", sub))
                if f.startswith(".")]
        check_equal(left, [])
        for data, param in [({"url": "file:///etc/shadow"}, "url"), ({"url": "ftp://x/y.iso"}, "url"),
                            ({"filename": "x.exe"}, "filename"), ({"content": "images"}, "content")]:
            args = dict({"url": srv.url("boot.iso"), "filename": "y.iso", "content": "iso"}, **data)
            expect_error(s.post(url, data=args), 400, "Parameter verification failed", param)
        expect_error(s.post(url, data={"url": srv.url("boot.iso"), "filename": "boot.iso",
                                       "content": "iso"}), 500, "already exists")
    finally:
        srv.stop()


def main():
    tmp = tempfile.mkdtemp(prefix="corral-storage-")
    try:
        with Corrald(node=NODE) as d:
            suite.run(d, d.session(), tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
