"""Where one training step of Keras's "simple MNIST convnet" spends its time, layer by layer.

    python benchmarks/profile_conv.py                      # batch 128, numba backend, 20 steps
    python benchmarks/profile_conv.py --steps 40 --rounds 3 --out conv-profile.json

Runs ``Sequential.train_step`` (what ``fit`` runs) of ``zoo.simple_convnet()`` on MNIST-shaped
random images ``(N, 28, 28, 1)`` and times every method it calls (each layer's ``forward`` and
``backward``, ``loss_and_gradient``, the optimizer's ``apply``) with ``time.perf_counter`` around
the call; "other" is the step's time outside those calls.  ``--rounds`` repeats the measurement
(backends interleaved A B A B) on the same models; each figure is the median over the steps of a
round, and the table shows the round with the smallest step time beside the median of the rounds.
Keras 3 / TF 2.21 takes about 10.1 s per 60,000-image epoch on the 2-core machine (~21 ms per step
of 128), measured in a quiet process; the load average is printed beside every figure.
"""
import argparse
import collections
import json
import os
import platform
import statistics
import sys
import time

from speedbench.env import blas_kernel, unset_record, user_machine_env  # benchmarks/speedbench/env.py

if __name__ == "__main__":
    user_machine_env()      # OpenBLAS as on a user's machine: re-exec without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from nnscratch import backend, zoo  # noqa: E402


class Profiled:
    """A model whose methods report their time: an instance attribute shadows each method."""

    def __init__(self, backend_name, batch, seed=0):
        self.backend_name = backend_name
        rng = np.random.default_rng(seed)
        self.x = rng.random((batch, 28, 28, 1), dtype=np.float32)
        self.y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]
        self.timings = collections.defaultdict(list)
        with backend.use(backend_name):
            self.model = zoo.simple_convnet(seed=seed)
        targets = [(layer, name, f"{layer.name}.{name}") for layer in self.model.layers
                   for name in ("forward", "backward")]
        targets += [(self.model, "loss_and_gradient", "model.loss_and_gradient"),
                    (self.model.optimizer, "apply", f"{self.model.optimizer.name}.apply")]
        for obj, name, label in targets:
            def timed(*a, __original=getattr(obj, name), __label=label, **kw):
                t = time.perf_counter()
                out = __original(*a, **kw)
                self.timings[__label].append(time.perf_counter() - t)
                return out
            setattr(obj, name, timed)

    def round(self, steps, warmup=5):
        """Median time per piece over ``steps`` train steps (after ``warmup`` untimed ones)."""
        totals = []
        with backend.use(self.backend_name):
            for i in range(warmup + steps):
                if i == warmup:
                    for v in self.timings.values():
                        v.clear()
                t = time.perf_counter()
                self.model.train_step(self.x, self.y)
                if i >= warmup:
                    totals.append(time.perf_counter() - t)
        rows = {k: statistics.median(v) * 1e3 for k, v in self.timings.items()}
        total = statistics.median(totals) * 1e3
        rows["other (Python glue)"] = max(0.0, total - sum(rows.values()))
        return {"step_ms": total, "pieces_ms": rows, "loadavg": os.getloadavg()[0],
                "cpu_s": time.process_time()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--backend", nargs="*", default=["numba"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    profiled = [Profiled(be, args.batch) for be in args.backend]
    rounds = {be: [] for be in args.backend}
    for _ in range(args.rounds):
        for prof in profiled:                                  # interleaved: A B A B
            rounds[prof.backend_name].append(prof.round(args.steps))
    steps_per_epoch = -(-60000 // args.batch)
    results = []
    for be, rs in rounds.items():
        best = min(rs, key=lambda r: r["step_ms"])
        median_step = statistics.median(r["step_ms"] for r in rs)
        results.append({"backend": be, "batch": args.batch, "steps": args.steps, "rounds": rs,
                        "best_step_ms": best["step_ms"], "median_step_ms": median_step,
                        "epoch_s_estimate": best["step_ms"] * 1e-3 * steps_per_epoch})
        print(f"\nsimple convnet, batch {args.batch}, {be} backend: best round {best['step_ms']:.1f} ms per "
              f"step (median of {len(rs)} rounds {median_step:.1f} ms; ~{results[-1]['epoch_s_estimate']:.1f} s "
              f"per 60,000-image epoch); load average {best['loadavg']:.2f}")
        for k, v in sorted(best["pieces_ms"].items(), key=lambda kv: -kv[1]):
            print(f"  {k:<34} {v:7.2f} ms  {100 * v / best['step_ms']:5.1f}%")
    report = {"benchmark": "profile_conv", "blas_kernel": blas_kernel(), "openblas_unset": unset_record(),
              "python": platform.python_version(), "numpy": np.__version__,
              "machine": platform.machine(), "cores": os.cpu_count(),
              "keras_anchor_ms_per_step": 10.1 / steps_per_epoch * 1e3 if args.batch == 128 else None,
              "results": results}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
    print(json.dumps({f"{r['backend']} b{r['batch']} step_ms": round(r["best_step_ms"], 2) for r in results}))


if __name__ == "__main__":
    main()
