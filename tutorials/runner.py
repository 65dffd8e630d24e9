"""Run a tutorial's code as a student would, with the two edits a test or a quick run needs.

    from tutorials.runner import run_tutorial
    ns = run_tutorial("quickstart_beginner.py", epochs=1, subset=(4000, 1000))
    ns["model"].evaluate(ns["x_test"], ns["y_test"], verbose=0)

The file is executed as ``__main__`` in a fresh namespace, which is returned (every variable the
tutorial made).  ``epochs`` replaces the tutorial's epoch count; ``subset=(n_train, n_test)`` inserts
one line right after the tutorial's own data preparation that keeps the first images of each split
(``x_train, y_train, x_test, y_test = x_train[:n], ...``); a third number, for a tutorial that keeps
a validation split of its own (``x_val, y_val``), keeps the first images of that split too, in the
same line.  ``framework='tensorflow'`` runs a tutorial
written as ``import nnscratch as tf`` on real TensorFlow instead (that line becomes ``import tensorflow
as tf``).  Nothing else in the code changes, and each edit must match exactly once (the run fails
otherwise).
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# Per tutorial: its epoch setting, and the line after which its arrays have their final shapes.
EDITS = {
    "quickstart_beginner.py": {"epochs": "model.fit(x_train, y_train, epochs={})",
                               "after": "(x_train, y_train), (x_test, y_test) = mnist.load_data()\n"},
    "mnist_mlp.py": {"epochs": "epochs = {}",
                     "after": "x_test = x_test.reshape(10000, 784)\n"},
    "quickstart_experts.py": {"epochs": "EPOCHS = {}",
                              "after": "x_test = x_test[..., tf.newaxis].astype(\"float32\")\n"},
    "training_with_callbacks.py": {"after": "x_train, y_train = x_train[:-1000], y_train[:-1000]\n"},
    "functional_api.py": {"epochs": "model.fit(x_train, y_train, batch_size=64, epochs={}, validation_split=0.2)",
                          "after": "x_test = x_test.reshape(10000, 784).astype(\"float32\") / 255\n"},
    "training_and_evaluation.py": {"after": "y_train = y_train[:-10000]\n", "validation": True},
    "custom_callbacks.py": {"after": "y_test = y_test[:1000]\n"},
}
TUTORIAL_EPOCHS = {"quickstart_beginner.py": 5, "mnist_mlp.py": 20, "quickstart_experts.py": 5, "functional_api.py": 2}


def source(name, epochs=None, subset=None, framework="nnscratch"):
    """The tutorial's code with the requested edits."""
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        code = f.read()
    edits = []
    if epochs is not None:
        pattern = EDITS[name]["epochs"]
        edits.append((pattern.format(TUTORIAL_EPOCHS[name]), pattern.format(int(epochs))))
    if subset is not None:
        n_train, n_test, *n_val = (int(n) for n in subset)
        if n_val and not EDITS[name].get("validation"):
            raise ValueError(f"{name}: it keeps no validation split of its own (x_val, y_val) to cut")
        after = EDITS[name]["after"]
        names, cut = "x_train, y_train, x_test, y_test", (f"x_train[:{n_train}], y_train[:{n_train}], "
                                                          f"x_test[:{n_test}], y_test[:{n_test}]")
        if n_val:
            names, cut = names + ", x_val, y_val", cut + f", x_val[:{n_val[0]}], y_val[:{n_val[0]}]"
        edits.append((after, after + f"{names} = ({cut})\n"))
    if framework == "tensorflow":
        edits.append(("import nnscratch as tf\n", "import tensorflow as tf\n"))
    for old, new in edits:
        if code.count(old) != 1:
            raise ValueError(f"{name}: expected {old.strip()!r} exactly once, found it {code.count(old)} times")
        code = code.replace(old, new)
    return code


def run_tutorial(name, epochs=None, subset=None, framework="nnscratch"):
    """Execute the tutorial (see the module docstring); returns its namespace."""
    namespace = {"__name__": "__main__", "__file__": os.path.join(HERE, name)}
    exec(compile(source(name, epochs, subset, framework), os.path.join(HERE, name), "exec"), namespace)
    return namespace
