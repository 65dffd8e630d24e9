"""The ``nnscratch`` command (also ``python -m nnscratch``).

    nnscratch train                  # the workshop's 3-layer model on MNIST, prints test accuracy
    nnscratch train --model 1layer --epochs 5 --batch-size 32
    nnscratch train --dataset fashion_mnist
    nnscratch gradcheck              # finite-difference check of both workshop models
"""
import argparse
import sys
import time

import numpy as np


def load(dataset):
    """Load a data set and prepare it as the workshop does: flatten to 784, scale to [0, 1], one-hot."""
    from . import datasets
    from .utils import to_categorical
    (x, y), (xt, yt) = getattr(datasets, dataset).load_data()
    X = x.reshape(len(x), -1).astype("float32") / 255
    Xt = xt.reshape(len(xt), -1).astype("float32") / 255
    return X, to_categorical(y, 10), Xt, to_categorical(yt, 10)


def workshop_model(name, hidden=512, dropout=0.2, dtype="float32"):
    """The workshop's models: '1layer' = Dense(10) -> sigmoid -> Dropout(0.2) (7,850 parameters);
    '3layer' = 784-512-512-10 with sigmoid, dropout 0.2 and a softmax output (669,706 parameters)."""
    from .layers import Activation, Dense, Dropout
    from .models import Sequential
    model = Sequential(dtype=dtype)
    if name == "1layer":
        model.add(Dense(10, input_shape=(784,)))
        model.add(Activation("sigmoid"))
        model.add(Dropout(dropout))
    elif name == "3layer":
        model.add(Dense(hidden, input_shape=(784,)))
        model.add(Activation("sigmoid"))
        model.add(Dropout(dropout))
        model.add(Dense(hidden))
        model.add(Activation("sigmoid"))
        model.add(Dropout(dropout))
        model.add(Dense(10))
        model.add(Activation("softmax"))
    else:
        raise ValueError(f"unknown workshop model {name!r}: use '1layer' or '3layer'")
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def cmd_train(args):
    from .utils import set_random_seed
    set_random_seed(args.seed)
    X, Y, Xt, Yt = load(args.dataset)
    model = workshop_model(args.model, hidden=args.hidden)
    model.summary()
    start = time.perf_counter()
    model.fit(X, Y, batch_size=args.batch_size, epochs=args.epochs, verbose=args.verbose)
    seconds = time.perf_counter() - start
    loss, acc = model.evaluate(Xt, Yt, verbose=0)
    print(f"\n{args.model} on {args.dataset}: {args.epochs} epochs at batch size {args.batch_size} "
          f"in {seconds:.1f} s")
    print(f"Test loss: {loss:.4f}")
    print(f"Test accuracy: {acc:.4f}")
    if args.save:
        model.save(args.save)
        print(f"Saved to {args.save}")
    return 0


def cmd_gradcheck(args):
    from . import gradcheck
    from .utils import set_random_seed, to_categorical
    set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x = rng.random((4, 784)) * 0.3
    y = to_categorical(rng.integers(0, 10, 4), 10, dtype="float64")
    ok = True
    for name in ("1layer", "3layer"):
        report = gradcheck.check_model(workshop_model(name, dtype="float64"), x, y, max_entries=args.entries)
        print(report, end="\n\n")
        ok &= report.passed
    return 0 if ok else 1


def build_parser():
    parser = argparse.ArgumentParser(prog="nnscratch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a workshop model and print its test accuracy")
    p.add_argument("--model", choices=["1layer", "3layer"], default="3layer")
    p.add_argument("--dataset", choices=["mnist", "fashion_mnist"], default="mnist")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--hidden", type=int, default=512, help="hidden units of the 3-layer model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    p.add_argument("--save", metavar="PATH", help="save the trained model (.npz)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("gradcheck", help="finite-difference gradient check of both workshop models")
    p.add_argument("--entries", type=int, default=50, help="entries checked per weight tensor")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_gradcheck)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as e:
        print(f"nnscratch: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
