"""Keras's files both ways, on MNIST: max |nnscratch - Keras| after each file crosses between them.

    NNSCRATCH_DATA=/path/to/datasets python benchmarks/keras_files.py [--train 2048] [--steps 10]

Models: the workshop's 3-layer network (784-512-512-10, sigmoid, dropout 0.2), Keras's simple MNIST
convnet (dropout 0.5) and the TensorFlow quickstart's nested model (``Sequential([model, Softmax()])``
around Flatten-Dense(128, relu)-Dropout(0.2)-Dense(10)).  For each, each library trains its own copy
for one epoch on the first ``--train`` MNIST images (Adam, batch 128) and writes ``.keras``,
``.weights.h5`` and ``.h5``; the other library reads each file.  Printed per model, format and
direction: max |predictions| on 1,000 test images; where the format carries the optimizer's state
(not Keras 3.15 reading a legacy .h5: it cannot train on from it), max |weights and optimizer
variables| of the reader against the writer right after reading (a copy: 0), and max |weights| after
``--steps`` more Adam steps on each side, measured on copies with dropout rate 0 (the two libraries
draw different masks).  Writes ``benchmarks/results/keras-files.json``.  Exit status 1 if a
prediction differs by more than 1e-6 or the state read differs at all.
"""
import argparse
import json
import logging
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import keras  # noqa: E402

logging.getLogger("tensorflow").setLevel(logging.ERROR)          # retracing notes: one model per row

import nnscratch  # noqa: E402
from keras_reference.models import keras_twin  # noqa: E402
from nnscratch import h5_weights, zoo  # noqa: E402
from nnscratch.layers import Dense, Dropout, Flatten, Softmax  # noqa: E402

FORMATS = (".keras", ".weights.h5", ".h5")


def nn_model(name, dropout):
    if name == "3-layer":
        return zoo.mlp(2, 512, dropout, seed=1)
    if name == "convnet":
        return zoo.simple_convnet(dropout, seed=2)
    inner = nnscratch.Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation="relu", seed=3),
                                  Dropout(dropout, seed=4), Dense(10, seed=5)])
    model = nnscratch.Sequential([inner, Softmax()])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def keras_model(nn):
    """A fresh Keras model of ``nn``'s architecture (its own initial weights), compiled alike."""
    if isinstance(nn.layers[0], nnscratch.Sequential):          # the quickstart's nested model
        inner = keras_twin(nn.layers[0], copy_weights=False, compile=False)
        model = keras.Sequential([keras.Input(nn.sample_shape), inner, keras.layers.Softmax()])
        model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        return model
    return keras_twin(nn, loss="keras", copy_weights=False)          # Keras's own loss class in its files


def shaped(name, x):
    return x.reshape(-1, 784) if name == "3-layer" else x.reshape(-1, 28, 28, 1) if name == "convnet" else x


def read_here(path, fmt, name, dropout):
    if fmt == ".weights.h5":
        model = nn_model(name, dropout)
        model.load_weights(path)
        return model
    return nnscratch.load_model(path)


def read_in_keras(path, fmt, name, dropout):
    if fmt == ".weights.h5":
        model = keras_model(nn_model(name, dropout))
        model.optimizer.build(model.trainable_variables)         # Keras restores a built optimizer's state
        model.load_weights(path)
        return model
    return keras.models.load_model(path)


def max_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(u, np.float64) - np.asarray(v, np.float64)))) for u, v in zip(a, b))


def state(model):
    """Weights, then the optimizer's variables in Keras's order (iteration, learning rate, slots)."""
    if isinstance(model, keras.Model):
        return [w for w in model.get_weights()] + [v.numpy() for v in model.optimizer.variables]
    opt = model.optimizer
    return model.get_weights() + h5_weights.optimizer_arrays(opt, h5_weights.optimizer_params(model))


def run(name, fmt, direction, data, folder, train, steps):
    """One row: the prediction difference and, if the format carries the optimizer, the continued one."""
    x, y, xt = shaped(name, data[0]), data[1], shaped(name, data[2])
    row = {}
    for dropout, key in ((0.5 if name == "convnet" else 0.2, "predict"), (0.0, "continue")):
        if key == "continue" and direction == "nnscratch -> keras" and fmt == ".h5":
            row[key] = row["read"] = None                         # Keras 3.15 cannot train on from it
            continue
        nn = nn_model(name, dropout)
        k = keras_model(nn)
        writer = nn if direction.startswith("nnscratch") else k
        writer.fit(x[:train], y[:train], batch_size=128, epochs=1, verbose=0, shuffle=False)
        path = os.path.join(folder, f"{name}-{key}-{direction[:5]}{fmt}")
        if writer is k and fmt == ".h5":        # first: after save('.h5') Keras 3.15 writes no optimizer
            k.save(path + ".keras")             # into a .keras file (its side of the comparison below)
        (writer.save_weights if fmt == ".weights.h5" else writer.save)(path)
        if direction.startswith("nnscratch"):
            ours, theirs = nn, read_in_keras(path, fmt, name, dropout)
        else:
            ours, theirs = read_here(path, fmt, name, dropout), k
        if key == "predict":
            row[key] = max_diff([ours.predict(xt, verbose=0)], [theirs.predict(xt, verbose=0)])
            continue
        if direction.startswith("keras") and fmt == ".h5":          # Keras's side: the same state, from .keras
            theirs = keras.models.load_model(path + ".keras")
        row["read"] = max_diff(state(theirs), state(ours))
        for s in range(steps):
            rows = slice(train + 128 * s, train + 128 * (s + 1))
            ours.train_on_batch(x[rows], y[rows])
            theirs.train_on_batch(x[rows], y[rows])
        row[key] = max_diff(theirs.get_weights(), ours.get_weights())
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=int, default=2048, help="MNIST images each side trains on first")
    p.add_argument("--steps", type=int, default=10, help="Adam steps after the file crossed over")
    p.add_argument("--models", default="3-layer,convnet,quickstart")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "keras-files.json"))
    args = p.parse_args(argv)
    keras.utils.set_random_seed(0)                     # Keras's initial weights; nnscratch's are seeded
    (x, y), (xt, _) = nnscratch.datasets.mnist.load_data()
    x, xt = x.astype("float32") / 255, xt[:1000].astype("float32") / 255
    y = nnscratch.utils.to_categorical(y, 10)
    results, ok = [], True
    print(f"max |nnscratch - keras|: predictions on 1,000 test images after one side trained {args.train} "
          f"images and the other read its file; weights after {args.steps} more Adam steps on each side")
    print(f"{'model':<11} {'format':<12} {'direction':<20} {'predict':>10} {'read':>10} {'continue':>10}")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models.split(","):
            for fmt in FORMATS:
                for direction in ("nnscratch -> keras", "keras -> nnscratch"):
                    row = run(name, fmt, direction, (x, y, xt), folder, args.train, args.steps)
                    cells = ["-" if row[c] is None else f"{row[c]:.1e}" for c in ("read", "continue")]
                    print(f"{name:<11} {fmt:<12} {direction:<20} {row['predict']:>10.1e} {cells[0]:>10} "
                          f"{cells[1]:>10}", flush=True)
                    results.append({"model": name, "format": fmt, "direction": direction, **row})
                    ok &= row["predict"] <= 1e-6 and row["read"] in (None, 0.0)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"command": " ".join(["python benchmarks/keras_files.py"] + list(argv or sys.argv[1:])),
                   "nnscratch": nnscratch.__version__, "keras": keras.__version__, "train": args.train,
                   "steps": args.steps, "rows": results, "ok": ok}, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
