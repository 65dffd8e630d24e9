"""TensorFlow's "quickstart for experts" on an MNIST subset: nnscratch's run against TensorFlow's own,
for the accuracy the CI test holds nnscratch to (``tests/test_tape_tutorials.py``).

    python benchmarks/quickstart_experts.py --out benchmarks/results/quickstart-experts.json
        # 6,000 training images, all 10,000 test images, 3 epochs, seeds 0-4, both sides
    python benchmarks/quickstart_experts.py --sides tensorflow --seeds 0 1     # one side, two seeds

Both sides run ``tutorials/quickstart_experts.py`` through ``tutorials.runner`` (the subset and epoch
edits the test makes); the TensorFlow side with the tutorial's original imports (``import tensorflow
as tf``), its ``mnist.load_data()`` reading the same local files through nnscratch's loader (this
machine cannot download).  Each seed seeds everything (``keras.utils.set_random_seed`` /
``nnscratch.set_random_seed``); the two libraries draw different random numbers, so a seed gives
each its own start and order.  The test accuracy after the last epoch, per seed and side, with the
mean and standard deviation, goes to ``--out``.  The subset: 3 epochs over 6,000 images (a 1-epoch run
moves by a point from seed to seed), tested on all 10,000 (1,000 test images alone move the accuracy by
half a point).
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tutorials.runner import source  # noqa: E402

NAME = "quickstart_experts.py"
TO_TENSORFLOW = [("import nnscratch as tf\n", "import tensorflow as tf\n"),
                 ("from nnscratch.keras.layers import", "from tensorflow.keras.layers import"),
                 ("from nnscratch.keras import Model", "from tensorflow.keras import Model"),
                 ("mnist = tf.keras.datasets.mnist\n", "import nnscratch\nmnist = nnscratch.keras.datasets.mnist\n")]


def run(side, seed, subset, epochs):
    code = source(NAME, epochs=epochs, subset=subset)
    if side == "tensorflow":
        import keras
        for old, new in TO_TENSORFLOW:
            assert code.count(old) == 1, old
            code = code.replace(old, new)
        keras.utils.set_random_seed(seed)
    else:
        import nnscratch
        nnscratch.set_random_seed(seed)
    namespace = {"__name__": "__main__"}
    with tempfile.TemporaryDirectory() as folder:         # tf.function reads the source back from its file
        path = os.path.join(folder, f"{side}_{NAME}")
        with open(path, "w") as f:
            f.write(code)
        exec(compile(code, path, "exec"), namespace)
    accuracy = float(namespace["test_accuracy"].result()) * 100
    return {"seed": seed, "test_accuracy": accuracy}          # accuracy only: no timing is claimed here


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", type=int, default=6000)
    p.add_argument("--test", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    p.add_argument("--sides", nargs="*", default=["tensorflow", "nnscratch"])
    p.add_argument("--out", default=None, help="write the results as JSON here (a side not run keeps what the "
                                               "file already holds)")
    args = p.parse_args()
    result = {}
    if args.out and os.path.exists(args.out):
        with open(args.out) as f:
            result = json.load(f)
        if result.get("subset") != [args.train, args.test] or result.get("epochs") != args.epochs:
            result = {}
    result.update({"subset": [args.train, args.test], "epochs": args.epochs})
    for side in args.sides:
        runs = [run(side, s, (args.train, args.test), args.epochs) for s in args.seeds]
        accuracies = [r["test_accuracy"] for r in runs]
        result[side] = {"runs": runs, "mean": statistics.mean(accuracies),
                        "stdev": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
                        "command": "python benchmarks/quickstart_experts.py " + " ".join(sys.argv[1:]),
                        "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        print(f"{side}: test accuracy {result[side]['mean']:.2f} +- {result[side]['stdev']:.2f} "
              f"({', '.join(f'{a:.2f}' for a in accuracies)})", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
