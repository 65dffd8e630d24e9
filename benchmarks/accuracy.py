"""Test accuracy of the workshop's models trained with nnscratch on real data.

    python benchmarks/accuracy.py            # all three runs, ~5-10 minutes on 2 cores
    python benchmarks/accuracy.py --quick    # one epoch each (smoke test)

Trains the 1-layer model on MNIST, the 3-layer model on MNIST and the 3-layer model on Fashion-MNIST
with the workshop's settings (categorical cross-entropy, Adam with Keras's defaults, sigmoid, dropout
0.2), records test accuracy after every epoch (for the curve; the epoch count is fixed in advance,
not picked on the test set) and prints a table plus JSON (benchmarks/results/accuracy.json).
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import nnscratch  # noqa: E402
from nnscratch import zoo  # noqa: E402
from nnscratch.workshop import load_data  # noqa: E402

# (name, model, dataset, epochs, batch size, target accuracy from the issue)
RUNS = [
    ("1-layer MNIST", "1layer", "mnist", 10, 32, 0.92),
    ("3-layer MNIST", "3layer", "mnist", 20, 128, 0.98),
    ("3-layer Fashion-MNIST", "3layer", "fashion_mnist", 30, 128, 0.88),
]


def run(name, model_name, dataset, epochs, batch_size, seed):
    d = load_data(dataset)            # flattened to 784, scaled to [0, 1], one-hot labels
    X, Y, Xt, Yt = d["X"], d["Y"], d["Xt"], d["Yt"]
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
            "test_loss": loss}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one epoch per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "accuracy.json"))
    args = parser.parse_args()
    results = []
    for name, model_name, dataset, epochs, batch_size, target in RUNS:
        r = run(name, model_name, dataset, 1 if args.quick else epochs, batch_size, args.seed)
        r["target"] = target
        r["target_met"] = bool(r["test_accuracy"] >= target)
        results.append(r)
    report = {"benchmark": "accuracy", "nnscratch": nnscratch.__version__, "numpy": np.__version__,
              "python": platform.python_version(), "seed": args.seed, "quick": args.quick, "runs": results}
    print()
    print(f"{'run':<24} {'epochs':>6} {'batch':>6} {'seconds':>8} {'test acc':>9} {'target':>7}  met")
    for r in results:
        print(f"{r['name']:<24} {r['epochs']:>6} {r['batch_size']:>6} {r['train_seconds']:>8.1f} "
              f"{r['test_accuracy']:>9.4f} {r['target']:>7.2f}  {'yes' if r['target_met'] else 'NO'}")
    if not args.quick:
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
        print(f"\nJSON written to {args.out}")
    print(json.dumps({r["name"]: r["test_accuracy"] for r in results}))


if __name__ == "__main__":
    main()
