"""What the callbacks of a typical run cost: an epoch at batch 128 with EarlyStopping + ModelCheckpoint
+ a learning-rate schedule, against the same epoch without them (issue 28's target: within 3%).

    NNSCRATCH_DATA=<folder with MNIST> python benchmarks/callbacks.py            # full: 60,000 images
    python benchmarks/callbacks.py --samples 2048 --rounds 2 --epochs 2          # a quick check that it runs

Each measurement is a fresh process (``--worker``) that builds the workshop's 784-512-512-10 model
(``zoo.mlp``), runs one warm-up epoch, then times ``--epochs`` epochs of ``fit(batch_size=128)``, each
epoch on an :class:`~speedbench.clock.EpochClock` (wall, process CPU, steal, load).  The two sides run
interleaved (A B A B ...) for ``--rounds`` rounds; the summary gives each side's best and median
epoch and their ratios, and the JSON keeps every epoch and the machine.

The sides:

* ``plain``:     ``fit(x, y, batch_size=128, validation_split=0.1)``, the optimizer ``Adam(1e-3)``
* ``callbacks``: the same, with ``Adam(ExponentialDecay(1e-3, 1000, 0.9))``,
  ``EarlyStopping(monitor='val_loss', patience=5, restore_best_weights=True)`` and
  ``ModelCheckpoint('<tmp>/best.npz', monitor='val_loss', save_best_only=True)``

Both validate every epoch (EarlyStopping and the checkpoint watch ``val_loss``), so the difference is
what the callbacks and the schedule add: a learning rate computed each step, the epoch-end logs,
``get_weights()`` on improvement, and a model file written on improvement.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from speedbench.env import user_machine_env  # noqa: E402

SIDES = ("plain", "callbacks")


def worker(side, samples, epochs, seed):
    """One fresh process: build, warm up one epoch, time ``epochs`` epochs; print the records as JSON."""
    import numpy as np

    import nnscratch
    from nnscratch import monitors, optimizers, schedules, zoo
    from nnscratch.datasets import mnist
    from speedbench.clock import EpochClock
    from speedbench.env import blas_kernel

    (x, y), _ = mnist.load_data()
    x = x[:samples].reshape(len(x[:samples]), -1).astype("float32") / 255
    y = y[:samples]
    nnscratch.set_random_seed(seed)
    model = zoo.mlp(2, 512, 0.2, compile=False)
    lr = 1e-3 if side == "plain" else schedules.ExponentialDecay(1e-3, decay_steps=1000, decay_rate=0.9)
    model.compile(optimizer=optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    clock = EpochClock()
    with tempfile.TemporaryDirectory() as folder:
        extra = [] if side == "plain" else [
            monitors.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True),
            monitors.ModelCheckpoint(os.path.join(folder, "best.npz"), monitor="val_loss", save_best_only=True)]
        timer = nnscratch.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: clock.begin(),
                                                   on_epoch_end=lambda e, logs: clock.end(epoch=e))
        # the timer first: each epoch's record covers the epoch and every other callback's epoch end
        model.fit(x, y, batch_size=128, epochs=epochs + 1, verbose=0, validation_split=0.1,
                  callbacks=[timer] + extra)
    print(json.dumps({"side": side, "warmup": clock.records[:1], "epochs": clock.records[1:],
                      "blas_kernel": blas_kernel(), "iterations": int(model.optimizer.iterations)}))


def run(side, args):
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", side, "--samples", str(args.samples),
                          "--epochs", str(args.epochs), "--seed", str(args.seed)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per process (after one warm-up)")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (one process per side each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.samples, args.epochs, args.seed)
    from speedbench.machine import machine_info
    info = machine_info()
    runs = {side: [] for side in SIDES}
    for r in range(args.rounds):
        for side in (SIDES if r % 2 == 0 else SIDES[::-1]):       # A B, B A, ...: neither side always first
            runs[side].append(run(side, args))
            seconds = [e["seconds"] for e in runs[side][-1]["epochs"]]
            print(f"round {r + 1} {side:>9}: " + " ".join(f"{s:.3f}s" for s in seconds), flush=True)
    summary = {}
    for side in SIDES:
        epochs = [e for process in runs[side] for e in process["epochs"]]
        seconds = [e["seconds"] for e in epochs]
        summary[side] = {"best": min(seconds), "median": statistics.median(seconds), "epochs": len(seconds),
                         "load1_median": statistics.median(e["load1"] for e in epochs),
                         "cpu_per_wall_median": statistics.median(e["cpu_seconds"] / e["seconds"] for e in epochs)}
    for stat in ("best", "median"):
        ratio = summary["callbacks"][stat] / summary["plain"][stat]
        summary[f"ratio_{stat}"] = ratio
        print(f"{stat:>6}: plain {summary['plain'][stat]:.3f}s, callbacks {summary['callbacks'][stat]:.3f}s, "
              f"callbacks / plain = {ratio:.4f} ({(ratio - 1) * 100:+.1f}%; target within +3%)")
    print(f"load (1 min, median over epochs): plain {summary['plain']['load1_median']:.2f}, "
          f"callbacks {summary['callbacks']['load1_median']:.2f}; machine: {info['cores_usable']} cores, {info['cpu_model']}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"settings": vars(args), "machine": info, "summary": summary, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    user_machine_env()
    main()
