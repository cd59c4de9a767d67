#!/usr/bin/python3
"""Markdown fragment of bench/migrate.sh from bench/migrate_anchor.py's lines
("KIND key=ms ..."): figures per path, ratios, and the per-step medians
that show where Corral's wall time goes.
Usage: migrate_report.py RUNS N MEMORY_MIB LOAD_BEFORE LOAD_AFTER"""
import sys

PATHS = (("corral", "Corral, hv/migrate.h (per-migration CA; disks mirrored and RAM over TLS)"),
         ("tls", "bare QEMU by hand, same work (disks mirrored and RAM over TLS)"),
         ("tls_poll", "bare QEMU, same work, polling `query-migrate` every 5 ms as Corral does"),
         ("tcp", "bare QEMU by hand, RAM only over TCP, disk files shared"))
STEPS = (
    ("tls", "per-migration CA and both halves written (the anchor made its once, before)"),
    ("spawn", "target QEMU spawned (`-incoming defer -S`) until its QMP answers"),
    ("prepare", "target: server TLS object, NBD server and exports, migration listener"),
    ("tls_object", "of which the server TLS `object-add` alone"),
    ("mirror_setup", "source: client TLS object, NBD clients (TLS handshakes), mirror jobs"),
    ("mirror_sync", "until the driver knows both mirrors are in sync"),
    ("ram", "RAM copy: `migrate` until the driver sees pre-switchover"),
    ("switch", "mirrors finished (`block-job-cancel`), `migrate-continue`"),
    ("complete", "device state sent until the driver sees completed"),
    ("source_end", "Corral: source capabilities reset"),
    ("finish", "target resumed (Corral: incoming polled to completed, NBD stopped, `cont`)"),
    ("stop", "source QEMU quit and gone"),
)


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else -1


def load(path):
    runs = {}
    for line in open(path):
        kind, *fields = line.split()
        runs.setdefault(kind, []).append({k: int(v) for k, v in (f.split("=") for f in fields)})
    return runs


def col(runs, kind, key):
    return [r[key] for r in runs.get(kind, []) if r.get(key, -1) >= 0]


def med(runs, kind, key):
    return pct(col(runs, kind, key), 50)


def ms(v):
    return f"{v} ms" if v >= 0 else "—"


def summary(runs):
    print("| path | pause p50 | pause p99 | QEMU downtime p50 | migration time p50 "
          "| wall p50 | wall p99 |")
    print("|---|---|---|---|---|---|---|")
    for kind, label in PATHS:
        p, w = col(runs, kind, "pause"), col(runs, kind, "wall")
        print(f"| {label} | {ms(pct(p, 50))} | {ms(pct(p, 99))} "
              f"| {ms(med(runs, kind, 'downtime'))} | {ms(med(runs, kind, 'total'))} "
              f"| {ms(pct(w, 50))} | {ms(pct(w, 99))} |")


def ratio(runs, key, a, b):
    return med(runs, a, key) / max(med(runs, b, key), 1)


def net_ratio(runs):
    """Wall time p50 ratio with the target's TLS object-add (QEMU making DH
    parameters, which both pay and which varies by seconds) taken out."""
    net = {k: pct([r["wall"] - r["tls_object"] for r in runs.get(k, [])], 50)
           for k in ("corral", "tls")}
    return net["corral"], net["tls"], net["corral"] / max(net["tls"], 1)


def steps(runs):
    print("| step | Corral p50 | anchor, same work p50 | what |")
    print("|---|---|---|---|")
    for key, what in STEPS:
        print(f"| {key} | {ms(med(runs, 'corral', key))} "
              f"| {ms(med(runs, 'tls', key))} | {what} |")


def findings(runs):
    lag, polls = med(runs, "corral", "ready_lag"), med(runs, "corral", "in_polls")
    dh = runs.get("dh", [])
    without, with_dh = pct([r["without"] for r in dh], 50), pct([r["with"] for r in dh], 50)
    print(f"- Mirror readiness: Corral polls `query-block-jobs` every 20 ms; its poll saw "
          f"both mirrors in sync a median {ms(lag)} after QEMU's last `BLOCK_JOB_READY` "
          "event (the anchor waits for that event).")
    print(f"- Per-migration credentials: generating the CA and both certificates and "
          f"writing them costs a median {ms(med(runs, 'corral', 'tls'))}.")
    print(f"- Target TLS object: without a `dh-params.pem` beside the certificates QEMU "
          f"generates 2048-bit Diffie-Hellman parameters at every server `object-add`: "
          f"{ms(without)} median, against {ms(with_dh)} with RFC 7919's ffdhe2048 group "
          f"written there ({len(dh)} pairs measured on the idle anchor QEMU). "
          "hv/migrate_tls.c writes that group with the target's credentials, so neither "
          "path pays the generation (the anchor uses Corral's kind of credentials).")
    print(f"- Switchover (inside the guest's pause): Corral ends the mirrors one after the "
          f"other (cancel, poll every 5 ms until concluded, dismiss, delete the NBD node), "
          f"{med(runs, 'corral', 'switch_cmds')} QMP commands median before "
          f"`migrate-continue`: {ms(med(runs, 'corral', 'switch'))} against "
          f"{ms(med(runs, 'tls', 'switch'))} for the anchor, which cancels both and waits "
          "for their events.")
    print(f"- The pause, step by step (Corral / anchor medians): source stopped until the "
          f"driver knows it waits at pre-switchover (last RAM pass, then Corral's 5 ms "
          f"poll) {ms(med(runs, 'corral', 'paused_detect'))} / "
          f"{ms(med(runs, 'tls', 'paused_detect'))}; switchover "
          f"{ms(med(runs, 'corral', 'switch'))} / {ms(med(runs, 'tls', 'switch'))}; device "
          f"state until completed is seen {ms(med(runs, 'corral', 'complete'))} / "
          f"{ms(med(runs, 'tls', 'complete'))}; then until the target runs "
          f"{ms(med(runs, 'corral', 'resume'))} / {ms(med(runs, 'tls', 'resume'))}.")
    print(f"- RAM copy: the anchor's RAM step (`migrate` to pre-switchover) takes "
          f"{ms(med(runs, 'tls', 'ram'))} median waiting on events, "
          f"{ms(med(runs, 'tls_poll', 'ram'))} polling `query-migrate` every 5 ms as Corral "
          f"does ({ms(med(runs, 'corral', 'ram'))} for Corral); QEMU's migration time "
          f"{ms(med(runs, 'tls', 'total'))} against {ms(med(runs, 'tls_poll', 'total'))}.")
    print(f"- Target finish: Corral polls the incoming side every 5 ms ({polls} polls "
          "median) before it stops NBD and resumes; the anchor stops NBD and sends `cont` "
          "as soon as the source reports completed.")


def main():
    runs = load(sys.argv[1])
    n, mem, before, after = sys.argv[2:6]
    print("## Live migration\n")
    print(f"Test guest with {mem} MiB RAM rewriting 64 MiB of its RAM-backed root in a loop, "
          "two local disks (64 MiB qcow2 boot disk over the guest image, 1 MiB raw data "
          f"disk); {n} migrations per path between two QEMUs on this host (TCG, loopback), "
          "the paths taking turns (each goes first in turn); Corral's rows move one guest "
          "back and forth, the bare rows another, the guest not moving paused and resumed "
          "2 s before it moves. *Corral*: bench/migrate_bench.c runs hv/migrate.h "
          "as the qmigrate task does (a new CA per migration, target `-incoming defer -S`, "
          "disks mirrored over TLS NBD, pause-before-switchover, RAM over TLS, then the "
          "target resumed and the source stopped); not included: the task's HTTP calls "
          "to the target node and LMDB updates. *Anchor*: bench/migrate_anchor.py types "
          "the same work into two bare QEMUs (same command line, same kind of "
          "credentials, made once) with the fewest QMP commands, waiting on QEMU's events "
          "instead of polling. *RAM only*: QEMU's own migration over plain TCP, disk files "
          "shared. *Pause*: from the source's STOP event to the target's RESUME event as "
          "the driver receives them, i.e. what the guest sees; QEMU's downtime and "
          "migration time as query-migrate reports them; wall time from spawning the "
          "target QEMU (Corral: from making the CA) to the source QEMU gone.\n")
    summary(runs)
    print(f"\nRatio Corral / anchor doing the same work: wall p50 "
          f"{ratio(runs, 'wall', 'corral', 'tls'):.2f}x, pause p50 "
          f"{ratio(runs, 'pause', 'corral', 'tls'):.2f}x (goal: ≤ 1.1x; downtime goal ≤ "
          f"300 ms). Corral / RAM only over TCP: wall p50 "
          f"{ratio(runs, 'wall', 'corral', 'tcp'):.2f}x, the price of copying the disks and "
          "encrypting.")
    c, a, r = net_ratio(runs)
    print(f"Without the target's TLS `object-add` (with the DH group written, a few "
          f"milliseconds): wall p50 {ms(c)} against {ms(a)}, {r:.2f}x.\n")
    print("Where the wall time goes (medians of each step; the RAM copy varies most from "
          "run to run with the guest's dirtying and the machine's load):\n")
    steps(runs)
    print()
    findings(runs)
    print(f"\nLoad average before the run: {before}; after: {after}.")


if __name__ == "__main__":
    main()
