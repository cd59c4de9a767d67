#!/usr/bin/python3
"""corral-img speaks qemu-img: the same command lines give the same exit status
and the same human output (stdout, and the report lines on stderr) for create,
check, compare, measure, resize, snapshot, commit and bench."""
import json
import os
import re
import shutil
import struct

from compat_util import MIB, Suite, corral, expect, info_json, qemu_check_clean, qimg, qio

S = Suite("cli")


def both(args, cwd=None, prepare=None, mask=None, err_filter=None):
    """Runs ARGS with each tool (PREPARE() before each run); exit status and output must
    match (stdout through MASK, stderr lines through ERR_FILTER when given)."""
    res = []
    for tool in (qimg, corral):
        if prepare:
            prepare()
        p = tool(*args, ok=None, cwd=cwd)
        out, err = p.stdout, p.stderr
        if mask:
            out, err = mask(out), mask(err)
        # qemu-img prefixes its errors with "qemu-img: ", corral-img with "corral-img: <file>: "
        err_lines = [ln for ln in err.splitlines() if not re.match(r"^(qemu|corral)-img: ", ln)]
        if err_filter:
            err_lines = [ln for ln in err_lines if err_filter(ln)]
        res.append((p.returncode, out, err_lines))
    expect(res[0] == res[1], "%s:\nqemu-img:   %r\ncorral-img: %r" % (" ".join(args), res[0], res[1]))
    return res[1]


def image(name, size=8 * MIB, opts=""):
    img = S.path(name)
    qimg("create", "-q", "-f", "qcow2", *(["-o", opts] if opts else []), img, str(size))
    qio(img, ["write -P 0x5a 0 320k", "write -z 1M 64k", "discard 128k 64k"])
    return img


def case_create(opts, size="8M", fmt="qcow2", extra=()):
    img = S.path("create.img")
    both(["create", "-f", fmt] + (["-o", opts] if opts else []) + list(extra) + [img, size])


def case_create_backing():
    base = image("cbase.qcow2")
    both(["create", "-f", "qcow2", "-b", os.path.basename(base), "-F", "qcow2", "cov.qcow2"], cwd=S.tmp)


def poke16(img, cluster_index, value):
    with open(img, "rb") as f:
        f.seek(48)
        rt = struct.unpack(">Q", f.read(8))[0]
        f.seek(rt)
        rb = struct.unpack(">Q", f.read(8))[0]
    with open(img, "r+b") as f:
        f.seek(rb + 2 * cluster_index)
        f.write(struct.pack(">H", value))


def layout(img):
    """File length, header and refcount table: where a repair put things."""
    with open(img, "rb") as f:
        head = f.read(112)
        rt, clusters = struct.unpack(">QI", head[48:60])
        f.seek(rt)
        table = f.read(clusters * 65536).rstrip(b"\0")
    return os.path.getsize(img), head, table


def case_check(damage, repair):
    """Exit status, summary, report lines and repair narration as qemu-img's,
    the rebuild of the refcount structure that -r all does for a cluster in
    use whose refcount is 0 included (same new layout, same end offset)."""
    src = image("chk-src.qcow2")
    if damage:
        damage(src)
    work = S.path("chk.qcow2")
    args = ["check"] + (["-r", repair] if repair else []) + [work]
    both(args, prepare=lambda: shutil.copyfile(src, work))
    both(["check", "--output=json"] + args[1:], prepare=lambda: shutil.copyfile(src, work))
    if repair:
        shutil.copyfile(src, work)
        qimg("check", "-r", repair, work, ok=None)
        theirs = S.path("chk-qemu.qcow2")
        shutil.copyfile(work, theirs)
        shutil.copyfile(src, work)
        corral("check", "-r", repair, work, ok=None)
        expect(layout(work) == layout(theirs), "check -r %s: repaired layout %r, qemu-img's %r" % (
            repair, layout(work), layout(theirs)))


def leak(img):
    with open(img, "rb") as f:
        f.seek(40)
        l1 = struct.unpack(">Q", f.read(8))[0]
        f.seek(l1)
        l2 = struct.unpack(">Q", f.read(8))[0] & 0x00fffffffffffe00
    with open(img, "r+b") as f:
        f.seek(l2 + 3 * 8)
        f.write(bytes(8))


def corrupt(img):
    poke16(img, 5, 0)


def case_compare(mod, strict):
    a = image("cmpa.qcow2")
    b = S.path("cmpb.qcow2")
    shutil.copyfile(a, b)
    if mod:
        mod(b)
    both(["compare"] + (["-s"] if strict else []) + [a, b])


def case_measure(args):
    both(["measure"] + args)


def case_measure_file():
    img = image("meas.qcow2")
    both(["measure", "-O", "qcow2", img])
    both(["measure", "--output=json", "-O", "qcow2", "-o", "cluster_size=4k", img])


def case_resize(args):
    img = S.path("rs.qcow2")
    both(["resize"] + args[:-1] + [img, args[-1]], prepare=lambda: qimg("create", "-q", "-f", "qcow2", img, "8M"))


def case_snapshot():
    img = image("snaps.qcow2")
    both(["snapshot", "-c", "one", img], prepare=lambda: qimg("snapshot", "-d", "one", img, ok=None))
    both(["snapshot", "-l", img])
    both(["snapshot", "-a", "nosuch", img])
    both(["snapshot", "-d", "nosuch", img])
    both(["snapshot", "-l", image("nosnaps.qcow2")])


def case_convert_snapshot():
    """convert -l: the snapshot's content, by id, name or snapshot.id/name."""
    img = image("cvsn.qcow2")
    qimg("snapshot", "-c", "one", img)
    qio(img, ["write -P 0x77 0 512k", "discard 1M 64k"])
    want = S.path("cvsn.want.raw")
    qimg("convert", "-l", "one", "-O", "raw", img, want)
    out = S.path("cvsn.out.raw")
    for param in ("one", "1", "snapshot.id=1", "snapshot.name=one,snapshot.id=1",
                  "nothere", "snapshot.name=one,snapshot.id=2", "snapshot.foo=1"):
        rc, _, _ = both(["convert", "-l", param, "-O", "raw", img, out],
                        prepare=lambda: os.path.exists(out) and os.unlink(out))
        if rc == 0:
            p = qimg("compare", "-f", "raw", "-F", "raw", out, want, ok=None)
            expect(p.returncode == 0, "convert -l %s: %s" % (param, p.stdout))
    both(["convert", "-l", "one", "-O", "raw", want, out])


def case_commit():
    base = image("cmbase.qcow2")
    top = S.path("cmtop.qcow2")

    def prepare():
        qimg("create", "-q", "-f", "qcow2", "-b", "cmbase.qcow2", "-F", "qcow2", top)
        qio(top, ["write -P 0x11 4M 128k"])
    both(["commit", top], prepare=prepare)
    expect(os.path.exists(base), "base vanished")


def case_bench_direct():
    """-t none writes go on DEPTH at a time behind the caller: the image holds
    every one of them afterwards and qemu-img check finds it clean."""
    img = S.path("benchd.qcow2")
    both(["bench", "-w", "-t", "none", "-d", "64", "-c", "3000", "-s", "4k", "-S", "69632",
          "--pattern=0xcd", img], prepare=lambda: qimg("create", "-q", "-f", "qcow2", img, "256M"),
         mask=lambda s: re.sub(r"completed in [0-9.]+ seconds", "completed in T seconds", s))
    qemu_check_clean(img)
    script = ["read -P 0xcd %d 4k" % (i * 69632 % (256 * MIB - 4096)) for i in range(0, 3000, 97)]
    qio(img, script)


def case_bench_wrap():
    """4 KiB writes 1 MiB + 4 KiB apart wrap round a 64 MiB image (offsets modulo
    the image size, as qemu-img 7.2): both tools write the same blocks, so the
    two images compare equal; the file grown ahead for -t none ends where the
    image's last cluster does."""
    imgs = [S.path("wrapq.qcow2"), S.path("wrapc.qcow2")]
    for tool, img in zip((qimg, corral), imgs):
        qimg("create", "-q", "-f", "qcow2", img, "64M")
        tool("bench", "-q", "-w", "-t", "none", "-c", "250", "-s", "4k", "-S", "1052672", "--pattern=0x3c", img)
    qemu_check_clean(imgs[1])
    qimg("compare", "-f", "qcow2", "-F", "qcow2", *imgs)
    end = info_json(qimg, imgs[1])
    check = json.loads(qimg("check", "--output=json", imgs[1]).stdout)
    size, end_off = os.path.getsize(imgs[1]), check["image-end-offset"]
    expect(end_off - 64 * 1024 < size <= end_off, "file size %d, image end %d" % (size, end_off))
    expect(end["virtual-size"] == 64 * MIB, "virtual size %r" % end["virtual-size"])


def case_bench_overlap():
    """-t none requests that overlap ones still in flight (64 KiB writes 4 KiB
    apart, 64 at a time) wait for them: the image holds what qemu-img's does
    and qemu-img check finds it clean."""
    imgs = [S.path("ovq.qcow2"), S.path("ovc.qcow2")]
    for tool, img in zip((qimg, corral), imgs):
        qimg("create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", img, "32M")
        tool("bench", "-q", "-w", "-t", "none", "-d", "64", "-c", "1500", "-s", "64k", "-S", "4k",
             "--pattern=0x5e", img)
    qemu_check_clean(imgs[1])
    qimg("compare", "-f", "qcow2", "-F", "qcow2", *imgs)
    qio(imgs[1], ["read -P 0x5e 0 %d" % (1499 * 4096 + 65536)])


def case_bench(args):
    img = S.path("bench.qcow2")
    both(["bench"] + args + [img], prepare=lambda: qimg("create", "-q", "-f", "qcow2", img, "64M"),
         mask=lambda s: re.sub(r"completed in [0-9.]+ seconds", "completed in T seconds", s))


def case_info_missing():
    both(["info", S.path("does-not-exist.qcow2")])


def case_convert_quiet():
    img = image("cvq.qcow2")
    out = S.path("cvq.raw")
    both(["convert", "-O", "raw", img, out])
    # the steps in between depend on each tool's chunk size: first and last lines
    both(["convert", "-p", "-O", "qcow2", img, S.path("cvq2.qcow2")],
         mask=lambda s: "\n".join(s.splitlines()[:1] + s.splitlines()[-1:]))


S.case("create qcow2 defaults", case_create, "")
S.case("create qcow2 with every -o", case_create,
       "cluster_size=16k,preallocation=metadata,lazy_refcounts=on,extended_l2=on,compat=1.1,refcount_bits=8")
S.case("create compat=0.10", case_create, "compat=0.10", "1G")
S.case("create raw", case_create, "", "10M", "raw")
S.case("create raw preallocation=falloc", case_create, "preallocation=falloc", "1M", "raw")
S.case("create with a size suffix 1.5G", case_create, "", "1.5G")
S.case("create -b -F (size from the backing file)", case_create_backing)
S.case("check clean", case_check, None, None)
S.case("check with a leak", case_check, leak, None)
S.case("check -r leaks", case_check, leak, "leaks")
S.case("check -r all with a leak", case_check, leak, "all")
S.case("check with a corruption", case_check, corrupt, None)
S.case("check -r all", case_check, corrupt, "all")
S.case("compare identical", case_compare, None, False)
S.case("compare content mismatch", case_compare, lambda b: qio(b, ["write -P 0x77 5M 4k"]), False)
S.case("compare size mismatch", case_compare, lambda b: qimg("resize", "-q", b, "+1M"), False)
S.case("compare -s size mismatch", case_compare, lambda b: qimg("resize", "-q", b, "+1M"), True)
S.case("measure --size 1G", case_measure, ["--size", "1G", "-O", "qcow2"])
S.case("measure --size 100G", case_measure, ["--size", "100G", "-O", "qcow2"])
S.case("measure --size 1T -o cluster_size=2M", case_measure, ["--size", "1T", "-O", "qcow2", "-o", "cluster_size=2M"])
S.case("measure a qcow2 file", case_measure_file)
S.case("resize +1G", case_resize, ["+1G"])
S.case("resize without --shrink", case_resize, ["4M"])
S.case("resize --shrink", case_resize, ["--shrink", "4M"])
S.case("snapshot -c/-l/-a/-d", case_snapshot)
S.case("convert -l snapshot", case_convert_snapshot)
S.case("commit", case_commit)
S.case("bench read", case_bench, ["-c", "1000"])
S.case("bench write, flush interval", case_bench, ["-w", "-c", "500", "-S", "65536", "--flush-interval=100"])
S.case("bench write -t none, 64 in flight", case_bench_direct)
S.case("bench -t none wrapping round the image end", case_bench_wrap)
S.case("bench -t none, requests overlapping ones in flight", case_bench_overlap)
S.case("info of a missing file", case_info_missing)
S.case("convert quiet, convert -p", case_convert_quiet)
S.finish()
