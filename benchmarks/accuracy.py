"""Test accuracy of the workshop's models, and of two well-known tutorials, trained with nnscratch.

    python benchmarks/accuracy.py                  # every run (~30 minutes on 2 cores)
    python benchmarks/accuracy.py --only convnet   # only the runs of one model (merged into the JSON)
    python benchmarks/accuracy.py --only tutorials # only the two tutorials (merged into the JSON)
    python benchmarks/accuracy.py --quick          # one epoch each on 6,000 images (smoke test)

Trains the 1-layer model on MNIST, the 3-layer model on MNIST and on Fashion-MNIST with the
workshop's settings (categorical cross-entropy, Adam with Keras's defaults, sigmoid, dropout 0.2),
and Keras's "simple MNIST convnet" (zoo.simple_convnet: images (28, 28, 1), Adam, batch 128, 12
epochs, on all 60,000 training images: Keras's example holds out 10% for validation, we do not) on
MNIST and Fashion-MNIST.  Records test accuracy after every epoch (for the curve; the epoch count is
fixed in advance, not picked on the test set).

Then the two tutorials students arrive with, run as written (``tutorials/``, full data, their own
epoch counts) next to the accuracies their authors publish: TensorFlow's beginner quickstart (5
epochs, ~97.7%) and Keras's examples/mnist_mlp.py (20 epochs, 98.40%).

Prints a table plus JSON (benchmarks/results/accuracy.json) and plots the curves
(benchmarks/results/accuracy.png).
"""
import argparse
import contextlib
import io
import json
import os
import platform
import sys
import time

from speedbench.env import blas_kernel, unset_record, user_machine_env  # benchmarks/speedbench/env.py

if __name__ == "__main__":
    user_machine_env()      # OpenBLAS as on a user's machine: re-exec without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import nnscratch  # noqa: E402
from nnscratch import zoo  # noqa: E402
from nnscratch.workshop import load_data  # noqa: E402
from tutorials.runner import run_tutorial  # noqa: E402

# (name, model, dataset, epochs, batch size, target accuracy from the issues; None: reported only)
RUNS = [
    ("1-layer MNIST", "1layer", "mnist", 10, 32, 0.92),
    ("3-layer MNIST", "3layer", "mnist", 20, 128, 0.98),
    ("3-layer Fashion-MNIST", "3layer", "fashion_mnist", 30, 128, 0.88),
    ("simple convnet MNIST", "convnet", "mnist", 12, 128, 0.99),
    ("simple convnet Fashion-MNIST", "convnet", "fashion_mnist", 12, 128, None),
]

# (name, file, epochs, accuracy published by the tutorial's authors)
TUTORIALS = [
    ("TF quickstart (beginner)", "quickstart_beginner.py", 5, 0.977),
    ("Keras mnist_mlp.py", "mnist_mlp.py", 20, 0.984),
]


def run(name, model_name, dataset, epochs, batch_size, seed, quick=False):
    d = load_data(dataset)            # flattened to 784, scaled to [0, 1], one-hot labels
    X, Y, Xt, Yt = d["X"], d["Y"], d["Xt"], d["Yt"]
    if model_name == "convnet":       # images with their channel axis, as Keras's example feeds them
        X, Xt = X.reshape(-1, 28, 28, 1), Xt.reshape(-1, 28, 28, 1)
    if quick:
        X, Y = X[:6000], Y[:6000]
    nnscratch.set_random_seed(seed)
    model = zoo.workshop_model(model_name)
    curve, seconds = [], 0.0
    for epoch in range(epochs):
        h = model.fit(X, Y, batch_size=batch_size, epochs=1, verbose=0)
        seconds += h.epoch_seconds[0]
        loss, acc = model.evaluate(Xt, Yt, batch_size=1024, verbose=0)
        curve.append(acc)
        print(f"  {name}: epoch {epoch + 1}/{epochs}  train loss {h.history['loss'][0]:.4f}  "
              f"test acc {acc:.4f}  ({h.epoch_seconds[0]:.1f} s)", flush=True)
    return {"name": name, "model": model_name, "dataset": dataset, "epochs": epochs,
            "batch_size": batch_size, "train_seconds": round(seconds, 2),
            "test_accuracy": curve[-1], "best_epoch_accuracy": max(curve), "test_accuracy_per_epoch": curve,
            "test_loss": loss, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "loadavg_after": os.getloadavg()}


def run_tutorial_benchmark(name, filename, epochs, published, quick, seed):
    """The tutorial's own code on the full data (its printed output discarded); test accuracy from
    its trained model: quickstart ``model.evaluate(x_test, y_test)``, mnist_mlp its ``score``."""
    nnscratch.set_random_seed(seed)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        ns = run_tutorial(filename, epochs=1 if quick else None)
        loss, acc = ns["score"] if "score" in ns else ns["model"].evaluate(ns["x_test"], ns["y_test"], verbose=0)
    seconds = time.perf_counter() - start
    epochs = 1 if quick else epochs
    print(f"  {name}: {epochs} epochs, test acc {acc:.4f} (published {published:.3f}), {seconds:.0f} s", flush=True)
    return {"name": name, "file": f"tutorials/{filename}", "epochs": epochs, "seconds": round(seconds, 2),
            "test_accuracy": float(acc), "test_loss": float(loss), "published_accuracy": published,
            "difference": round(float(acc) - published, 4)}


def plot(runs, path):
    """Test accuracy after every epoch, one line per run."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for r in runs:
        curve = r["test_accuracy_per_epoch"]
        ax.plot(range(1, len(curve) + 1), curve, "-o", ms=3, label=f"{r['name']} ({curve[-1]:.2%})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.set_title("nnscratch on full MNIST / Fashion-MNIST (benchmarks/accuracy.py)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one epoch per run, on 6,000 training images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=sorted({r[1] for r in RUNS} | {"tutorials"}),
                        help="only the runs of this model, or only the tutorials")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "accuracy.json"))
    args = parser.parse_args()
    results = []
    for name, model_name, dataset, epochs, batch_size, target in RUNS:
        if args.only and model_name != args.only:
            continue
        r = run(name, model_name, dataset, 1 if args.quick else epochs, batch_size, args.seed, args.quick)
        r["target"] = target
        r["target_met"] = None if target is None else bool(r["test_accuracy"] >= target)
        results.append(r)
    tutorials = ([run_tutorial_benchmark(*t, args.quick, args.seed) for t in TUTORIALS]
                 if args.only in (None, "tutorials") else [])
    report = {"benchmark": "accuracy", "blas_kernel": blas_kernel(), "openblas_unset": unset_record(),
              "nnscratch": nnscratch.__version__, "numpy": np.__version__,
              "python": platform.python_version(), "seed": args.seed, "quick": args.quick, "runs": results,
              "tutorials": tutorials}
    print()
    if results:
        print(f"{'run':<30} {'epochs':>6} {'batch':>6} {'seconds':>8} {'test acc':>9} {'target':>7}  met")
    for r in results:
        target = "-" if r["target"] is None else f"{r['target']:.2f}"
        met = "-" if r["target_met"] is None else ("yes" if r["target_met"] else "NO")
        print(f"{r['name']:<30} {r['epochs']:>6} {r['batch_size']:>6} {r['train_seconds']:>8.1f} "
              f"{r['test_accuracy']:>9.4f} {target:>7}  {met}")
    if tutorials:
        print(f"\n{'tutorial':<30} {'epochs':>6} {'seconds':>8} {'test acc':>9} {'published':>9}")
    for t in tutorials:
        print(f"{t['name']:<30} {t['epochs']:>6} {t['seconds']:>8.1f} {t['test_accuracy']:>9.4f} "
              f"{t['published_accuracy']:>9.3f}")
    if not args.quick:
        if args.only and os.path.exists(args.out):          # keep the other runs' results
            with open(args.out) as f:
                old = json.load(f)
            mine = {r["name"] for r in results}
            report["runs"] = [r for r in old.get("runs", []) if r["name"] not in mine] + results
            if not tutorials:
                report["tutorials"] = old.get("tutorials", [])
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
        plot(report["runs"], os.path.splitext(args.out)[0] + ".png")
        print(f"\nJSON written to {args.out}")
    print(json.dumps({r["name"]: r["test_accuracy"] for r in results + tutorials}))


if __name__ == "__main__":
    main()
