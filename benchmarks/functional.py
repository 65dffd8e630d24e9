"""What a graph model costs: the workshop's 3-layer chain built with the functional API
(``keras.Input`` ... ``keras.Model(inputs, outputs)``) against the same chain as a ``Sequential``
(issue 29's target: within 5%).

    NNSCRATCH_DATA=<folder with MNIST> python benchmarks/functional.py         # full: 60,000 images
    python benchmarks/functional.py --samples 2048 --rounds 2 --epochs 2       # a quick check that it runs

Each measurement is a fresh process (``--worker``) that builds the workshop's 784-512-512-10 model
(sigmoid, dropout 0.2, softmax; ``zoo.mlp``'s layers, the same seeds, so the same initial weights on
both sides), runs one warm-up epoch, then times ``--epochs`` epochs of ``fit(batch_size=128)``, each
epoch on an :class:`~speedbench.clock.EpochClock` (wall, process CPU, steal, load).  The two sides
run interleaved (A B, B A, ...) for ``--rounds`` rounds; the summary gives each side's best and
median epoch and their ratios, and the JSON keeps every epoch and the machine.

The sides:

* ``sequential``: ``zoo.mlp(2, 512, 0.2)``, a ``Sequential``; its step is ``models.py``'s.
* ``functional``: the same layers (new objects, same seeds) called on ``keras.Input((784,))`` and made
  into ``keras.Model(inputs, outputs)``; its step is ``functional.py``'s (a dict of the tensors'
  arrays, the nodes in graph order, the same layer methods).

Both compile ``Adam()`` with ``sparse_categorical_crossentropy`` and ``accuracy``, so the difference is
what walking the graph adds per batch: the dict of values, one lookup per node and per gradient.
Both sides must also end with the same weights: the worker prints a checksum of them.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from speedbench.env import user_machine_env  # noqa: E402

SIDES = ("sequential", "functional")


def build(side, seed):
    """The workshop's deep network as a Sequential or as a graph of the same layers."""
    import nnscratch
    from nnscratch import zoo
    stack = zoo.mlp(2, 512, 0.2, seed=seed, compile=False)
    if side == "sequential":
        return stack
    layers = [type(layer)(**{k: v for k, v in layer.get_config().items() if k not in ("name", "input_shape",
                                                                                        "trainable")})
              for layer in stack.layers]
    for new, old in zip(layers, stack.layers):
        if hasattr(old, "seed"):
            new.seed = old.seed
    inputs = nnscratch.keras.Input((784,))
    x = inputs
    for layer in layers:
        x = layer(x)
    model = nnscratch.keras.Model(inputs, x, name="functional_mlp")
    model.set_weights(stack.get_weights())
    for new, old in zip(layers, stack.layers):
        if hasattr(old, "rng"):
            new.rng = old.rng                      # the same dropout masks as the Sequential draws
    return model


def worker(side, samples, epochs, seed):
    """One fresh process: build, warm up one epoch, time ``epochs`` epochs; print the records as JSON."""
    import numpy as np

    import nnscratch
    from nnscratch import optimizers
    from nnscratch.datasets import mnist
    from speedbench.clock import EpochClock
    from speedbench.env import blas_kernel

    (x, y), _ = mnist.load_data()
    x = x[:samples].reshape(len(x[:samples]), -1).astype("float32") / 255
    y = y[:samples]
    nnscratch.set_random_seed(seed)
    model = build(side, seed)
    model.compile(optimizer=optimizers.Adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    clock = EpochClock()
    timer = nnscratch.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: clock.begin(),
                                               on_epoch_end=lambda e, logs: clock.end(epoch=e))
    model.fit(x, y, batch_size=128, epochs=epochs + 1, verbose=0, shuffle=False, callbacks=[timer])
    checksum = float(sum(np.sum(w, dtype=np.float64) for w in model.get_weights()))
    print(json.dumps({"side": side, "warmup": clock.records[:1], "epochs": clock.records[1:],
                      "blas_kernel": blas_kernel(), "iterations": int(model.optimizer.iterations),
                      "weights_checksum": checksum}))


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
            print(f"round {r + 1} {side:>10}: " + " ".join(f"{s:.3f}s" for s in seconds), flush=True)
    checksums = {side: {p["weights_checksum"] for p in runs[side]} for side in SIDES}
    same = checksums["sequential"] == checksums["functional"]
    print(f"the same weights after training on both sides: {same} ({checksums})")
    summary = {"same_weights": same}
    for side in SIDES:
        epochs = [e for process in runs[side] for e in process["epochs"]]
        seconds = [e["seconds"] for e in epochs]
        summary[side] = {"best": min(seconds), "median": statistics.median(seconds), "epochs": len(seconds),
                         "load1_median": statistics.median(e["load1"] for e in epochs),
                         "cpu_per_wall_median": statistics.median(e["cpu_seconds"] / e["seconds"] for e in epochs)}
    for stat in ("best", "median"):
        ratio = summary["functional"][stat] / summary["sequential"][stat]
        summary[f"ratio_{stat}"] = ratio
        print(f"{stat:>6}: sequential {summary['sequential'][stat]:.3f}s, functional {summary['functional'][stat]:.3f}s, "
              f"functional / sequential = {ratio:.4f} ({(ratio - 1) * 100:+.1f}%; target within +5%)")
    print(f"load (1 min, median over epochs): sequential {summary['sequential']['load1_median']:.2f}, "
          f"functional {summary['functional']['load1_median']:.2f}; machine: {info['cores_usable']} cores, "
          f"{info['cpu_model']}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"settings": vars(args), "machine": info, "summary": summary, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    user_machine_env()
    main()
