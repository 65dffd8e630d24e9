"""The GEMM limit: float32 ``np.matmul`` timed on exactly the products one training step runs (the
3-layer model's eight, the convnet's im2col products), in a process of its own each round, and the
arithmetic limit per epoch that rate gives (no side can train an epoch faster)."""
import statistics

import numpy as np

from .clock import time_calls
from .settings import (BATCHES, CONVNET_BATCH, FLOP_PER_SAMPLE_3L, FLOP_PER_SAMPLE_CONVNET, LAYERS_3)


def gemm_products(b):
    """The 3-layer model's eight products at batch ``b``: (name, m, k, n, layout) for ``(m,k)@(k,n)``.

    Forward ``x @ W`` for every layer, weight gradients ``x.T @ dz`` for every layer, input gradients
    ``dz @ W.T`` for all but the first: 2 * (668,672 + 668,672 + 267,264) = 3,209,216 FLOP per sample.
    """
    rows = []
    for i, (d, m) in enumerate(LAYERS_3):
        rows.append((f"x@W{i + 1}", b, d, m, "nn"))
        rows.append((f"x.T@dz{i + 1}", d, b, m, "tn"))
        if i > 0:
            rows.append((f"dz{i + 1}@W{i + 1}.T", b, m, d, "nt"))
    assert sum(2 * m * k * n for _, m, k, n, _ in rows) == FLOP_PER_SAMPLE_3L * b
    return rows


def convnet_gemm_products(b=CONVNET_BATCH):
    """The products nnscratch's convnet runs at batch ``b`` when it convolves by im2col: ``cols @ W``,
    ``cols.T @ dz`` for both convolutions, ``dz @ W.T`` for the second (the first needs no input
    gradient), and the Dense layer's three.  Keras (oneDNN) convolves directly, so this is a floor
    for nnscratch's method only, not for every side."""
    rows = [("conv2d cols@W", b * 26 * 26, 9, 32, "nn"), ("conv2d cols.T@dz", 9, b * 26 * 26, 32, "tn"),
            ("conv2d_1 cols@W", b * 11 * 11, 288, 64, "nn"), ("conv2d_1 cols.T@dz", 288, b * 11 * 11, 64, "tn"),
            ("conv2d_1 dz@W.T", b * 11 * 11, 64, 288, "nt"),
            ("dense x@W", b, 1600, 10, "nn"), ("dense x.T@dz", 1600, b, 10, "tn"), ("dense dz@W.T", b, 10, 1600, "nt")]
    assert sum(2 * m * k * n for _, m, k, n, _ in rows) == FLOP_PER_SAMPLE_CONVNET * b
    return rows


def _time_products(products, reps, rng):
    rows = []
    for name, m, k, n, layout in products:
        a = rng.random((k, m), np.float32).T if layout == "tn" else rng.random((m, k), np.float32)
        w = rng.random((n, k), np.float32).T if layout == "nt" else rng.random((k, n), np.float32)
        c = np.empty((m, n), np.float32)
        ts = [r["seconds"] for r in time_calls(lambda: np.matmul(a, w, out=c), reps)]
        rows.append({"product": name, "shape": [m, k, n], "flop": 2 * m * k * n,
                     "best_s": min(ts), "median_s": statistics.median(ts)})
    return rows


def worker_gemm(cfg):
    """float32 ``np.matmul`` (the BLAS every side here calls, with its default threads) on the
    training shapes: best and median seconds of each product over ``gemm_reps`` calls."""
    rng = np.random.default_rng(0)
    out = {"batches": {str(b): _time_products(gemm_products(b), cfg["gemm_reps"], rng) for b in BATCHES}}
    if "convnet" in cfg.get("groups", ()):
        out["convnet"] = _time_products(convnet_gemm_products(), max(3, cfg["gemm_reps"] // 4), rng)
    return out


def gemm_summary(runs, samples):
    """Rate per batch = FLOP of one training step / summed best (median) time of its eight products,
    best over rounds; limit = 3,209,216 FLOP x samples / best rate."""
    res = [x["result"] for x in runs if x["side"] == "gemm" and "error" not in x["result"]]
    out = {}
    for b in BATCHES:
        best = min(sum(p["best_s"] for p in r["batches"][str(b)]) for r in res)
        med = statistics.median(sum(p["median_s"] for p in r["batches"][str(b)]) for r in res)
        flop = FLOP_PER_SAMPLE_3L * b
        products = {p["product"]: [] for p in res[0]["batches"][str(b)]}
        for r in res:
            for p in r["batches"][str(b)]:
                products[p["product"]].append(p["flop"] / p["best_s"] / 1e9)
        out[str(b)] = {"gflops_best": flop / best / 1e9, "gflops_median": flop / med / 1e9,
                       "limit_s_per_epoch": FLOP_PER_SAMPLE_3L * samples / (flop / best),
                       "products_gflops_best": {k: max(v) for k, v in products.items()}}
    conv = [r["convnet"] for r in res if "convnet" in r]
    if conv:
        flop = FLOP_PER_SAMPLE_CONVNET * CONVNET_BATCH
        best = min(sum(p["best_s"] for p in r) for r in conv)
        out["convnet"] = {"gflops_best": flop / best / 1e9,
                          "im2col_gemm_s_per_epoch": FLOP_PER_SAMPLE_CONVNET * samples / (flop / best),
                          "products_gflops_best": {p["product"]: max(q["flop"] / q["best_s"] / 1e9 for r in conv
                                                                     for q in r if q["product"] == p["product"])
                                                   for p in conv[0]}}
    return out

