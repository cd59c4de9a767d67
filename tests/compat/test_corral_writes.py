#!/usr/bin/python3
"""Images that corral-img and the storage library write are read by QEMU:
after seeded random writes, zero writes and discards (tests/compat/helpers/imgio),
`qemu-img check` finds no corruption and no leak and `qemu-img compare` finds
the image equal to the raw reference written alongside."""
import json
import os
import shutil

from compat_util import (CLUSTER_SIZES, IMG, KIB, MIB, REFCOUNT_BITS, Suite, corral, expect,
                         imgio, make_ref, qemu_check_clean, qemu_same, qimg, qio, run)

S = Suite("writes")
SIZE = 8 * MIB


def fresh(name, opts="", size=SIZE, fmt="qcow2"):
    img, ref = S.path(name + "." + fmt), S.path(name + ".ref")
    args = ["create", "-q", "-f", fmt] + (["-o", opts] if opts else []) + [img, str(size)]
    corral(*args)
    make_ref(ref, size)
    return img, ref


def written(name, opts, seed, cluster=64 * KIB, nops=120, align=1):
    img, ref = fresh(name, opts)
    imgio(img, ref, seed, nops, min(3 * cluster, 256 * KIB) + 777, align)
    qemu_check_clean(img)
    qemu_same(img, ref)
    return img, ref


def qemu_info(img):
    return json.loads(qimg("info", "--output=json", img).stdout)


def case_cluster(cs):
    img, _ = written("cs%d" % cs, "cluster_size=%d" % cs, cs, cs)
    expect(qemu_info(img)["cluster-size"] == cs, "cluster size not as created")


def case_refbits(bits):
    img, _ = written("rb%d" % bits, "cluster_size=4096,refcount_bits=%d" % bits, bits, 4096)
    expect(qemu_info(img)["format-specific"]["data"]["refcount-bits"] == bits, "refcount bits")


def case_extl2(cs):
    img, _ = written("xl2_%d" % cs, "cluster_size=%d,extended_l2=on" % cs, cs + 7, cs)
    expect(qemu_info(img)["format-specific"]["data"]["extended-l2"] is True, "extended_l2 not set")


def case_prealloc(mode):
    img, ref = fresh("pre_" + mode, "preallocation=" + mode)
    r = qemu_check_clean(img)
    if mode != "off":
        expect(r.get("allocated-clusters") == SIZE // (64 * KIB),
               "preallocation=%s allocated %s clusters" % (mode, r.get("allocated-clusters")))
    qemu_same(img, ref)
    imgio(img, ref, len(mode), 120, 200 * KIB)
    qemu_check_clean(img)
    qemu_same(img, ref)


def case_compat_v2():
    img, _ = written("v2", "compat=0.10", 11)
    expect(qemu_info(img)["format-specific"]["data"]["compat"] == "0.10", "not compat 0.10")


def case_lazy():
    img, _ = written("lazy", "lazy_refcounts=on", 12)
    info = qemu_info(img)
    expect(info["format-specific"]["data"]["lazy-refcounts"] is True and not info["dirty-flag"],
           "lazy refcounts image left dirty or flag missing: %s" % info)


def case_raw():
    img, ref = fresh("plain", fmt="raw")
    imgio(img, ref, 13, 100, 100 * KIB)
    qemu_same(img, ref, fmt="raw")


def case_sector_aligned():
    written("aligned", "cluster_size=65536", 14, align=512)


def case_snapshots(opts, tag):
    img, ref = fresh("snap" + tag, opts)
    refs = []
    for i in range(3):
        imgio(img, ref, 100 + i, 60, 200 * KIB)
        refs.append(S.path("snap%s.ref%d" % (tag, i)))
        shutil.copyfile(ref, refs[-1])
        if i < 2:
            corral("snapshot", "-c", "s%d" % i, img)
    qemu_check_clean(img)
    qemu_same(img, ref)
    listed = qimg("snapshot", "-l", img).stdout
    expect(" s0 " in listed and " s1 " in listed, "qemu-img does not list the snapshots:\n" + listed)
    for i in range(2):  # QEMU reads each snapshot's content as it was taken
        out = S.path("snap%s.s%d.raw" % (tag, i))
        qimg("convert", "-l", "snapshot.name=s%d" % i, "-O", "raw", img, out)
        qemu_same(out, refs[i], fmt="raw")
    corral("snapshot", "-a", "s0", img)
    qemu_check_clean(img)
    qemu_same(img, refs[0])
    imgio(img, refs[0], 200, 40, 100 * KIB)
    corral("snapshot", "-d", "s1", img)
    qemu_check_clean(img)
    corral("snapshot", "-d", "s0", img)
    qemu_check_clean(img)
    qemu_same(img, refs[0])
    expect("s0" not in qimg("snapshot", "-l", img).stdout, "snapshot s0 still listed")


def chain(tag, base_fmt="qcow2", opts=""):
    """base <- mid <- top, each written through the library; returns paths and refs."""
    base, bref = fresh(tag + "base", opts if base_fmt == "qcow2" else "", fmt=base_fmt)
    imgio(base, bref, 300, 80, 200 * KIB)
    paths, refs = [base], [bref]
    for name in ("mid", "top"):
        img, ref = S.path(tag + name + ".qcow2"), S.path(tag + name + ".ref")
        below = os.path.basename(paths[-1])
        fmt = base_fmt if len(paths) == 1 else "qcow2"
        corral("create", "-q", "-f", "qcow2", "-b", below, "-F", fmt,
               *(["-o", opts] if opts else []), img)
        make_ref(ref, SIZE, copy_of=refs[-1])
        imgio(img, ref, 301 + len(paths), 60, 150 * KIB)
        paths.append(img)
        refs.append(ref)
    return paths, refs


def case_chain(base_fmt, opts, tag):
    paths, refs = chain(tag, base_fmt, opts)
    for img, ref in zip(paths[1:], refs[1:]):
        qemu_check_clean(img)
        qemu_same(img, ref)
    info = json.loads(qimg("info", "--output=json", "--backing-chain", paths[2]).stdout)
    expect(len(info) == 3 and info[0]["backing-filename"] == os.path.basename(paths[1]),
           "backing chain as QEMU sees it: %s" % info)


def case_commit():
    paths, refs = chain("cm")
    corral("commit", "-q", paths[2])
    qemu_check_clean(paths[1])
    qemu_check_clean(paths[2])
    qemu_same(paths[1], refs[2])
    qemu_same(paths[2], refs[2])
    corral("commit", "-q", "-d", paths[1])
    qemu_check_clean(paths[0])
    qemu_same(paths[0], refs[2])


def case_commit_deep(base_fmt):
    """commit -b BASE: the top and the middle layer go into the base; -b
    implies -d, so the top keeps its data and stays valid."""
    paths, refs = chain("cmd" + base_fmt, base_fmt)

    def top_map():  # what the top image itself holds
        return [e for e in json.loads(qimg("map", "--output=json", paths[2]).stdout) if e["depth"] == 0]

    before = top_map()
    expect(before, "the top image holds nothing")
    corral("commit", "-q", "-b", paths[0], paths[2])
    if base_fmt == "qcow2":
        qemu_check_clean(paths[0])
    qemu_check_clean(paths[2])
    qemu_same(paths[0], refs[2], fmt=base_fmt)
    qemu_same(paths[2], refs[2])
    expect(top_map() == before, "commit -b changed the top image")


def case_rebase_safe():
    paths, refs = chain("rb")
    corral("rebase", "-q", "-b", os.path.basename(paths[0]), "-F", "qcow2", paths[2])
    qemu_check_clean(paths[2])
    qemu_same(paths[2], refs[2])
    info = json.loads(qimg("info", "--output=json", paths[2]).stdout)
    expect(info["backing-filename"] == os.path.basename(paths[0]), "backing not changed: %s" % info)


def case_rebase_flatten():
    paths, refs = chain("fl")
    corral("rebase", "-q", "-b", "", paths[2])
    qemu_check_clean(paths[2])
    info = json.loads(qimg("info", "--output=json", paths[2]).stdout)
    expect("backing-filename" not in info, "still has a backing file: %s" % info)
    qemu_same(paths[2], refs[2])


def case_rebase_unsafe():
    paths, refs = chain("ru")
    copy = S.path("ru-copy.qcow2")
    shutil.copyfile(paths[1], copy)
    corral("rebase", "-u", "-b", "ru-copy.qcow2", "-F", "qcow2", paths[2])
    qemu_check_clean(paths[2])
    qemu_same(paths[2], refs[2])
    expect(qimg("info", "--output=json", paths[2]).stdout.count("ru-copy.qcow2") >= 1,
           "backing file name not rewritten")


def raw_source(name, seed, size=SIZE):
    """A raw file with random data, zero runs and holes, written through the library."""
    src, ref = fresh(name, fmt="raw", size=size)
    imgio(src, ref, seed, 150, 300 * KIB)
    return src


def case_convert(opts, tag):
    src = raw_source("cvsrc" + tag, 400 + len(tag))
    out = S.path("cv%s.qcow2" % tag)
    corral("convert", "-f", "raw", "-O", "qcow2", *(["-o", opts] if opts else []), src, out)
    qemu_check_clean(out)
    qemu_same(out, src)
    back = S.path("cv%s.back.raw" % tag)
    corral("convert", "-O", "raw", out, back)
    qemu_same(back, src, fmt="raw")


def case_convert_compressed(cs, ctype="zlib"):
    tag = "%d%s" % (cs, ctype)
    src = raw_source("czsrc" + tag, 500 + cs // 512 + len(ctype))
    out = S.path("cz%s.qcow2" % tag)
    corral("convert", "-c", "-f", "raw", "-O", "qcow2", "-o",
           "cluster_size=%d,compression_type=%s" % (cs, ctype), src, out)
    r = qemu_check_clean(out)
    expect(r.get("compressed-clusters", 0) > 0, "no compressed clusters: %s" % r)
    info = json.loads(qimg("info", "--output=json", out).stdout)
    got = info["format-specific"]["data"]["compression-type"]
    expect(got == ctype, "compression-type %s, want %s" % (got, ctype))
    qemu_same(out, src)
    # and QEMU can read every compressed cluster back
    cp = S.path("cz%s.copy.qcow2" % tag)
    shutil.copyfile(out, cp)
    qimg("convert", "-O", "qcow2", cp, S.path("cz%s.q.qcow2" % tag))


def case_convert_compressed_threads(ctype):
    """The clusters compressed on several threads land where one thread puts
    them: -m 1 and the default give the same file, which QEMU reads back."""
    src = raw_source("czm" + ctype, 811 + len(ctype), size=13 * MIB + 5 * KIB)
    outs = []
    for m in ("1", "8"):
        out = S.path("czm%s-%s.qcow2" % (ctype, m))
        corral("convert", "-c", "-m", m, "-f", "raw", "-O", "qcow2", "-o",
               "cluster_size=4096,compression_type=%s" % ctype, src, out)
        r = qemu_check_clean(out)
        expect(r.get("compressed-clusters", 0) > 0, "no compressed clusters: %s" % r)
        qemu_same(out, src)
        with open(out, "rb") as f:
            outs.append(f.read())
    expect(outs[0] == outs[1], "-m 1 and -m 8 wrote different images")
    p = corral("convert", "-c", "-m", "17", "-f", "raw", "-O", "qcow2", src, S.path("czm-bad.qcow2"), ok=(1,))
    expect("Allowed number of coroutines is between 1 and 16" in p.stderr, "-m 17: %s" % p.stderr)


def case_convert_backing():
    paths, refs = chain("cb")
    out = S.path("cb-new.qcow2")
    corral("convert", "-O", "qcow2", "-B", os.path.basename(paths[1]), "-F", "qcow2", paths[2], out)
    qemu_check_clean(out)
    qemu_same(out, refs[2])


def case_convert_existing():
    src = raw_source("cnsrc", 600)
    junk, jref = fresh("cnjunk")
    imgio(junk, jref, 601, 80, 256 * KIB)
    corral("convert", "-n", "-f", "raw", "-O", "qcow2", src, junk)
    qemu_check_clean(junk)
    qemu_same(junk, src)


def case_convert_sparse():
    zero = S.path("zeros.raw")
    with open(zero, "wb") as f:
        f.write(bytes(SIZE))
    sparse, dense = S.path("zs.qcow2"), S.path("zd.qcow2")
    corral("convert", "-f", "raw", "-O", "qcow2", zero, sparse)
    corral("convert", "-S", "0", "-f", "raw", "-O", "qcow2", zero, dense)
    rs, rd = qemu_check_clean(sparse), qemu_check_clean(dense)
    expect(rs.get("allocated-clusters", 0) == 0, "-S 4k allocated zero data: %s" % rs)
    expect(rd.get("allocated-clusters") == SIZE // (64 * KIB), "-S 0 skipped data: %s" % rd)
    qemu_same(sparse, zero)
    qemu_same(dense, zero)


def target_syncs(target, args):
    """The fsync/fdatasync calls corral-img ARGS makes on TARGET (strace -y
    names each descriptor's file)."""
    log = S.path("syncs.strace")
    # LeakSanitizer cannot run under ptrace
    env = dict(os.environ, ASAN_OPTIONS=(os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":"))
    run(["strace", "-f", "-qq", "-y", "-e", "trace=fsync,fdatasync", "-o", log, IMG] + list(args), env=env)
    with open(log) as f:
        return [ln.strip() for ln in f if os.path.basename(target) + ">" in ln]


def case_convert_syncs(fmt):
    """By default (-t unsafe, as qemu-img convert) the target is never
    flushed, not even while it is created; -t writeback flushes it.  Both
    give the same image."""
    src = raw_source("cfsrc" + fmt, 620 + len(fmt))
    out = S.path("cf." + fmt)
    for cache, want in ((None, False), ("writeback", True)):
        if os.path.exists(out):
            os.unlink(out)
        syncs = target_syncs(out, ["convert"] + (["-t", cache] if cache else []) +
                             ["-f", "raw", "-O", fmt, src, out])
        expect(bool(syncs) == want, "-t %s: flushes of the target: %s" % (cache or "unsafe", syncs[:5]))
        if fmt == "qcow2":
            qemu_check_clean(out)
        qemu_same(out, src, fmt=fmt)


def case_resize():
    img, ref = fresh("rs")
    imgio(img, ref, 700, 60, 200 * KIB)
    corral("resize", "-q", img, "+8M")
    with open(ref, "ab") as f:
        f.truncate(2 * SIZE)
    imgio(img, ref, 701, 60, 200 * KIB)
    qemu_check_clean(img)
    qemu_same(img, ref)
    corral("resize", "-q", "--shrink", img, "4M")
    with open(ref, "r+b") as f:
        f.truncate(4 * MIB)
    qemu_check_clean(img)
    qemu_same(img, ref)
    p = corral("resize", img, "-1M", ok=(1,))
    expect("--shrink" in p.stderr, "shrink without --shrink: %s" % p.stderr)


def case_shrink_tail():
    """--shrink drops the L2 tables past the new end and truncates the file
    after the last cluster in use: the same file as qemu-img leaves."""
    res = []
    for tool in (qimg, corral):
        img = S.path("shr-%s.qcow2" % tool.__name__)
        qimg("create", "-q", "-f", "qcow2", img, "2G")
        qio(img, ["write -P 1 0 1M", "write -P 3 600M 64k", "write -P 2 1500M 1M"])
        tool("resize", "-q", "--shrink", img, "1G")
        r = qemu_check_clean(img)
        res.append((os.path.getsize(img), r["image-end-offset"], qimg("map", "--output=json", img).stdout))
    expect(res[0] == res[1], "after --shrink: qemu-img %r, corral-img %r" % (res[0][:2], res[1][:2]))


def case_resize_prealloc():
    img, ref = fresh("rsp")
    corral("resize", "-q", "--preallocation=metadata", img, "16M")
    with open(ref, "ab") as f:
        f.truncate(2 * SIZE)
    r = qemu_check_clean(img)
    expect(r.get("allocated-clusters", 0) >= SIZE // (64 * KIB), "new area not preallocated: %s" % r)
    qemu_same(img, ref)


def case_amend(opts, key, want, plain=False):
    """PLAIN: an image holding only data (no zero clusters), as a downgrade needs."""
    if plain:
        src = raw_source("amsrc" + key, 800)
        img, ref = S.path("am%s-%s.qcow2" % (key, want)), src
        corral("convert", "-f", "raw", "-O", "qcow2", "-S", "0", src, img)
    else:
        img, ref = written("am%s-%s" % (key, want), "", 800 + len(opts))
    corral("amend", "-o", opts, img)
    qemu_check_clean(img)
    qemu_same(img, ref)
    got = json.loads(qimg("info", "--output=json", img).stdout)["format-specific"]["data"][key]
    expect(got == want, "%s is %r after amend -o %s" % (key, got, opts))


def case_measure(opts):
    src = raw_source("ms" + opts.replace(",", "_").replace("=", ""), 900)
    for args in (["--size", "3G"], [src]):
        o = ["-o", opts] if opts else []
        mine = json.loads(corral("measure", "--output=json", "-O", "qcow2", *o, *args).stdout)
        theirs = json.loads(qimg("measure", "--output=json", "-O", "qcow2", *o, *args).stdout)
        expect(mine == theirs, "measure %s: corral %s, qemu %s" % (args, mine, theirs))


for cs in CLUSTER_SIZES:
    S.case("random writes, cluster_size=%d" % cs, case_cluster, cs)
for bits in REFCOUNT_BITS:
    S.case("random writes, refcount_bits=%d" % bits, case_refbits, bits)
for cs in (16 * KIB, 64 * KIB, 2 * MIB):
    S.case("random writes, extended_l2 cluster_size=%d" % cs, case_extl2, cs)
for mode in ("off", "metadata", "falloc", "full"):
    S.case("random writes, preallocation=%s" % mode, case_prealloc, mode)
S.case("random writes, compat=0.10", case_compat_v2)
S.case("random writes, lazy_refcounts=on, clean close", case_lazy)
S.case("random writes, sector-aligned", case_sector_aligned)
S.case("random writes, raw", case_raw)
S.case("snapshots create/apply/delete (64K)", case_snapshots, "", "a")
S.case("snapshots create/apply/delete (512 B, refcount_bits=4)", case_snapshots,
       "cluster_size=512,refcount_bits=4", "b")
S.case("snapshots create/apply/delete (extended_l2)", case_snapshots,
       "cluster_size=32768,extended_l2=on", "c")
S.case("backing chain qcow2<-qcow2<-qcow2", case_chain, "qcow2", "", "cq")
S.case("backing chain raw<-qcow2<-qcow2", case_chain, "raw", "", "cr")
S.case("backing chain v2 4K clusters", case_chain, "qcow2", "compat=0.10,cluster_size=4096", "c2")
S.case("backing chain extended_l2", case_chain, "qcow2", "extended_l2=on", "cx")
S.case("commit into the backing file", case_commit)
S.case("commit -b into the bottom of a qcow2 chain", case_commit_deep, "qcow2")
S.case("commit -b into a raw base", case_commit_deep, "raw")
S.case("rebase (safe) onto the grandparent", case_rebase_safe)
S.case("rebase -b '' flattens", case_rebase_flatten)
S.case("rebase -u onto an identical copy", case_rebase_unsafe)
S.case("convert raw -> qcow2 -> raw", case_convert, "", "d")
S.case("convert 4K clusters refcount_bits=8", case_convert, "cluster_size=4096,refcount_bits=8", "e")
S.case("convert preallocation=metadata", case_convert, "preallocation=metadata", "f")
S.case("convert extended_l2", case_convert, "extended_l2=on", "g")
for cs in (512, 4 * KIB, 64 * KIB, 2 * MIB):
    S.case("convert -c cluster_size=%d" % cs, case_convert_compressed, cs)
for cs in (4 * KIB, 64 * KIB):
    S.case("convert -c compression_type=zstd cluster_size=%d" % cs, case_convert_compressed, cs, "zstd")
for ctype in ("zlib", "zstd"):
    S.case("convert -c -m 1 and -m 8 write the same image (%s)" % ctype, case_convert_compressed_threads, ctype)
S.case("convert -B keeps only the top layer", case_convert_backing)
S.case("convert -n into an existing image", case_convert_existing)
S.case("convert -S sparse detection", case_convert_sparse)
for fmt in ("raw", "qcow2"):
    S.case("convert flushes the %s target only when -t asks" % fmt, case_convert_syncs, fmt)
S.case("resize grow, shrink", case_resize)
S.case("resize --shrink truncates the unused tail", case_shrink_tail)
S.case("resize --preallocation=metadata", case_resize_prealloc)
S.case("amend lazy_refcounts=on", case_amend, "lazy_refcounts=on", "lazy-refcounts", True)
S.case("amend refcount_bits=4", case_amend, "refcount_bits=4", "refcount-bits", 4)
S.case("amend compat=0.10", case_amend, "compat=0.10", "compat", "0.10", True)
S.case("amend lazy_refcounts=off", case_amend, "lazy_refcounts=off", "lazy-refcounts", False)
S.case("measure matches qemu-img", case_measure, "")
S.case("measure matches qemu-img (4K, refcount_bits=64)", case_measure, "cluster_size=4096,refcount_bits=64")
S.case("measure matches qemu-img (extended_l2)", case_measure, "extended_l2=on")
S.finish()
