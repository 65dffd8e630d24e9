"""Speed benchmark that can't flatter us: nnscratch (numba / numpy backends) vs Keras (default and
``jit_compile=True``) vs PyTorch CPU (and PyTorch on a CUDA GPU, side ``torch-cuda``, where there is
one), on the workshop's models and full MNIST.

    cd <repo> && NNSCRATCH_DATA=/work/shared/datasets PYTHONPATH=$PWD python benchmarks/speed.py
    ... python benchmarks/speed.py --quick                  # ~3 min on 16 cores, labelled "quick"
    ... python benchmarks/speed.py --compare HEAD~5 HEAD     # nnscratch before/after, same protocol
    ... python benchmarks/speed.py --compare main /work/wt-x # a revision against a directory
    python benchmarks/speed.py --readme benchmarks/results/speed-2core.json   # the README's table

Protocol (docs/speed.md has the long version):

* every side runs in its own fresh process (this script with ``--worker``, one JSON line back);
  rounds are interleaved, A B C A B C ..., one process per side per round and per workload group;
* one warm-up epoch per workload (JIT, tracing, caches), then ``epochs`` timed epochs, each with
  ``time.perf_counter`` (wall), ``time.process_time`` (CPU of the whole process, all threads) and
  ``os.getloadavg()[0]`` at its end.  Keras: a ``Callback`` (``on_epoch_begin``/``on_epoch_end``)
  inside one ``fit``; nnscratch: the same clock around each one-epoch ``fit`` call (its setup is
  counted, Keras's is not: the asymmetry is against us); PyTorch: the same clock around a plain loop
  (on a GPU the clock stops after ``torch.cuda.synchronize()``);
* per side and workload: best and median over all timed epochs of all rounds;
* the float32 GEMM rate on the 3-layer model's eight training products, measured in the same run,
  gives the arithmetic limit: 3,209,216 FLOP per sample per epoch / rate.

Writes ``benchmarks/results/speed-<cores>core[-quick].json`` and ``.png`` (``--compare``:
``speed-compare-<cores>core.json``) and prints every number in a table.
"""
import argparse
import datetime
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
BATCHES = (32, 128, 512)
PREDICT_IMAGES = 10_000
LAYERS_3 = ((784, 512), (512, 512), (512, 10))      # (in, out) of the 3-layer model's Dense layers
FLOP_PER_SAMPLE_3L = 3_209_216                       # forward + weight gradients + input gradients
SIDES = ("nnscratch-numba", "nnscratch-numpy", "keras", "keras-xla", "torch", "torch-cuda")
REFERENCE = "keras"                                  # ratios are against Keras's defaults
CONVNET_BATCH = 128                                  # Keras's "simple MNIST convnet" example's batch size
# (side, group) pairs that are not run, and why: they would add many minutes and say nothing new
NOT_RUN = {("keras-xla", "convnet"): "Keras with jit_compile=True took 3.8x as long as Keras's default "
                                     "on the convnet in a 2,000-image trial (~100 s per epoch on 2 cores)"}
GROUPS = {"3layer": [f"3layer/b{b}" for b in BATCHES] + ["predict"],
          "1layer": [f"1layer/b{b}" for b in BATCHES],
          "convnet": [f"convnet/b{CONVNET_BATCH}"]}
# ~0.86 TFLOP per 60,000-image epoch: per image, conv2d 26*26*32*9*2 (forward) + the same (weight
# gradient), conv2d_1 11*11*64*288*2 x 3 (forward, weight and input gradients), dense 1600*10*2 x 3
FLOP_PER_SAMPLE_CONVNET = 2 * 26 * 26 * 32 * 9 * 2 + 3 * 11 * 11 * 64 * 288 * 2 + 3 * 1600 * 10 * 2
ENV_KEYS = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
            "NUMBA_THREADING_LAYER", "NUMBA_CACHE_DIR", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
            "NNSCRATCH_BACKEND", "NNSCRATCH_MATMUL", "NNSCRATCH_DATA")
FULL = {"rounds": 3, "epochs": 3, "samples": 60_000, "predict_reps": 7, "gemm_reps": 20}
QUICK = {"rounds": 2, "epochs": 2, "samples": 12_000, "predict_reps": 5, "gemm_reps": 10}


# ------------------------------------------------------------------------------------ clocks
def steal_seconds():
    """CPU time the hypervisor gave to other guests while this machine wanted it ("steal"), summed
    over its CPUs since boot (Linux ``/proc/stat``); None elsewhere."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class EpochClock:
    """Wall time, process CPU time, CPU time stolen by the hypervisor and the 1-minute load average
    of each timed interval.

    ``begin()`` ... ``end()`` appends ``{"seconds", "cpu_seconds", "steal_seconds", "load1"}``; CPU
    time counts every thread of the process, so ``cpu_seconds / seconds`` is the number of cores it
    kept busy; ``steal_seconds / seconds`` is how many cores' worth of time other virtual machines
    took from this one meanwhile (the noise of a shared host, which load does not show).
    """

    def __init__(self):
        self.records = []

    def begin(self):
        self._steal = steal_seconds()
        self._cpu = time.process_time()
        self._t = time.perf_counter()

    def end(self, **extra):
        seconds = time.perf_counter() - self._t
        cpu = time.process_time() - self._cpu
        steal = steal_seconds()
        stolen = steal - self._steal if steal is not None and self._steal is not None else None
        self.records.append({"seconds": seconds, "cpu_seconds": cpu, "steal_seconds": stolen,
                             "load1": os.getloadavg()[0], **extra})
        return self.records[-1]


def timed_epochs(clock, warmup=1):
    """Split a clock's records into the warm-up and the timed epochs."""
    return {"warmup": clock.records[:warmup], "epochs": clock.records[warmup:]}


def time_calls(f, reps):
    """One warm-up call, then ``reps`` calls each on an :class:`EpochClock` (for predict)."""
    f()
    clock = EpochClock()
    for _ in range(reps):
        clock.begin()
        f()
        clock.end()
    return clock.records


# ------------------------------------------------------------------------------------ data
def load_mnist(samples):
    """The first ``samples`` training images and all 10,000 test images, float32 in [0, 1], one-hot."""
    from nnscratch.datasets import mnist
    (x, y), (xt, yt) = mnist.load_data()
    x = (x[:samples].reshape(-1, 784) / 255).astype(np.float32)
    xt = (xt.reshape(-1, 784) / 255).astype(np.float32)
    eye = np.eye(10, dtype=np.float32)
    return x, eye[y[:samples]], xt, yt


def as_images(x):
    """``(N, 784) -> (N, 28, 28, 1)``: the convnet's input, channels last (Keras's layout)."""
    return x.reshape(-1, 28, 28, 1)


def parse_workload(name):
    """``'3layer/b128'`` -> ``('3layer', 128)``."""
    model, b = name.split("/")
    return model, int(b[1:])


# ------------------------------------------------------------------------------------ workers
def worker_nnscratch(backend_name, workloads, cfg):
    """nnscratch from whatever ``import nnscratch`` finds first (PYTHONPATH): the same code path for
    the current tree and for ``--compare``'s revisions, which may predate ``zoo`` or ``set_backend``."""
    import nnscratch
    if backend_name != "default":
        set_backend = getattr(nnscratch, "set_backend", None) or nnscratch.backend.set_backend
        set_backend(backend_name)
    x, y, xt, yt = load_mnist(cfg["samples"])
    out = {"nnscratch_file": os.path.abspath(nnscratch.__file__),
           "nnscratch_version": getattr(nnscratch, "__version__", "?"), "workloads": {}}

    def build(model):
        try:
            from nnscratch import zoo
            if model == "convnet":
                return zoo.simple_convnet(seed=0)
            return zoo.mlp(seed=0) if model == "3layer" else zoo.one_layer(seed=0)
        except ImportError:                                 # revisions before nnscratch.zoo
            from nnscratch.layers import Activation, Dense, Dropout
            if model == "3layer":
                layers = [Dense(512, input_shape=(784,)), Activation("sigmoid"), Dropout(0.2), Dense(512),
                          Activation("sigmoid"), Dropout(0.2), Dense(10), Activation("softmax")]
            else:
                layers = [Dense(10, input_shape=(784,)), Activation("sigmoid"), Dropout(0.2)]
            m = nnscratch.Sequential(layers, seed=0)
            m.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
            return m

    last = None
    for name in workloads:
        if name == "predict":
            m = last or build("3layer")
            out["workloads"][name] = {
                "predict": time_calls(lambda: m.predict(xt, verbose=0), cfg["predict_reps"]),
                "direct": time_calls(lambda: m(xt), cfg["predict_reps"]), "direct_call": "model(x)"}
            continue
        model, b = parse_workload(name)
        m = build(model)
        xm, xtm = (as_images(x), as_images(xt)) if model == "convnet" else (x, xt)
        clock = EpochClock()
        for _ in range(1 + cfg["epochs"]):
            clock.begin()
            h = m.fit(xm, y, batch_size=b, epochs=1, verbose=0)
            clock.end(history_seconds=(getattr(h, "epoch_seconds", None) or [None])[0])
        acc = float(np.mean(np.argmax(m.predict(xtm, batch_size=1000, verbose=0), axis=1) == yt))
        out["workloads"][name] = {**timed_epochs(clock), "test_accuracy": acc}
        last = m if model == "3layer" else last
    backend = getattr(nnscratch, "get_backend", lambda: "?")()
    out["backend"] = backend
    if backend == "numba":
        import numba
        out["numba_threads"] = {"NUMBA_NUM_THREADS": numba.config.NUMBA_NUM_THREADS,
                                "get_num_threads_at_end": numba.get_num_threads()}
        try:
            out["numba_threading_layer"] = numba.threading_layer()
        except ValueError:                                  # no parallel kernel has run
            out["numba_threading_layer"] = None
    return out


def worker_keras(workloads, cfg, jit_compile):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf
    x, y, xt, yt = load_mnist(cfg["samples"])
    out = {"tensorflow": tf.__version__, "keras": keras.__version__, "workloads": {},
           "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
           "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads()}

    class Clock(keras.callbacks.Callback):
        """The :class:`EpochClock` at Keras's epoch boundaries (inside one ``fit``)."""

        def __init__(self):
            super().__init__()
            self.clock = EpochClock()

        def on_epoch_begin(self, epoch, logs=None):
            self.clock.begin()

        def on_epoch_end(self, epoch, logs=None):
            self.clock.end()

    def build(model):
        keras.utils.set_random_seed(0)
        L = keras.layers
        if model == "3layer":
            layers = [keras.Input((784,)), L.Dense(512), L.Activation("sigmoid"), L.Dropout(0.2), L.Dense(512),
                      L.Activation("sigmoid"), L.Dropout(0.2), L.Dense(10), L.Activation("softmax")]
        elif model == "convnet":                    # keras.io/examples/vision/mnist_convnet, verbatim
            layers = [keras.Input((28, 28, 1)), L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
                      L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)), L.Flatten(),
                      L.Dropout(0.5), L.Dense(10, activation="softmax")]
        else:
            layers = [keras.Input((784,)), L.Dense(10), L.Activation("sigmoid"), L.Dropout(0.2)]
        m = keras.Sequential(layers)
        kw = {"jit_compile": True} if jit_compile else {}
        m.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"], **kw)
        return m

    last = None
    for name in workloads:
        if name == "predict":
            m = last or build("3layer")
            f = tf.function(lambda v: m(v, training=False))
            xtt = tf.constant(xt)
            direct = {"model(x, training=False)": time_calls(lambda: m(xt, training=False).numpy(),
                                                             cfg["predict_reps"]),
                      "tf.function": time_calls(lambda: f(xtt).numpy(), cfg["predict_reps"])}
            fastest = min(direct, key=lambda k: min(r["seconds"] for r in direct[k]))
            out["workloads"][name] = {
                "predict": time_calls(lambda: m.predict(xt, verbose=0), cfg["predict_reps"]),
                "direct": direct[fastest], "direct_call": fastest, "direct_all": direct}
            continue
        model, b = parse_workload(name)
        m = build(model)
        xm, xtm = (as_images(x), as_images(xt)) if model == "convnet" else (x, xt)
        cb = Clock()
        m.fit(xm, y, batch_size=b, epochs=1 + cfg["epochs"], verbose=0, callbacks=[cb])
        acc = float(np.mean(np.argmax(m.predict(xtm, batch_size=1000, verbose=0), axis=1) == yt))
        out["workloads"][name] = {**timed_epochs(cb.clock), "test_accuracy": acc}
        out["jit_compile"] = bool(m.jit_compile)        # what "auto" resolved to
        last = m if model == "3layer" else last
    return out


def worker_torch(workloads, cfg, device="cpu"):
    """PyTorch on the CPU (all cores) or, for the side ``torch-cuda``, on the first CUDA GPU: the data,
    the model and the shuffling on the GPU, and every timed epoch or call ends with
    ``torch.cuda.synchronize()``, so the clock stops when the GPU has finished, not when the last
    kernel was queued."""
    import torch
    torch.set_num_threads(os.cpu_count())
    x, y, xt, yt = load_mnist(cfg["samples"])
    X, Y, XT = (torch.from_numpy(a).to(device) for a in (x, y.argmax(1), xt))
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    out = {"torch": torch.__version__, "torch_threads": torch.get_num_threads(), "device": device,
           "workloads": {}}
    if device == "cuda":
        out["gpu"] = torch.cuda.get_device_name(0)
    nn = torch.nn

    def build(model):
        torch.manual_seed(0)
        if model == "3layer":                       # softmax + cross-entropy fused in CrossEntropyLoss
            net = nn.Sequential(nn.Linear(784, 512), nn.Sigmoid(), nn.Dropout(0.2), nn.Linear(512, 512),
                                nn.Sigmoid(), nn.Dropout(0.2), nn.Linear(512, 10))
            return net.to(device), nn.CrossEntropyLoss()
        if model == "convnet":                      # the same layers, channels first (PyTorch's layout)
            net = nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                                nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5),
                                nn.Linear(1600, 10))
            return net.to(device), nn.CrossEntropyLoss()
        net = nn.Sequential(nn.Linear(784, 10), nn.Sigmoid(), nn.Dropout(0.2))
        nll = nn.NLLLoss()

        def loss(p, t):                             # Keras's categorical cross-entropy on unnormalised p
            return nll(torch.log(torch.clamp(p / p.sum(1, keepdim=True).clamp_min(1e-7), 1e-7, 1 - 1e-7)), t)
        return net.to(device), loss

    last = None
    for name in workloads:
        if name == "predict":
            net = last or build("3layer")[0]
            net.eval()

            def predict32():                        # what predict() does elsewhere: batches of 32
                with torch.no_grad():
                    p = torch.cat([net(XT[s:s + 32]) for s in range(0, len(XT), 32)])
                sync()
                return p

            def direct():
                with torch.no_grad():
                    p = net(XT)
                sync()
                return p
            out["workloads"][name] = {"predict": time_calls(predict32, cfg["predict_reps"]),
                                      "direct": time_calls(direct, cfg["predict_reps"]),
                                      "direct_call": "net(x) under no_grad"}
            continue
        model, b = parse_workload(name)
        net, lossf = build(model)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
        clock = EpochClock()
        for _ in range(1 + cfg["epochs"]):
            clock.begin()
            net.train()
            perm = torch.randperm(len(X), device=device)
            for s in range(0, len(X), b):
                idx = perm[s:s + b]
                opt.zero_grad(set_to_none=True)
                loss = lossf(net(X[idx]), Y[idx])
                loss.backward()
                opt.step()
            sync()
            clock.end()
        net.eval()
        with torch.no_grad():
            logits = torch.cat([net(XT[s:s + 1000]) for s in range(0, len(XT), 1000)])
            acc = float(np.mean(logits.argmax(1).cpu().numpy() == yt))
        out["workloads"][name] = {**timed_epochs(clock), "test_accuracy": acc}
        last = net if model == "3layer" else last
    return out


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


def run_worker_mode(args):
    cfg = json.loads(args.cfg)
    workloads = args.workloads.split(",") if args.workloads else []
    side = args.worker
    if side == "gemm":
        out = worker_gemm(cfg)
    elif side.startswith("nnscratch"):
        out = worker_nnscratch(side.split("-", 1)[1] if "-" in side else "default", workloads, cfg)
    elif side in ("keras", "keras-xla"):
        out = worker_keras(workloads, cfg, jit_compile=side == "keras-xla")
    elif side in ("torch", "torch-cuda"):
        out = worker_torch(workloads, cfg, device="cuda" if side == "torch-cuda" else "cpu")
    else:
        raise ValueError(f"--worker: unknown side {side!r}; choose gemm, nnscratch[-numba|-numpy], "
                         "keras, keras-xla, torch or torch-cuda")
    from threadpoolctl import threadpool_info
    out["threadpools"] = [{k: i.get(k) for k in ("user_api", "internal_api", "version", "num_threads",
                                                 "architecture", "threading_layer", "filepath")}
                          for i in threadpool_info()]
    import resource
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["numpy"] = np.__version__
    print(json.dumps(out))


# ------------------------------------------------------------------------------------ driver
def run_worker(side, workloads, cfg, pythonpath, worker_side=None):
    """This script in ``--worker`` mode in a fresh process; returns its JSON (or None if it failed)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in pythonpath if p)}
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", worker_side or side,
           "--workloads", ",".join(workloads), "--cfg", json.dumps(cfg)]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if p.returncode != 0 or not p.stdout.strip():
        tail = " | ".join((p.stderr or "").strip().splitlines()[-4:])
        print(f"    {side} [{','.join(workloads)}] FAILED (exit {p.returncode}): {tail}", flush=True)
        return {"error": tail, "exit": p.returncode}
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r["process_wall_s"] = wall
    print(f"    {side:16s} {','.join(workloads) or '-':42s} {wall:6.1f} s  load {os.getloadavg()[0]:.2f}",
          flush=True)
    return r


def machine_info():
    """Cores, CPU model, BLAS (library, kernel, threads), Numba threads, versions, thread env vars."""
    from threadpoolctl import threadpool_info
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cores": os.cpu_count(), "cores_usable": len(os.sched_getaffinity(0)), "cpu_model": model,
            "platform": platform.platform(), "python": platform.python_version(), "numpy": np.__version__,
            "blas": [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "filepath")}
                     for i in threadpool_info() if i.get("user_api") == "blas"],
            "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("OPENBLAS_") or k in ENV_KEYS}}
    for dist in ("numba", "tensorflow", "keras", "torch", "threadpoolctl"):
        info[dist] = _version(dist)
    try:
        import numba
        info["numba_threads"] = numba.config.NUMBA_NUM_THREADS
    except ImportError:
        pass
    info["loadavg_at_start"] = os.getloadavg()
    return info


def _version(dist):
    """An installed distribution's version without importing it (TensorFlow would start its thread
    pools in this process); None if it is not installed here (the PyTorch side may use --torch-path)."""
    from importlib.metadata import PackageNotFoundError, version
    for name in ([dist + "-cpu", dist] if dist == "tensorflow" else [dist]):
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return None


def git(*args, cwd=HERE):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def interleave(sides, groups, cfg, rounds, gemm=True):
    """``rounds`` rounds; in each: the GEMM process, then for each workload group every side in turn,
    each in a fresh process (A B C A B C ...).  ``sides`` maps a side name to (worker side, PYTHONPATH)."""
    runs = []
    for r in range(rounds):
        print(f"round {r + 1}/{rounds}", flush=True)
        if gemm:
            runs.append({"round": r, "side": "gemm", "group": None,
                         "result": run_worker("gemm", [], cfg, [os.getcwd()])})
        for g, workloads in groups.items():
            for side, (worker_side, path) in sides.items():
                if (worker_side, g) in NOT_RUN:
                    if r == 0:
                        print(f"    {side:16s} {g}: not run ({NOT_RUN[worker_side, g]})", flush=True)
                    continue
                runs.append({"round": r, "side": side, "group": g,
                             "result": run_worker(side, workloads, cfg, path, worker_side)})
    return runs


def summarize(runs, sides, groups):
    """Per side and workload: all timed epochs of all rounds, best and median seconds, median CPU/wall
    and load; predict: best and median ms of ``predict`` and of the direct call."""
    out = {}
    for side in sides:
        out[side] = {}
        for g, workloads in groups.items():
            results = [x["result"] for x in runs if x["side"] == side and x["group"] == g]
            ok = [res for res in results if "error" not in res]
            for w in workloads:
                recs = [res["workloads"][w] for res in ok if w in res.get("workloads", {})]
                if not recs:
                    out[side][w] = None
                    continue
                if w == "predict":
                    s = {}
                    for kind in ("predict", "direct"):
                        ts = [e["seconds"] for rec in recs for e in rec[kind]]
                        s[kind] = {"best_ms": 1e3 * min(ts), "median_ms": 1e3 * statistics.median(ts), "n": len(ts)}
                    s["direct_call"] = recs[0]["direct_call"]
                    s["load1_median"] = statistics.median(e["load1"] for rec in recs for e in rec["predict"])
                    out[side][w] = s
                    continue
                ep = [e for rec in recs for e in rec["epochs"]]
                ts = [e["seconds"] for e in ep]
                out[side][w] = {"best_s": min(ts), "median_s": statistics.median(ts), "n": len(ts),
                                "cpu_per_wall_median": statistics.median(e["cpu_seconds"] / e["seconds"] for e in ep),
                                "load1_median": statistics.median(e["load1"] for e in ep),
                                "steal_per_wall_max": _steal_max(ep),
                                "load1_max": max(e["load1"] for e in ep),
                                "test_accuracy": [rec["test_accuracy"] for rec in recs],
                                "failed_rounds": len(results) - len(ok)}
    return out


def _steal_max(epochs):
    """The largest share of an epoch the hypervisor stole (cores' worth), or None if not recorded."""
    steals = [e["steal_seconds"] / e["seconds"] for e in epochs if e.get("steal_seconds") is not None]
    return max(steals) if steals else None


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


def _fmt_share(x):
    return "-" if x is None else f"{x:.2f}"


def fmt_ratio(a, b):
    return f"{a / b:5.2f}x" if a is not None and b else "   -  "


def print_main_table(summary, gemm, cfg, sides, groups=GROUPS):
    ref = summary.get(REFERENCE) or {}
    print(f"\nSeconds per epoch, {cfg['samples']:,} images, {cfg['epochs']} timed epochs x {cfg['rounds']} rounds "
          f"after a warm-up each; ratio = this side / Keras default (best/best, median/median); "
          f"cpu = process CPU time / wall; load = 1-min load average; steal = most CPU time the host "
          f"took from this machine in one epoch / wall")
    print(f"{'workload':12s} {'side':16s} {'best':>7s} {'median':>7s} {'best/K':>7s} {'med/K':>7s} "
          f"{'cpu':>5s} {'load':>5s} {'steal':>5s} {'n':>3s}  test acc")
    for w in [w for g in groups.values() for w in g if w != "predict"]:
        for side in sides:
            s = summary[side].get(w)
            if s is None:
                why = NOT_RUN.get((side, parse_workload(w)[0]))
                print(f"{w:12s} {side:16s}   " + (f"(not run: {why})" if why else "(no result)"))
                continue
            k = ref.get(w) or {}
            print(f"{w:12s} {side:16s} {s['best_s']:7.3f} {s['median_s']:7.3f} "
                  f"{fmt_ratio(s['best_s'], k.get('best_s')):>7s} {fmt_ratio(s['median_s'], k.get('median_s')):>7s} "
                  f"{s['cpu_per_wall_median']:5.2f} {s['load1_median']:5.2f} "
                  f"{_fmt_share(s.get('steal_per_wall_max')):>5s} {s['n']:3d}  "
                  + " ".join(f"{a:.4f}" for a in s["test_accuracy"]))
        model, b = parse_workload(w)
        if model == "3layer" and gemm:
            gm = gemm[str(b)]
            print(f"{w:12s} {'arithmetic limit':16s} {gm['limit_s_per_epoch']:7.3f}          "
                  f"(float32 GEMM on this batch's shapes: best {gm['gflops_best']:.0f}, "
                  f"median {gm['gflops_median']:.0f} GFLOP/s)")
        if model == "convnet" and gemm.get("convnet"):
            gm = gemm["convnet"]
            print(f"{w:12s} {'im2col GEMMs':16s} {gm['im2col_gemm_s_per_epoch']:7.3f}          "
                  f"(nnscratch's products alone, float32, best {gm['gflops_best']:.0f} GFLOP/s; Keras "
                  f"convolves directly, so not a floor for it)")
    if "predict" not in [w for g in groups.values() for w in g]:
        return
    print(f"\nPredict, 3-layer model, {PREDICT_IMAGES:,} test images, ms: predict() with its default batch "
          f"size, and the fastest direct call on all of them; ratio = / Keras default's predict()")
    print(f"{'side':16s} {'pred best':>9s} {'median':>8s} {'/K':>7s} {'direct best':>11s} {'median':>8s} "
          f"{'/K pred':>7s}  direct call")
    kp = (ref.get("predict") or {}).get("predict", {})
    for side in sides:
        s = summary[side].get("predict")
        if s is None:
            print(f"{side:16s}   (no result)")
            continue
        p, d = s["predict"], s["direct"]
        print(f"{side:16s} {p['best_ms']:9.1f} {p['median_ms']:8.1f} {fmt_ratio(p['best_ms'], kp.get('best_ms')):>7s} "
              f"{d['best_ms']:11.1f} {d['median_ms']:8.1f} {fmt_ratio(d['best_ms'], kp.get('best_ms')):>7s}  "
              f"{s['direct_call']}")


SIDE_NAMES = {"nnscratch-numba": "nnscratch", "nnscratch-numpy": "nnscratch (numpy backend)", "keras": "Keras",
              "keras-xla": "Keras `jit_compile=True`", "torch": "PyTorch CPU", "torch-cuda": "PyTorch GPU"}


def readme_table(result, path):
    """The README's speed table, made from one results file (``path``, as the README names it): every
    side and every workload in it, best / median with their ratios to Keras's default (best to best,
    median to median), the arithmetic limit, ``predict()`` and the direct call on all images, and the machine.
    ``python benchmarks/speed.py --readme FILE`` prints it; ``tests/test_docs.py`` checks that the
    README holds exactly this text for the file it names."""
    summary, gemm, cfg, info = result["summary"], result["gemm"], result["config"], result["machine"]
    sides = [s for s in SIDES if any(summary.get(s, {}).values())]
    ref = summary.get(REFERENCE) or {}

    def cell(s, k, best, median, digits):
        text = f"{s[best]:.{digits}f} / {s[median]:.{digits}f}"
        if k and s is not k:
            text += f" ({s[best] / k[best]:.2f}x / {s[median] / k[median]:.2f}x)"
        return text

    blas = "; ".join(f"{b['internal_api']} {b['version']} {b['architecture']} on {b['num_threads']} threads"
                     for b in info["blas"])
    lines = [f"{info['cores']} cores ({info['cpu_model']}), {blas}, Python {info['python']}, numpy "
             f"{info['numpy']}, numba {info['numba']}, tensorflow {info['tensorflow']}; nnscratch "
             f"{result['nnscratch_git']}, {result['date'][:10]}; {cfg['rounds']} rounds x {cfg['epochs']} "
             f"timed epochs, each side in its own fresh process, rounds interleaved (`{path}`).",
             "",
             f"Seconds per epoch on {cfg['samples']:,} images (`predict`: ms on {PREDICT_IMAGES:,}), "
             "best / median; in brackets the ratio to Keras's default, best to best / median to median.",
             "",
             "| workload | " + " | ".join(SIDE_NAMES[s] for s in sides) + " | GEMM limit |",
             "|---" * (len(sides) + 2) + "|"]
    for w in [w for g in cfg["groups"] for w in GROUPS[g] if w != "predict"]:
        model, b = parse_workload(w)
        row = [f"{model[0]}-layer, batch {b}" if model != "convnet" else f"convnet, batch {b}"]
        row += [cell(summary[s][w], ref.get(w), "best_s", "median_s", 2) if summary[s].get(w) else "-"
                for s in sides]
        row.append(f"{gemm[str(b)]['limit_s_per_epoch']:.2f}" if model == "3layer" else "")
        lines.append("| " + " | ".join(row) + " |")
    if "3layer" in cfg["groups"]:
        for kind, label in (("predict", "`predict()`, ms"), ("direct", "direct call, ms")):
            k = (ref.get("predict") or {}).get(kind)
            row = [label] + [cell(summary[s]["predict"][kind], k, "best_ms", "median_ms", 1)
                             + (f" `{summary[s]['predict']['direct_call']}`" if kind == "direct" else "")
                             if summary[s].get("predict") else "-" for s in sides]
            lines.append("| " + " | ".join(row + [""]) + " |")
    return "\n".join(lines) + "\n"


def plot(summary, gemm, cfg, info, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sides = [s for s in summary if any(v for v in summary[s].values())]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    w = 0.8 / max(1, len(sides))
    for ax, model in zip(axes, ("3layer", "1layer")):
        if not any(summary[side].get(f"{model}/b{b}") for side in sides for b in BATCHES):
            ax.set_axis_off()                        # group not run (--groups)
            continue
        for i, side in enumerate(sides):
            cells = [summary[side].get(f"{model}/b{b}") for b in BATCHES]
            med = [c["median_s"] if c else np.nan for c in cells]
            best = [c["best_s"] if c else np.nan for c in cells]
            xs = np.arange(len(BATCHES)) + i * w
            ax.bar(xs, med, w, label=side)
            ax.plot(xs, best, "k_", ms=8)
        if model == "3layer" and gemm:
            for j, b in enumerate(BATCHES):
                ax.hlines(gemm[str(b)]["limit_s_per_epoch"], j - w / 2, j + 0.8 - w / 2, colors="k",
                          linestyles="--", lw=1, label="arithmetic limit" if j == 0 else None)
        ax.set_xticks(np.arange(len(BATCHES)) + 0.4 - w / 2)
        ax.set_xticklabels([f"batch {b}" for b in BATCHES])
        ax.set_ylabel(f"s per epoch ({cfg['samples']:,} images)")
        ax.set_title(f"{model}: bar = median, tick = best")
        ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    ax = axes[2]
    for i, side in enumerate(sides):
        s = summary[side].get("predict")
        if s:
            ax.bar([i - 0.2, ], [s["predict"]["median_ms"]], 0.4, color="C0", label="predict()" if i == 0 else None)
            ax.bar([i + 0.2], [s["direct"]["median_ms"]], 0.4, color="C1", label="direct call" if i == 0 else None)
    ax.set_xticks(range(len(sides)))
    ax.set_xticklabels(sides, rotation=20, fontsize=7)
    ax.set_ylabel(f"ms for {PREDICT_IMAGES:,} images (median)")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    fig.suptitle(f"{info['cores']} cores, {info['cpu_model']}{' (QUICK)' if cfg.get('quick') else ''}, "
                 f"load {info['loadavg_at_start'][0]:.1f} at start", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main_benchmark(args, cfg):
    info = machine_info()
    cwd = os.getcwd()
    sides = {s: (s, [cwd]) for s in SIDES if not s.startswith("torch")}
    torch_path = [cwd] + ([os.path.abspath(args.torch_path)] if args.torch_path else [])
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.is_available())"],
                           capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": os.pathsep.join(torch_path)})
    if probe.returncode == 0:
        sides["torch"] = ("torch", torch_path)
        if probe.stdout.strip().endswith("True"):
            sides["torch-cuda"] = ("torch-cuda", torch_path)
        elif args.sides and "torch-cuda" in args.sides.split(","):
            print("PyTorch on a GPU: torch.cuda.is_available() is False here, side torch-cuda skipped")
    else:
        print("PyTorch: `import torch` failed, sides torch and torch-cuda skipped (pip install torch "
              "--index-url https://download.pytorch.org/whl/cpu, or --torch-path DIR)")
    if args.sides:
        sides = {s: v for s, v in sides.items() if s in args.sides.split(",")}
    print(f"{info['cores']} cores, {info['cpu_model']}, load {info['loadavg_at_start']}, sides {list(sides)}, "
          f"{'QUICK ' if cfg['quick'] else ''}config {cfg}", flush=True)
    t0 = time.perf_counter()
    groups = {g: GROUPS[g] for g in cfg["groups"]}
    runs = interleave(sides, groups, cfg, cfg["rounds"])
    summary = summarize(runs, sides, groups)
    gemm = gemm_summary(runs, cfg["samples"])
    result = {"kind": ("quick" if cfg["quick"] else "full") + (" (custom settings)" if cfg["custom"] else ""),
              "config": cfg, "date": _now(), "machine": info,
              "nnscratch_git": _git_describe(), "command": " ".join(sys.argv),
              "loadavg_at_end": os.getloadavg(), "total_s": time.perf_counter() - t0,
              "flop_per_sample_3layer": FLOP_PER_SAMPLE_3L, "reference": REFERENCE,
              "not_run": {f"{a}/{g}": why for (a, g), why in NOT_RUN.items() if a in sides and g in groups},
              "summary": summary, "gemm": gemm, "runs": runs}
    print_main_table(summary, gemm, cfg, sides, groups)
    print(f"\nmachine: {info['cores']} cores ({info['cpu_model']}); BLAS "
          + "; ".join(f"{b['internal_api']} {b['version']} {b['architecture']} x{b['num_threads']}" for b in info["blas"])
          + f"; numba threads {info.get('numba_threads')}; env {info['env']}; load at start "
          f"{info['loadavg_at_start']}, at end {result['loadavg_at_end']}; {result['total_s']:.0f} s in all")
    subset = "" if len(groups) == len(GROUPS) else "-" + "-".join(groups)
    name = f"speed-{info['cores']}core{subset}{'-quick' if cfg['quick'] else ''}{'-custom' if cfg['custom'] else ''}"
    out = args.out or os.path.join(RESULTS, name + ".json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    png = os.path.splitext(out)[0] + ".png" if "3layer" in groups else None
    if png and importlib.util.find_spec("matplotlib") is None:   # e.g. the 16-core device machine
        print("matplotlib is not installed: no plot")
        png = None
    if png:
        plot(summary, gemm, cfg, info, png)
    print(f"wrote {out}" + (f" and {png}" if png else ""))


# ------------------------------------------------------------------------------------ --compare
def checkout(rev, tmp):
    """A directory holding nnscratch at ``rev``: ``rev`` itself if it is a directory, otherwise a
    temporary detached ``git worktree`` under ``tmp``.  Returns (path, description, created)."""
    if os.path.isdir(rev):
        path = os.path.abspath(rev)
        if not os.path.isdir(os.path.join(path, "nnscratch")):
            raise ValueError(f"--compare: {rev!r} is a directory without an nnscratch/ package; give a git "
                             "revision (HEAD~1, main, a hash) or a checkout of the repository")
        try:
            desc = git("rev-parse", "--short", "HEAD", cwd=path)
            dirty = git("status", "--porcelain", "--untracked-files=no", cwd=path)
            desc += " + uncommitted changes" if dirty else ""
        except (subprocess.CalledProcessError, FileNotFoundError):
            desc = "not a git checkout"
        return path, f"{path} ({desc})", False
    try:
        sha = git("rev-parse", "--verify", "--short", rev + "^{commit}")
    except subprocess.CalledProcessError:
        raise ValueError(f"--compare: {rev!r} is neither a directory nor a git revision of "
                         f"{git('rev-parse', '--show-toplevel')}") from None
    path = os.path.join(tmp, f"{sha}-{len(os.listdir(tmp))}")
    git("worktree", "add", "--detach", path, sha)
    return path, f"{rev} ({sha})", True


def main_compare(args, cfg):
    info = machine_info()
    tmp = tempfile.mkdtemp(prefix="nnscratch-compare-")
    created = []
    try:
        trees = {}
        for label, rev in zip(("before", "after"), args.compare):
            path, desc, made = checkout(rev, tmp)
            if made:
                created.append(path)
            trees[label] = (path, desc)
        side = f"nnscratch-{args.backend}" if args.backend != "default" else "nnscratch"
        sides = {label: (side, [path]) for label, (path, _) in trees.items()}
        # the 3-layer model unless --groups names others (the 1-layer model says little about a change)
        groups = {g: GROUPS[g] for g in (cfg["groups"] if args.groups else ["3layer"])}
        print(f"compare on {info['cores']} cores, load {info['loadavg_at_start']}: before = {trees['before'][1]}, "
              f"after = {trees['after'][1]}; backend {args.backend}; config {cfg}", flush=True)
        t0 = time.perf_counter()
        runs = interleave(sides, groups, cfg, cfg["rounds"], gemm=False)
        for x in runs:                          # the worker must have imported the tree it was given
            got = os.path.realpath(x["result"].get("nnscratch_file", ""))
            want = os.path.realpath(trees[x["side"]][0])
            if "error" not in x["result"] and not got.startswith(want + os.sep):
                raise RuntimeError(f"--compare: the {x['side']} worker imported {got}, not the tree {want}: "
                                   "an installed nnscratch shadows PYTHONPATH")
        summary = summarize(runs, sides, groups)
    finally:
        for path in created:
            subprocess.run(["git", "worktree", "remove", "--force", path], cwd=HERE, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    backends = {x["side"]: x["result"].get("backend") for x in runs if "error" not in x["result"]}
    print(f"\nnnscratch before vs after, {cfg['samples']:,} images, {cfg['epochs']} timed epochs x "
          f"{cfg['rounds']} rounds, interleaved; s per epoch (predict: ms); * = after slower by more than 5%")
    print(f"  before = {trees['before'][1]}, backend {backends.get('before')}\n"
          f"  after  = {trees['after'][1]}, backend {backends.get('after')}")
    print(f"{'workload':16s} {'before best':>11s} {'median':>8s} {'after best':>11s} {'median':>8s} "
          f"{'after/before best':>18s} {'median':>7s} {'load':>5s}")
    rows = {}
    for w in [w for g in groups.values() for w in g]:
        for kind in (["predict", "direct"] if w == "predict" else [None]):
            a, b = summary["before"].get(w), summary["after"].get(w)
            if a is None or b is None:
                print(f"{w:16s} (no result)")
                continue
            if kind:
                a, b, load = a[kind], b[kind], b["load1_median"]
                a_best, a_med, b_best, b_med = a["best_ms"], a["median_ms"], b["best_ms"], b["median_ms"]
                label = f"predict {'()' if kind == 'predict' else 'direct'}"
            else:
                a_best, a_med, b_best, b_med, load = a["best_s"], a["median_s"], b["best_s"], b["median_s"], \
                    b["load1_median"]
                label = w
            rb, rm = b_best / a_best, b_med / a_med
            rows[label] = {"before_best": a_best, "before_median": a_med, "after_best": b_best,
                           "after_median": b_med, "ratio_best": rb, "ratio_median": rm}
            print(f"{label:16s} {a_best:11.3f} {a_med:8.3f} {b_best:11.3f} {b_med:8.3f} "
                  f"{rb:17.3f}{'*' if rb > 1.05 else ' '} {rm:6.3f}{'*' if rm > 1.05 else ' '} {load:5.2f}")
    result = {"kind": "compare" + (" quick" if cfg["quick"] else "") + (" (custom settings)" if cfg["custom"] else ""),
              "config": cfg, "date": _now(),
              "machine": info, "before": trees["before"][1], "after": trees["after"][1], "backends": backends,
              "command": " ".join(sys.argv), "loadavg_at_end": os.getloadavg(),
              "total_s": time.perf_counter() - t0, "table": rows, "summary": summary, "runs": runs}
    subset = "" if list(groups) == ["3layer"] else "-" + "-".join(groups)
    out = args.out or os.path.join(RESULTS, f"speed-compare-{info['cores']}core{subset}.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"load at start {info['loadavg_at_start']}, at end {result['loadavg_at_end']}; wrote {out}")


def _now():
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _git_describe():
    try:
        return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if git(
            "status", "--porcelain", "--untracked-files=no") else "")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help=f"fewer rounds and images, labelled quick: {QUICK}")
    p.add_argument("--rounds", type=int, help="interleaved rounds (full: 3)")
    p.add_argument("--epochs", type=int, help="timed epochs per workload after one warm-up (full: 3)")
    p.add_argument("--samples", type=int, help="training images, the first N of MNIST (full: 60,000)")
    p.add_argument("--predict-reps", type=int, help="timed predict calls per side and round (full: 7)")
    p.add_argument("--gemm-reps", type=int, help="timed calls per GEMM shape and round (full: 20)")
    p.add_argument("--sides", help=f"comma-separated subset of {','.join(SIDES)}")
    p.add_argument("--groups", help=f"comma-separated subset of the workload groups {','.join(GROUPS)} "
                                    "(default: all; a subset is written to speed-<cores>core-<groups>.json)")
    p.add_argument("--torch-path", help="a directory to put on PYTHONPATH for the PyTorch side only")
    p.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"),
                   help="nnscratch at two git revisions or directories, interleaved")
    p.add_argument("--backend", default="default", choices=("default", "numba", "numpy"),
                   help="--compare: the nnscratch backend (default: each revision's default)")
    p.add_argument("--out", help="results file (default benchmarks/results/speed-<cores>core[-quick].json)")
    p.add_argument("--readme", metavar="FILE", help="print the README's table for a results file, run nothing")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--workloads", help=argparse.SUPPRESS)
    p.add_argument("--cfg", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def config(args):
    """The run's settings: full or quick, then any explicit override; ``custom`` if overridden."""
    cfg = dict(QUICK if args.quick else FULL)
    for k in cfg:
        v = getattr(args, k)
        if v is not None:
            if v < 1 or (k == "samples" and v > 60_000):
                raise ValueError(f"--{k.replace('_', '-')} must be between 1 and "
                                 f"{60_000 if k == 'samples' else 'any'}, got {v}")
            cfg[k] = v
    cfg["quick"] = args.quick
    cfg["custom"] = cfg != {**(QUICK if args.quick else FULL), "quick": args.quick}
    groups = args.groups.split(",") if args.groups else list(GROUPS)
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise ValueError(f"--groups: unknown {unknown}; choose from {list(GROUPS)}")
    cfg["groups"] = [g for g in GROUPS if g in groups]
    return cfg


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return run_worker_mode(args)
    if args.readme:
        with open(args.readme) as f:
            return print(readme_table(json.load(f), args.readme), end="")
    cfg = config(args)
    if args.compare:
        return main_compare(args, cfg)
    return main_benchmark(args, cfg)


if __name__ == "__main__":
    main()
