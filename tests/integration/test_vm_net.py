# corral-test: guest
"""Bridged NIC options on real taps and bridges, inside a network namespace
made for the suite (removed at the end): tag= as the untagged PVID and
trunks= as tagged VLANs of the tap's port on a VLAN-aware bridge, refused
with a clear message on a bridge without VLAN filtering; rate= as a token
bucket and tc's ingress policer on the tap; taps removed when the VM stops.
Where the kernel lacks bridge VLAN filtering or tc's policer (probed in the
namespace), the suite checks the clear refusal instead.

The VMs boot nothing (no disk): the checks read the kernel's view of the
taps (bridge vlan, tc), which is what Corral sets up."""
import json
import os
import subprocess
import sys

from corral_guest import VmCtx, run_suite
from corral_test import Suite, check_equal

suite = Suite("vm networking")
VMID = 130
BAD_VMID = 131


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=30)


class Ctx(VmCtx):
    def __init__(self, d):
        super().__init__(d, VMID)


def vlans(dev):
    out = json.loads(sh("bridge", "-j", "vlan", "show", "dev", dev).stdout or "[]")
    return {v["vlan"]: sorted(v.get("flags", [])) for e in out for v in e.get("vlans", [])}


def link_exists(dev):
    return sh("ip", "link", "show", dev, check=False).returncode == 0


def kernel_can(*cmds):
    """Whether this kernel takes CMDS (run on a scratch tap and bridge)."""
    sh("ip", "tuntap", "add", "probe0", "mode", "tap")
    sh("ip", "link", "add", "probebr0", "type", "bridge")
    try:
        return all(sh(*c, check=False).returncode == 0 for c in cmds)
    finally:
        sh("ip", "link", "del", "probe0", check=False)
        sh("ip", "link", "del", "probebr0", check=False)


def vlan_filtering():
    return kernel_can(("ip", "link", "set", "probebr0", "type", "bridge", "vlan_filtering", "1"))


def police():
    return kernel_can(("tc", "qdisc", "add", "dev", "probe0", "handle", "ffff:", "ingress"),
                      ("tc", "filter", "add", "dev", "probe0", "parent", "ffff:", "prio", "50",
                       "basic", "police", "rate", "1mbit", "burst", "10k", "drop"))


def check_rate(tap, mbs):
    qdiscs = json.loads(sh("tc", "-j", "qdisc", "show", "dev", tap).stdout)
    tbf = [q for q in qdiscs if q["kind"] == "tbf"]
    assert tbf and [q for q in qdiscs if q["kind"] == "ingress"], qdiscs
    check_equal(tbf[0]["options"]["rate"], mbs * 1024 * 1024)
    out = sh("tc", "filter", "show", "dev", tap, "parent", "ffff:").stdout
    assert "police" in out, out


@suite.test
def test_rate(ctx):
    """rate=5: a token bucket toward the VM and a policer on what it sends (or a clear refusal
    when the kernel lacks tc's policer)"""
    ctx.ok(ctx.node.qemu.create(vmid=VMID, name="net", memory=64, serial0="socket",
                                net0="virtio,bridge=vmbr1,rate=5"))
    upid = ctx.node.qemu(VMID).status.start.post()
    tap = f"tap{VMID}i0"
    if police():
        ctx.ok(upid)
        check_rate(tap, 5)
        ctx.ok(ctx.node.qemu(VMID).status.stop.post())
    else:
        status, log = ctx.wait(upid)
        assert "cannot police what the VM sends" in status, (status, log)
        assert "act_police" in status, status
    check_equal(ctx.node.qemu(VMID).status.current.get()["status"], "stopped")
    assert not link_exists(tap)
    ctx.node.qemu(VMID).config.put(net0="virtio,bridge=vmbr1,firewall=1")
    log = ctx.ok(ctx.node.qemu(VMID).status.start.post())
    assert "net0: firewall=1 has no effect: Corral applies no packet filter" in log, log
    assert link_exists(tap)
    check_equal(vlans(tap), {} if not vlan_filtering() else vlans(tap))


def link(dev):
    return json.loads(sh("ip", "-j", "link", "show", dev).stdout)[0]


@suite.test
def test_retune(ctx):
    """a running NIC moved to another bridge keeps its tap (no new device in the guest); a
    new rate applies to that tap (or is refused clearly and stays pending)"""
    vm = ctx.node.qemu(VMID)
    net0 = vm.config.get()["net0"]
    mac = net0.split(",")[0]
    tap = f"tap{VMID}i0"
    before = link(tap)
    check_equal(before.get("master"), "vmbr1")
    vm.config.put(net0=f"{mac},bridge=vmbr0")
    after = link(tap)
    check_equal(after.get("master"), "vmbr0")
    check_equal(after["ifindex"], before["ifindex"])
    check_equal(vm.config.get()["net0"], f"{mac},bridge=vmbr0")
    if police():
        vm.config.put(net0=f"{mac},bridge=vmbr0,rate=2")
        check_rate(tap, 2)
    else:
        r = ctx.d.session().put(f"{ctx.d.url}/nodes/{ctx.d.node}/qemu/{VMID}/config",
                                data={"net0": f"{mac},bridge=vmbr0,rate=2"})
        check_equal(r.status_code, 500)
        assert "cannot police what the VM sends" in r.reason, r.reason
        pend = {p["key"]: p for p in vm.pending.get()}
        check_equal(pend["net0"].get("pending"), f"{mac},bridge=vmbr0,rate=2")
        vm.config.put(revert="net0")
    check_equal(link(tap)["ifindex"], before["ifindex"])


@suite.test
def test_tag_trunks(ctx):
    """tag=10, trunks=20-22 on a VLAN-aware bridge: the untagged PVID and tagged VLANs of the
    tap's port, hot-plugged NICs too (or, on a kernel without bridge VLAN filtering, the
    refusal of the hot-plug naming the bridge)"""
    vm = ctx.node.qemu(VMID)
    if vlan_filtering():
        sh("ip", "link", "set", "vmbr0", "type", "bridge", "vlan_filtering", "1")
        vm.config.put(net1="e1000,bridge=vmbr0,tag=10,trunks=20-22")
        check_equal(vlans(f"tap{VMID}i1"),
                    {10: ["Egress Untagged", "PVID"], 20: [], 21: [], 22: []})
        vm.config.put(delete="net1")
    else:
        r = ctx.d.session().put(f"{ctx.d.url}/nodes/{ctx.d.node}/qemu/{VMID}/config",
                                data={"net1": "e1000,bridge=vmbr0,tag=10"})
        check_equal(r.status_code, 500)
        assert "VLAN-aware" in r.reason and "vmbr0" in r.reason, r.reason
        pend = {p["key"]: p for p in vm.pending.get()}
        assert "pending" in pend["net1"], pend
        vm.config.put(revert="net1")
    assert not link_exists(f"tap{VMID}i1")


@suite.test
def test_not_vlan_aware(ctx):
    """tag= on a bridge without VLAN filtering: start fails, naming the bridge; no tap left"""
    ctx.ok(ctx.node.qemu.create(vmid=BAD_VMID, memory=64, net0="virtio,bridge=vmbr1,tag=10"))
    status, log = ctx.wait(ctx.node.qemu(BAD_VMID).status.start.post())
    assert "VLAN-aware" in status and "vmbr1" in status, (status, log)
    check_equal(ctx.node.qemu(BAD_VMID).status.current.get()["status"], "stopped")
    assert not link_exists(f"tap{BAD_VMID}i0")


@suite.test
def test_stop_removes_taps(ctx):
    """stopping the VM removes its taps (and their tc and VLAN state with them)"""
    ctx.ok(ctx.node.qemu(VMID).status.stop.post())
    assert not link_exists(f"tap{VMID}i0")


def child():
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "link", "add", "vmbr0", "type", "bridge")
    sh("ip", "link", "add", "vmbr1", "type", "bridge")
    sh("ip", "link", "set", "vmbr0", "up")
    sh("ip", "link", "set", "vmbr1", "up")
    run_suite(suite, Ctx, [VMID, BAD_VMID], guest=False)


def main():
    if "--child" in sys.argv:
        child()
    ns = f"corral-vmnet-{os.getpid()}"
    sh("ip", "netns", "add", ns)
    try:
        r = subprocess.run(["ip", "netns", "exec", ns, "/usr/bin/python3", "-u",
                            os.path.abspath(__file__), "--child"], timeout=300)
    finally:
        sh("ip", "netns", "del", ns, check=False)
    sys.exit(r.returncode)


if __name__ == "__main__":
    main()
