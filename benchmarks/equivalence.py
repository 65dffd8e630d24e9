"""Equivalence figures: nnscratch against Keras on the workshop's two models, float32 and float64.

    NNSCRATCH_DATA=/path/to/datasets python benchmarks/equivalence.py [--steps 100] [--fit-samples 2048]

For each model and dtype, from identical weights: the full comparison table of
``python -m keras_reference.compare`` (forward, loss, gradients, 100 Adam steps, one ``fit`` epoch,
predict/evaluate), then a summary table of the headline maxima.  Writes everything to
``benchmarks/results/equivalence.json``.  Exit status 1 if any tolerance is exceeded.
"""
import argparse
import json
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_reference import compare  # noqa: E402


def headline(report):
    """The maxima of max|diff| per stage (checked rows; pre-activations listed separately)."""
    def worst(pred):
        vals = [r.max_abs for r in report.rows if pred(r)]
        return max(vals) if vals else None
    return {
        "forward_output": [r.max_abs for r in report.rows if r.stage == "forward (inference)"][-1],
        "forward_all_layers": worst(lambda r: r.stage.startswith("forward")),
        "forward_pre_activation": worst(lambda r: r.stage.startswith("forward") and "pre-activation" in r.note),
        "loss": worst(lambda r: r.stage.startswith("loss")),
        "gradients": worst(lambda r: r.stage.startswith("gradients")),
        "adam_steps_weights": worst(lambda r: "Adam steps" in r.stage and "/" in r.name),
        "adam_steps_loss": worst(lambda r: "Adam steps" in r.stage and r.name == "loss at every step"),
        "epoch_weights": worst(lambda r: r.stage == "fit 1 epoch (dropout 0)" and "/" in r.name),
        "epoch_loss": worst(lambda r: r.stage == "fit 1 epoch (dropout 0)" and r.name == "history loss"),
        "epoch_accuracy": worst(lambda r: r.stage == "fit 1 epoch (dropout 0)" and r.name == "history accuracy"),
        "epoch_dropout_masks_weights": worst(lambda r: r.stage == "fit 1 epoch (dropout, masks)" and "/" in r.name),
        "ok": report.ok,
    }


COLUMNS = [("forward_output", "forward out"), ("forward_pre_activation", "pre-act z"), ("loss", "loss"),
           ("gradients", "gradients"), ("adam_steps_weights", "Adam W"), ("epoch_weights", "epoch W"),
           ("epoch_loss", "epoch loss"), ("epoch_dropout_masks_weights", "epoch W (masks)")]


def summary_table(results, steps):
    head = f"{'model':<8} {'dtype':<8}" + "".join(f" {label:>15}" for _, label in COLUMNS) + "  ok"
    lines = [f"max |nnscratch - keras| (Adam: {steps} steps; epoch: fit, shuffle=False, dropout 0; "
             "masks: dropout on, Keras's masks replayed)", head, "-" * len(head)]
    for key, h in results.items():
        model, dtype = key.split("/")
        cells = "".join(f" {h[k]:>15.1e}" if h[k] is not None else f" {'-':>15}" for k, _ in COLUMNS)
        lines.append(f"{model:<8} {dtype:<8}{cells}  {'ok' if h['ok'] else 'FAIL'}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--fit-samples", type=int, default=2048)
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                                 "equivalence.json"))
    args = p.parse_args(argv)
    import keras
    import tensorflow as tf
    results, reports = {}, {}
    for model in ("1layer", "3layer"):
        for dtype in ("float32", "float64"):
            report = compare.run(model, dtype, steps=args.steps, batch=args.batch, fit_samples=args.fit_samples)
            print(report.table(), end="\n\n", flush=True)
            results[f"{model}/{dtype}"] = headline(report)
            reports[f"{model}/{dtype}"] = report.to_dict()
    table = summary_table(results, args.steps)
    print(table)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"versions": {"tensorflow": tf.__version__, "keras": keras.__version__,
                                "python": platform.python_version(), "machine": platform.machine()},
                   "settings": vars(args) | {"optimizer": "adam", "fit_batch_size": 128},
                   "headline": results, "summary_table": table, "reports": reports}, f, indent=1)
    print(f"\nwritten: {args.out}")
    return 0 if all(h["ok"] for h in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
