"""Why the thread policy in ``nnscratch/engine/threads.py`` is what it is: six measurements on this machine.

    python benchmarks/threads.py                 # ~5 min on 2 cores (3 passes); JSON in benchmarks/results/threads-<cores>core.json

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
5. **Inference split over rows.**  The 3-layer model (``zoo.mlp``) on 10,000 images, ``model(x)``,
   ``predict`` and ``evaluate`` (batches of 32), as nnscratch runs them (rows dealt out to one thread per core,
   OpenBLAS on one thread each: ``engine.threads.split``) against one pass on the calling thread with
   OpenBLAS on all cores (the split switched off by raising ``threads.MIN_ROWS_PER_THREAD``); then
   both on 512 ... 4,096 rows split whatever their number, to show where splitting starts to pay
   (``MIN_ROWS_PER_THREAD``).  Here each thread's rows go through ``forward`` in one piece
   (``inference.CHUNK_ROWS`` raised), so the figures compare with earlier runs of this point.
6. **``model(x)`` in pieces.**  ``model(x)`` on the same 10,000 images as nnscratch runs it (each
   thread's rows cut into pieces of at most ``inference.CHUNK_ROWS`` rows: ``inference.pieces``)
   against each thread's rows in one piece; and on one thread (the split switched off), in pieces
   against one pass.  Then the work arrays the model keeps after ``model(x)`` on 60,000 images (the
   training set's size), in pieces and in one piece per thread: counted, not timed.

Prints a table per pass and, at the end, each ratio's range over the passes (``--repeat``, default
3): this machine drifts from minute to minute, and one pass alone has shown a ratio of 0.69 that the
next showed as 1.49.  Best and median over the blocks; ratios are of medians.  Writes JSON.
"""
import argparse
import ctypes
import json
import os
import statistics
import sys
import threading
import time

from speedbench.env import blas_kernel, user_machine_env  # benchmarks/speedbench/env.py

if __name__ == "__main__":
    user_machine_env()      # OpenBLAS as on a user's machine: re-exec without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from nnscratch.engine import Fused  # noqa: E402
from nnscratch.engine import loops as kernels  # noqa: E402
from speed import machine_info  # noqa: E402  (benchmarks/speed.py: cores, CPU, BLAS, versions, env)

HERE = os.path.dirname(os.path.abspath(__file__))
# OpenBLAS's idle workers spin for 2**28 cycles (its default THREAD_TIMEOUT; ~0.1 s at 2.5 GHz) after
# a product before they sleep; wait longer than that before measuring "OpenBLAS asleep".
OPENBLAS_SPIN_S = 0.5


def openblas_setter():
    """``openblas_set_num_threads`` of the OpenBLAS NumPy uses (found by threadpoolctl).  Called directly
    (about 1 us) rather than through ``threadpoolctl.threadpool_limits`` (which the kNN code uses around
    whole searches), because here it changes between single products."""
    found = openblas_function(("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                               "openblas_set_num_threads64_", "openblas_set_num_threads"))
    if found is None:
        raise SystemExit("threads.py: NumPy's BLAS is not OpenBLAS; nothing to measure")
    f, _, c = found
    f.argtypes, f.restype = [ctypes.c_int], None
    return f, c.version, c.architecture


def openblas_function(names):
    """``(function, name, controller)``: the first of ``names`` exported by an OpenBLAS threadpoolctl
    finds, trying them in its order (NumPy's own comes first); None if none does.  The names differ
    between builds: NumPy's wheels prefix ``scipy_`` and add ``64_`` (64-bit integers)."""
    from threadpoolctl import ThreadpoolController
    for c in ThreadpoolController().lib_controllers:
        if c.internal_api == "openblas":
            for name in names:
                f = getattr(c.dynlib, name, None)
                if f is not None:
                    return f, name, c
    return None


def alternate(variants, blocks, reps, settle_s=0):
    """Run each variant ``reps`` times per block, variants alternating block by block; seconds per call.
    ``settle_s``: seconds to wait before each block, for idle pool workers to stop spinning."""
    times = {name: [] for name in variants}
    for _ in range(blocks):
        for name, f in variants.items():
            time.sleep(settle_s)
            f()
            t = time.perf_counter()
            for _ in range(reps):
                f()
            times[name].append((time.perf_counter() - t) / reps)
    return times


def summary(ts):
    return {"best_us": 1e6 * min(ts), "median_us": 1e6 * statistics.median(ts)}


def span(xs):
    """``[lowest, highest]`` of a ratio over the passes: what one pass alone can't tell from noise."""
    return [min(xs), max(xs)]


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
    sigmoid, relu = Fused.SIGMOID, Fused.RELU
    for label, shape, code in (("b128 sigmoid", (128, 512), sigmoid), ("b512 sigmoid", (512, 512), sigmoid),
                               ("predict sigmoid", (10_000, 512), sigmoid), ("convnet b128 relu", (128 * 676, 32), relu)):
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
        res = {"shape": list(shape), "activation": "sigmoid" if code == Fused.SIGMOID else "relu"}
        time.sleep(OPENBLAS_SPIN_S)        # let OpenBLAS's workers stop spinning after the last product
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
    sizes = [784 * 512, 512, 512 * 512, 512, 512 * 10, 10]         # the 3-layer model's parameters
    w = [rng.standard_normal(n).astype(np.float32) for n in sizes]
    g = [1e-3 * rng.standard_normal(n).astype(np.float32) for n in sizes]
    m, v = [np.zeros(n, np.float32) for n in sizes], [np.zeros(n, np.float32) for n in sizes]
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
    time.sleep(OPENBLAS_SPIN_S)
    ts = alternate({"one": serial, "two": split}, blocks, 20)
    res = {k: summary(t) for k, t in ts.items()}
    res["ratio_two_over_one_median"] = res["two"]["median_us"] / res["one"]["median_us"]
    return res


def inference(blocks, rng):
    from nnscratch import zoo
    from nnscratch.engine import inference as rows, threads as policy
    model = zoo.mlp(seed=0)
    x = rng.random((10_000, 784), np.float32)
    split_min = policy.MIN_ROWS_PER_THREAD
    chunk_rows = rows.CHUNK_ROWS
    one_pass = 10 ** 12

    def way(min_rows, call, chunk=one_pass):
        def f():
            policy.MIN_ROWS_PER_THREAD, rows.CHUNK_ROWS = min_rows, chunk
            call()
        return f

    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, len(x))]
    calls = {"model(x)": lambda: model(x), "predict": lambda: model.predict(x, verbose=0),
             "evaluate": lambda: model.evaluate(x, y, verbose=0)}
    ts = alternate({f"{name} {how}": way(split_min if how == "split" else one_pass, call)
                    for name, call in calls.items() for how in ("split", "one pass")}, blocks, 3)
    res = {k: summary(t) for k, t in ts.items()}
    policy.MIN_ROWS_PER_THREAD = split_min
    res["threads"] = policy.inference_threads(len(x))
    for call in calls:
        res[f"{call} ratio_split_over_one_pass_median"] = (res[f"{call} split"]["median_us"]
                                                           / res[f"{call} one pass"]["median_us"])
    # Where does a split start to pay?  Fewer rows, split whatever their number.
    res["small"] = {}
    for n_rows in (512, 1024, 2048, 4096):
        xs = x[:n_rows]
        for name, call in (("model(x)", lambda: model(xs)), ("predict", lambda: model.predict(xs, verbose=0))):
            t = alternate({"split": way(1, call), "one pass": way(one_pass, call)}, blocks, 5)
            res["small"][f"{name} {n_rows}"] = {"split": summary(t["split"]), "one_pass": summary(t["one pass"]),
                                              "ratio_split_over_one_pass_median": statistics.median(t["split"])
                                              / statistics.median(t["one pass"])}
    # 6. model(x) in pieces of CHUNK_ROWS rows (as it runs) against one piece per thread
    res["pieces"] = {}
    for label, min_rows in (("split", split_min), ("one thread", one_pass)):
        call = lambda: model(x)   # noqa: E731
        t = alternate({"pieces": way(min_rows, call, chunk_rows), "one piece": way(min_rows, call)}, blocks, 3)
        res["pieces"][label] = {"pieces": summary(t["pieces"]), "one_piece": summary(t["one piece"]),
                                "ratio_pieces_over_one_piece_median": statistics.median(t["pieces"])
                                / statistics.median(t["one piece"])}
    res["chunk_rows"] = chunk_rows
    big = rng.random((60_000, 784), np.float32)
    policy.MIN_ROWS_PER_THREAD = split_min                  # as nnscratch runs: split over the cores
    for label, chunk in (("pieces", chunk_rows), ("one piece", one_pass)):
        fresh = zoo.mlp(seed=0)
        rows.CHUNK_ROWS = chunk
        fresh(big)
        res["pieces"][f"kept_mb_60000_{label.replace(' ', '_')}"] = kept_bytes(fresh) / 2 ** 20
    policy.MIN_ROWS_PER_THREAD, rows.CHUNK_ROWS = split_min, chunk_rows
    return res


def kept_bytes(model):
    """Bytes of the work arrays ``model``, its layers and its row threads' replicas keep between calls."""
    from nnscratch.engine.buffers import kept_bytes as own_bytes
    own = sum(own_bytes(layer) for m in [model] + model.submodels() for layer in m.layers)
    return own + sum(b.nbytes for replica in model.__dict__.get("_replica_work", [])
                     for arrays in replica.values() for b in arrays.values())


def measure(cores, setter, blocks, rng, worker):
    """One pass of the six measurements."""
    prod = products(cores, setter, blocks, rng)
    noop = alternate({"round trip": lambda: (worker.start(lambda: None), worker.wait())}, blocks, 200)
    return {"loadavg": os.getloadavg(), "products": prod, "wake_round_trip": summary(noop["round trip"]),
            "elementwise": elementwise(cores, setter, blocks, rng, worker), "adam": adam(blocks, rng, worker),
            "inference": inference(blocks, rng)}


def print_run(run, cores):
    print(f"\n1. Matrix products, float32: microseconds per call on 1 thread and on all {cores} cores")
    print(f"{'product':18s} {'1 best':>9s} {'1 med':>9s} {'all best':>9s} {'all med':>9s} {'GF/s 1':>7s} "
          f"{'GF/s all':>8s} {'all/1 med':>9s}")
    for r in run["products"]:
        o, a = r["one_thread"], r["all_cores"]
        print(f"{r['product']:18s} {o['best_us']:9.0f} {o['median_us']:9.0f} {a['best_us']:9.0f} {a['median_us']:9.0f} "
              f"{r['gflops_one']:7.0f} {r['gflops_all']:8.0f} {r['ratio_all_over_one_median']:9.2f}")
    wake = run["wake_round_trip"]
    print(f"\n2. Handing a do-nothing task to a sleeping thread and waiting for it: "
          f"best {wake['best_us']:.0f} us, median {wake['median_us']:.0f} us")
    print("\n3. bias + activation on 1 thread and split over 2, microseconds (median; best in brackets)")
    print(f"{'work':20s} {'shape':>12s} {'BLAS asleep: 1':>16s} {'2':>14s} {'2/1':>5s} "
          f"{'BLAS spinning: 1':>18s} {'2':>14s} {'2/1':>5s}")
    cell = lambda d: f"{d['median_us']:.0f} ({d['best_us']:.0f})"   # noqa: E731
    for r in run["elementwise"]:
        q, sp = r["blas_asleep"], r["blas_spinning"]
        print(f"{r['label']:20s} {str(tuple(r['shape'])):>12s} {cell(q['one']):>16s} {cell(q['two']):>14s} "
              f"{q['ratio_two_over_one_median']:5.2f} {cell(sp['one']):>18s} {cell(sp['two']):>14s} "
              f"{sp['ratio_two_over_one_median']:5.2f}")
    a = run["adam"]
    print(f"\n4. Adam over 669,706 parameters: 1 thread {cell(a['one'])} us, split over 2 {cell(a['two'])} us: "
          f"{a['ratio_two_over_one_median']:.2f}x")
    i = run["inference"]
    print(f"\n5. The 3-layer model on 10,000 images, ms (median; best in brackets), rows split over "
          f"{i['threads']} threads against one pass:")
    ms = lambda d: f"{d['median_us'] / 1e3:.1f} ({d['best_us'] / 1e3:.1f})"   # noqa: E731
    for call in ("model(x)", "predict", "evaluate"):
        print(f"{call:9s} split {ms(i[call + ' split']):>14s}   one pass {ms(i[call + ' one pass']):>14s}   "
              f"{i[call + ' ratio_split_over_one_pass_median']:.2f}x")
    print("fewer rows, split over all threads whatever their number / one pass: " + ", ".join(
        f"{key} rows {r['ratio_split_over_one_pass_median']:.2f}x" for key, r in i["small"].items()))
    print(f"\n6. model(x) on 10,000 images in pieces of at most {i['chunk_rows']:,} rows / one piece per thread, ms "
          f"(median; best in brackets):")
    for label, r in i["pieces"].items():
        if isinstance(r, dict):
            print(f"{label:10s} pieces {ms(r['pieces']):>14s}   one piece {ms(r['one_piece']):>14s}   "
                  f"{r['ratio_pieces_over_one_piece_median']:.2f}x")
    print(f"work arrays kept after model(x) on 60,000 images: pieces {i['pieces']['kept_mb_60000_pieces']:.0f} MB, "
          f"one piece per thread {i['pieces']['kept_mb_60000_one_piece']:.0f} MB")


def ranges(runs):
    """Each ratio's :func:`span` over the runs."""
    out = {"products_all_over_one": {p["product"]: span([r["products"][i]["ratio_all_over_one_median"]
                                                         for r in runs])
                                     for i, p in enumerate(runs[0]["products"])},
           "wake_round_trip_median_us": span([r["wake_round_trip"]["median_us"] for r in runs]),
           "adam_two_over_one": span([r["adam"]["ratio_two_over_one_median"] for r in runs]),
           "inference_split_over_one_pass": {call: span([r["inference"][f"{call} ratio_split_over_one_pass_median"]
                                                        for r in runs]) for call in ("model(x)", "predict", "evaluate")},
           "inference_small_split_over_one_pass": {rows: span([r["inference"]["small"][rows]["ratio_split_over_one_pass_median"]
                                                              for r in runs]) for rows in runs[0]["inference"]["small"]},
           "pieces_over_one_piece": {label: span([r["inference"]["pieces"][label]["ratio_pieces_over_one_piece_median"]
                                                  for r in runs]) for label in ("split", "one thread")}}
    for i, e in enumerate(runs[0]["elementwise"]):
        for k in ("blas_asleep", "blas_spinning"):
            out.setdefault(f"elementwise_two_over_one_{k}", {})[e["label"]] = span(
                [r["elementwise"][i][k]["ratio_two_over_one_median"] for r in runs])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--blocks", type=int, default=8, help="alternating blocks per comparison")
    p.add_argument("--repeat", type=int, default=3, help="whole passes; the summary gives each ratio's range")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    cores = len(os.sched_getaffinity(0))
    setter, version, arch = openblas_setter()
    rng = np.random.default_rng(0)
    z = np.zeros((4, 4), np.float32)
    kernels.bias_activation_forward(z, z[0], Fused.SIGMOID, z.copy())   # compile / load the loop first
    worker = Worker()
    print(f"{cores} cores, OpenBLAS {version} ({arch}); load {os.getloadavg()[0]:.2f}")
    runs = []
    for i in range(args.repeat):
        runs.append(measure(cores, setter, args.blocks, rng, worker))
        print(f"\n===== pass {i + 1}/{args.repeat} (load {runs[-1]['loadavg'][0]:.2f})")
        print_run(runs[-1], cores)
    rng_ = ranges(runs)
    fmt = lambda lo_hi: f"{lo_hi[0]:.2f}-{lo_hi[1]:.2f}"   # noqa: E731
    print(f"\n===== ratios over the {args.repeat} passes (lowest-highest of the per-pass medians)")
    for batch in ("b32", "b128", "b512", "predict"):
        vals = [v for k, v in rng_["products_all_over_one"].items() if k.startswith(batch + " ")]
        print(f"products {batch:8s} all cores / 1 thread: {min(v[0] for v in vals):.2f}-{max(v[1] for v in vals):.2f}")
    for label in rng_["elementwise_two_over_one_blas_asleep"]:
        print(f"{label:20s} split / serial: OpenBLAS asleep {fmt(rng_['elementwise_two_over_one_blas_asleep'][label])}, "
              f"spinning {fmt(rng_['elementwise_two_over_one_blas_spinning'][label])}")
    print(f"Adam split / serial: {fmt(rng_['adam_two_over_one'])}; "
          f"wake-up round trip {rng_['wake_round_trip_median_us'][0]:.0f}-{rng_['wake_round_trip_median_us'][1]:.0f} us")
    for call, lo_hi in rng_["inference_split_over_one_pass"].items():
        print(f"{call} on 10,000 images, rows split / one pass: {fmt(lo_hi)}")
    print("split whatever the rows / one pass: " + ", ".join(
        f"{key} rows {fmt(lo_hi)}" for key, lo_hi in rng_["inference_small_split_over_one_pass"].items()))
    for label, lo_hi in rng_["pieces_over_one_piece"].items():
        print(f"model(x) on 10,000 images, {label}: pieces / one piece per thread: {fmt(lo_hi)}")
    report = {"benchmark": "threads", "date": time.strftime("%Y-%m-%d %H:%M:%S"), "cores": cores,
              "machine": machine_info(), "openblas": {"version": version, "architecture": arch},
              "blas_kernel": blas_kernel(),
              "config": {"blocks": args.blocks, "repeat": args.repeat, "openblas_spin_s": OPENBLAS_SPIN_S},
              "ranges": rng_, "runs": runs}
    out = args.out or os.path.join(HERE, "results", f"threads-{cores}core.json")
    with open(out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
