"""Two sides of one question ("what does X cost?"), timed as every benchmark here times: each
measurement a fresh process, the rounds interleaved (A B, B A, ...), each epoch on an
:class:`~speedbench.clock.EpochClock`; the summary gives each side's best and median epoch, their
ratio against a target, and the load they ran under.

A script (``benchmarks/callbacks.py``, ``benchmarks/functional.py``) supplies its two sides and a
``worker(side, samples, epochs, seed)`` that trains in its own process and prints one JSON line:
``{"side", "warmup", "epochs": EpochClock records, "blas_kernel", ...}``; then
``main(__file__, __doc__, SIDES, worker, target=0.03)`` is its whole command line.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def epoch_timer(clock):
    """An nnscratch callback that reads ``clock`` at each epoch's beginning and end (put it first in
    ``callbacks``: its record then covers the epoch and every other callback's epoch end)."""
    import nnscratch
    return nnscratch.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: clock.begin(),
                                              on_epoch_end=lambda e, logs: clock.end(epoch=e))


def mnist_rows(samples):
    """The first ``samples`` MNIST training images as float32 rows in [0, 1], and their labels."""
    from nnscratch.datasets import mnist
    (x, y), _ = mnist.load_data()
    return x[:samples].reshape(len(x[:samples]), -1).astype("float32") / 255, y[:samples]


def run(script, side, args):
    """One fresh process of ``script`` measuring ``side``; its JSON line."""
    out = subprocess.run([sys.executable, os.path.abspath(script), "--worker", side, "--samples", str(args.samples),
                          "--epochs", str(args.epochs), "--seed", str(args.seed)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarize(runs):
    """Per side: best and median epoch, how many, the median load and CPU per wall second."""
    summary = {}
    for side, processes in runs.items():
        epochs = [e for process in processes for e in process["epochs"]]
        seconds = [e["seconds"] for e in epochs]
        summary[side] = {"best": min(seconds), "median": statistics.median(seconds), "epochs": len(seconds),
                         "load1_median": statistics.median(e["load1"] for e in epochs),
                         "cpu_per_wall_median": statistics.median(e["cpu_seconds"] / e["seconds"] for e in epochs)}
    return summary


def main(script, doc, sides, worker, target, argv=None, check=None):
    """The command line of an A/B script: ``--worker SIDE`` runs :func:`worker` (in the fresh process),
    else the interleaved rounds, the summary (``B / A`` against ``target``, e.g. 0.03 for 3%) and
    ``--out``.  ``check(runs)``: optional, returns ``(name, value, text)`` added to the summary and
    printed (e.g. that both sides ended with the same weights)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per process (after one warm-up)")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (one process per side each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--worker", choices=sides, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.samples, args.epochs, args.seed)
    from speedbench.machine import machine_info
    info = machine_info()
    a, b = sides
    width = max(map(len, sides))
    runs = {side: [] for side in sides}
    for r in range(args.rounds):
        for side in (sides if r % 2 == 0 else sides[::-1]):       # A B, B A, ...: neither side always first
            runs[side].append(run(script, side, args))
            seconds = [e["seconds"] for e in runs[side][-1]["epochs"]]
            print(f"round {r + 1} {side:>{width}}: " + " ".join(f"{s:.3f}s" for s in seconds), flush=True)
    summary = summarize(runs)
    if check is not None:
        name, value, text = check(runs)
        summary[name] = value
        print(text)
    for stat in ("best", "median"):
        ratio = summary[b][stat] / summary[a][stat]
        summary[f"ratio_{stat}"] = ratio
        print(f"{stat:>6}: {a} {summary[a][stat]:.3f}s, {b} {summary[b][stat]:.3f}s, {b} / {a} = {ratio:.4f} "
              f"({(ratio - 1) * 100:+.1f}%; target within +{target * 100:.0f}%)")
    print(f"load (1 min, median over epochs): {a} {summary[a]['load1_median']:.2f}, {b} "
          f"{summary[b]['load1_median']:.2f}; machine: {info['cores_usable']} cores, {info['cpu_model']}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"settings": vars(args), "machine": info, "summary": summary, "runs": runs}, f, indent=1)
