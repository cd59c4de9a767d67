"""Shared helpers of the qemu-img compatibility suites: the ok/not ok reporter,
a temp dir per suite, and runners for corral-img, qemu-img, qemu-io and the
imgio helper (tests/compat/helpers/imgio.c, built by `make all`)."""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("CORRAL_ROOT") or os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("CORRAL_BUILD", os.path.join(ROOT, "build"))
IMG = os.environ.get("CORRAL_IMG", os.path.join(ROOT, "bin", "corral-img"))
IMGIO = os.environ.get("CORRAL_IMGIO", os.path.join(BUILD, "tests", "compat", "helpers", "imgio"))

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
CLUSTER_SIZES = [512 << i for i in range(13)]  # 512 B .. 2 MiB
REFCOUNT_BITS = [1, 2, 4, 8, 16, 32, 64]


class Failure(Exception):
    pass


class Suite:
    """Runs named checks; each check raises Failure (or anything) to fail."""

    def __init__(self, name):
        self.passed = self.failed = 0
        self.tmp = tempfile.mkdtemp(prefix="corral-%s-" % name)
        for tool in (IMG, IMGIO):
            if not os.access(tool, os.X_OK):
                print("not ok - %s is built (run make all)" % tool)
                self.failed += 1

    def path(self, *names):
        return os.path.join(self.tmp, *names)

    def case(self, name, fn, *args):
        try:
            fn(*args)
        except Exception as e:  # a crash of the check itself is a failure too
            self.failed += 1
            print("not ok - %s" % name)
            detail = str(e) if isinstance(e, Failure) else traceback.format_exc()
            for line in detail.strip().splitlines()[:25]:
                print("#   " + line[:300])
        else:
            self.passed += 1
            print("ok - %s" % name)
        sys.stdout.flush()

    def finish(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.exit(1 if self.failed else 0)


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


def run(argv, ok=(0,), timeout=120, **kw):
    """Runs argv; the exit status must be in OK.  Returns the CompletedProcess."""
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           errors="replace", timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise Failure("timed out after %ds: %s" % (timeout, " ".join(argv)))
    if ok is not None and p.returncode not in ok:
        raise Failure("%s\nexit %d\nstdout: %s\nstderr: %s" % (
            " ".join(argv), p.returncode, p.stdout[-1500:], p.stderr[-1500:]))
    return p


def corral(*args, ok=(0,), **kw):
    return run([IMG] + list(args), ok=ok, **kw)


def qimg(*args, ok=(0,), **kw):
    return run(["qemu-img"] + list(args), ok=ok, **kw)


def qio(img, cmds, fmt="qcow2", ok=(0,)):
    argv = ["qemu-io", "-f", fmt]
    for c in cmds:
        argv += ["-c", c]
    p = run(argv + [img], ok=ok)
    expect("error" not in p.stdout.lower() and "failed" not in p.stdout.lower(),
           "qemu-io reported: %s" % p.stdout[-800:])
    return p


def imgio(img, ref, seed, nops, maxlen, align=1):
    return run([IMGIO, img, ref, str(seed), str(nops), str(maxlen), str(align)])


def make_ref(path, size, copy_of=None):
    if copy_of:
        shutil.copyfile(copy_of, path)
    with open(path, "ab" if copy_of else "wb") as f:
        f.truncate(size)


def qemu_check_clean(img):
    """qemu-img check finds neither corruption nor leak."""
    p = qimg("check", "--output=json", img, ok=(0, 2, 3))
    r = json.loads(p.stdout)
    expect(p.returncode == 0 and not r.get("corruptions") and not r.get("leaks")
           and not r.get("check-errors"), "qemu-img check: %s\n%s" % (p.stdout, p.stderr[-1500:]))
    return r


def qemu_same(img, ref, fmt="qcow2", ref_fmt="raw"):
    p = qimg("compare", "-f", fmt, "-F", ref_fmt, img, ref, ok=None)
    expect(p.returncode == 0, "qemu-img compare %s %s: %s %s" % (img, ref, p.stdout, p.stderr))


def corral_same(img, ref, ref_fmt="raw"):
    p = corral("compare", "-F", ref_fmt, img, ref, ok=None)
    expect(p.returncode == 0, "corral-img compare %s %s: exit %d %s %s" % (
        img, ref, p.returncode, p.stdout, p.stderr))


def qemu_io_script(seed, size, n, align=512, maxlen=256 * KIB, discard=True):
    """A deterministic random list of qemu-io commands (writes, zero writes, discards)."""
    rng = random.Random(seed)
    cmds = []
    for _ in range(n):
        off = rng.randrange(0, size // align) * align
        ln = min(rng.randrange(1, maxlen // align + 1) * align, size - off)
        kind = rng.random()
        if kind < 0.65:
            cmds.append("write -P 0x%02x %d %d" % (rng.randrange(1, 256), off, ln))
        elif kind < 0.85 or not discard:
            cmds.append("write -z %s%d %d" % ("-u " if rng.random() < 0.5 else "", off, ln))
        else:
            cmds.append("discard %d %d" % (off, ln))
    return cmds


def info_json(tool, img, *extra):
    p = tool("info", "--output=json", *extra, img)
    return json.loads(p.stdout)


def without(d, *keys):
    """D without KEYS, recursively into lists of dicts (for info comparisons)."""
    if isinstance(d, list):
        return [without(x, *keys) for x in d]
    return {k: v for k, v in d.items() if k not in keys}
