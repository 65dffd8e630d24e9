"""``--compare BEFORE AFTER``: nnscratch at two git revisions or directories, each checked out (a
temporary detached ``git worktree``) or used as it is, timed by the same workers, interleaved, and the
after/before table."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from .env import kernels_by_side
from .machine import _now, git, machine_info, portable_command, portable_path
from .protocol import interleave, portable_runs, summarize
from .settings import GROUPS, HERE, RESULTS


def checkout(rev, tmp):
    """A directory holding nnscratch at ``rev``: ``rev`` itself if it is a directory, otherwise a
    temporary detached ``git worktree`` under ``tmp``.  Returns (path, description, created); the
    description names a directory by :func:`.machine.portable_path` (``.``, ``<my-branch>``), a revision
    as given, each with its commit."""
    if os.path.isdir(rev):
        path = os.path.abspath(rev)
        if not os.path.isdir(os.path.join(path, "nnscratch")):
            raise ValueError(f"--compare: {rev!r} is a directory without an nnscratch/ package; give a git "
                             "revision (HEAD~1, main, a hash) or a checkout of the repository")
        try:
            desc = git("rev-parse", "--short", "HEAD", cwd=path)
            dirty = git("status", "--porcelain", "--untracked-files=no", cwd=path)
            desc += " + uncommitted changes" if dirty else ""
        except (subprocess.CalledProcessError, FileNotFoundError):
            desc = "not a git checkout"
        return path, f"{portable_path(path)} ({desc})", False
    try:
        sha = git("rev-parse", "--verify", "--short", rev + "^{commit}")
    except subprocess.CalledProcessError:
        raise ValueError(f"--compare: {rev!r} is neither a directory nor a git revision of "
                         f"{git('rev-parse', '--show-toplevel')}") from None
    path = os.path.join(tmp, f"{sha}-{len(os.listdir(tmp))}")
    git("worktree", "add", "--detach", path, sha)
    return path, f"{rev} ({sha})", True


def main_compare(args, cfg):
    info = machine_info()
    tmp = tempfile.mkdtemp(prefix="nnscratch-compare-")
    created = []
    try:
        trees = {}
        for label, rev in zip(("before", "after"), args.compare):
            path, desc, made = checkout(rev, tmp)
            if made:
                created.append(path)
            trees[label] = (path, desc)
        side = f"nnscratch-{args.backend}" if args.backend != "default" else "nnscratch"
        sides = {label: (side, [path]) for label, (path, _) in trees.items()}
        # the 3-layer model unless --groups names others (the 1-layer model says little about a change)
        groups = {g: GROUPS[g] for g in (cfg["groups"] if args.groups else ["3layer"])}
        print(f"compare on {info['cores']} cores, load {info['loadavg_at_start']}: before = {trees['before'][1]}, "
              f"after = {trees['after'][1]}; backend {args.backend}; config {cfg}", flush=True)
        t0 = time.perf_counter()
        runs = interleave(sides, groups, cfg, cfg["rounds"], gemm=False)
        for x in runs:                          # the worker must have imported the tree it was given
            got = os.path.realpath(x["result"].get("nnscratch_file", ""))
            want = os.path.realpath(trees[x["side"]][0])
            if "error" not in x["result"] and not got.startswith(want + os.sep):
                raise RuntimeError(f"--compare: the {x['side']} worker imported {got}, not the tree {want}: "
                                   "an installed nnscratch shadows PYTHONPATH")
        summary = summarize(runs, sides, groups)
    finally:
        for path in created:
            subprocess.run(["git", "worktree", "remove", "--force", path], cwd=HERE, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    backends = {x["side"]: x["result"].get("backend") for x in runs if "error" not in x["result"]}
    kernels = kernels_by_side(runs)
    print(f"\nnnscratch before vs after, {cfg['samples']:,} images, {cfg['epochs']} timed epochs x "
          f"{cfg['rounds']} rounds, interleaved; s per epoch (predict: ms); * = after slower by more than 5%")
    print(f"  before = {trees['before'][1]}, backend {backends.get('before')}, BLAS kernel {kernels.get('before')}\n"
          f"  after  = {trees['after'][1]}, backend {backends.get('after')}, BLAS kernel {kernels.get('after')}"
          "  (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for both)")
    print(f"{'workload':16s} {'before best':>11s} {'median':>8s} {'after best':>11s} {'median':>8s} "
          f"{'after/before best':>18s} {'median':>7s} {'load':>5s}")
    rows = {}
    for w in [w for g in groups.values() for w in g]:
        for kind in (["predict", "direct"] if w == "predict" else [None]):
            a, b = summary["before"].get(w), summary["after"].get(w)
            if a is None or b is None:
                print(f"{w:16s} (no result)")
                continue
            if kind:
                a, b, load = a[kind], b[kind], b["load1_median"]
                a_best, a_med, b_best, b_med = a["best_ms"], a["median_ms"], b["best_ms"], b["median_ms"]
                label = f"predict {'()' if kind == 'predict' else 'direct'}"
            else:
                a_best, a_med, b_best, b_med, load = a["best_s"], a["median_s"], b["best_s"], b["median_s"], \
                    b["load1_median"]
                label = w
            rb, rm = b_best / a_best, b_med / a_med
            rows[label] = {"before_best": a_best, "before_median": a_med, "after_best": b_best,
                           "after_median": b_med, "ratio_best": rb, "ratio_median": rm}
            print(f"{label:16s} {a_best:11.3f} {a_med:8.3f} {b_best:11.3f} {b_med:8.3f} "
                  f"{rb:17.3f}{'*' if rb > 1.05 else ' '} {rm:6.3f}{'*' if rm > 1.05 else ' '} {load:5.2f}")
    result = {"kind": "compare" + (" quick" if cfg["quick"] else "") + (" (custom settings)" if cfg["custom"] else ""),
              "config": cfg, "date": _now(),
              "machine": info, "before": trees["before"][1], "after": trees["after"][1], "backends": backends,
              "blas_kernels": kernels, "command": portable_command(sys.argv), "loadavg_at_end": os.getloadavg(),
              "total_s": time.perf_counter() - t0, "table": rows, "summary": summary,
              "runs": portable_runs(runs, sides)}
    subset = "" if list(groups) == ["3layer"] else "-" + "-".join(groups)
    out = args.out or os.path.join(RESULTS, f"speed-compare-{info['cores']}core{subset}.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"load at start {info['loadavg_at_start']}, at end {result['loadavg_at_end']}; wrote {out}")

