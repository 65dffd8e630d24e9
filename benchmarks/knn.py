"""kNN figures on full MNIST and full Fashion-MNIST: nnscratch vs scikit-learn, side by side.

    NNSCRATCH_DATA=/work/shared/datasets python3 benchmarks/knn.py [--datasets mnist fashion_mnist]
        [--ks 1 3 5] [--out benchmarks/results/knn.json]

For each data set (60,000 train, 10,000 test, pixels flattened to 784 and scaled to float32 / 255,
as the workshop does) and each k in {1, 3, 5} x weights in {uniform, distance} (p=2), in one run:

* nnscratch.neighbors.KNeighborsClassifier, scikit-learn's default KNeighborsClassifier (it picks
  brute force here) and scikit-learn with algorithm='brute': fit + predict seconds, peak memory,
  test accuracy;
* whether nnscratch's predictions equal scikit-learn's, element for element.

Peak memory is the peak resident set size during fit + predict minus the resident size before
(sampled every 5 ms from /proc/self/statm), the same probe for both libraries.  Single runs on a
shared machine: compare within one run only.  Output: a markdown table on stdout and JSON.
"""
import argparse
import json
import os
import platform
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from nnscratch.neighbors import KNeighborsClassifier  # noqa: E402
from nnscratch.utils import accuracy  # noqa: E402

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


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


def _features(x):
    return (x.reshape(len(x), -1).astype(np.float32) / np.float32(255))


def _load(name):
    from nnscratch.datasets import fashion_mnist, mnist
    mod = {"mnist": mnist, "fashion_mnist": fashion_mnist}[name]
    (xtr, ytr), (xte, yte) = mod.load_data()
    return _features(xtr), ytr, _features(xte), yte


def _run(make, Xtr, ytr, Xte):
    clf = make()
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        clf.fit(Xtr, ytr)
        t1 = time.perf_counter()
        pred = clf.predict(Xte)
        t2 = time.perf_counter()
    return pred, {"fit_s": t1 - t0, "predict_s": t2 - t1, "fit_predict_s": t2 - t0,
                  "peak_mem_mb": mem.bytes / 2**20}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["mnist", "fashion_mnist"])
    ap.add_argument("--ks", nargs="+", type=int, default=[1, 3, 5])
    ap.add_argument("--weights", nargs="+", default=["uniform", "distance"])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "results", "knn.json"))
    args = ap.parse_args(argv)

    import sklearn
    from sklearn.neighbors import KNeighborsClassifier as SkKNN

    # Warm-up: compile (or load from cache) the Numba kernels outside the timings.
    rng = np.random.default_rng(0)
    warm = rng.random((300, 20)).astype(np.float32)
    for p in (1, 2):
        KNeighborsClassifier(3, p=p).fit(warm, np.arange(300) % 3).predict(warm[:10])

    rows = []
    for name in args.datasets:
        Xtr, ytr, Xte, yte = _load(name)
        print(f"# {name}: train {Xtr.shape}, test {Xte.shape}, float32", flush=True)
        for k in args.ks:
            for w in args.weights:
                res = {"dataset": name, "k": k, "weights": w, "p": 2}
                preds = {}
                for lib, make in [
                    ("nnscratch", lambda: KNeighborsClassifier(n_neighbors=k, weights=w)),
                    ("sklearn_default", lambda: SkKNN(n_neighbors=k, weights=w)),
                    ("sklearn_brute", lambda: SkKNN(n_neighbors=k, weights=w, algorithm="brute")),
                ]:
                    pred, r = _run(make, Xtr, ytr, Xte)
                    r["accuracy"] = accuracy(yte, pred)
                    preds[lib] = pred
                    res[lib] = r
                    print(f"  k={k} {w:8s} {lib:16s} acc {r['accuracy']:.4f}  fit+predict "
                          f"{r['fit_predict_s']:6.2f} s  peak {r['peak_mem_mb']:7.1f} MiB", flush=True)
                res["identical_to_sklearn_default"] = bool(np.array_equal(preds["nnscratch"],
                                                                          preds["sklearn_default"]))
                res["identical_to_sklearn_brute"] = bool(np.array_equal(preds["nnscratch"],
                                                                        preds["sklearn_brute"]))
                res["speedup_vs_default"] = (res["sklearn_default"]["fit_predict_s"]
                                             / res["nnscratch"]["fit_predict_s"])
                res["speedup_vs_brute"] = (res["sklearn_brute"]["fit_predict_s"]
                                           / res["nnscratch"]["fit_predict_s"])
                rows.append(res)

    print()
    print("| data set | k | weights | accuracy | nnscratch s | sklearn default s | sklearn brute s "
          "| speed-up vs default | nnscratch MiB | sklearn default MiB | identical |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['dataset']} | {r['k']} | {r['weights']} | {100 * r['nnscratch']['accuracy']:.2f}% "
              f"| {r['nnscratch']['fit_predict_s']:.2f} | {r['sklearn_default']['fit_predict_s']:.2f} "
              f"| {r['sklearn_brute']['fit_predict_s']:.2f} | {r['speedup_vs_default']:.2f}x "
              f"| {r['nnscratch']['peak_mem_mb']:.0f} | {r['sklearn_default']['peak_mem_mb']:.0f} "
              f"| {'yes' if r['identical_to_sklearn_default'] and r['identical_to_sklearn_brute'] else 'NO'} |")
    speedups = [r["speedup_vs_default"] for r in rows]
    print(f"\nmedian speed-up vs scikit-learn default: {np.median(speedups):.2f}x "
          f"(min {min(speedups):.2f}x, max {max(speedups):.2f}x)")

    out = {
        "command": "NNSCRATCH_DATA=/work/shared/datasets python3 benchmarks/knn.py",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "numpy": np.__version__, "sklearn": sklearn.__version__,
                    "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
                    "loadavg_at_end": os.getloadavg()},
        "features": "flattened 784, float32 / 255",
        "memory_probe": "peak RSS during fit+predict minus RSS before, sampled every 5 ms",
        "median_speedup_vs_sklearn_default": float(np.median(speedups)),
        "results": rows,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
