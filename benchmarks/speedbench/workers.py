"""The per-framework workers: each runs in a fresh process (``speed.py --worker SIDE``), imports only its
own framework, loads MNIST, runs its workloads on the :mod:`.clock` and prints one JSON line.

Sides: nnscratch (whatever ``import nnscratch`` finds first on ``PYTHONPATH``, either backend), Keras
(default or ``jit_compile=True``), PyTorch (CPU or the first CUDA GPU); the GEMM process is in
:mod:`.gemm`.  Every worker reports its thread pools (threadpoolctl: library, version, kernel
architecture, threads), its peak memory and NumPy's version beside the timings.
"""
import json
import os

import numpy as np

from .clock import EpochClock, time_calls, timed_epochs
from .gemm import worker_gemm
from .settings import parse_workload


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

