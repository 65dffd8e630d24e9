"""Test accuracy of the workshop's models trained with nnscratch on real data.

    python benchmarks/accuracy.py                  # every run; the dense ones ~5-10 minutes on 2 cores
    python benchmarks/accuracy.py --only convnet   # the runs whose model is 'convnet' (merged into the JSON)
    python benchmarks/accuracy.py --quick          # one epoch each on 6,000 images (smoke test)

Trains the 1-layer model on MNIST, the 3-layer model on MNIST and the 3-layer model on Fashion-MNIST
with the workshop's settings (categorical cross-entropy, Adam with Keras's defaults, sigmoid, dropout
0.2), and Keras's "simple MNIST convnet" (zoo.simple_convnet: images (28, 28, 1), Adam, batch 128,
12 epochs, on all 60,000 training images: Keras's example holds out 10% for validation, we do not)
on MNIST and Fashion-MNIST.  Records test accuracy after every epoch (for the curve; the epoch count
is fixed in advance, not picked on the test set) and prints a table plus JSON
(benchmarks/results/accuracy.json; ``--only`` replaces just its runs there).
"""
import argparse
import json
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import nnscratch  # noqa: E402
from nnscratch import zoo  # noqa: E402
from nnscratch.workshop import load_data  # noqa: E402

# (name, model, dataset, epochs, batch size, target accuracy from the issue; None: reported only)
RUNS = [
    ("1-layer MNIST", "1layer", "mnist", 10, 32, 0.92),
    ("3-layer MNIST", "3layer", "mnist", 20, 128, 0.98),
    ("3-layer Fashion-MNIST", "3layer", "fashion_mnist", 30, 128, 0.88),
    ("simple convnet MNIST", "convnet", "mnist", 12, 128, 0.99),
    ("simple convnet Fashion-MNIST", "convnet", "fashion_mnist", 12, 128, None),
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
            "test_loss": loss, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs"}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one epoch per run, on 6,000 training images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=sorted({r[1] for r in RUNS}), help="only the runs of this model")
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
    report = {"benchmark": "accuracy", "nnscratch": nnscratch.__version__, "numpy": np.__version__,
              "python": platform.python_version(), "seed": args.seed, "quick": args.quick, "runs": results}
    print()
    print(f"{'run':<30} {'epochs':>6} {'batch':>6} {'seconds':>8} {'test acc':>9} {'target':>7}  met")
    for r in results:
        target = "-" if r["target"] is None else f"{r['target']:.2f}"
        met = "-" if r["target_met"] is None else ("yes" if r["target_met"] else "NO")
        print(f"{r['name']:<30} {r['epochs']:>6} {r['batch_size']:>6} {r['train_seconds']:>8.1f} "
              f"{r['test_accuracy']:>9.4f} {target:>7}  {met}")
    if not args.quick:
        if args.only and os.path.exists(args.out):          # keep the other runs' results
            with open(args.out) as f:
                old = json.load(f)
            mine = {r["name"] for r in results}
            report["runs"] = [r for r in old.get("runs", []) if r["name"] not in mine] + results
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
        print(f"\nJSON written to {args.out}")
    print(json.dumps({r["name"]: r["test_accuracy"] for r in results}))


if __name__ == "__main__":
    main()
