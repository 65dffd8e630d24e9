"""The ``nnscratch`` command (also ``python -m nnscratch``).

    nnscratch train                  # the workshop's 3-layer model on MNIST, prints test accuracy
    nnscratch train --model 1layer --epochs 5 --batch-size 32
    nnscratch train --dataset fashion_mnist
    nnscratch gradcheck              # finite-difference check of both workshop models (the code you read)
    nnscratch workshop               # the whole workshop as a report (./workshop-report/report.html)
    nnscratch workshop --quick       # the same on small subsets, in under a minute
    nnscratch knn --neighbors 3      # k-nearest neighbours on MNIST, beside scikit-learn's
    nnscratch compare --model 3layer # nnscratch against Keras, step by step (needs TensorFlow)
    nnscratch exercise list          # write a backward pass yourself: list / start NAME / check NAME
"""
import argparse
import os
import sys
import time

import numpy as np

from .zoo import workshop_model


def load(dataset):
    """``X, Y, Xt, Yt``: a data set prepared as the workshop does (flattened to 784, scaled to [0, 1],
    one-hot labels); see :func:`nnscratch.workshop.load_data`."""
    from .workshop import load_data
    d = load_data(dataset)
    return d["X"], d["Y"], d["Xt"], d["Yt"]


# ------------------------------------------------------------------------------------ option types
# Checked while parsing, before any work: a bad value exits at once with status 2 and a message.
def _int_at_least(minimum, expected):
    """An argparse type: an integer >= ``minimum``, else the error "expected <expected>, got ..."."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


_positive_int = _int_at_least(1, "a positive integer")           # epochs, batch size, units, k, ...
_non_negative_int = _int_at_least(0, "an integer >= 0")          # seeds; --nn-epochs (0 = skip)
# Rows: the first N (0 = all).  A negative N is refused: x[:-5] would silently mean "all but the last 5".
_row_count = _int_at_least(0, "a number of rows >= 1 (or 0 for all rows)")


def _save_path(text):
    """Where ``train --save`` writes: its folder must exist and be writable, checked before training."""
    path = os.path.abspath(text)
    folder = os.path.dirname(path)
    if os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"cannot save to {text!r}: it is a folder; give a file name such as "
                                         f"{os.path.join(text, 'model.npz')!r}")
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"cannot save to {text!r}: folder {folder!r} does not exist "
                                         "(create it first, or choose another path)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot save to {text!r}: folder {folder!r} is not writable")
    if not text.endswith((".keras", ".h5", ".hdf5", ".npz")):               # model.save's formats
        raise argparse.ArgumentTypeError(f"cannot save to {text!r}: the name must end in .keras (Keras 3's "
                                         "format), .h5 (Keras's legacy format) or .npz (nnscratch's own)")
    return text


def cmd_train(args):
    """Train, print the test accuracy, save.  Ctrl-C during training stops it between two steps (an
    update is never cut in half: ``optimizers.py``); what was trained is then saved and evaluated as
    usual, and the command exits with status 130 (128 + SIGINT), as an interrupted command does."""
    from .utils import interrupts_deferred, set_random_seed
    set_random_seed(args.seed)
    X, Y, Xt, Yt = load(args.dataset)
    model = workshop_model(args.model, units=args.hidden)
    model.summary()
    start = time.perf_counter()
    interrupted = False
    try:
        model.fit(X, Y, batch_size=args.batch_size, epochs=args.epochs, verbose=args.verbose)
    except KeyboardInterrupt:
        interrupted = True
    seconds = time.perf_counter() - start
    steps = model.optimizer.iterations
    if interrupted:
        done = len(model.history.epoch) if model.history is not None else 0
        print(f"\nInterrupted (Ctrl-C) after {steps} steps ({done} of {args.epochs} epochs finished); "
              "the model keeps the weights of its last complete step.", flush=True)
    if args.save and steps > 0:
        with interrupts_deferred():                      # a second Ctrl-C cannot lose the trained model
            model.save(args.save)
        print(f"Saved to {args.save}" + (" (the partly trained model)" if interrupted else ""), flush=True)
    elif args.save:
        print(f"Nothing saved to {args.save}: no training step was taken", flush=True)
    try:
        loss, acc = model.evaluate(Xt, Yt, verbose=0)
    except KeyboardInterrupt:
        print("Evaluation interrupted (Ctrl-C).", flush=True)
        return 130
    epochs = f"{args.epochs} epochs" if not interrupted else f"{steps} steps (interrupted)"
    print(f"\n{args.model} on {args.dataset}: {epochs} at batch size {args.batch_size} in {seconds:.1f} s")
    print(f"Test loss: {loss:.4f}")
    print(f"Test accuracy: {acc:.4f}")
    return 130 if interrupted else 0


def cmd_gradcheck(args):
    from . import gradcheck
    from .utils import set_random_seed, to_categorical
    set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x = rng.random((4, 784)) * 0.3
    y = to_categorical(rng.integers(0, 10, 4), 10, dtype="float64")
    ok = True
    for name in ("1layer", "3layer"):
        report = gradcheck.check_model(workshop_model(name, dtype="float64"), x, y, max_entries=args.entries,
                                       backend=args.backend)
        print(report, end="\n\n")
        ok &= report.passed
    return 0 if ok else 1


def _int_list(text):
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 32,128,512, got {text!r}")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return tuple(values)


# workshop options -> Settings fields; given options override the (full or --quick) defaults
_WORKSHOP_OPTIONS = ["dataset", "epochs", "batch_size", "batch_sizes", "sweep_epochs", "hidden_units",
                     "hidden_layers", "depth_units", "train_rows", "test_rows", "knn_neighbors",
                     "knn_train_rows", "knn_test_rows", "keras", "seed", "out", "verbose"]


def cmd_workshop(args):
    from .workshop import Settings, run
    given = {k: getattr(args, k) for k in _WORKSHOP_OPTIONS if getattr(args, k) is not None}
    if args.no_second_dataset:
        given["second_dataset"] = False
    if args.no_sklearn:
        given["sklearn"] = False
    settings = Settings.quick(**given) if args.quick else Settings(**given)
    run(settings)
    return 0


def cmd_knn(args):
    from .neighbors import KNeighborsClassifier, knn_report
    from .utils import confusion_matrix, set_random_seed, to_categorical
    from .workshop import load_data, subset
    data = subset(load_data(args.dataset), knn_train_rows=args.train_rows, knn_test_rows=args.test_rows)
    X, y, Xt, yt = data["X_knn"], data["y_knn"], data["Xt_knn"], data["yt_knn"]
    print(f"kNN (k={args.neighbors}, p={args.p}, weights={args.weights}) on {args.dataset}: "
          f"{len(X):,} training and {len(Xt):,} test images", flush=True)
    clf = KNeighborsClassifier(n_neighbors=args.neighbors, p=args.p, weights=args.weights).fit(X, y)
    pred = clf.predict(Xt)
    knn = {"accuracy": float(np.mean(pred == yt)), **knn_report(clf)}
    print(f"nnscratch:    accuracy {knn['accuracy']:.4f}", flush=True)
    if args.sklearn:
        from sklearn.neighbors import KNeighborsClassifier as SkKNN
        start = time.perf_counter()
        sk = SkKNN(n_neighbors=args.neighbors, p=args.p, weights=args.weights).fit(X, y).predict(Xt)
        print(f"scikit-learn: accuracy {np.mean(sk == yt):.4f} in {time.perf_counter() - start:.1f} s; "
              f"same predictions on {np.mean(sk == pred):.2%} of the test images")
    cm = confusion_matrix(yt, pred, num_classes=10)
    print("Confusion matrix (rows: true class, columns: predicted class):")
    print(np.array2string(cm, max_line_width=200))
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        from .plotting import plot_confusion_matrix
        plot_confusion_matrix(cm, path=args.plot, title=f"kNN (k={args.neighbors}) on {args.dataset}")
        print(f"Heat map written to {args.plot}")
    if args.nn_epochs > 0:
        # The workshop's question: how does kNN compare with the network in accuracy and speed?
        set_random_seed(0)
        net = workshop_model("3layer")
        start = time.perf_counter()
        net.fit(X, to_categorical(y, 10), batch_size=128, epochs=args.nn_epochs, verbose=0)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        net_pred = net.predict(Xt, batch_size=1024, verbose=0).argmax(axis=1)
        nn = {"accuracy": float(np.mean(net_pred == yt)), "fit_time_s": fit_s,
              "predict_time_s": time.perf_counter() - start,
              "model_size_bytes": sum(w.nbytes for w in net.get_weights())}
        print(f"\n{'':<36}{'accuracy':>9}{'fit s':>9}{'predict s':>11}{'model size':>12}")
        for name, r in ((f"kNN, k={args.neighbors} (stores the training set)", knn),
                        (f"3-layer network, {args.nn_epochs} epochs", nn)):
            print(f"{name:<36}{r['accuracy']:>9.4f}{r['fit_time_s']:>9.2f}{r['predict_time_s']:>11.2f}"
                  f"{r['model_size_bytes'] / 2**20:>9.1f} MB")
    return 0


def cmd_exercise(args):
    from . import exercises
    from .exercises.checker import main_list
    if args.action == "list":
        print("Exercises (nnscratch exercise start NAME, then nnscratch exercise check NAME):")
        main_list()
        return 0
    if args.name is None:
        print(f"nnscratch exercise {args.action}: name an exercise, e.g. nnscratch exercise {args.action} "
              "dense_backward (nnscratch exercise list shows them)", file=sys.stderr)
        return 2
    if args.action == "start":
        path, written = exercises.start(args.name, args.dir)
        if not written:
            print(f"{path} already exists: your work is left as it is (delete it, or give another --dir, "
                  "to start again)", file=sys.stderr)
            return 1
        print(f"Wrote {path}: fill in the TODO, then run: nnscratch exercise check {args.name}"
              + (f" --dir {args.dir}" if args.dir != exercises.checker.DEFAULT_FOLDER else ""))
        return 0
    try:
        report = exercises.check(args.name, args.dir, keras=args.keras)
    except RuntimeError as e:
        print(f"nnscratch: error: {e}", file=sys.stderr)
        return 2
    print(report)
    return 0 if report.passed else 1


def cmd_compare(args):
    from .workshop.keras_side import compare_main
    return compare_main(args.args)


def build_parser():
    parser = argparse.ArgumentParser(prog="nnscratch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a workshop model and print its test accuracy")
    p.add_argument("--model", choices=["1layer", "3layer"], default="3layer")
    p.add_argument("--dataset", choices=["mnist", "fashion_mnist"], default="mnist")
    p.add_argument("--epochs", type=_positive_int, default=20)
    p.add_argument("--batch-size", type=_positive_int, default=128)
    p.add_argument("--hidden", type=_positive_int, default=512, help="hidden units of the 3-layer model")
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    p.add_argument("--save", type=_save_path, metavar="PATH",
                   help="save the trained model (.keras, .h5 or .npz); the folder must exist")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("gradcheck", help="finite-difference gradient check of both workshop models")
    p.add_argument("--entries", type=_positive_int, default=50, help="entries checked per weight tensor")
    p.add_argument("--backend", choices=["numpy", "numba"], default="numpy",
                   help="numpy (default): check the plain NumPy lines you read and edit; numba: the engine's "
                        "fast paths")
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.set_defaults(func=cmd_gradcheck)

    p = sub.add_parser("workshop", help="run the whole workshop and write a report (Markdown + HTML + PNGs)",
                       description="Run the workshop end to end on real data with nnscratch (and Keras "
                                   "beside it if TensorFlow is installed) and write report.md, report.html, "
                                   "results.json and PNG figures into --out. Options not given take the "
                                   "full workshop's defaults, or --quick's.")
    p.add_argument("--quick", action="store_true",
                   help="small subsets and tiny sweeps: every section and figure in under a minute")
    p.add_argument("--out", metavar="DIR", help="output folder (default: ./workshop-report)")
    p.add_argument("--dataset", choices=["mnist", "fashion_mnist"],
                   help="main data set (default mnist); the other one gets its own section")
    p.add_argument("--no-second-dataset", action="store_true", help="skip the other data set's section")
    p.add_argument("--epochs", type=_positive_int, help="epochs of the two main models (default 10, quick 2)")
    p.add_argument("--batch-size", type=_positive_int, help="batch size wherever it is not varied (default 128)")
    p.add_argument("--batch-sizes", type=_int_list, metavar="LIST",
                   help="exercise 1's batch sizes (default 32,64,128,256,512,1024; quick 32,256)")
    p.add_argument("--sweep-epochs", type=_positive_int, help="epochs of each sweep run (default 5, quick 1)")
    p.add_argument("--hidden-units", type=_int_list, metavar="LIST",
                   help="exercise 2b's hidden units (default 10,32,64,128,256,512; quick 10,128)")
    p.add_argument("--hidden-layers", type=_int_list, metavar="LIST",
                   help="exercise 2b's numbers of hidden layers (default 1,2,3,4; quick 1,2)")
    p.add_argument("--depth-units", type=_positive_int, help="units per hidden layer in the depth sweep (default 512)")
    p.add_argument("--train-rows", type=_row_count, metavar="N", help="first N training images (0 = all; quick 3000)")
    p.add_argument("--test-rows", type=_row_count, metavar="N", help="first N test images (0 = all; quick 1000)")
    p.add_argument("--knn-neighbors", type=_positive_int, metavar="K", help="k of kNN (default 3)")
    p.add_argument("--knn-train-rows", type=_row_count, metavar="N", help="kNN training images (0 = all; quick 10000)")
    p.add_argument("--knn-test-rows", type=_row_count, metavar="N", help="kNN test images (0 = all; quick 1000)")
    p.add_argument("--keras", choices=["auto", "on", "off"],
                   help="Keras beside nnscratch: auto (if TensorFlow imports; default), on (required), off")
    p.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn's kNN")
    p.add_argument("--seed", type=_non_negative_int)
    p.add_argument("--verbose", type=int, choices=[0, 1, 2], help="0 silent, 1 a line per step, 2 also per epoch")
    p.set_defaults(func=cmd_workshop)

    p = sub.add_parser("knn", help="k-nearest neighbours (nnscratch, beside scikit-learn's): accuracy, time, "
                                   "confusion matrix")
    p.add_argument("--dataset", choices=["mnist", "fashion_mnist"], default="mnist")
    p.add_argument("--neighbors", type=_positive_int, default=3, metavar="K")
    p.add_argument("--p", type=int, choices=[1, 2], default=2, help="distance: 1 Manhattan, 2 Euclidean")
    p.add_argument("--weights", choices=["uniform", "distance"], default="uniform")
    p.add_argument("--train-rows", type=_row_count, default=0, metavar="N", help="first N training images (0 = all)")
    p.add_argument("--test-rows", type=_row_count, default=0, metavar="N", help="first N test images (0 = all)")
    p.add_argument("--no-sklearn", dest="sklearn", action="store_false", help="skip scikit-learn")
    p.add_argument("--plot", metavar="PNG", help="write the confusion matrix heat map here")
    p.add_argument("--nn-epochs", type=_non_negative_int, default=3, metavar="N",
                   help="train the 3-layer network N epochs on the same data for the comparison (0: skip)")
    p.set_defaults(func=cmd_knn)

    from .exercises import EXERCISES
    from .exercises.checker import DEFAULT_FOLDER
    p = sub.add_parser("exercise", help="exercises: write a backward pass (or an Adam step, a layer) yourself "
                                        "and check it against finite differences, nnscratch and Keras",
                       description="list: the exercises. start NAME: write the stub NAME.py into --dir (never "
                                   "over a file that is there). check NAME: load --dir/NAME.py and check it "
                                   "with finite differences, against nnscratch and against Keras.")
    p.add_argument("action", choices=["list", "start", "check"])
    p.add_argument("name", nargs="?", choices=list(EXERCISES), metavar="NAME",
                   help="one of: " + ", ".join(EXERCISES))
    p.add_argument("--dir", default=DEFAULT_FOLDER, help=f"your exercises' folder (default {DEFAULT_FOLDER})")
    p.add_argument("--keras", choices=["auto", "on", "off"], default="auto",
                   help="check against Keras: auto (if TensorFlow imports; default), on (required), off")
    p.set_defaults(func=cmd_exercise)

    p = sub.add_parser("compare", help="nnscratch against Keras step by step (python -m keras_reference.compare)",
                       description="Runs python -m keras_reference.compare with the remaining arguments, "
                                   "e.g. nnscratch compare --model 1layer --dtype float64.")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for keras_reference.compare (see --help there)")
    p.set_defaults(func=cmd_compare)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["compare"] and argv[1:2] not in (["-h"], ["--help"]):
        # everything after "compare" belongs to keras_reference.compare's own parser
        return cmd_compare(argparse.Namespace(args=argv[1:]))
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as e:
        print(f"nnscratch: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nnnscratch: interrupted (Ctrl-C)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
