"""What the tape costs: a GradientTape training loop against ``fit`` on the workshop's 3-layer model,
and the per-operation overhead of recording.

    python benchmarks/tape.py                           # batch 128, 4 rounds, 1 timed epoch each
    python benchmarks/tape.py --rows 4096 --rounds 1    # a quick check that it runs
    python benchmarks/tape.py --out benchmarks/results/tape-2core.json

1. **Loop against fit** (the issue's target: the tape loop within 1.3x of ``fit`` at batch 128).  The
   workshop's 784-512-512-10 model (``zoo.mlp``: sigmoid, Dropout 0.2, softmax, Adam), on 60,000
   MNIST-shaped rows (real MNIST where ``NNSCRATCH_DATA`` has it, else uniform random pixels: the
   same arithmetic).  Each side runs in its own fresh process (``--worker fit`` / ``--worker tape``),
   the rounds interleaved (fit, tape, fit, tape, ...); a worker trains one warm-up epoch, then
   ``--epochs`` timed ones, each on ``speedbench.clock.EpochClock`` (wall and process CPU time, steal,
   load).  The tape side is the loop the tutorials write::

       for x, y in tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(60000).batch(128):
           with tf.GradientTape() as tape:
               loss = loss_fn(y, model(x, training=True))
           grads = tape.gradient(loss, model.trainable_variables)
           optimizer.apply_gradients(zip(grads, model.trainable_variables))

   Best and median epoch per side, and their ratios, are printed and written.
2. **Per operation**: for each of a few operations, the plain NumPy expression, the operation with no
   tape open, and the operation recorded on an open tape (then the backward walk over its record),
   in microseconds per call (the median of repeated blocks), on small arrays (where overhead shows)
   and on a layer-sized product.

Run on a quiet machine; every figure comes with the load it ran under.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import timeit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))

from speedbench.clock import EpochClock  # noqa: E402


def _data(rows, seed=0):
    import numpy as np
    try:
        from nnscratch.datasets import mnist
        (x, y), _ = mnist.load_data()
        x = (x.reshape(len(x), 784) / 255.0).astype(np.float32)[:rows]
        source = "MNIST"
    except (ValueError, OSError):
        rng = np.random.default_rng(seed)
        x, y = rng.random((rows, 784), dtype=np.float32), rng.integers(0, 10, rows)
        source = "uniform random pixels"
    x, y = x[:rows], y[:rows]
    return x, np.eye(10, dtype=np.float32)[y], source


def worker(side, rows, batch, epochs, backend_name):
    """One side in this (fresh) process: a warm-up epoch, then ``epochs`` timed ones; JSON on stdout."""
    import nnscratch as tf
    from nnscratch import zoo
    tf.set_backend(backend_name)
    tf.set_random_seed(0)
    x, y, source = _data(rows)
    model = zoo.mlp(seed=0, compile=side == "fit")
    clock = EpochClock()
    if side == "fit":
        def epoch():
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    else:
        loss_fn = tf.keras.losses.CategoricalCrossentropy()
        optimizer = tf.keras.optimizers.Adam()
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x)).batch(batch)

        def epoch():
            for xb, yb in dataset:
                with tf.GradientTape() as tape:
                    loss = loss_fn(yb, model(xb, training=True))
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply_gradients(zip(grads, model.trainable_variables))
    epoch()                                                  # warm-up: Numba compiles, buffers settle
    for _ in range(epochs):
        clock.begin()
        epoch()
        clock.end()
    json.dump({"side": side, "data": source, "epochs": clock.records}, sys.stdout)


def loop_against_fit(rows, batch, epochs, rounds, backend_name):
    results = {"fit": [], "tape": []}
    for r in range(rounds):
        for side in ("fit", "tape"):
            out = subprocess.run([sys.executable, __file__, "--worker", side, "--rows", str(rows), "--batch",
                                  str(batch), "--epochs", str(epochs), "--backend", backend_name],
                                 capture_output=True, text=True, check=True)
            record = json.loads(out.stdout)
            results[side] += record["epochs"]
            print(f"  round {r + 1} {side:<4}: " + ", ".join(f"{e['seconds']:.2f} s (load {e['load1']:.1f})"
                                                         for e in record["epochs"]), flush=True)
    summary = {}
    for side, epochs_ in results.items():
        seconds = [e["seconds"] for e in epochs_]
        summary[side] = {"best_s": min(seconds), "median_s": statistics.median(seconds), "epochs": epochs_}
    summary["ratio_best"] = summary["tape"]["best_s"] / summary["fit"]["best_s"]
    summary["ratio_median"] = summary["tape"]["median_s"] / summary["fit"]["median_s"]
    summary["data"] = record["data"]
    return summary


def per_operation(repeat=7, number=2000):
    """Microseconds per call: NumPy alone, the operation with no tape, and recorded on a tape."""
    import numpy as np
    import nnscratch as tf
    rng = np.random.default_rng(0)
    small, row = rng.random((2, 2)), rng.random((2,))
    x, w = rng.random((128, 784), dtype=np.float32), rng.random((784, 512), dtype=np.float32)
    cases = {
        "add (2, 2) + (2,)": (lambda: small + row, lambda a, b: tf.add(a, b), (small, row)),
        "multiply (2, 2)": (lambda: small * small, lambda a, b: tf.multiply(a, b), (small, small)),
        "reduce_sum (2, 2)": (lambda: small.sum(), lambda a: tf.reduce_sum(a), (small,)),
        "sigmoid (2, 2)": (lambda: 1 / (1 + np.exp(-small)), lambda a: tf.sigmoid(a), (small,)),
        "matmul (128, 784) @ (784, 512)": (lambda: x @ w, lambda a, b: tf.matmul(a, b), (x, w)),
    }
    rows = {}
    for name, (plain, op, arrays) in cases.items():
        variables = [tf.Variable(a) for a in arrays]
        n = number if "matmul" not in name else 20

        def recorded():
            with tf.GradientTape() as tape:
                op(*variables)

        def recorded_and_walked():
            with tf.GradientTape() as tape:
                out = op(*variables)
            tape.gradient(out, variables)
        timing = {label: min(timeit.repeat(f, repeat=repeat, number=n)) / n * 1e6
                  for label, f in (("numpy", plain), ("no tape", lambda: op(*variables)),
                                   ("recorded", recorded), ("recorded + gradient", recorded_and_walked))}
        rows[name] = timing
        print(f"  {name:<34} " + "  ".join(f"{k} {v:9.2f} us" for k, v in timing.items()), flush=True)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=60000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--epochs", type=int, default=1, help="timed epochs per worker (after one warm-up)")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--backend", default="numba")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("--worker", choices=["fit", "tape"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args.worker, args.rows, args.batch, args.epochs, args.backend)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"tape loop against fit: 3-layer model, batch {args.batch}, {args.rows} rows, {args.backend} backend")
    loop = loop_against_fit(args.rows, args.batch, args.epochs, args.rounds, args.backend)
    print(f"  fit  best {loop['fit']['best_s']:.2f} s, median {loop['fit']['median_s']:.2f} s")
    print(f"  tape best {loop['tape']['best_s']:.2f} s, median {loop['tape']['median_s']:.2f} s  ->  "
          f"{loop['ratio_best']:.2f}x best, {loop['ratio_median']:.2f}x median (target: within 1.3x)")
    print("per operation (microseconds per call; best of repeated blocks)")
    ops = per_operation()
    result = {"started": started, "command": " ".join([os.path.basename(sys.executable), "benchmarks/tape.py"]
                                                      + sys.argv[1:]),
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_at_end": os.getloadavg()},
              "settings": vars(args), "loop_against_fit": loop, "per_operation_us": ops}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
