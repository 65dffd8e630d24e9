"""kNN on MNIST / Fashion-MNIST: nnscratch against scikit-learn, each in its own fresh process.

    python benchmarks/knn.py                 # full MNIST (60,000 train, 10,000 test), k=3, uniform
    python benchmarks/knn.py --quick         # 10,000 train / 1,000 test: a fast check
    python benchmarks/knn.py --datasets mnist fashion_mnist --ks 1 3 5 --weights uniform distance

(``NNSCRATCH_DATA`` points at a folder with the IDX files, or they are downloaded once.)

Protocol.  Pixels flattened to 784 and scaled to float32 / 255, as the workshop does.  For each
setting, ``--rounds`` rounds interleaved A B, B A, A B, ... (A = nnscratch, B = scikit-learn's
default ``KNeighborsClassifier``, which picks brute force here); every run is a fresh Python process
that loads the data, warms up on 200 rows (Numba cache, BLAS threads; untimed), then times fit +
predict.  Beside each timing: the load average before and after, the process CPU time
(``time.process_time()``, all threads) and the peak RSS growth (sampled every 5 ms).  Reported per
side: best and median wall time; and whether the predictions are identical element for element.
Output: JSON (machine: cores, BLAS libraries from threadpoolctl, versions) and a markdown table;
written to ``benchmarks/results/knn-<cores>core.json`` (``--out`` to change).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time

from speedbench.env import blas_kernel, unset_record, user_machine_env  # benchmarks/speedbench/env.py

if __name__ == "__main__":
    user_machine_env()      # OpenBLAS as on a user's machine: re-exec without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
LIBS = ("nnscratch", "sklearn")


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """Context manager: peak RSS above the starting RSS, sampled every 5 ms by a thread."""

    def __enter__(self):
        self.base = self.peak = _rss()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss())
        self.bytes = self.peak - self.base


def _load(name, train_rows, test_rows):
    from nnscratch.datasets import fashion_mnist, mnist
    (xtr, ytr), (xte, yte) = {"mnist": mnist, "fashion_mnist": fashion_mnist}[name].load_data()
    f = lambda x: x.reshape(len(x), -1).astype(np.float32) / np.float32(255)  # noqa: E731
    return f(xtr[:train_rows]), ytr[:train_rows], f(xte[:test_rows]), yte[:test_rows]


def _make(lib, k, weights):
    if lib == "nnscratch":
        from nnscratch.neighbors import KNeighborsClassifier
        return KNeighborsClassifier(n_neighbors=k, weights=weights)
    from sklearn.neighbors import KNeighborsClassifier
    return KNeighborsClassifier(n_neighbors=k, weights=weights)


def worker(args):
    """One timed fit + predict in this (fresh) process; JSON on stdout, predictions to --pred."""
    Xtr, ytr, Xte, yte = _load(args.dataset, args.train_rows, args.test_rows)
    _make(args.worker, args.k, args.weights).fit(Xtr[:200], ytr[:200]).predict(Xte[:20])  # warm-up
    clf = _make(args.worker, args.k, args.weights)
    load_before = os.getloadavg()
    cpu0 = time.process_time()
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        clf.fit(Xtr, ytr)
        t1 = time.perf_counter()
        pred = clf.predict(Xte)
        t2 = time.perf_counter()
    cpu = time.process_time() - cpu0
    np.save(args.pred, pred)
    from threadpoolctl import threadpool_info
    print(json.dumps({"fit_s": t1 - t0, "predict_s": t2 - t1, "wall_s": t2 - t0, "cpu_s": cpu,
                      "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
                      "peak_mem_mb": mem.bytes / 2**20, "accuracy": float(np.mean(pred == yte)),
                      "blas": [{k: i[k] for k in ("internal_api", "version", "num_threads",
                                                  "threading_layer", "architecture") if k in i}
                               for i in threadpool_info()]}))


def _run_one(lib, dataset, k, weights, rows, tmp):
    pred_path = os.path.join(tmp, f"{lib}.npy")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", lib, "--dataset", dataset,
           "--k", str(k), "--weights", weights, "--train-rows", str(rows[0]),
           "--test-rows", str(rows[1]), "--pred", pred_path]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1]), np.load(pred_path)


def _summary(runs):
    wall = [r["wall_s"] for r in runs]
    return {"best_s": min(wall), "median_s": float(np.median(wall)),
            "median_cpu_s": float(np.median([r["cpu_s"] for r in runs]))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["mnist"])
    ap.add_argument("--ks", nargs="+", type=int, default=[3])
    ap.add_argument("--weights", nargs="+", default=["uniform"])
    ap.add_argument("--rounds", type=int, default=3, help="runs per side, interleaved")
    ap.add_argument("--quick", action="store_true", help="10,000 train / 1,000 test rows, 2 rounds")
    ap.add_argument("--out", default=None, help="default benchmarks/results/knn-<cores>core.json")
    ap.add_argument("--worker", choices=LIBS, help=argparse.SUPPRESS)
    for name, typ in (("--dataset", str), ("--k", int), ("--train-rows", int), ("--test-rows", int),
                      ("--pred", str)):
        ap.add_argument(name, type=typ, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        args.weights = args.weights[0]
        return worker(args)

    import sklearn
    from threadpoolctl import threadpool_info

    from nnscratch.neighbors._sklearn_order import usable_cpus
    cores = usable_cpus()
    rows = (10000, 1000) if args.quick else (60000, 10000)
    rounds = 2 if args.quick else args.rounds
    out_path = args.out or os.path.join(ROOT, "benchmarks", "results",
                                        f"knn-{cores}core{'-quick' if args.quick else ''}.json")
    import sklearn.neighbors  # noqa: F401  (loads scikit-learn's BLAS too, for the listing)
    machine = {"cores": cores, "cpu_count": os.cpu_count(), "platform": platform.platform(),
               "processor": _cpu_name(), "python": platform.python_version(),
               "numpy": np.__version__, "sklearn": sklearn.__version__,
               "blas_kernel": blas_kernel(), "openblas_unset": unset_record(),
               "blas": [{k: i.get(k) for k in ("filepath", "internal_api", "version", "num_threads",
                                               "architecture")} for i in threadpool_info()]}
    for b in machine["blas"]:
        b["filepath"] = os.path.basename(b["filepath"])
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets:
            for k in args.ks:
                for w in args.weights:
                    runs = {lib: [] for lib in LIBS}
                    preds = {}
                    for r in range(rounds):
                        for lib in (LIBS if r % 2 == 0 else LIBS[::-1]):      # A B, B A, ...
                            res, preds[lib] = _run_one(lib, dataset, k, w, rows, tmp)
                            res["round"] = r
                            runs[lib].append(res)
                            print(f"  {dataset} k={k} {w:8s} round {r} {lib:9s} {res['wall_s']:6.2f} s "
                                  f"(cpu {res['cpu_s']:6.2f} s, load {res['loadavg_before'][0]:.2f})",
                                  flush=True)
                    same = bool(np.array_equal(preds["nnscratch"], preds["sklearn"]))
                    s = {lib: _summary(runs[lib]) for lib in LIBS}
                    results.append({
                        "dataset": dataset, "k": k, "weights": w, "p": 2,
                        "train_rows": rows[0], "test_rows": rows[1],
                        "accuracy": runs["nnscratch"][0]["accuracy"],
                        "identical_predictions": same, "summary": s,
                        "speedup_best": s["sklearn"]["best_s"] / s["nnscratch"]["best_s"],
                        "speedup_median": s["sklearn"]["median_s"] / s["nnscratch"]["median_s"],
                        "runs": runs})
    out = {"command": "python benchmarks/knn.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "protocol": "fresh process per run; rounds interleaved A B, B A; fit + predict timed after "
                       "an untimed warm-up; load average and process CPU time beside each run",
           "features": "flattened 784, float32 / 255", "machine": machine, "results": results}
    print()
    print("| data | k | weights | rows | nnscratch best / median s | scikit-learn best / median s "
          "| speed-up best / median | identical |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        a, b = r["summary"]["nnscratch"], r["summary"]["sklearn"]
        print(f"| {r['dataset']} | {r['k']} | {r['weights']} | {r['train_rows']:,} / {r['test_rows']:,} "
              f"| {a['best_s']:.2f} / {a['median_s']:.2f} | {b['best_s']:.2f} / {b['median_s']:.2f} "
              f"| {r['speedup_best']:.2f}x / {r['speedup_median']:.2f}x "
              f"| {'yes' if r['identical_predictions'] else 'NO'} |")
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps({"machine": machine, "summary": [
        {key: r[key] for key in ("dataset", "k", "weights", "speedup_best", "speedup_median",
                                 "identical_predictions", "summary")} for r in results]}, indent=1))
    print(f"wrote {os.path.relpath(out_path, ROOT)}")


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
