"""Speed benchmark: nnscratch (numpy / numba backends) vs Keras (tensorflow-cpu) vs PyTorch CPU.

    cd /work/main && NNSCRATCH_DATA=/work/shared/datasets PYTHONPATH=. python3 benchmarks/speed.py

One run, everything side by side (this machine is shared and noisy: compare within a run only).
Each framework runs in its own subprocess (its own thread pools; peak RSS = that process's
ru_maxrss).  Seconds per epoch = median of 3 epochs after one warm-up epoch, 60,000 MNIST images.
Writes benchmarks/results/speed.json and speed.png and prints a table.
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "results")
BATCHES = (32, 128, 512)
EPOCHS = 3
FLOP_PER_EPOCH_3L = 192.6e9
MODELS = ("3-layer", "1-layer")


def load():
    from nnscratch.datasets import mnist
    (x, y), (xt, yt) = mnist.load_data()
    x = (x.reshape(len(x), -1) / 255).astype(np.float32)
    xt = (xt.reshape(len(xt), -1) / 255).astype(np.float32)
    eye = np.eye(10, dtype=np.float32)
    return x, eye[y], xt, eye[yt]


def median_time(f, reps=7):
    f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


# ------------------------------------------------------------------------------------ workers
def worker_nnscratch(backend_name, matmul="blas"):
    import nnscratch
    from nnscratch import backend
    from nnscratch.layers import Activation, Dense, Dropout
    t0 = time.perf_counter()
    backend.set_backend(backend_name, matmul=matmul)
    x, y, xt, yt = load()
    res = {"epoch": {}, "infer": None}
    limiter = None
    if matmul == "numba":                      # products on Numba's pool: OpenBLAS held to 1 thread
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(1, "blas")

    def build(kind):
        if kind == "3-layer":
            layers = [Dense(512, input_shape=(784,)), Activation("sigmoid"), Dropout(0.2),
                      Dense(512), Activation("sigmoid"), Dropout(0.2), Dense(10), Activation("softmax")]
        else:
            layers = [Dense(10, input_shape=(784,)), Activation("sigmoid"), Dropout(0.2)]
        m = nnscratch.Sequential(layers, seed=0)
        m.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        return m

    # first call: JIT compile (empty cache) or cache load
    m = build("3-layer")
    t = time.perf_counter()
    m.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)
    res["first_call_s"] = time.perf_counter() - t
    for kind in MODELS:
        for b in BATCHES:
            m = build(kind)
            h = m.fit(x, y, batch_size=b, epochs=1 + EPOCHS, verbose=0)
            res["epoch"][f"{kind}/{b}"] = statistics.median(h.epoch_seconds[1:])
            res.setdefault("acc", {})[f"{kind}/{b}"] = h.history["accuracy"][-1]
            if kind == "3-layer" and b == 128:
                res["infer"] = median_time(lambda: m.predict(xt, batch_size=10000, verbose=0))
                res["infer_call"] = median_time(lambda: m(xt))
                res["test_acc"] = m.evaluate(xt, yt, batch_size=10000, verbose=0)[1]
    if limiter is not None:
        limiter.restore_original_limits()
    res["total_s"] = time.perf_counter() - t0
    return res


def worker_keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    x, y, xt, yt = load()
    res = {"epoch": {}}

    def build(kind):
        L = tf.keras.layers
        if kind == "3-layer":
            layers = [tf.keras.Input((784,)), L.Dense(512), L.Activation("sigmoid"), L.Dropout(0.2),
                      L.Dense(512), L.Activation("sigmoid"), L.Dropout(0.2), L.Dense(10), L.Activation("softmax")]
        else:
            layers = [tf.keras.Input((784,)), L.Dense(10), L.Activation("sigmoid"), L.Dropout(0.2)]
        m = tf.keras.Sequential(layers)
        m.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        return m

    for kind in MODELS:
        for b in BATCHES:
            m = build(kind)
            m.fit(x, y, batch_size=b, epochs=1, verbose=0)
            ts = []
            for _ in range(EPOCHS):
                t = time.perf_counter()
                m.fit(x, y, batch_size=b, epochs=1, verbose=0)
                ts.append(time.perf_counter() - t)
            res["epoch"][f"{kind}/{b}"] = statistics.median(ts)
            if kind == "3-layer" and b == 128:
                res["infer"] = median_time(lambda: m.predict(xt, batch_size=10000, verbose=0))
                f = tf.function(lambda v: m(v, training=False))
                xtt = tf.constant(xt)
                res["infer_call"] = median_time(lambda: f(xtt).numpy())
    return res


def worker_torch():
    import torch
    torch.set_num_threads(os.cpu_count())
    x, y, xt, yt = load()
    X, Y, XT = torch.from_numpy(x), torch.from_numpy(y.argmax(1)), torch.from_numpy(xt)
    res = {"epoch": {}, "version": torch.__version__}
    nn = torch.nn
    for kind in MODELS:
        for b in BATCHES:
            torch.manual_seed(0)
            if kind == "3-layer":
                net = nn.Sequential(nn.Linear(784, 512), nn.Sigmoid(), nn.Dropout(0.2), nn.Linear(512, 512),
                                    nn.Sigmoid(), nn.Dropout(0.2), nn.Linear(512, 10))
                lossf = nn.CrossEntropyLoss()                       # softmax + cross-entropy, fused
            else:
                net = nn.Sequential(nn.Linear(784, 10), nn.Sigmoid(), nn.Dropout(0.2))
                nll = nn.NLLLoss()
                lossf = lambda p, t: nll(torch.log(torch.clamp(p / p.sum(1, keepdim=True).clamp_min(1e-12),  # noqa
                                                               1e-7, 1 - 1e-7)), t)
            opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)

            def epoch():
                net.train()
                perm = torch.randperm(len(X))
                for s in range(0, len(X), b):
                    idx = perm[s:s + b]
                    opt.zero_grad(set_to_none=True)
                    loss = lossf(net(X[idx]), Y[idx])
                    loss.backward()
                    opt.step()
            epoch()
            ts = []
            for _ in range(EPOCHS):
                t = time.perf_counter()
                epoch()
                ts.append(time.perf_counter() - t)
            res["epoch"][f"{kind}/{b}"] = statistics.median(ts)
            if kind == "3-layer" and b == 128:
                net.eval()

                def inf():
                    with torch.no_grad():
                        net(XT)
                res["infer"] = res["infer_call"] = median_time(inf)
    return res


def worker_matmul():
    """GFLOP/s of the training products: Numba kernel (operands packed as the engine packs them)
    vs NumPy/BLAS, float32, 2 threads each (one pool at a time)."""
    from nnscratch import kernels as K
    rng = np.random.default_rng(0)
    rows = []
    for n in BATCHES:
        for name, (m, k, nn_), kind in [
                (f"x@W1 fwd", (n, 784, 512), "nn"), (f"h@W2 fwd", (n, 512, 512), "nn"),
                (f"dz@W2.T dx", (n, 512, 512), "nt"), (f"dz@W3.T dx", (n, 10, 512), "nt"),
                (f"x.T@dz dW1", (784, n, 512), "tn"), (f"h.T@dz dW2", (512, n, 512), "tn")]:
            if kind == "nn":
                a, b = rng.random((m, k), np.float32), rng.random((k, nn_), np.float32)
            elif kind == "nt":
                a, b = rng.random((m, k), np.float32), rng.random((nn_, k), np.float32).T
            else:
                a, b = rng.random((k, m), np.float32).T, rng.random((k, nn_), np.float32)
            out = np.empty((m, nn_), np.float32)
            pa = np.empty((m, k), np.float32)
            pb = np.empty((nn_, k), np.float32)
            tb = median_time(lambda: np.matmul(a, b, out=out), 15)
            tn = median_time(lambda: K.matmul(a, b, out, pa, pb), 15)
            fl = 2 * m * k * nn_
            rows.append({"batch": n, "product": name, "shape": [m, k, nn_], "blas_gflops": fl / tb / 1e9,
                         "numba_gflops": fl / tn / 1e9})
    big = rng.random((1024, 1024), np.float32)
    o = np.empty_like(big)
    peak = 2 * 1024 ** 3 / median_time(lambda: np.matmul(big, big, out=o), 10) / 1e9
    from threadpoolctl import threadpool_info
    return {"rows": rows, "blas_peak_gflops": peak,
            "openblas": [{k: i.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
                         for i in threadpool_info()]}


def worker_compile():
    """JIT compile cost with an empty cache (NUMBA_CACHE_DIR is a fresh temp dir)."""
    import nnscratch
    from nnscratch.layers import Activation, Dense, Dropout
    nnscratch.backend.set_backend("numba")
    t = time.perf_counter()
    from nnscratch import kernels  # noqa: F401
    imp = time.perf_counter() - t
    x, y, _, _ = load()
    m = nnscratch.Sequential([Dense(512, input_shape=(784,)), Activation("sigmoid"), Dropout(0.2),
                              Dense(10), Activation("softmax")], seed=0)
    m.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    t = time.perf_counter()
    m.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)
    m.predict(x[:64], verbose=0)
    return {"import_s": imp, "first_fit_s": time.perf_counter() - t}


WORKERS = {"nnscratch-numpy": lambda: worker_nnscratch("numpy"),
           "nnscratch-numba": lambda: worker_nnscratch("numba"),
           "nnscratch-numba+numba-matmul": lambda: worker_nnscratch("numba", "numba"),
           "keras": worker_keras, "torch": worker_torch, "matmul": worker_matmul, "compile": worker_compile}


def run_worker(name, env=None):
    print(f"... {name}", flush=True)
    t = time.perf_counter()
    p = subprocess.run([sys.executable, __file__, "--worker", name], capture_output=True, text=True,
                       env=env or os.environ.copy())
    if p.returncode != 0:
        tail = (p.stderr or "").strip().splitlines()[-3:]
        print(f"    {name} failed: {' | '.join(tail)}")
        return None
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r["wall_s"] = time.perf_counter() - t
    return r


def main():
    import tempfile
    env_blas = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                                               "OMP_NUM_THREADS", "NUMBA_NUM_THREADS")}
    results = {"cpu_count": os.cpu_count(), "env": env_blas, "epochs_timed": EPOCHS,
               "command": "NNSCRATCH_DATA=/work/shared/datasets PYTHONPATH=. python3 benchmarks/speed.py"}
    with tempfile.TemporaryDirectory() as d:
        results["compile"] = run_worker("compile", {**os.environ, "NUMBA_CACHE_DIR": d})
    results["matmul"] = run_worker("matmul")
    fw = {}
    for name in ("nnscratch-numba", "nnscratch-numpy", "nnscratch-numba+numba-matmul", "keras", "torch"):
        if name == "torch":
            try:
                import importlib.util
                if importlib.util.find_spec("torch") is None:
                    raise ImportError
            except ImportError:
                print("PyTorch not installed (pip install torch==2.13.0 for the CPU wheel): skipped")
                continue
        fw[name] = run_worker(name)
    results["frameworks"] = fw
    report(results)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "speed.json"), "w") as f:
        json.dump(results, f, indent=1)
    plot(results)


def report(r):
    fw = {k: v for k, v in r["frameworks"].items() if v}
    keras = fw.get("keras")
    peak = r["matmul"]["blas_peak_gflops"] if r.get("matmul") else float("nan")
    limit = FLOP_PER_EPOCH_3L / (peak * 1e9)
    r["arithmetic_limit_s"] = limit
    print(f"\nOpenBLAS: {r['matmul']['openblas'] if r.get('matmul') else '?'}; env {r['env']}")
    print(f"Compile (empty cache): {r['compile']}")
    print(f"\n1. Seconds per epoch (median of {EPOCHS} after a warm-up), 60,000 images; ratio = / Keras")
    print(f"{'framework':32s}" + "".join(f"{m[:2]}/{b:<11d}" for m in MODELS for b in BATCHES))
    for name, v in fw.items():
        row = f"{name:32s}"
        for m in MODELS:
            for b in BATCHES:
                s = v["epoch"].get(f"{m}/{b}")
                ratio = f"({s / keras['epoch'][f'{m}/{b}']:.2f})" if keras and s else ""
                row += f"{s:5.2f}{ratio:9s}" if s else " " * 14
        print(row)
    print(f"arithmetic limit, 3-layer: {limit:.2f} s/epoch (192.6 GFLOP at the measured BLAS peak {peak:.0f} GFLOP/s)")
    print("\n2. Inference, 10,000 test images (ms): predict(batch_size=10000) / direct call")
    for name, v in fw.items():
        print(f"{name:32s} {1e3 * v['infer']:8.1f} {1e3 * v['infer_call']:8.1f}")
    print("\n3. Matmul GFLOP/s, float32, training shapes (Numba kernel incl. packing vs NumPy/BLAS)")
    for row in r["matmul"]["rows"]:
        print(f"  batch {row['batch']:4d} {row['product']:12s} {str(row['shape']):18s} numba {row['numba_gflops']:6.0f}  "
              f"blas {row['blas_gflops']:6.0f}")
    print("\n4. Peak RSS of the training process (MB)")
    for name, v in fw.items():
        print(f"{name:32s} {v['rss_mb']:8.0f}")


def plot(r):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fw = {k: v for k, v in r["frameworks"].items() if v}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, m in zip(axes, MODELS):
        w = 0.8 / len(fw)
        for i, (name, v) in enumerate(fw.items()):
            vals = [v["epoch"][f"{m}/{b}"] for b in BATCHES]
            ax.bar(np.arange(3) + i * w, vals, w, label=name)
        if m == "3-layer":
            ax.axhline(r["arithmetic_limit_s"], color="k", ls="--", lw=1, label="arithmetic limit")
            ax.axhline(2.7, color="r", ls=":", lw=1, label="PyTorch H200, batch 32")
        ax.set_xticks(np.arange(3) + 0.4 - w / 2)
        ax.set_xticklabels([f"batch {b}" for b in BATCHES])
        ax.set_ylabel("seconds per epoch (60,000 images)")
        ax.set_title(f"{m} model, 2 CPU cores")
        ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "speed.png"), dpi=110)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        out = WORKERS[sys.argv[2]]()
        out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out))
    else:
        main()
