#!/usr/bin/python3
"""Images that qemu-img, qemu-io and QEMU itself write are read identically through
the storage library: `corral-img compare` against `qemu-img convert -O raw`, and
`info`, `check`, `map` and `snapshot -l` print what qemu-img prints (info without
actual-size).  Damaged images: corral-img check finds what qemu-img check finds,
and its repairs leave images qemu-img finds clean.  QEMU's locks are honoured."""
import json
import os
import resource
import shutil
import struct
import subprocess
import time

from compat_util import (CLUSTER_SIZES, IMG, KIB, MIB, REFCOUNT_BITS, Suite, corral, corral_same,
                         expect, qemu_check_clean, qemu_io_script, qemu_same, qimg, qio, run,
                         without)

S = Suite("qemu")
SIZE = 8 * MIB


def qemu_made(name, opts="", seed=1, n=40, align=512, maxlen=256 * KIB, discard=True):
    img = S.path(name + ".qcow2")
    qimg("create", "-q", "-f", "qcow2", *(["-o", opts] if opts else []), img, str(SIZE))
    qio(img, qemu_io_script(seed, SIZE, n, align, maxlen, discard))
    return img


def raw_of(img, snapshot=None):
    out = img + (".%s" % snapshot if snapshot else "") + ".raw"
    qimg("convert", *(["-l", "snapshot.name=" + snapshot] if snapshot else []), "-O", "raw", img, out)
    return out


def same_json(what, args, drop=()):
    mine = json.loads(corral(*args).stdout)
    theirs = json.loads(qimg(*args).stdout)
    if drop:
        mine, theirs = without(mine, *drop), without(theirs, *drop)
    expect(mine == theirs, "%s differs:\ncorral-img: %s\nqemu-img:   %s" % (
        what, json.dumps(mine, sort_keys=True), json.dumps(theirs, sort_keys=True)))


def same_text(what, args, skip_prefix=None):
    """Same exit status and the same stdout (minus lines starting with SKIP_PREFIX)."""
    def lines(p):
        return [ln for ln in p.stdout.splitlines() if not (skip_prefix and ln.startswith(skip_prefix))]
    pm, pq = corral(*args, ok=None), qimg(*args, ok=None)
    mine, theirs = lines(pm), lines(pq)
    expect((pm.returncode, mine) == (pq.returncode, theirs), "%s differs:\ncorral-img (exit %d):\n%s\n"
           "qemu-img (exit %d):\n%s" % (what, pm.returncode, "\n".join(mine), pq.returncode,
                                        "\n".join(theirs)))


def map_semantic(entries):
    """A map reduced to what the library promises: QEMU also asks the host file
    for holes (allocated data in a hole reports zero) and names the host offset
    of unallocated subclusters; both are dropped, then equal neighbours merged."""
    out = []
    for e in entries:
        e = dict(e)
        if e["data"]:
            e["zero"] = False
        else:
            e.pop("offset", None)
        prev = out[-1] if out else None
        if prev and all(prev.get(k) == e.get(k) for k in ("depth", "present", "zero", "data")) and \
                ("offset" not in e or prev.get("offset", -1) + prev["length"] == e["offset"]) and \
                ("offset" in e) == ("offset" in prev):
            prev["length"] += e["length"]
        else:
            out.append(e)
    return out


def same_map_semantic(img):
    mine = json.loads(corral("map", "--output=json", img).stdout)
    theirs = json.loads(qimg("map", "--output=json", img).stdout)
    expect(map_semantic(mine) == map_semantic(theirs), "map differs:\ncorral-img: %s\nqemu-img:   %s" % (
        mine[:12], theirs[:12]))


def check_json(tool, img, ok=(0,)):
    p = tool("check", "--output=json", img, ok=ok)
    return p.returncode, json.loads(p.stdout)


def verify(img, chain=False, exact_map=True):
    """Everything corral-img reads from IMG agrees with QEMU."""
    corral_same(img, raw_of(img))
    same_json("info --output=json", ["info", "--output=json", img], ("actual-size",))
    same_text("info", ["info", img], "disk size:")
    if chain:
        same_json("info --backing-chain", ["info", "--output=json", "--backing-chain", img],
                  ("actual-size",))
    same_json("check --output=json", ["check", "--output=json", img])
    if exact_map:
        same_json("map --output=json", ["map", "--output=json", img])
        same_text("map", ["map", img])
    else:
        same_map_semantic(img)
    same_text("snapshot -l", ["snapshot", "-l", img])


def case_cluster(cs):
    verify(qemu_made("cs%d" % cs, "cluster_size=%d" % cs, cs, maxlen=max(3 * cs, 64 * KIB)))


def case_refbits(bits):
    verify(qemu_made("rb%d" % bits, "cluster_size=4096,refcount_bits=%d" % bits, bits))


def case_extl2(cs):
    verify(qemu_made("x%d" % cs, "cluster_size=%d,extended_l2=on" % cs, cs + 1, align=4096),
           exact_map=False)


def case_opts(name, opts, seed):
    verify(qemu_made(name, opts, seed, discard="compat=0.10" not in opts),
           exact_map="preallocation=metadata" not in opts)


def case_compressed(opts, tag):
    src = S.path("csrc%s.raw" % tag)
    qimg("create", "-q", "-f", "raw", src, str(SIZE))
    qio(src, qemu_io_script(50, SIZE, 40, discard=False), fmt="raw")
    with open(src, "r+b") as f:  # compressible text as well
        f.seek(3 * MIB)
        f.write(b"corral compressible text " * 40000)
    img = S.path("c%s.qcow2" % tag)
    qimg("convert", "-c", "-O", "qcow2", "-o", opts, src, img)
    r = json.loads(qimg("check", "--output=json", img).stdout)
    expect(r.get("compressed-clusters", 0) > 0, "qemu wrote no compressed cluster: %s" % r)
    verify(img)
    corral_same(img, src)


def case_compressed_overwritten():
    """QEMU rewrote parts of compressed clusters (they turn uncompressed)."""
    src = S.path("cow.raw")
    qimg("create", "-q", "-f", "raw", src, str(SIZE))
    qio(src, ["write -P 0x41 0 %d" % SIZE], fmt="raw")
    img = S.path("cow.qcow2")
    qimg("convert", "-c", "-O", "qcow2", src, img)
    qio(img, qemu_io_script(51, SIZE, 30, discard=True))
    verify(img)


def case_snapshots(opts, tag):
    img = S.path("sn%s.qcow2" % tag)
    qimg("create", "-q", "-f", "qcow2", *(["-o", opts] if opts else []), img, str(SIZE))
    for i in range(3):
        qio(img, qemu_io_script(60 + i, SIZE, 25))
        if i < 2:
            qimg("snapshot", "-c", "q%d" % i, img)
    verify(img, exact_map="extended_l2" not in opts)
    for i in range(2):
        want = raw_of(img, "q%d" % i)
        copy = S.path("sn%s-apply%d.qcow2" % (tag, i))
        shutil.copyfile(img, copy)
        corral("snapshot", "-a", "q%d" % i, copy)
        qemu_check_clean(copy)
        qemu_same(copy, want)
        corral_same(copy, want)
    corral("snapshot", "-d", "q0", img)
    qemu_check_clean(img)
    verify(img, exact_map="extended_l2" not in opts)


def savevm(img, names):
    mon = "".join("savevm %s\n" % n for n in names) + "quit\n"
    run(["qemu-system-x86_64", "-nodefaults", "-machine", "none", "-display", "none",
         "-monitor", "stdio", "-drive", "file=%s,if=none,id=d0,format=qcow2" % img],
        input=mon, timeout=60)


def case_vmstate():
    img = qemu_made("vm", "", 70, n=20)
    savevm(img, ["vm1", "vm2"])
    info = json.loads(qimg("info", "--output=json", img).stdout)
    expect(len(info.get("snapshots", [])) == 2 and info["snapshots"][0]["vm-state-size"] > 0,
           "QEMU saved no VM state: %s" % info)
    verify(img)
    corral("snapshot", "-d", "vm1", img)  # frees its VM state clusters
    qemu_check_clean(img)
    verify(img)
    corral("snapshot", "-c", "disk", img)  # a disk-only snapshot next to QEMU's
    qemu_check_clean(img)
    verify(img)
    expect(json.loads(qimg("info", "--output=json", img).stdout)["snapshots"][0]["name"] == "vm2",
           "QEMU's snapshot not preserved")


def case_chain(base_fmt, opts, tag):
    base = S.path("ch%s-base.%s" % (tag, base_fmt))
    qimg("create", "-q", "-f", base_fmt, *(["-o", opts] if opts and base_fmt == "qcow2" else []),
         base, str(SIZE))
    qio(base, qemu_io_script(80, SIZE, 30, discard=base_fmt == "qcow2"), fmt=base_fmt)
    below, fmt = base, base_fmt
    for i in range(2):
        img = S.path("ch%s-%d.qcow2" % (tag, i))
        qimg("create", "-q", "-f", "qcow2", "-b", os.path.basename(below), "-F", fmt,
             *(["-o", opts] if opts else []), img)
        qio(img, qemu_io_script(81 + i, SIZE, 25, discard="compat=0.10" not in opts))
        below, fmt = img, "qcow2"
    verify(below, chain=True, exact_map="extended_l2" not in opts)


def case_raw():
    img = S.path("plain.raw")
    qimg("create", "-q", "-f", "raw", img, str(SIZE))
    qio(img, qemu_io_script(90, SIZE, 20, discard=False), fmt="raw")
    corral_same(img, raw_of(img))
    same_json("info --output=json", ["info", "--output=json", img], ("actual-size",))
    p = corral("check", img, ok=(63,))
    expect("does not support checks" in p.stderr, "raw check: %s" % p.stderr)


# ---- damaged images ------------------------------------------------------------------

def header(img):
    with open(img, "rb") as f:
        h = f.read(104)
    return {"cluster": 1 << struct.unpack(">I", h[20:24])[0],
            "l1": struct.unpack(">Q", h[40:48])[0],
            "rt": struct.unpack(">Q", h[48:56])[0]}


def poke(img, off, fmt, value):
    with open(img, "r+b") as f:
        f.seek(off)
        f.write(struct.pack(fmt, value))


def peek(img, off, fmt):
    with open(img, "rb") as f:
        f.seek(off)
        return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]


def refblock0(img):
    return peek(img, header(img)["rt"], ">Q") & ~0x1ff


def l2_table0(img):
    return peek(img, header(img)["l1"], ">Q") & 0x00fffffffffffe00


def damaged_base(name):
    """64K clusters, 16-bit refcounts: data at guest 0..320K, then cluster 2 discarded."""
    img = S.path(name + ".qcow2")
    qimg("create", "-q", "-f", "qcow2", img, str(SIZE))
    qio(img, ["write -P 0x5a 0 320k", "discard 128k 64k"])
    return img


def damage_leak(img):
    l2 = l2_table0(img)
    poke(img, l2 + 3 * 8, ">Q", 0)  # guest cluster 3's data becomes unreferenced


def damage_refcount_zero(img):
    data = peek(img, l2_table0(img), ">Q") & 0x00fffffffffffe00
    poke(img, refblock0(img) + 2 * (data // 65536), ">H", 0)


def damage_refcount_two(img):
    data = peek(img, l2_table0(img), ">Q") & 0x00fffffffffffe00
    poke(img, refblock0(img) + 2 * (data // 65536), ">H", 2)


def damage_twice(img):
    l2 = l2_table0(img)
    poke(img, l2 + 8, ">Q", peek(img, l2, ">Q"))  # guest clusters 0 and 1 share one host cluster


def damage_overlap_l1(img):
    l2 = l2_table0(img)
    poke(img, l2 + 8, ">Q", (1 << 63) | header(img)["l1"])  # data cluster aliases the L1 table


def autoclear(img):
    with open(img, "rb") as f:
        f.seek(88)
        return struct.unpack(">Q", f.read(8))[0]


def case_bitmaps():
    """The library has no bitmap support: reading leaves QEMU's bitmaps alone;
    the first read-write open clears the autoclear bit, as the format asks of
    such a program, and QEMU then knows the bitmaps are stale (no corruption)."""
    img = qemu_made("bm", seed=7)
    qimg("bitmap", "--add", img, "b0")
    qimg("bitmap", "--add", "-g", "128k", "--disable", img, "second")
    expect(autoclear(img) & 1, "qemu-img did not set the bitmaps bit")
    same_json("info --output=json with bitmaps", ["info", "--output=json", img], ("actual-size",))
    same_text("info with bitmaps", ["info", img], "disk size:")
    want = raw_of(img)
    corral_same(img, want)
    expect(autoclear(img) & 1, "a read-only open cleared the bitmaps bit")
    corral("resize", "-q", img, str(SIZE + MIB))
    expect(autoclear(img) == 0, "autoclear still %#x after a read-write open" % autoclear(img))
    p = qimg("check", "--output=json", img, ok=(0, 3))
    expect(not json.loads(p.stdout).get("corruptions"), "check: %s" % p.stdout)
    p = qimg("info", img)
    expect("lacking bitmap support" in p.stderr, "QEMU did not notice: %s" % p.stderr)
    with open(want, "ab") as f:
        f.truncate(SIZE + MIB)
    qemu_same(img, want)


def case_damaged(name, damage, want_rc):
    img = damaged_base(name)
    damage(img)
    qrc, qres = check_json(qimg, img, ok=(0, 1, 2, 3))
    crc, cres = check_json(corral, img, ok=(0, 1, 2, 3))
    expect(qrc == want_rc, "qemu-img check exit %d, expected %d" % (qrc, want_rc))
    expect(crc == qrc, "corral-img check exit %d, qemu-img %d" % (crc, qrc))
    for key in ("corruptions", "leaks", "check-errors"):
        expect(cres.get(key, 0) == qres.get(key, 0), "%s: corral %s, qemu %s" % (
            key, cres.get(key), qres.get(key)))
    mode = "leaks" if want_rc == 3 else "all"
    fixed = S.path(name + "-fixed.qcow2")
    shutil.copyfile(img, fixed)
    p = corral("check", "-r", mode, fixed, ok=(0,))
    expect("repaired" in p.stdout, "no repair reported: %s" % p.stdout)
    qemu_check_clean(fixed)


def case_corrupt_bit():
    img = damaged_base("cbit")
    poke(img, 72, ">Q", peek(img, 72, ">Q") | 2)
    same_json("info of a corrupt image", ["info", "--output=json", img], ("actual-size",))
    p = corral("snapshot", "-c", "x", img, ok=(1,))
    expect("corral-img: %s: " % img in p.stderr, "no clear error: %s" % p.stderr)
    corral("check", "-r", "all", img)
    info = json.loads(qimg("info", "--output=json", img).stdout)
    expect(info["format-specific"]["data"]["corrupt"] is False, "corrupt bit not cleared")
    qemu_check_clean(img)


def no_core():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def case_lazy_crash():
    img = S.path("crash.qcow2")
    qimg("create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", img, str(SIZE))
    subprocess.run(["qemu-io", "-c", "write -P 0x33 0 1M", "-c", "write -P 0x44 4M 512k", "-c", "abort",
                    img], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=no_core,
                   timeout=60)
    expect(json.loads(qimg("info", "--output=json", img).stdout)["dirty-flag"], "image not dirty")
    same_json("info of a dirty image", ["info", "--output=json", img], ("actual-size",))
    qrc, qres = check_json(qimg, img, ok=(0, 1, 2, 3))
    crc, cres = check_json(corral, img, ok=(0, 1, 2, 3))
    expect((crc, cres.get("corruptions", 0)) == (qrc, qres.get("corruptions", 0)),
           "dirty image check: corral %d %s, qemu %d %s" % (crc, cres, qrc, qres))
    want = raw_of(img)
    corral("snapshot", "-c", "after", img)  # a read-write open repairs the refcounts first
    qemu_check_clean(img)
    qemu_same(img, want)


# ---- locks -----------------------------------------------------------------------------

def case_qemu_lock():
    img = qemu_made("locked", "", 100, n=5)
    holder = subprocess.Popen(["qemu-io", "-f", "qcow2", img], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # until qemu-io holds its locks, seen in /proc/locks: probing with
        # qemu-img would take a lock itself and could make qemu-io's open fail
        inode = ":%d " % os.stat(img).st_ino
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and holder.poll() is None:
            with open("/proc/locks") as f:
                if any("OFDLCK" in line and inode in line for line in f):
                    break
            time.sleep(0.05)
        expect(holder.poll() is None, "qemu-io could not open the image")
        p = corral("info", img, ok=(1,))
        expect("lock" in p.stderr.lower() and p.stderr.startswith("corral-img: " + img),
               "no lock error: %s" % p.stderr)
        corral("snapshot", "-c", "x", img, ok=(1,))
        corral("info", "-U", img)
    finally:
        holder.stdin.close()
        holder.wait(timeout=20)
    corral("snapshot", "-c", "x", img)
    qemu_check_clean(img)


def case_corral_lock():
    img = S.path("mine.qcow2")
    corral("create", "-q", "-f", "qcow2", img, "64M")
    writer = subprocess.Popen([IMG, "bench", "-q", "-w", "-c", "100000000", "-S", "65536", img],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        locked = False
        while not locked and time.monotonic() < deadline and writer.poll() is None:
            p = qimg("info", img, ok=None)
            locked = p.returncode != 0 and "lock" in p.stderr
            time.sleep(0.05)
        expect(locked, "qemu-img never saw corral-img's write lock")
        qimg("info", "-U", img)
    finally:
        writer.kill()
        writer.wait(timeout=20)


for cs in CLUSTER_SIZES:
    S.case("qemu image, cluster_size=%d" % cs, case_cluster, cs)
for bits in REFCOUNT_BITS:
    S.case("qemu image, refcount_bits=%d" % bits, case_refbits, bits)
for cs in (16 * KIB, 64 * KIB, 2 * MIB):
    S.case("qemu image, extended_l2 cluster_size=%d" % cs, case_extl2, cs)
S.case("qemu image, compat=0.10", case_opts, "v2", "compat=0.10", 3)
S.case("qemu image, preallocation=metadata", case_opts, "pm", "preallocation=metadata", 4)
S.case("qemu image, preallocation=falloc", case_opts, "pf", "preallocation=falloc", 5)
S.case("qemu image, preallocation=full", case_opts, "pF", "preallocation=full", 6)
S.case("qemu image, lazy_refcounts=on", case_opts, "lz", "lazy_refcounts=on", 7)
S.case("qemu image, raw", case_raw)
S.case("qemu compressed (zlib, 64K)", case_compressed, "cluster_size=65536", "z64")
S.case("qemu compressed (zlib, 4K)", case_compressed, "cluster_size=4096", "z4")
S.case("qemu compressed (zlib, 2M)", case_compressed, "cluster_size=2097152", "z2m")
S.case("qemu compressed (zstd)", case_compressed, "compression_type=zstd", "zstd")
S.case("qemu compressed, then overwritten", case_compressed_overwritten)
S.case("qemu snapshots, apply and delete through corral-img", case_snapshots, "", "a")
S.case("qemu snapshots (4K, refcount_bits=8)", case_snapshots, "cluster_size=4096,refcount_bits=8", "b")
S.case("qemu snapshots (extended_l2)", case_snapshots, "extended_l2=on", "c")
S.case("QEMU savevm snapshots with VM state", case_vmstate)
S.case("qemu backing chain qcow2", case_chain, "qcow2", "", "q")
S.case("qemu backing chain on raw", case_chain, "raw", "", "r")
S.case("qemu backing chain compat=0.10", case_chain, "qcow2", "compat=0.10", "v2")
S.case("qemu backing chain extended_l2", case_chain, "qcow2", "extended_l2=on", "x")
S.case("bitmaps: autoclear bit cleared on read-write open", case_bitmaps)
S.case("damaged: leaked cluster", case_damaged, "dleak", damage_leak, 3)
S.case("damaged: refcount 0 on a used cluster", case_damaged, "dzero", damage_refcount_zero, 2)
S.case("damaged: refcount 2 on a cluster used once", case_damaged, "dtwo", damage_refcount_two, 2)
S.case("damaged: one cluster referenced twice", case_damaged, "dtwice", damage_twice, 2)
S.case("damaged: data cluster overlapping the L1 table", case_damaged, "dl1", damage_overlap_l1, 2)
S.case("damaged: corrupt bit", case_corrupt_bit)
S.case("lazy refcounts after a crash (dirty)", case_lazy_crash)
S.case("QEMU's lock keeps corral-img out, -U reads", case_qemu_lock)
S.case("corral-img's lock keeps qemu-img out", case_corral_lock)
S.finish()
