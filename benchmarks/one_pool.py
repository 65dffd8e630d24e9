"""The design not taken: one thread pool for the whole training step.  What it would buy, measured.

    python benchmarks/one_pool.py    # ~4 min on 2 cores (3 passes); JSON: results/one-pool-<cores>core.json

nnscratch's policy (``nnscratch/engine/threads.py``) gives the cores to OpenBLAS for the matrix products
and runs every other kernel of a training step serially, because a second pool beside OpenBLAS's
spinning workers is slower, not faster.  The other way to keep one pool is to give *everything* to
one pool: Numba's (OpenMP) threads run the products too, each thread calling OpenBLAS on one
thread for its share of the output, and the same threads then run Adam in shares.  This script
measures the matrix products and the Adam update of one training step of the workshop's 3-layer
model (``zoo.mlp``, float32; the rest of a step, its element-wise kernels and Python, was 8-33% of
it in the committed run, see ``profile_step.py``), three ways:

* ``blas_pool``: as nnscratch runs them: ``np.matmul`` with OpenBLAS on all cores, then
  ``kernels.adam_update`` on the calling thread;
* ``one_pool``: OpenBLAS on 1 thread; each product split by output columns (``dW = x.T @ dz`` by
  output rows) into one share per Numba thread, each share one CBLAS call from inside a ``prange``;
  then Adam with each parameter array split into one share per thread (``kernels._adam_one``);
* ``two_pools``: the products as in ``blas_pool``, Adam in shares as in ``one_pool``: Numba's pool
  right beside OpenBLAS's, the arrangement the policy forbids.

The variants alternate block by block (the machine's drift falls on all alike), ``--repeat`` whole
passes, best and median per variant; ratios are of medians, against ``blas_pool``.  For scale, the
real ``Sequential.train_step`` (everything ``fit`` does per batch) is timed beside them.  The
products in shares round differently from one OpenBLAS call (a relative difference of ~1e-6,
printed); nnscratch's products are checked against Keras to that tolerance, not bit for bit.

Needs NumPy's BLAS to be OpenBLAS with its CBLAS symbols (NumPy's PyPI wheels) and Numba's OpenMP
threading layer (``libgomp``); it says so and stops otherwise.
"""
import argparse
import ctypes
import json
import os
import sys
import time

from speedbench.env import blas_kernel, user_machine_env  # benchmarks/speedbench/env.py

if __name__ == "__main__":
    user_machine_env()      # OpenBLAS as on a user's machine: re-exec without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numba  # noqa: E402
from numba import njit, prange  # noqa: E402

from nnscratch import zoo  # noqa: E402
from nnscratch.engine import loops as kernels  # noqa: E402
from speed import machine_info  # noqa: E402
from threads import OPENBLAS_SPIN_S, alternate, openblas_function, openblas_setter, span, summary  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


def cblas_sgemm():
    """NumPy's OpenBLAS ``cblas_sgemm`` as a ctypes function Numba can call (64-bit integers in the
    ILP64 builds NumPy's wheels carry, whose symbols end in ``64_``)."""
    found = openblas_function(("scipy_cblas_sgemm64_", "cblas_sgemm64_", "scipy_cblas_sgemm", "cblas_sgemm"))
    if found is None:
        raise SystemExit("one_pool.py: NumPy's BLAS has no cblas_sgemm this script knows; nothing to measure")
    function, name, _ = found
    i = ctypes.c_int64 if name.endswith("64_") else ctypes.c_int32
    f, p = ctypes.c_float, ctypes.c_void_p
    enum = ctypes.c_int32                               # order, transpose a, transpose b
    proto = ctypes.CFUNCTYPE(None, enum, enum, enum, i, i, i, f, p, i, p, i, f, p, i)
    return proto(ctypes.cast(function, ctypes.c_void_p).value), name


SGEMM, SGEMM_NAME = cblas_sgemm()


@njit(nogil=True)
def gemm(a, b, c, ta, tb):
    """``c = op(a) @ op(b)`` for float32 row-major 2-D arrays with unit inner stride (views allowed):
    one CBLAS call, ``op`` the transpose when ``ta`` / ``tb``."""
    k = a.shape[0] if ta else a.shape[1]
    SGEMM(ROW_MAJOR, TRANS if ta else NO_TRANS, TRANS if tb else NO_TRANS, c.shape[0], c.shape[1], k,
          np.float32(1), a.ctypes.data, a.strides[0] // 4, b.ctypes.data, b.strides[0] // 4,
          np.float32(0), c.ctypes.data, c.strides[0] // 4)


@njit(nogil=True)
def _share(n, parts, p):
    return n * p // parts, n * (p + 1) // parts


@njit(parallel=True, nogil=True)
def gemm_shared(a, b, c, ta, tb):
    """``c = op(a) @ op(b)`` in one share of ``c``'s columns per thread (for ``ta``: of its rows, so
    that ``dW = x.T @ dz`` splits over ``dW``'s rows, as OpenBLAS splits it)."""
    parts = numba.get_num_threads()
    for p in prange(parts):
        if ta:
            lo, hi = _share(c.shape[0], parts, p)
            gemm(a[:, lo:hi], b, c[lo:hi], True, tb)
        else:
            lo, hi = _share(c.shape[1], parts, p)
            gemm(a, b[lo:hi] if tb else b[:, lo:hi], c[:, lo:hi], False, tb)


@njit(parallel=True, nogil=True, error_model="numpy")
def adam_shared(ws, gs, ms, vs, one_minus_beta_1, one_minus_beta_2, alpha, eps):
    """``kernels.adam_update`` with each parameter array in one share per thread."""
    parts = numba.get_num_threads()
    for p in prange(parts):
        for q in range(len(ws)):
            lo, hi = _share(ws[q].size, parts, p)
            kernels._adam_one(ws[q][lo:hi], gs[q][lo:hi], ms[q][lo:hi], vs[q][lo:hi],
                              one_minus_beta_1, one_minus_beta_2, alpha, eps)


class Step:
    """The products and the Adam update of one training step of the 3-layer model at batch ``b``,
    on arrays of the real shapes (random values)."""

    def __init__(self, b, rng):
        r = lambda *shape: rng.random(shape, dtype=np.float32)  # noqa: E731
        self.x, self.w = r(b, 784), [r(784, 512), r(512, 512), r(512, 10)]
        empty = lambda *shape: np.empty(shape, np.float32)  # noqa: E731
        self.z = [empty(b, 512), empty(b, 512), empty(b, 10)]
        self.dz = [r(b, 512), r(b, 512), r(b, 10)]
        self.dx = [None, empty(b, 512), empty(b, 512)]                     # da = dz @ W.T
        self.dw = [np.empty_like(w) for w in self.w]
        self.bias = [r(512), r(512), r(10)]
        self.dbias = [r(512) * 1e-3, r(512) * 1e-3, r(10) * 1e-3]
        params = self.w + self.bias
        self.flat = (tuple(p.reshape(-1) for p in params),
                     tuple(g.reshape(-1) for g in self.dw + self.dbias),
                     tuple(np.zeros(p.size, np.float32) for p in params),
                     tuple(np.zeros(p.size, np.float32) for p in params))
        self.consts = (np.float32(0.1), np.float32(0.001), np.float32(1e-6), np.float32(1e-7))

    def inputs(self):
        """(a, w, z) per layer: the input each Dense layer multiplies, its kernel, its output."""
        a = [self.x, self.z[0], self.z[1]]
        return list(zip(a, self.w, self.z))

    def products_blas(self):
        layers = self.inputs()
        for a, w, z in layers:
            np.matmul(a, w, out=z)                                   # z = a @ W
        for i in (2, 1, 0):
            a, w, _ = layers[i]
            np.matmul(a.T, self.dz[i], out=self.dw[i])               # dW = a.T @ dz
            if i > 0:
                np.matmul(self.dz[i], w.T, out=self.dx[i])           # da = dz @ W.T

    def products_shared(self):
        layers = self.inputs()
        for a, w, z in layers:
            gemm_shared(a, w, z, False, False)
        for i in (2, 1, 0):
            a, w, _ = layers[i]
            gemm_shared(a, self.dz[i], self.dw[i], True, False)
            if i > 0:
                gemm_shared(self.dz[i], w, self.dx[i], False, True)

    def blas_pool(self):
        self.products_blas()
        kernels.adam_update(*self.flat, *self.consts)

    def one_pool(self):
        self.products_shared()
        adam_shared(*self.flat, *self.consts)

    def two_pools(self):
        self.products_blas()
        adam_shared(*self.flat, *self.consts)

    def products(self):
        """The products' outputs, for the check that both ways compute the same thing."""
        return [a.copy() for a in self.z + self.dw + self.dx[1:]]


def measure(cores, setter, batches, blocks, rng):
    rows = []
    for b in batches:
        step = Step(b, rng)
        setter(1)
        step.products_shared()
        shared = step.products()
        setter(cores)
        step.products_blas()
        diff = max(float(np.abs(p - q).max() / np.abs(q).max()) for p, q in zip(shared, step.products()))
        if diff > 1e-5:
            raise SystemExit(f"one_pool.py: the products in shares differ from np.matmul's by {diff:.1e} "
                             "(relative); the share bookkeeping is wrong")
        model = zoo.mlp(seed=0)
        x, y = step.x, np.eye(10, dtype=np.float32)[rng.integers(0, 10, b)]

        def one_pool():
            setter(1)
            try:
                step.one_pool()
            finally:
                setter(cores)

        variants = {"blas_pool": step.blas_pool, "one_pool": one_pool, "two_pools": step.two_pools,
                    "train_step": lambda: model.train_step(x, y)}
        guess_s = 6 * b * 669_706 / 150e9 + 3e-4        # a step's flops at ~150 GFLOP/s, plus Adam
        reps = max(3, int(0.15 / guess_s))               # ~0.15 s per variant per block
        times = alternate(variants, blocks, reps, settle_s=OPENBLAS_SPIN_S)   # each block from quiet
        row = {"batch": b, "reps": reps, "max_rel_diff": diff}
        for name, ts in times.items():
            row[name] = summary(ts)
        for name in ("one_pool", "two_pools", "train_step"):
            row[f"{name}_ratio"] = row[name]["median_us"] / row["blas_pool"]["median_us"]
        rows.append(row)
    return rows


def print_pass(rows):
    print(f"{'batch':>6} {'blas_pool us':>14} {'one_pool us':>14} {'two_pools us':>14} {'train_step us':>14}"
          f" {'one/blas':>9} {'two/blas':>9} {'rel diff':>9}")
    for r in rows:
        cells = "".join(f" {r[n]['best_us']:6.0f}/{r[n]['median_us']:<7.0f}"
                        for n in ("blas_pool", "one_pool", "two_pools", "train_step"))
        print(f"{r['batch']:>6}{cells} {r['one_pool_ratio']:9.2f} {r['two_pools_ratio']:9.2f}"
              f" {r['max_rel_diff']:9.1e}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--blocks", type=int, default=8, help="alternating blocks per batch size")
    p.add_argument("--repeat", type=int, default=3, help="whole passes; the summary gives each ratio's range")
    p.add_argument("--batches", default="32,128,512")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    setter, version, arch = openblas_setter()
    cores = len(os.sched_getaffinity(0))                            # as threads.py: the cores this process may use
    tiny = np.ones((2, 2), np.float32)
    gemm_shared(tiny, tiny, np.empty_like(tiny), False, False)      # starts Numba's pool
    layer = numba.threading_layer()
    if layer != "omp":
        raise SystemExit(f"one_pool.py: Numba's threading layer is {layer!r}, not OpenMP; its pool would "
                         "not be the spinning kind this compares")
    print(f"{cores} cores, OpenBLAS {version} ({arch}), {SGEMM_NAME}, Numba {numba.__version__} "
          f"threading layer {layer} with {numba.get_num_threads()} threads; best/median us per step")
    rng = np.random.default_rng(0)
    batches = [int(b) for b in args.batches.split(",")]
    passes = []
    for k in range(args.repeat):
        print(f"pass {k + 1} of {args.repeat}")
        passes.append(measure(cores, setter, batches, args.blocks, rng))
        print_pass(passes[-1])
    print("ratios of medians against blas_pool, range over the passes:")
    summary_rows = []
    for i, b in enumerate(batches):
        r = {name: span([ps[i][f"{name}_ratio"] for ps in passes]) for name in ("one_pool", "two_pools", "train_step")}
        summary_rows.append({"batch": b, **r})
        print(f"  batch {b:>3}: one_pool {r['one_pool'][0]:.2f}-{r['one_pool'][1]:.2f}x,"
              f" two_pools {r['two_pools'][0]:.2f}-{r['two_pools'][1]:.2f}x"
              f" (train_step, the whole step, {r['train_step'][0]:.2f}-{r['train_step'][1]:.2f}x of blas_pool)")
    out = args.out or os.path.join(HERE, "results", f"one-pool-{cores}core.json")
    result = {"machine": machine_info(), "blas_kernel": blas_kernel(),
              "sgemm": SGEMM_NAME, "numba_threads": numba.get_num_threads(),
              "blocks": args.blocks, "passes": passes, "ranges": summary_rows,
              "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    with open(out + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.replace(out + ".tmp", out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
