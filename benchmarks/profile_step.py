"""Where one training step of the workshop's 3-layer model spends its time, piece by piece.

    python benchmarks/profile_step.py                 # batch 32, 128, 512; both backends
    python benchmarks/profile_step.py --batch 32 --backend numba --steps 400

Runs ``Sequential.train_step`` (what ``fit`` runs) on MNIST-shaped data and times every method it
calls (each layer's ``forward``/``backward``, ``loss_and_gradient``, the optimizer's ``apply``) with
``time.perf_counter`` around the call; "other" is the step's time outside those calls (Python glue).
Prints a table in microseconds per step (median over steps) and JSON (``--out``).
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


def profile(batch, backend_name, steps, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((batch, 784), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]
    timings = collections.defaultdict(list)
    with backend.use(backend_name):
        model = zoo.mlp(seed=seed)
        targets = [(layer, name, f"{layer.name}.{name}") for layer in model.layers
                   for name in ("forward", "backward")]
        targets += [(model, "loss_and_gradient", "model.loss_and_gradient"),
                    (model.optimizer, "apply", f"{model.optimizer.name}.apply")]
        for obj, name, label in targets:             # an instance attribute shadows the method
            def timed(*a, __original=getattr(obj, name), __label=label, **kw):
                t = time.perf_counter()
                out = __original(*a, **kw)
                timings[__label].append(time.perf_counter() - t)
                return out
            setattr(obj, name, timed)
        totals = []
        for i in range(steps + 20):
            t = time.perf_counter()
            model.train_step(x, y)
            if i >= 20:
                totals.append(time.perf_counter() - t)
            else:
                for v in timings.values():
                    v.clear()
        for obj, name, _ in targets:
            delattr(obj, name)                       # back to the class's method
    rows = {k: statistics.median(v) * 1e6 for k, v in timings.items()}
    total = statistics.median(totals) * 1e6
    rows["other (Python glue)"] = max(0.0, total - sum(rows.values()))
    return {"batch": batch, "backend": backend_name, "steps": steps, "step_us": total,
            "epoch_s_estimate": total * 1e-6 * (-(-60000 // batch)), "pieces_us": rows}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, nargs="*", default=[32, 128, 512])
    p.add_argument("--backend", nargs="*", default=["numba", "numpy"])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    results = [profile(b, be, args.steps) for b in args.batch for be in args.backend]
    for r in results:
        print(f"\nbatch {r['batch']}, {r['backend']} backend: {r['step_us']:.0f} us per step "
              f"(~{r['epoch_s_estimate']:.2f} s per 60,000-image epoch)")
        for k, v in sorted(r["pieces_us"].items(), key=lambda kv: -kv[1]):
            print(f"  {k:<34} {v:8.1f} us  {100 * v / r['step_us']:5.1f}%")
    report = {"benchmark": "profile_step", "blas_kernel": blas_kernel(), "openblas_unset": unset_record(),
              "python": platform.python_version(), "numpy": np.__version__,
              "cores": os.cpu_count(), "loadavg": os.getloadavg(),
              "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                                                "OPENBLAS_NUM_THREADS")},
              "results": results}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
    print(json.dumps({f"{r['backend']} b{r['batch']}": round(r["step_us"]) for r in results}))


if __name__ == "__main__":
    main()
