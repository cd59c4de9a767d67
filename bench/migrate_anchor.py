#!/usr/bin/python3
"""Live migration benchmark driver (run by bench/migrate.sh): alternates
Corral's migrations (bench/migrate_bench serve, hv/migrate.h) with the same work done
by hand on two bare QEMU processes through a tiny QMP client here: "tls"
mirrors both disks to the target's NBD server and moves RAM, all over TLS
("tls-poll": polling query-migrate every 5 ms as Corral does), "tcp" moves
only RAM over plain TCP with the disk files shared.
Prints one line per migration: KIND key=ms ..."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

VMID = 100
DOWNTIME_MS = 300          # Corral's default limit (HV_MIG_DOWNTIME_MS)
MAX_BANDWIDTH = 1 << 40    # Corral lifts QEMU's 128 MiB/s default the same way
TLS_HOSTNAME = "corral-migration"
DISKS = ("virtio0", "virtio1")
HOST = "127.0.0.1"


def now():
    return time.monotonic() * 1000


class QmpError(Exception):
    pass


class Qmp:
    """One QMP connection: commands, and events kept with the time read."""

    def __init__(self, path, deadline):
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if now() > deadline:
                    raise
                time.sleep(0.002)
        self.f = self.sock.makefile("rb")
        self.events = []
        self.next_id = 0
        self._read()                      # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        line = self.f.readline()
        if not line:
            raise QmpError("QMP connection closed")
        msg = json.loads(line)
        if "event" in msg:
            self.events.append((now(), msg["event"], msg.get("data", {})))
        return msg

    def cmd(self, execute, /, **args):
        self.next_id += 1
        req = {"execute": execute, "id": self.next_id}
        if args:
            req["arguments"] = args
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        while True:
            msg = self._read()
            if msg.get("id") != self.next_id:
                continue
            if "error" in msg:
                raise QmpError(f"{execute}: {msg['error'].get('desc')}")
            return msg.get("return")

    def event(self, match, timeout_s=120):
        """Time of the first kept event EV with match(name, data), removed."""
        deadline = now() + timeout_s * 1000
        while True:
            for i, (t, name, data) in enumerate(self.events):
                if match(name, data):
                    del self.events[i]
                    return t
            if now() > deadline:
                raise QmpError("timed out waiting for an event")
            self._read()

    def close(self):
        self.f.close()
        self.sock.close()


def migration_is(status):
    def match(name, data):
        if name == "MIGRATION" and data.get("status") in ("failed", "cancelled"):
            raise QmpError("migration " + data["status"])
        return name == "MIGRATION" and data.get("status") == status
    return match


def poll_status(vm, status):
    """Corral's way: query-migrate every 5 ms until STATUS; when seen."""
    while True:
        st = vm.qmp.cmd("query-migrate").get("status")
        if st in ("failed", "cancelled"):
            raise QmpError("migration " + st)
        if st == status:
            return now()
        time.sleep(0.005)


class Qemu:
    def __init__(self, argv, run, log):
        for what in ("qmp", "serial0", "vnc", "pid"):
            try:
                os.unlink(f"{run}/{VMID}.{what}")
            except FileNotFoundError:
                pass
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.run = run
        try:
            self.qmp = Qmp(f"{run}/{VMID}.qmp", now() + 60000)
        except OSError:
            self.proc.kill()
            raise

    def quit(self):
        try:
            self.qmp.cmd("quit")
        except (QmpError, OSError):
            pass
        self.qmp.close()
        self.proc.wait(timeout=30)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Anchor:
    """The anchor's guest, bouncing between sides 0 and 1 of DIR."""

    def __init__(self, bench, guest, workdir, mem):
        self.dir = workdir
        self.mem = mem
        self.n = 0
        self.tmpl = {}
        for side in (0, 1):
            os.makedirs(self.run(side), exist_ok=True)
            for incoming in (0, 1):
                out = subprocess.run([bench, "argv", self.run(side), mem, str(incoming)],
                                     check=True, capture_output=True).stdout
                self.tmpl[side, incoming] = out.decode().split("\0")[:-1]
        subprocess.run([bench, "tls", f"{workdir}/tls"], check=True)
        self.disks = (f"{workdir}/0/d0-0.qcow2", f"{workdir}/0/d0-1.raw")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", guest,
                        self.disks[0]], check=True)
        subprocess.run(["truncate", "-s", "1M", self.disks[1]], check=True)
        self.side = 0
        self.spawned = []
        self.vm = None

    def run(self, side):
        return f"{self.dir}/{side}/run"

    def spawn(self, side, incoming, disks):
        argv = [a.replace("@DISK0@", disks[0]).replace("@DISK1@", disks[1])
                for a in self.tmpl[side, incoming]]
        vm = Qemu(argv, self.run(side), f"{self.dir}/{side}/qemu.log")
        self.spawned.append(vm)
        return vm

    def end(self):
        """Quits the guest's QEMU; kills any other left by a failure."""
        try:
            if self.vm:
                self.vm.quit()
        finally:
            for vm in self.spawned:
                vm.kill()

    def boot(self):
        """Starts the guest and its workload (as migrate_bench does), then
        pauses it."""
        self.vm = self.spawn(0, 0, self.disks)
        s = socket.socket(socket.AF_UNIX)
        s.connect(f"{self.run(self.side)}/{VMID}.serial0")
        s.settimeout(1)
        seen, deadline = b"", now() + 180000
        while b"CORRAL-GUEST-READY" not in seen and now() < deadline:
            try:
                seen += s.recv(4096)
            except socket.timeout:
                pass
        if b"CORRAL-GUEST-READY" not in seen:
            raise QmpError("the anchor guest did not boot")
        line = b"while true; do dd if=/dev/zero of=/tmp/dirty bs=1M count=64 2>/dev/null; done &\n"
        for i in range(0, len(line), 8):
            s.sendall(line[i:i + 8])
            time.sleep(0.05)
        time.sleep(2)
        s.close()
        self.node = {}
        for b in self.vm.qmp.cmd("query-block"):
            for key in DISKS:
                if f"/{key}/" in b.get("qdev", "") and "inserted" in b:
                    self.node[key] = b["inserted"]["node-name"]
        self.vm.qmp.cmd("stop")

    def tls_object_ms(self, dh_params):
        """Time of a server tls-creds-x509 object-add, with or without the
        dh-params.pem (RFC 7919 ffdhe2048) hv/migrate_tls.c writes beside the
        certificates."""
        src = f"{self.dir}/tls/server"
        path = src if dh_params else f"{self.dir}/tls/server-nodh"
        if not dh_params and not os.path.exists(path):
            shutil.copytree(src, path, ignore=shutil.ignore_patterns("dh-params.pem"))
        self.n += 1
        t = now()
        self.vm.qmp.cmd("object-add", **{"qom-type": "tls-creds-x509"}, id=f"dh{self.n}",
                        dir=path, endpoint="server", **{"verify-peer": True})
        t = now() - t
        self.vm.qmp.cmd("object-del", id=f"dh{self.n}")
        return round(t)

    def fresh_disks(self, side):
        self.n += 1
        disks = (f"{self.dir}/{side}/d{self.n}-0.qcow2", f"{self.dir}/{side}/d{self.n}-1.raw")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disks[0], "64M"], check=True)
        subprocess.run(["truncate", "-s", "1M", disks[1]], check=True)
        return disks

    def migrate(self, kind, settle):
        dst_side = 1 - self.side
        disks = self.disks if kind == "tcp" else self.fresh_disks(dst_side)
        self.vm.qmp.cmd("cont")
        time.sleep(settle)
        src = self.vm
        src.qmp.events.clear()
        if kind == "tcp":
            run = self.tcp_run(src, dst_side, disks)
        else:
            run = self.tls_run(src, dst_side, disks, kind == "tls-poll")
        self.vm.qmp.cmd("stop")
        self.side, self.disks = dst_side, disks
        return run

    def free_port(self):
        s = socket.socket()
        s.bind((HOST, 0))
        port = s.getsockname()[1]
        s.close()
        return port

    def target(self, m, dst_side, disks):
        m["t0"] = now()
        self.vm = self.spawn(dst_side, 1, disks)
        m["spawned"] = now()
        return self.vm

    def finish(self, m, src, dst):
        """Source completed: resume the target, then retire the source."""
        if m.get("nbd"):   # before the disks go live there: its exports write
            dst.qmp.cmd("nbd-server-stop")
        dst.qmp.cmd("cont")
        m["resumed"] = dst.qmp.event(lambda n, d: n == "RESUME")
        m["stop_ev"] = src.qmp.event(lambda n, d: n == "STOP")
        info = src.qmp.cmd("query-migrate")
        src.quit()
        m["end"] = now()
        m["downtime"], m["total"] = info.get("downtime", -1), info.get("total-time", -1)

    def tls_run(self, src, dst_side, disks, poll):
        m = {"nbd": True}
        nbd_port, mig_port, self.n = self.free_port(), self.free_port(), self.n + 1
        tls, uri = f"tls{self.n}", f"tcp:{HOST}:{mig_port}"
        dst = self.target(m, dst_side, disks)
        t = now()
        dst.qmp.cmd("object-add", **{"qom-type": "tls-creds-x509"}, id=tls,
                    dir=f"{self.dir}/tls/server", endpoint="server", **{"verify-peer": True})
        m["tls_object"] = now() - t
        dst.qmp.cmd("nbd-server-start", addr={"type": "inet", "data": {
            "host": HOST, "port": str(nbd_port)}}, **{"tls-creds": tls})
        for key in DISKS:
            dst.qmp.cmd("block-export-add", type="nbd", id=f"e-{key}",
                        **{"node-name": self.node[key]}, name=key, writable=True)
        dst.qmp.cmd("migrate-set-parameters", **{"tls-creds": tls})
        dst.qmp.cmd("migrate-incoming", uri=uri)
        m["prepared"] = now()
        src.qmp.cmd("object-add", **{"qom-type": "tls-creds-x509"}, id=tls,
                    dir=f"{self.dir}/tls/client", endpoint="client", **{"verify-peer": True})
        jobs = []
        for key in DISKS:
            node, job = f"nbd-{key}-{self.n}", f"mirror-{key}-{self.n}"
            src.qmp.cmd("blockdev-add", driver="nbd", **{"node-name": node}, server={
                "type": "inet", "host": HOST, "port": str(nbd_port)}, export=key,
                **{"tls-creds": tls, "tls-hostname": TLS_HOSTNAME})
            src.qmp.cmd("blockdev-mirror", **{"job-id": job}, device=self.node[key],
                        target=node, sync="full")
            jobs.append(job)
        m["mirroring"] = now()
        m["ready"] = max(src.qmp.event(lambda n, d: n == "BLOCK_JOB_READY" and d["device"] == job)
                         for job in jobs)
        src.qmp.cmd("migrate-set-capabilities", capabilities=[
            {"capability": "pause-before-switchover", "state": True},
            {"capability": "events", "state": True}])
        src.qmp.cmd("migrate-set-parameters", **{
            "tls-creds": tls, "tls-hostname": TLS_HOSTNAME, "max-bandwidth": MAX_BANDWIDTH,
            "downtime-limit": DOWNTIME_MS})
        src.qmp.cmd("migrate", uri=uri)
        m["preswitch"] = poll_status(src, "pre-switchover") if poll else \
            src.qmp.event(migration_is("pre-switchover"))
        for job in jobs:
            src.qmp.cmd("block-job-cancel", device=job)
        for job in jobs:
            src.qmp.event(lambda n, d: n == "JOB_STATUS_CHANGE" and d["id"] == job
                          and d["status"] == "concluded")
        src.qmp.cmd("migrate-continue", state="pre-switchover")
        m["continued"] = now()
        m["completed"] = poll_status(src, "completed") if poll else \
            src.qmp.event(migration_is("completed"))
        self.finish(m, src, dst)
        return m

    def tcp_run(self, src, dst_side, disks):
        m = {}
        uri = f"tcp:{HOST}:{self.free_port()}"
        dst = self.target(m, dst_side, disks)
        dst.qmp.cmd("migrate-incoming", uri=uri)
        m["prepared"] = now()
        src.qmp.cmd("migrate-set-capabilities", capabilities=[
            {"capability": "pause-before-switchover", "state": False},
            {"capability": "events", "state": True}])
        src.qmp.cmd("migrate-set-parameters", **{
            "tls-creds": "", "max-bandwidth": MAX_BANDWIDTH, "downtime-limit": DOWNTIME_MS})
        src.qmp.cmd("migrate", uri=uri)
        m["completed"] = src.qmp.event(migration_is("completed"))
        self.finish(m, src, dst)
        return m


def span(m, a, b):
    return round(m[b] - m[a]) if a in m and b in m else -1


def anchor_line(kind, m):
    steps = [("spawn", "t0", "spawned"), ("prepare", "spawned", "prepared"),
             ("mirror_setup", "prepared", "mirroring"), ("mirror_sync", "mirroring", "ready"),
             ("ram", "ready" if "ready" in m else "prepared", "preswitch" if "preswitch" in m
              else "completed"),
             ("switch", "preswitch", "continued"), ("complete", "continued", "completed"),
             ("finish", "completed", "resumed"), ("stop", "resumed", "end")]
    fields = [f"pause={span(m, 'stop_ev', 'resumed')}", f"downtime={m['downtime']}",
              f"total={m['total']}", f"wall={span(m, 't0', 'end')}"]
    fields += [f"{name}={span(m, a, b)}" for name, a, b in steps]
    fields.append(f"tls_object={round(m.get('tls_object', 0))}")
    fields.append(f"paused_detect={span(m, 'stop_ev', 'preswitch')}")
    fields.append(f"resume={span(m, 'completed', 'resumed')}")
    return f"{kind} " + " ".join(fields)


def main():
    bench, guest, workdir, n, mem, settle = sys.argv[1:7]
    n, settle = int(n), int(settle)
    corral = subprocess.Popen([bench, "serve", guest, f"{workdir}/c", mem, str(settle)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    anchor = None
    try:
        anchor = Anchor(bench, guest, f"{workdir}/a", mem)
        anchor.boot()
        if corral.stdout.readline() != "ready\n":
            raise QmpError("Corral's guest did not boot")
        kinds = ("corral", "tls", "tls-poll", "tcp")
        for i in range(n):
            for kind in kinds[i % 4:] + kinds[:i % 4]:   # each goes first in turn
                if kind.startswith("corral"):
                    corral.stdin.write(kind + "\n")
                    corral.stdin.flush()
                    line = corral.stdout.readline()
                    if not line:
                        raise QmpError("Corral's migration failed")
                    print(line, end="", flush=True)
                else:
                    line = anchor_line(kind.replace("-", "_"), anchor.migrate(kind, settle))
                    print(line, flush=True)
            print(f"dh without={anchor.tls_object_ms(False)} with={anchor.tls_object_ms(True)}",
                  flush=True)
    finally:
        corral.stdin.close()
        corral.wait(timeout=60)
        if anchor:
            anchor.end()


if __name__ == "__main__":
    main()
