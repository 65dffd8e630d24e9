"""Why the thread policy in ``nnscratch/backend.py`` is what it is: three measurements on this machine.

    python benchmarks/threads.py                 # ~1 min on 2 cores; JSON in benchmarks/results/threads-<cores>core.json

1. **Matrix products, 1 thread against all cores.**  Every float32 product of the 3-layer model's
   training step (``x @ W``, ``x.T @ dz``, ``dz @ W.T``) at batch 32 ... 512, and the 10,000-image
   forward product of ``predict``, timed with OpenBLAS set to 1 thread and to all cores in
   alternating blocks (``openblas_set_num_threads`` between blocks; the machine's drift falls on
   both alike).  Is there a product so thin that one thread is faster?
2. **Waking a second thread.**  The round trip of handing a do-nothing task to a sleeping worker
   thread (a lock it waits on) and waiting for it: what any pool that sleeps between tasks pays
   per parallel operation.
3. **Element-wise work on two threads, beside OpenBLAS.**  ``kernels.bias_activation_forward``
   (sigmoid, the 3-layer model's and ``predict``'s sizes; ReLU at the convnet's first layer) split in
   two halves, one on a worker thread, against one thread, each right after (a) no product, so
   OpenBLAS's workers sleep, and (b) a product on all cores, after which OpenBLAS's workers spin
   for a while waiting for the next one.
4. **Adam on two threads.**  ``kernels.adam_update`` over the 3-layer model's 669,706 parameters,
   every array split in two halves, one on the worker thread, against one thread (OpenBLAS asleep).

Prints a table and writes JSON.  Best and median over the blocks; ratios are medians.
"""
import argparse
import ctypes
import json
import os
import platform
import statistics
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from nnscratch import kernels  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def openblas_setter():
    """``openblas_set_num_threads`` of the OpenBLAS NumPy uses (found by threadpoolctl)."""
    from threadpoolctl import ThreadpoolController
    for c in ThreadpoolController().lib_controllers:
        if c.internal_api == "openblas":
            for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                         "openblas_set_num_threads64_", "openblas_set_num_threads"):
                f = getattr(c.dynlib, name, None)
                if f is not None:
                    f.argtypes, f.restype = [ctypes.c_int], None
                    return f, c.version, c.architecture
    raise SystemExit("threads.py: NumPy's BLAS is not OpenBLAS; nothing to measure")


def alternate(variants, blocks, reps):
    """Run each variant ``reps`` times per block, variants alternating block by block; seconds per call."""
    times = {name: [] for name in variants}
    for _ in range(blocks):
        for name, f in variants.items():
            f()
            t = time.perf_counter()
            for _ in range(reps):
                f()
            times[name].append((time.perf_counter() - t) / reps)
    return times


def summary(ts):
    return {"best_us": 1e6 * min(ts), "median_us": 1e6 * statistics.median(ts)}


class Worker:
    """One thread that sleeps on a lock until it is handed a task: the cheapest pool there is."""

    def __init__(self):
        self.go, self.done = threading.Lock(), threading.Lock()
        self.go.acquire()
        self.done.acquire()
        self.task = None
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            self.go.acquire()
            f, args = self.task
            f(*args)
            self.done.release()

    def start(self, f, *args):
        self.task = (f, args)
        self.go.release()

    def wait(self):
        self.done.acquire()


def products(cores, setter, blocks, rng):
    rows = []
    shapes = []
    for b in (32, 128, 512):
        shapes += [(f"b{b} x@W1", b, 784, 512, "nn"), (f"b{b} x.T@dz1", 784, b, 512, "tn"),
                   (f"b{b} x@W2", b, 512, 512, "nn"), (f"b{b} x.T@dz2", 512, b, 512, "tn"),
                   (f"b{b} dz2@W2.T", b, 512, 512, "nt")]
    shapes += [("predict x@W1", 10_000, 784, 512, "nn"), ("predict x@W2", 10_000, 512, 512, "nn")]
    for name, m, k, n, layout in shapes:
        a = rng.random((k, m), np.float32).T if layout == "tn" else rng.random((m, k), np.float32)
        w = rng.random((n, k), np.float32).T if layout == "nt" else rng.random((k, n), np.float32)
        c = np.empty((m, n), np.float32)
        reps = max(2, int(1e8 / (2 * m * k * n)))

        def on(threads):
            def f():
                setter(threads)
                np.matmul(a, w, out=c)
            return f
        ts = alternate({"1": on(1), "all": on(cores)}, blocks, reps)
        flop = 2 * m * k * n
        one, allc = summary(ts["1"]), summary(ts["all"])
        rows.append({"product": name, "shape": [m, k, n], "flop": flop, "one_thread": one, "all_cores": allc,
                     "gflops_one": flop / one["best_us"] / 1e3, "gflops_all": flop / allc["best_us"] / 1e3,
                     "ratio_all_over_one_median": allc["median_us"] / one["median_us"]})
    setter(cores)
    return rows


def elementwise(cores, setter, blocks, rng, worker):
    a_big = rng.random((2000, 784), np.float32)
    w_big = rng.random((784, 512), np.float32)
    c_big = np.empty((2000, 512), np.float32)
    rows = []
    for label, shape, code in (("b128 sigmoid", (128, 512), 1), ("b512 sigmoid", (512, 512), 1),
                               ("predict sigmoid", (10_000, 512), 1), ("convnet b128 relu", (128 * 676, 32), 2)):
        z0 = rng.standard_normal(shape).astype(np.float32)
        bias = rng.standard_normal(shape[1]).astype(np.float32)
        z, out = z0.copy(), np.empty_like(z0)
        h = shape[0] // 2
        reps = max(2, int(2e6 / z0.size))

        def serial():
            kernels.bias_activation_forward(z, bias, code, out)

        def split():
            worker.start(kernels.bias_activation_forward, z[h:], bias, code, out[h:])
            kernels.bias_activation_forward(z[:h], bias, code, out[:h])
            worker.wait()

        def after_product(f):
            def g():
                np.matmul(a_big, w_big, out=c_big)      # OpenBLAS on all cores; its workers then spin
                t = time.perf_counter()
                f()
                g.elapsed.append(time.perf_counter() - t)
            g.elapsed = []
            return g
        res = {"shape": list(shape), "activation": "sigmoid" if code == 1 else "relu"}
        quiet = alternate({"one": serial, "two": split}, blocks, reps)
        res["blas_asleep"] = {k: summary(v) for k, v in quiet.items()}
        setter(cores)
        one_after, two_after = after_product(serial), after_product(split)
        alternate({"one": one_after, "two": two_after}, blocks, 3)
        res["blas_spinning"] = {"one": summary(one_after.elapsed), "two": summary(two_after.elapsed)}
        for k in ("blas_asleep", "blas_spinning"):
            res[k]["ratio_two_over_one_median"] = res[k]["two"]["median_us"] / res[k]["one"]["median_us"]
        res["label"] = label
        rows.append(res)
    return rows


def adam(blocks, rng, worker):
    sizes = [784 * 512, 512, 512 * 512, 512, 512 * 10, 10]
    w, g, m, v = ([rng.standard_normal(n).astype(np.float32) * (1e-3 if k == 1 else 1) for n in sizes]
                  for k in range(4))
    m = [np.zeros_like(a) for a in m]
    v = [np.zeros_like(a) for a in v]
    consts = (np.float32(0.1), np.float32(0.001), np.float32(1e-3), np.float32(1e-7))
    whole = [tuple(a) for a in (w, g, m, v)]
    first = [tuple(a[:a.size // 2] for a in arrs) for arrs in (w, g, m, v)]
    second = [tuple(a[a.size // 2:] for a in arrs) for arrs in (w, g, m, v)]

    def serial():
        kernels.adam_update(*whole, *consts)

    def split():
        worker.start(kernels.adam_update, *second, *consts)
        kernels.adam_update(*first, *consts)
        worker.wait()
    ts = alternate({"one": serial, "two": split}, blocks, 20)
    res = {k: summary(t) for k, t in ts.items()}
    res["ratio_two_over_one_median"] = res["two"]["median_us"] / res["one"]["median_us"]
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--blocks", type=int, default=8)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    cores = len(os.sched_getaffinity(0))
    setter, version, arch = openblas_setter()
    rng = np.random.default_rng(0)
    z = np.zeros((4, 4), np.float32)
    kernels.bias_activation_forward(z, z[0], 1, z.copy())       # compile / load the kernel first

    prod = products(cores, setter, args.blocks, rng)
    worker = Worker()
    noop = alternate({"round trip": lambda: (worker.start(lambda: None), worker.wait())}, args.blocks, 200)
    wake = summary(noop["round trip"])
    elem = elementwise(cores, setter, args.blocks, rng, worker)
    adam_res = adam(args.blocks, rng, worker)

    print(f"{cores} cores, OpenBLAS {version} ({arch}); load {os.getloadavg()[0]:.2f}")
    print(f"\n1. Matrix products, float32: microseconds per call on 1 thread and on all {cores} cores")
    print(f"{'product':18s} {'1 best':>9s} {'1 med':>9s} {'all best':>9s} {'all med':>9s} {'GF/s 1':>7s} "
          f"{'GF/s all':>8s} {'all/1 med':>9s}")
    for r in prod:
        o, a = r["one_thread"], r["all_cores"]
        print(f"{r['product']:18s} {o['best_us']:9.0f} {o['median_us']:9.0f} {a['best_us']:9.0f} {a['median_us']:9.0f} "
              f"{r['gflops_one']:7.0f} {r['gflops_all']:8.0f} {r['ratio_all_over_one_median']:9.2f}")
    print(f"\n2. Handing a do-nothing task to a sleeping thread and waiting for it: "
          f"best {wake['best_us']:.0f} us, median {wake['median_us']:.0f} us")
    print("\n3. bias + activation on 1 thread and split over 2, microseconds (median; best in brackets)")
    print(f"{'work':20s} {'shape':>12s} {'BLAS asleep: 1':>16s} {'2':>14s} {'2/1':>5s} "
          f"{'BLAS spinning: 1':>18s} {'2':>14s} {'2/1':>5s}")
    for r in elem:
        q, s = r["blas_asleep"], r["blas_spinning"]
        cell = lambda d: f"{d['median_us']:.0f} ({d['best_us']:.0f})"   # noqa: E731
        print(f"{r['label']:20s} {str(tuple(r['shape'])):>12s} {cell(q['one']):>16s} {cell(q['two']):>14s} "
              f"{q['ratio_two_over_one_median']:5.2f} {cell(s['one']):>18s} {cell(s['two']):>14s} "
              f"{s['ratio_two_over_one_median']:5.2f}")
    a1, a2 = adam_res["one"], adam_res["two"]
    print(f"\n4. Adam over 669,706 parameters: 1 thread {a1['median_us']:.0f} us (best {a1['best_us']:.0f}), "
          f"split over 2 {a2['median_us']:.0f} us (best {a2['best_us']:.0f}): {adam_res['ratio_two_over_one_median']:.2f}x")
    report = {"benchmark": "threads", "date": time.strftime("%Y-%m-%d %H:%M:%S"), "cores": cores,
              "cpu": platform.processor(), "python": platform.python_version(), "numpy": np.__version__,
              "openblas": {"version": version, "architecture": arch},
              "env": {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "OMP_", "NUMBA_"))},
              "loadavg": os.getloadavg(), "products": prod, "wake_round_trip": wake, "elementwise": elem,
              "adam": adam_res}
    out = args.out or os.path.join(HERE, "results", f"threads-{cores}core.json")
    with open(out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
