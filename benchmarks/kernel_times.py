"""Median time of each element-wise kernel of the 3-layer model, on its shapes (batch 32 and 128,
and predict's 10,000 rows), in one process.  For before/after figures of a kernel change, run it
against each tree in turn, alternating (the machine drifts between minutes):

    for i in 1 2 3; do for t in /path/to/before /path/to/after; do
        PYTHONPATH=$t python benchmarks/kernel_times.py --out /tmp/k-$(basename $t)-$i.json; done; done

Prints a table in microseconds and JSON (``--out``).  The in-place bias kernels are timed with a
copy of their input before each call (a second call would add the bias twice); the copy's own time
is measured alone and subtracted.
"""
import argparse
import json
import os
import statistics
import sys
import time

from speedbench.env import blas_kernel, unset_record, user_machine_env  # benchmarks/speedbench/env.py

if __name__ == "__main__":
    user_machine_env()      # OpenBLAS as on a user's machine: re-exec without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE

import numpy as np

import nnscratch
from nnscratch.engine import Fused
from nnscratch.engine import loops as kernels

SHAPES = {"32": (32, 512), "128": (128, 512), "10000": (10_000, 512)}


def median_us(f, reps):
    for _ in range(10):
        f()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


def measure(seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in SHAPES.items():
        reps = 15 if shape[0] >= 10_000 else 400 if shape[0] <= 32 else 200
        z = (rng.standard_normal(shape) * 3).astype(np.float32)
        b = (rng.standard_normal(shape[1]) * 0.1).astype(np.float32)
        a, dz, mask, work = (np.empty_like(z) for _ in range(4))
        da = rng.random(shape, dtype=np.float32)

        def bias_in_place(code):
            np.copyto(work, z)
            kernels.bias_activation_forward(work, b, code, work)

        copy = median_us(lambda: np.copyto(work, z), reps)
        out[name] = {
            "sigmoid forward": median_us(lambda: kernels.activation_forward(z, Fused.SIGMOID, a), reps),
            "Dense bias (linear, in place)": median_us(lambda: bias_in_place(Fused.LINEAR), reps) - copy,
            "bias + ReLU in place (convolution)": median_us(lambda: bias_in_place(Fused.RELU), reps) - copy,
            "sigmoid backward": median_us(lambda: kernels.activation_backward(z, a, da, Fused.SIGMOID, dz, None), reps),
            "dropout forward": median_us(
                lambda: kernels.dropout_forward(z, 12345, np.float32(0.2), np.float32(1.25), mask, a), reps),
        }
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", help="write the JSON here")
    args = p.parse_args(argv)
    times = measure()
    result = {"nnscratch": nnscratch.__version__, "median_us": times,
              "blas_kernel": blas_kernel(), "openblas_unset": unset_record(),
              "command": " ".join(sys.argv)}
    print(f"nnscratch from {result['nnscratch']}; median us per call")
    print(f"{'kernel':36s}" + "".join(f"{n + ' x 512':>14s}" for n in SHAPES))
    for k in next(iter(times.values())):
        print(f"{k:36s}" + "".join(f"{times[n][k]:14.1f}" for n in SHAPES))
    print(json.dumps(result))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
