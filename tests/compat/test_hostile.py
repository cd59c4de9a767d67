#!/usr/bin/python3
"""Hostile images: hand-made qcow2 files with header fields out of range, tables
past the end or over the header, aliased and overflowing refcounts, backing-file
loops and backing files outside the allowed directories.  corral-img info, check
and convert must answer each with a clear error or a correct report, within a
memory limit (RLIMIT_AS) and a timeout, and never die from a signal."""
import os
import resource
import shutil
import struct
import subprocess

from compat_util import IMG, MIB, Suite, expect, qimg, qio, qemu_check_clean

S = Suite("hostile")
# address space for one corral-img run; 0 turns the limit off (ASan builds reserve terabytes)
MEM_LIMIT = int(os.environ.get("CORRAL_HOSTILE_MEM_LIMIT", 1 << 30))
TIMEOUT = 20


def limited():
    if MEM_LIMIT:
        resource.setrlimit(resource.RLIMIT_AS, (MEM_LIMIT, MEM_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def tool(*args):
    try:
        p = subprocess.run([IMG] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           errors="replace", preexec_fn=limited, timeout=TIMEOUT, cwd=S.tmp)
    except subprocess.TimeoutExpired:
        raise AssertionError("corral-img %s: no answer within %ds" % (" ".join(args), TIMEOUT))
    expect(p.returncode >= 0, "corral-img %s killed by signal %d\n%s" % (" ".join(args), -p.returncode,
                                                                        p.stderr[-1500:]))
    return p


def answers(img, info=(1,), check=(1,), convert=(1,), extra=()):
    """Runs info, check and convert on IMG; each exit status must be in the allowed set,
    and a failure must be explained as 'corral-img: <file>: <message>'."""
    out = S.path(os.path.basename(img) + ".out.raw")
    runs = [("info", info, ["info", "--backing-chain"] + list(extra) + [img]),
            ("check", check, ["check"] + list(extra) + [img]),
            ("convert", convert, ["convert"] + list(extra) + ["-O", "raw", img, out])]
    for name, allowed, args in runs:
        p = tool(*args)
        expect(p.returncode in allowed, "%s: exit %d, expected %s\nstdout: %s\nstderr: %s" % (
            name, p.returncode, allowed, p.stdout[-600:], p.stderr[-600:]))
        if p.returncode == 1:
            first = p.stderr.splitlines()[0] if p.stderr else ""
            expect(first.startswith("corral-img: ") and len(first) > len("corral-img: x: ") + 5,
                   "%s: unclear error %r" % (name, p.stderr[:300]))
    if os.path.exists(out):
        os.unlink(out)


def base(name, opts="", size=4 * MIB, writes=("write -P 0x61 0 192k",)):
    img = S.path(name + ".qcow2")
    qimg("create", "-q", "-f", "qcow2", *(["-o", opts] if opts else []), img, str(size))
    if writes:
        qio(img, list(writes))
    return img


def poke(img, off, fmt, value):
    with open(img, "r+b") as f:
        f.seek(off)
        f.write(struct.pack(fmt, value) if fmt else value)


def peek(img, off, fmt):
    with open(img, "rb") as f:
        f.seek(off)
        return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]


HEADER_CASES = [
    ("version 1", 4, ">I", 1),
    ("version 4", 4, ">I", 4),
    ("cluster_bits 8", 20, ">I", 8),
    ("cluster_bits 22", 20, ">I", 22),
    ("cluster_bits 63", 20, ">I", 63),
    ("virtual size 2^63-1", 24, ">Q", (1 << 63) - 1),
    ("crypt_method 1 (AES)", 32, ">I", 1),
    ("l1_size 2^31-1", 36, ">I", 0x7fffffff),
    ("l1_size smaller than the disk needs", 36, ">I", 0),
    ("l1_table_offset past EOF", 40, ">Q", 1 << 50),
    ("l1_table_offset 0 (over the header)", 40, ">Q", 0),
    ("l1_table_offset unaligned", 40, ">Q", 0x30008),
    ("refcount_table_offset past EOF", 48, ">Q", 1 << 50),
    ("refcount_table_offset 0 (over the header)", 48, ">Q", 0),
    ("refcount_table_offset unaligned", 48, ">Q", 0x10100),
    ("refcount_table_clusters 2^31", 56, ">I", 1 << 31),
    ("nb_snapshots 2^20 at EOF", 60, ">I", 1 << 20),
    ("snapshots_offset past EOF", 64, None, None),
    ("unknown incompatible feature bit", 72, ">Q", 1 << 40),
    ("refcount_order 7", 96, ">I", 7),
    ("header_length 50", 100, ">I", 50),
    ("header_length past the cluster", 100, ">I", 1 << 20),
    ("backing_file_offset past EOF", 8, None, None),
    ("backing_file_size 4096", 16, None, None),
]


def case_header(name, off, fmt, value):
    img = base("h-" + name.replace(" ", "_").replace("/", "_"))
    if name == "snapshots_offset past EOF":
        poke(img, 60, ">I", 1)
        poke(img, 64, ">Q", 1 << 45)
    elif name == "backing_file_offset past EOF":
        poke(img, 8, ">Q", 1 << 45)
        poke(img, 16, ">I", 8)
    elif name == "backing_file_size 4096":
        poke(img, 8, ">Q", 0x200)
        poke(img, 16, ">I", 4096)
    else:
        poke(img, off, fmt, value)
    answers(img)


def case_truncated():
    img = base("truncated")
    with open(img, "r+b") as f:
        f.truncate(50)
    answers(img, extra=("-f", "qcow2"))


def case_empty():
    img = S.path("empty.qcow2")
    open(img, "wb").close()
    answers(img, extra=("-f", "qcow2"))


def case_extension_overrun():
    img = base("ext")
    hl = peek(img, 100, ">I")
    poke(img, hl, ">I", 0x12345678)
    poke(img, hl + 4, ">I", 0xfffffff0)  # an unknown extension claiming 4 GiB
    answers(img)


def bitmap_ext(img):
    """Offset of the bitmaps extension's data in IMG's header."""
    pos = peek(img, 100, ">I")
    while True:
        kind, length = peek(img, pos, ">I"), peek(img, pos + 4, ">I")
        expect(kind != 0, "no bitmaps extension")
        if kind == 0x23852875:
            return pos + 8
        pos += 8 + (length + 7) // 8 * 8


def case_bitmap_directory(off, fmt, value):
    """A bitmaps extension or directory entry out of range: info says so."""
    img = base("bm%d-%x" % (off, value & 0xffff))
    qimg("bitmap", "--add", img, "b0")
    ext = bitmap_ext(img)
    if off < 0:  # an offset into the first directory entry
        poke(img, peek(img, ext + 16, ">Q") - off - 1, fmt, value)
    else:
        poke(img, ext + off, fmt, value)
    p = tool("info", img)
    expect(p.returncode == 1 and p.stderr.startswith("corral-img: ") and "itmap" in p.stderr,
           "info: exit %d: %s" % (p.returncode, p.stderr[:300]))


def l2_of_first(img):
    return peek(img, peek(img, 40, ">Q"), ">Q") & 0x00fffffffffffe00


def case_l2_entry_past_eof():
    img = base("l2eof")
    poke(img, l2_of_first(img) + 8, ">Q", (1 << 63) | (1 << 45))
    answers(img, info=(0,), check=(2,), convert=(0, 1))


def case_l1_entry_on_metadata():
    """An L1 entry naming the refcount table's cluster as an L2 table: reads stay
    bounded, and a write must not land on the refcount table (overlap check)."""
    img = base("l1meta")
    rt = peek(img, 48, ">Q")
    rt0 = peek(img, rt, ">Q")
    poke(img, peek(img, 40, ">Q"), ">Q", (1 << 63) | rt)
    answers(img, info=(0,), check=(2,), convert=(0, 1))
    p = tool("bench", "-w", "-c", "8", "-s", "4096", "--pattern=0x55", img)
    expect(p.returncode in (0, 1), "bench -w: exit %d" % p.returncode)
    expect(peek(img, 0, ">I") == 0x514649fb and peek(img, rt, ">Q") == rt0,
           "metadata was overwritten")


def case_cluster_twice():
    img = base("twice")
    l2 = l2_of_first(img)
    poke(img, l2 + 8, ">Q", peek(img, l2, ">Q"))
    answers(img, info=(0,), check=(2,), convert=(0,))
    p = tool("check", "-r", "all", img)
    expect(p.returncode == 0, "check -r all: exit %d %s" % (p.returncode, p.stderr[-300:]))
    qemu_check_clean(img)


def case_refcount_overflow():
    """refcount_bits=1 cannot count a snapshot's second reference."""
    img = base("ovf", "refcount_bits=1")
    p = tool("snapshot", "-c", "s1", img)
    expect(p.returncode == 1 and p.stderr.startswith("corral-img: "), "snapshot: exit %d %s" % (
        p.returncode, p.stderr))
    qemu_check_clean(img)


def case_refcount_max():
    """A refcount at its 16-bit maximum: a snapshot would overflow it."""
    img = base("max16")
    rt = peek(img, 48, ">Q")
    rb = peek(img, rt, ">Q")
    data = l2_of_first(img)
    poke(img, rb + 2 * (peek(img, data, ">Q") & 0x00fffffffffffe00) // 65536, ">H", 0xffff)
    answers(img, info=(0,), check=(2, 3), convert=(0,))
    p = tool("snapshot", "-c", "s1", img)
    expect(p.returncode in (0, 1), "snapshot: exit %d" % p.returncode)


def case_compressed_huge():
    img = S.path("chuge.qcow2")
    src = S.path("chuge.raw")
    qimg("create", "-q", "-f", "raw", src, str(MIB))
    qio(src, ["write -P 0x41 0 1M"], fmt="raw")
    qimg("convert", "-q", "-c", "-O", "qcow2", src, img)
    l2 = l2_of_first(img)
    poke(img, l2, ">Q", (1 << 62) | ((1 << 62) - 1))  # every size and offset bit set
    answers(img, info=(0,), check=(2,), convert=(0, 1))


def case_snapshot_entry(field_off, fmt, value, tag):
    img = base("snap" + tag)
    qimg("snapshot", "-c", "s", img)
    poke(img, peek(img, 64, ">Q") + field_off, fmt, value)
    answers(img)


def chain_pair(tag):
    a, b = S.path(tag + "a.qcow2"), S.path(tag + "b.qcow2")
    qimg("create", "-q", "-f", "qcow2", a, str(MIB))
    qimg("create", "-q", "-f", "qcow2", "-u", "-b", os.path.basename(a), "-F", "qcow2", b, str(MIB))
    return a, b


def case_backing_loop():
    a, b = chain_pair("loop")
    qimg("rebase", "-u", "-b", os.path.basename(b), "-F", "qcow2", a)  # a -> b -> a
    answers(b, info=(1,), check=(0,), convert=(1,))


def case_backing_self():
    a = S.path("self.qcow2")
    qimg("create", "-q", "-f", "qcow2", "-u", "-b", "self.qcow2", "-F", "qcow2", a, str(MIB))
    answers(a, info=(1,), check=(0,), convert=(1,))


def case_backing_outside(name, backing):
    d = S.path("jail-" + name)
    os.makedirs(d, exist_ok=True)
    img = os.path.join(d, "vm.qcow2")
    qimg("create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", "raw", img, str(MIB))
    answers(img, info=(1,), check=(0,), convert=(1,))
    p = tool("info", img)  # the header alone may be shown
    expect(p.returncode == 0 and backing in p.stdout, "plain info: %s %s" % (p.stdout, p.stderr))


def case_deep_chain():
    prev = S.path("deep0.qcow2")
    qimg("create", "-q", "-f", "qcow2", prev, str(MIB))
    for i in range(1, 70):
        img = S.path("deep%d.qcow2" % i)
        qimg("create", "-q", "-f", "qcow2", "-u", "-b", os.path.basename(prev), "-F", "qcow2", img,
             str(MIB))
        prev = img
    answers(prev, info=(1,), check=(0,), convert=(1,))


def case_not_qcow2():
    img = S.path("text.qcow2")
    with open(img, "wb") as f:
        f.write(b"this is not a qcow2 image\n" * 100)
    answers(img, extra=("-f", "qcow2"))


for args in HEADER_CASES:
    S.case("header: " + args[0], case_header, *args)
S.case("truncated header", case_truncated)
S.case("empty file", case_empty)
S.case("not a qcow2 file", case_not_qcow2)
S.case("header extension longer than the cluster", case_extension_overrun)
S.case("L2 entry past EOF", case_l2_entry_past_eof)
S.case("L1 entry on the refcount table; writes refused there", case_l1_entry_on_metadata)
S.case("cluster referenced twice", case_cluster_twice)
S.case("refcount overflow (refcount_bits=1 snapshot)", case_refcount_overflow)
S.case("refcount at its maximum", case_refcount_max)
S.case("compressed descriptor with every bit set", case_compressed_huge)
S.case("snapshot entry: l1_size 2^31", case_snapshot_entry, 8, ">I", 0x7fffffff, "l1")
S.case("snapshot entry: l1 offset past EOF", case_snapshot_entry, 0, ">Q", 1 << 45, "off")
S.case("snapshot entry: extra_size 64K", case_snapshot_entry, 36, ">I", 65536, "extra")
S.case("bitmaps: 2^32-1 bitmaps", case_bitmap_directory, 0, ">I", 0xffffffff)
S.case("bitmaps: directory of 2^40 bytes", case_bitmap_directory, 8, ">Q", 1 << 40)
S.case("bitmaps: directory past EOF", case_bitmap_directory, 16, ">Q", 1 << 45)
S.case("bitmaps: entry name longer than the directory", case_bitmap_directory, -19, ">H", 0xffff)
S.case("backing loop a -> b -> a", case_backing_loop)
S.case("backing file is the image itself", case_backing_self)
S.case("backing file /etc/shadow", case_backing_outside, "shadow", "/etc/shadow")
S.case("backing file ../../x outside the directory", case_backing_outside, "dotdot", "../../x")
S.case("backing chain deeper than the limit", case_deep_chain)
S.finish()
