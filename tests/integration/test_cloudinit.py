# corral-test: guest
"""Cloud-init through the REST API with the real Debian python3-proxmoxer and
real QEMU, genisoimage and isoinfo: a VM created with ide2=local:cloudinit and
the ci* keys as Ansible and Terraform send them (sshkeys URL-encoded), the
cloudinit/dump texts, the NoCloud ISO written at start (read back with
isoinfo from the drive's qcow2), the CD attached to the running QEMU,
pending values until PUT .../cloudinit regenerates, and Proxmox's 400s for
bad input.  The cases run in order and share one VM, which has no boot disk."""
import atexit
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from urllib.parse import quote

from proxmoxer.core import ResourceException

from corral_guest import VmCtx, run_suite
from corral_test import Cli, Suite, check_equal, expect_error

VMID = 100
CLONE = 101
PASSWORD = "s3cret: # 'pw'"
MAC = "BC:24:11:0A:0B:0C"

suite = Suite("cloudinit")


class Ctx(VmCtx):
    def __init__(self, d):
        super().__init__(d, VMID)
        self.tmp = tempfile.mkdtemp(prefix="corral-ci-")
        atexit.register(shutil.rmtree, self.tmp, True)

    def dump(self, kind):
        return self.vm.cloudinit.dump.get(type=kind)

    def ci_path(self):
        return os.path.join(self.d.data_dir, "images", "images", str(VMID),
                            f"vm-{VMID}-cloudinit.qcow2")

    def iso_file(self, name, path=None):
        """NAME from the ISO in the drive PATH (this VM's by default; qcow2 read
        with qemu-img -U)."""
        raw = os.path.join(self.tmp, "ci.raw")
        subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", path or self.ci_path(), raw],
                       check=True, timeout=60)
        out = subprocess.run(["isoinfo", "-R", "-i", raw, "-x", "/" + name],
                             check=True, timeout=60, capture_output=True)
        return out.stdout.decode()

    def iso_info(self):
        raw = os.path.join(self.tmp, "ci.raw")
        subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", self.ci_path(), raw],
                       check=True, timeout=60)
        return subprocess.run(["isoinfo", "-d", "-i", raw], check=True, timeout=60,
                              capture_output=True).stdout.decode()

    def rows(self):
        return {r["key"]: r for r in self.vm.cloudinit.get()}


# Key lines built from blobs that name their type (what Corral checks); the
# RSA one has a comment with quotes, which the YAML must escape.
def _rsa_key():
    import base64
    import struct
    blob = b"".join(struct.pack(">I", len(x)) + x
                    for x in (b"ssh-rsa", b"\x01\x00\x01", b"\x00" + b"\xab" * 64))
    return "ssh-rsa " + base64.b64encode(blob).decode() + " bob \"the admin\""


def _ed_key():
    import base64
    import struct
    blob = b"".join(struct.pack(">I", len(x)) + x for x in (b"ssh-ed25519", b"\x11" * 32))
    return "ssh-ed25519 " + base64.b64encode(blob).decode() + " alice@example"


KEY1 = _ed_key()
KEY2 = _rsa_key()


def expected_network(ip, gw):
    return ("version: 1\nconfig:\n"
            "    - type: physical\n      name: eth0\n"
            f"      mac_address: '{MAC.lower()}'\n      subnets:\n"
            f"      - type: static\n        address: '{ip}'\n"
            "        netmask: '255.255.255.0'\n"
            f"        gateway: '{gw}'\n"
            "      - type: ipv6_slaac\n"
            "    - type: nameserver\n      address:\n"
            "      - '192.0.2.53'\n      - '2001:db8::53'\n"
            "      search:\n      - \"example.com\"\n      - \"corp.example\"\n")


@suite.test
def test_create(ctx):
    """create a VM with ide2=local:cloudinit and the ci* keys (sshkeys URL-encoded)"""
    upid = ctx.node.qemu.create(
        vmid=VMID, name="ci-test", memory=128, cores=1, net0=f"virtio={MAC}",
        ide2="local:cloudinit", ciuser="ci-user", cipassword=PASSWORD,
        sshkeys=quote(KEY1 + "\n" + KEY2 + "\n", safe=""),
        ipconfig0="ip=192.0.2.10/24,gw=192.0.2.1,ip6=auto",
        nameserver="192.0.2.53 2001:db8::53", searchdomain="example.com corp.example",
        serial0="socket")
    ctx.ok(upid)
    conf = ctx.vm.config.get()
    check_equal(conf["ide2"], f"local:{VMID}/vm-{VMID}-cloudinit.qcow2,media=cdrom", "ide2")
    check_equal(conf["cipassword"], "**********", "cipassword")
    check_equal(conf["sshkeys"], quote(KEY1 + "\n" + KEY2 + "\n", safe=""), "sshkeys")
    check_equal(conf["ipconfig0"], "gw=192.0.2.1,ip=192.0.2.10/24,ip6=auto", "ipconfig0")
    assert os.path.getsize(ctx.ci_path()) > 0


@suite.test
def test_dump_user(ctx):
    """cloudinit/dump type=user: Proxmox's keys, user strings YAML-quoted, password hashed"""
    text = ctx.dump("user")
    lines = text.splitlines()
    check_equal(lines[:4], ["#cloud-config", "hostname: ci-test", "manage_etc_hosts: true",
                            'fqdn: "ci-test.example.com"'])
    assert 'user: "ci-user"' in lines, text
    pw = [ln for ln in lines if ln.startswith("password: ")]
    assert len(pw) == 1 and pw[0].startswith('password: "$5$'), text
    hashed = pw[0][len('password: "'):-1]
    salt = hashed.split("$")[2]
    again = subprocess.run(["openssl", "passwd", "-5", "-salt", salt, PASSWORD], check=True,
                           capture_output=True, timeout=30).stdout.decode().strip()
    check_equal(again, hashed, "password hash")
    i = lines.index("ssh_authorized_keys:")
    check_equal(lines[i + 1], f'  - "{KEY1}"')
    check_equal(lines[i + 2], '  - "' + KEY2.replace('"', '\\"') + '"')
    for want in ("chpasswd:", "  expire: False", "users:", "  - default",
                 "package_upgrade: true"):
        assert want in lines, (want, text)


@suite.test
def test_dump_network_meta(ctx):
    """cloudinit/dump type=network is v1 with the MAC of net0; meta's instance-id is sha1(user+network)"""
    net = ctx.dump("network")
    check_equal(net, expected_network("192.0.2.10", "192.0.2.1"))
    meta = ctx.dump("meta")
    want = hashlib.sha1((ctx.dump("user") + net).encode()).hexdigest()
    check_equal(meta, f"instance-id: {want}\n")


@suite.test
def test_get_before_start(ctx):
    """GET cloudinit before any image: every value current, password hidden"""
    rows = ctx.rows()
    check_equal(rows["ciuser"], {"key": "ciuser", "value": "ci-user"})
    check_equal(rows["cipassword"], {"key": "cipassword", "value": "**********"})
    check_equal(rows["ipconfig0"]["value"], "gw=192.0.2.1,ip=192.0.2.10/24,ip6=auto")
    assert all("pending" not in r for r in rows.values()), rows


@suite.test
def test_cli(ctx):
    """corral vm cloudinit-dump|cloudinit-pending|cloudinit-update (as qm cloudinit)"""
    cli = Cli(ctx.d)
    atexit.register(shutil.rmtree, cli.home, True)
    check_equal(cli.json("vm", "cloudinit-dump", str(VMID), "network"), ctx.dump("network"))
    rows = {r["key"]: r for r in cli.json("vm", "cloudinit-pending", str(VMID))}
    check_equal(rows["ciuser"], {"key": "ciuser", "value": "ci-user"})
    rc, _, err = cli.run("vm", "cloudinit-dump", str(VMID), "vendor")
    assert rc == 1 and "type" in err, (rc, err)
    cli.ok("vm", "cloudinit-update", str(VMID))
    assert os.path.getsize(ctx.ci_path()) > 0


@suite.test
def test_start_writes_iso(ctx):
    """start: the cidata ISO holds the dumped files and the CD is attached to QEMU"""
    log = ctx.ok(ctx.vm.status.start.post())
    assert "generating cloud-init ISO" in log, log
    info = ctx.iso_info()
    assert "Volume id: cidata" in info, info
    check_equal(ctx.iso_file("user-data"), ctx.dump("user"), "user-data")
    check_equal(ctx.iso_file("network-config"), ctx.dump("network"), "network-config")
    check_equal(ctx.iso_file("meta-data"), ctx.dump("meta"), "meta-data")
    check_equal(ctx.iso_file("vendor-data"), "", "vendor-data")
    with open(os.path.join(ctx.d.data_dir, "run", f"{VMID}.pid")) as f:
        pid = int(f.read().strip())
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    assert any(ctx.ci_path().encode() in a and b"read-only=on" in a for a in argv), argv
    assert any(a.startswith(b"ide-cd,") and b"drive=drive-ide2" in a for a in argv), argv


@suite.test
def test_pending_until_regenerated(ctx):
    """a new ipconfig0 is pending in GET cloudinit until PUT cloudinit regenerates the image"""
    old_meta = ctx.dump("meta")
    ctx.vm.config.put(ipconfig0="ip=192.0.2.20/24,gw=192.0.2.254,ip6=auto")
    row = ctx.rows()["ipconfig0"]
    check_equal(row, {"key": "ipconfig0", "value": "gw=192.0.2.1,ip=192.0.2.10/24,ip6=auto",
                      "pending": "gw=192.0.2.254,ip=192.0.2.20/24,ip6=auto"})
    check_equal(ctx.iso_file("network-config"), expected_network("192.0.2.10", "192.0.2.1"))
    ctx.vm.cloudinit.put()
    # the running QEMU holds the rewritten image again (its medium is back)
    held = subprocess.run(["qemu-img", "resize", "-f", "qcow2", ctx.ci_path(), "4M"],
                          capture_output=True, timeout=60)
    assert held.returncode != 0 and b"lock" in held.stderr, held
    row = ctx.rows()["ipconfig0"]
    check_equal(row, {"key": "ipconfig0", "value": "gw=192.0.2.254,ip=192.0.2.20/24,ip6=auto"})
    check_equal(ctx.iso_file("network-config"), expected_network("192.0.2.20", "192.0.2.254"))
    new_meta = ctx.iso_file("meta-data")
    assert new_meta != old_meta and new_meta == ctx.dump("meta"), (old_meta, new_meta)


@suite.test
def test_deleted_value_pending(ctx):
    """deleting searchdomain shows delete=1 until the next start writes the image"""
    ctx.vm.config.put(delete="searchdomain")
    check_equal(ctx.rows()["searchdomain"], {"key": "searchdomain", "delete": 1})
    ctx.ok(ctx.vm.status.stop.post())
    ctx.ok(ctx.vm.status.start.post())
    assert "searchdomain" not in ctx.rows()
    assert "search:" not in ctx.iso_file("network-config")
    ctx.ok(ctx.vm.status.stop.post())


@suite.test
def test_cicustom_snippet(ctx):
    """cicustom user=local:snippets/... replaces the generated user-data in the image"""
    ctx.api.storage("local").put(content="images,iso,import,snippets")
    snippets = os.path.join(ctx.d.data_dir, "images", "snippets")
    os.makedirs(snippets, exist_ok=True)
    custom = "#cloud-config\nruncmd:\n  - [touch, /custom]\n"
    with open(os.path.join(snippets, "ci-user.yaml"), "w") as f:
        f.write(custom)
    ctx.vm.config.put(cicustom="user=local:snippets/ci-user.yaml")
    ctx.ok(ctx.vm.status.start.post())
    check_equal(ctx.iso_file("user-data"), custom, "user-data")
    net = ctx.iso_file("network-config")
    want = hashlib.sha1((custom + net).encode()).hexdigest()
    check_equal(ctx.iso_file("meta-data"), f"instance-id: {want}\n", "meta-data")
    assert ctx.dump("user").startswith("#cloud-config\nhostname: ci-test\n")
    ctx.ok(ctx.vm.status.stop.post())
    ctx.vm.config.put(cicustom="user=local:snippets/missing.yaml")
    status, log = ctx.wait(ctx.vm.status.start.post())
    assert status != "OK" and "missing.yaml" in status, (status, log)
    ctx.vm.config.put(delete="cicustom")


@suite.test
def test_clone_gets_own_drive(ctx):
    """a clone gets a cloud-init drive of its own, written at its start with its own name"""
    source = ctx.iso_file("user-data")
    ctx.ok(ctx.vm.clone.post(newid=CLONE, name="ci-clone", full=1))
    clone = ctx.node.qemu(CLONE)
    check_equal(clone.config.get()["ide2"],
                f"local:{CLONE}/vm-{CLONE}-cloudinit.qcow2,media=cdrom", "clone ide2")
    ctx.ok(clone.status.start.post())
    path = ctx.ci_path().replace(f"/{VMID}/vm-{VMID}-", f"/{CLONE}/vm-{CLONE}-")
    user = ctx.iso_file("user-data", path)
    assert "hostname: ci-clone\n" in user and 'user: "ci-user"' in user, user
    check_equal(ctx.iso_file("user-data"), source, "the source's image")
    ctx.ok(clone.status.stop.post())
    ctx.ok(clone.delete(purge=1))
    assert not os.path.exists(path)


@suite.test
def test_configdrive2(ctx):
    """citype=configdrive2: a config-2 image with the OpenStack layout and the dumped texts"""
    ctx.vm.config.put(citype="configdrive2")
    net = ctx.dump("network")
    assert net.startswith("auto lo\niface lo inet loopback\n\n"), net
    assert "iface eth0 inet static\n        address 192.0.2.20\n" in net, net
    ctx.ok(ctx.vm.status.start.post())
    assert "Volume id: config-2" in ctx.iso_info()
    check_equal(ctx.iso_file("openstack/latest/user_data"), ctx.dump("user"), "user_data")
    check_equal(ctx.iso_file("openstack/content/0000"), net, "network_data")
    meta = ctx.iso_file("openstack/latest/meta_data.json")
    check_equal(meta, ctx.dump("meta"), "meta_data.json")
    want = hashlib.sha1((ctx.dump("user") + net).encode()).hexdigest()
    assert json.loads(meta) == {"uuid": want, "network_config": {"content_path": "/content/0000"}}
    ctx.ok(ctx.vm.status.stop.post())
    ctx.vm.config.put(delete="citype")


@suite.test
def test_drive_replaced_and_moved(ctx):
    """replacing the cloud-init drive frees its volume; adding it again or moving it keeps one"""
    ctx.vm.config.put(ide2="none,media=cdrom")
    assert not os.path.exists(ctx.ci_path())
    assert not any(k.startswith("unused") for k in ctx.vm.config.get()), "kept as unused"
    ctx.vm.config.put(ide2="local:cloudinit")
    assert os.path.exists(ctx.ci_path())
    ctx.vm.config.put(sata1="local:cloudinit", delete="ide2")
    conf = ctx.vm.config.get()
    check_equal(conf["sata1"], f"local:{VMID}/vm-{VMID}-cloudinit.qcow2,media=cdrom", "sata1")
    assert "ide2" not in conf and os.path.exists(ctx.ci_path()), conf


@suite.test
def test_pending_delete_and_lost_volume(ctx):
    """a drive deleted on a running VM is freed when the change applies; a lost volume is made again at start"""
    ctx.ok(ctx.vm.status.start.post())
    ctx.vm.config.put(delete="sata1")
    pending = {r["key"]: r for r in ctx.vm.pending.get()}
    check_equal(pending["sata1"].get("delete"), 1, "sata1 pending delete")
    ctx.ok(ctx.vm.status.stop.post())
    ctx.ok(ctx.vm.status.start.post())
    assert "sata1" not in ctx.vm.config.get()
    assert not os.path.exists(ctx.ci_path())
    ctx.ok(ctx.vm.status.stop.post())
    ctx.vm.config.put(ide2="local:cloudinit")
    os.unlink(ctx.ci_path())  # as on a node the configuration moved to
    ctx.ok(ctx.vm.status.start.post())
    check_equal(ctx.iso_file("network-config"), ctx.dump("network"), "network-config")
    ctx.ok(ctx.vm.status.stop.post())


def bad(ctx, param, text, **kw):
    r = ctx.raw("POST", f"/nodes/{ctx.d.node}/qemu/{VMID}/config", data=kw)
    expect_error(r, 400, "Parameter verification failed.", param)
    assert text in r.json()["errors"][param], r.json()


@suite.test
def test_bad_input(ctx):
    """400 + errors: newline in ciuser, bad CIDR, cicustom outside snippets, bad key, citype"""
    bad(ctx, "ciuser", "line feed", ciuser="a\nb")
    bad(ctx, "ipconfig0", "ipv4 network configuration", ipconfig0="ip=192.0.2.300/24")
    bad(ctx, "ipconfig0", "ipv4 network configuration", ipconfig0="ip=192.0.2.3/33")
    bad(ctx, "ipconfig0", "gateway specified together with DHCP", ipconfig0="ip=dhcp,gw=192.0.2.1")
    bad(ctx, "cicustom", "is not in the snippets directory", cicustom="user=local:iso/x.iso")
    bad(ctx, "sshkeys", "SSH public key validation error", sshkeys=quote("ssh-rsa notakey", safe=""))
    bad(ctx, "sshkeys", "urlencoded", sshkeys="ssh-rsa AAAA x")
    bad(ctx, "nameserver", "address list", nameserver="192.0.2.1 not-an-ip")
    bad(ctx, "citype", "not supported", citype="opennebula")
    try:
        ctx.vm.cloudinit.dump.get(type="vendor")
    except ResourceException as e:
        assert "400" in str(e), e
    else:
        raise AssertionError("dump type=vendor accepted")


@suite.test
def test_destroy_frees_volume(ctx):
    """destroying the VM removes its cloud-init volume"""
    ctx.ok(ctx.node.qemu(VMID).delete(purge=1))
    assert not os.path.exists(ctx.ci_path())


if __name__ == "__main__":
    run_suite(suite, Ctx, [VMID, CLONE], guest=False)
