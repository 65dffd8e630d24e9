"""Orchestration: each side in a fresh process, rounds interleaved (A B C, A B C, ...), one GEMM process
per round, and the per-side summaries (best, median, CPU/wall, load, steal) of every timed epoch;
:func:`main_benchmark` runs the whole benchmark and writes its JSON."""
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

from . import report
from .env import kernels_by_side, worker_env
from .gemm import gemm_summary
from .machine import _git_describe, _now, library_path, machine_info, portable_command, portable_path
from .settings import FLOP_PER_SAMPLE_3L, GROUPS, NOT_RUN, REFERENCE, RESULTS, SCRIPT, SIDES


def run_worker(side, workloads, cfg, pythonpath, worker_side=None):
    """``speed.py --worker`` in a fresh process, without ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``
    (as on a user's machine: :mod:`.env`); returns its JSON (or None if it failed)."""
    env = {**worker_env(), "PYTHONPATH": os.pathsep.join(p for p in pythonpath if p)}
    cmd = [sys.executable, SCRIPT, "--worker", worker_side or side,
           "--workloads", ",".join(workloads), "--cfg", json.dumps(cfg)]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if p.returncode != 0 or not p.stdout.strip():
        tail = " | ".join((p.stderr or "").strip().splitlines()[-4:])
        print(f"    {side} [{','.join(workloads)}] FAILED (exit {p.returncode}): {tail}", flush=True)
        return {"error": tail, "exit": p.returncode}
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r["process_wall_s"] = wall
    print(f"    {side:16s} {','.join(workloads) or '-':42s} {wall:6.1f} s  load {os.getloadavg()[0]:.2f}",
          flush=True)
    return r


def interleave(sides, groups, cfg, rounds, gemm=True):
    """``rounds`` rounds; in each: the GEMM process, then for each workload group every side in turn,
    each in a fresh process (A B C A B C ...).  ``sides`` maps a side name to (worker side, PYTHONPATH)."""
    runs = []
    for r in range(rounds):
        print(f"round {r + 1}/{rounds}", flush=True)
        if gemm:
            runs.append({"round": r, "side": "gemm", "group": None,
                         "result": run_worker("gemm", [], cfg, [os.getcwd()])})
        for g, workloads in groups.items():
            for side, (worker_side, path) in sides.items():
                if (worker_side, g) in NOT_RUN:
                    if r == 0:
                        print(f"    {side:16s} {g}: not run ({NOT_RUN[worker_side, g]})", flush=True)
                    continue
                runs.append({"round": r, "side": side, "group": g,
                             "result": run_worker(side, workloads, cfg, path, worker_side)})
    return runs


def portable_runs(runs, sides):
    """The worker reports as a results file keeps them, without this machine's absolute paths:
    nnscratch's file relative to the tree the worker was given (the first entry of its PYTHONPATH),
    each thread pool's library from its package folder on.  Changes ``runs`` in place; returns it."""
    for x in runs:
        res = x["result"]
        tree = sides[x["side"]][1][0] if x["side"] in sides else os.getcwd()
        if res.get("nnscratch_file"):
            res["nnscratch_file"] = portable_path(res["nnscratch_file"], tree)
        for pool in res.get("threadpools", []):
            pool["filepath"] = library_path(pool.get("filepath"))
    return runs


def summarize(runs, sides, groups):
    """Per side and workload: all timed epochs of all rounds, best and median seconds, median CPU/wall
    and load; predict: best and median ms of ``predict`` and of the direct call.  Each carries the BLAS
    kernel its processes reported (``blas_kernel``)."""
    out = {}
    for side in sides:
        out[side] = {}
        for g, workloads in groups.items():
            results = [x["result"] for x in runs if x["side"] == side and x["group"] == g]
            ok = [res for res in results if "error" not in res]
            kernel = kernels_by_side([{"side": side, "result": res} for res in ok]).get(side)
            for w in workloads:
                recs = [res["workloads"][w] for res in ok if w in res.get("workloads", {})]
                if not recs:
                    out[side][w] = None
                    continue
                if w == "predict":
                    s = {}
                    for kind in ("predict", "direct"):
                        ts = [e["seconds"] for rec in recs for e in rec[kind]]
                        s[kind] = {"best_ms": 1e3 * min(ts), "median_ms": 1e3 * statistics.median(ts), "n": len(ts)}
                    s["direct_call"] = recs[0]["direct_call"]
                    s["load1_median"] = statistics.median(e["load1"] for rec in recs for e in rec["predict"])
                    s["blas_kernel"] = kernel
                    out[side][w] = s
                    continue
                ep = [e for rec in recs for e in rec["epochs"]]
                ts = [e["seconds"] for e in ep]
                out[side][w] = {"best_s": min(ts), "median_s": statistics.median(ts), "n": len(ts),
                                "cpu_per_wall_median": statistics.median(e["cpu_seconds"] / e["seconds"] for e in ep),
                                "load1_median": statistics.median(e["load1"] for e in ep),
                                "steal_per_wall_max": _steal_max(ep),
                                "load1_max": max(e["load1"] for e in ep),
                                "test_accuracy": [rec["test_accuracy"] for rec in recs],
                                "failed_rounds": len(results) - len(ok), "blas_kernel": kernel}
    return out


def _steal_max(epochs):
    """The largest share of an epoch the hypervisor stole (cores' worth), or None if not recorded."""
    steals = [e["steal_seconds"] / e["seconds"] for e in epochs if e.get("steal_seconds") is not None]
    return max(steals) if steals else None



def main_benchmark(args, cfg):
    info = machine_info()
    cwd = os.getcwd()
    sides = {s: (s, [cwd]) for s in SIDES if not s.startswith("torch")}
    torch_path = [cwd] + ([os.path.abspath(args.torch_path)] if args.torch_path else [])
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.is_available())"],
                           capture_output=True, text=True,
                           env={**worker_env(), "PYTHONPATH": os.pathsep.join(torch_path)})
    if probe.returncode == 0:
        sides["torch"] = ("torch", torch_path)
        if probe.stdout.strip().endswith("True"):
            sides["torch-cuda"] = ("torch-cuda", torch_path)
        elif args.sides and "torch-cuda" in args.sides.split(","):
            print("PyTorch on a GPU: torch.cuda.is_available() is False here, side torch-cuda skipped")
    else:
        print("PyTorch: `import torch` failed, sides torch and torch-cuda skipped (pip install torch "
              "--index-url https://download.pytorch.org/whl/cpu, or --torch-path DIR)")
    if args.sides:
        sides = {s: v for s, v in sides.items() if s in args.sides.split(",")}
    print(f"{info['cores']} cores, {info['cpu_model']}, load {info['loadavg_at_start']}, sides {list(sides)}, "
          f"{'QUICK ' if cfg['quick'] else ''}config {cfg}", flush=True)
    t0 = time.perf_counter()
    groups = {g: GROUPS[g] for g in cfg["groups"]}
    runs = interleave(sides, groups, cfg, cfg["rounds"])
    summary = summarize(runs, sides, groups)
    gemm = gemm_summary(runs, cfg["samples"])
    kernels = kernels_by_side(runs)
    result = {"kind": ("quick" if cfg["quick"] else "full") + (" (custom settings)" if cfg["custom"] else ""),
              "config": cfg, "date": _now(), "machine": info,
              "nnscratch_git": _git_describe(), "command": portable_command(sys.argv),
              "loadavg_at_end": os.getloadavg(), "total_s": time.perf_counter() - t0,
              "flop_per_sample_3layer": FLOP_PER_SAMPLE_3L, "reference": REFERENCE,
              "not_run": {f"{a}/{g}": why for (a, g), why in NOT_RUN.items() if a in sides and g in groups},
              "blas_kernels": kernels, "summary": summary, "gemm": gemm, "runs": portable_runs(runs, sides)}
    report.print_main_table(summary, gemm, cfg, sides, groups, kernels)
    print(f"\nmachine: {info['cores']} cores ({info['cpu_model']}); BLAS " + report.blas_text(info, runs, "x{}")
          + f" (the workers'; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for them, set here: "
          f"{info['openblas_unset']['caller_had'] or 'neither'}); numba threads {info.get('numba_threads')}; "
          f"env {info['env']}; load at start "
          f"{info['loadavg_at_start']}, at end {result['loadavg_at_end']}; {result['total_s']:.0f} s in all")
    subset = "" if len(groups) == len(GROUPS) else "-" + "-".join(groups)
    name = f"speed-{info['cores']}core{subset}{'-quick' if cfg['quick'] else ''}{'-custom' if cfg['custom'] else ''}"
    out = args.out or os.path.join(RESULTS, name + ".json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    png = os.path.splitext(out)[0] + ".png" if "3layer" in groups else None
    if png and importlib.util.find_spec("matplotlib") is None:   # e.g. the 16-core device machine
        print("matplotlib is not installed: no plot")
        png = None
    if png:
        report.plot(summary, gemm, cfg, info, png)
    print(f"wrote {out}" + (f" and {png}" if png else ""))

