"""The whole workshop on real data, as one report: ``nnscratch workshop`` (or ``python -m nnscratch workshop``).

The workshop ("Introductie Neurale Netwerken met Keras en TensorFlow") walks students through MNIST:
look at the digits, flatten and scale them, one-hot encode the labels, train a one-layer network
(``Dense(10) -> sigmoid -> Dropout(0.2)``), tune epochs and batch size, train a 784-512-512-10
network and tune its width and depth, then try k-nearest neighbours, and finally Fashion-MNIST.
:func:`run` does all of it with nnscratch and, when TensorFlow is installed, with Keras beside it
(same architecture, same initial weights, same settings; accuracy and training time side by side),
and writes ``report.md`` and ``report.html`` (the same content) with PNG figures and
``results.json`` (every number) into one folder.

Python::

    from nnscratch.workshop import Settings, run
    results = run(Settings.quick(out="my-report"))

Every experiment reports *test* accuracy, as the workshop's exercises do; the training curves'
validation data are the last 10% of the training rows (``validation_split=0.1``, Keras's rule).
"""
import dataclasses
import html
import json
import os
import platform
import re
import sys
import time

import numpy as np

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                   "Bag", "Ankle boot"]

# The report's sections (``## `` headings, in order) and figures (files in the output folder).
# tests/test_workshop.py checks every one of them.
SECTIONS = [
    "Summary: nnscratch and Keras side by side",
    "Step 1. Data exploration",
    "Step 2. Data preparation",
    "Step 3. The one-layer network",
    "Step 4. Evaluation: correct and incorrect predictions",
    "Exercise 1. Epochs and batch size",
    "Exercise 2. The deep network (784-512-512-10)",
    "Exercise 2b. Hidden units and hidden layers",
    "Part III. k-nearest neighbours",
    "Second data set",
    "Settings and environment",
]
FIGURES = [
    "samples.png", "digit.png", "curves_1layer.png", "correct_1layer.png", "incorrect_1layer.png",
    "sweep_epochs.png", "sweep_batch_size.png", "curves_deep.png", "correct_deep.png",
    "incorrect_deep.png", "sweep_hidden_units.png", "sweep_hidden_layers.png", "knn_confusion.png",
    "second_samples.png", "second_curves.png", "second_knn_confusion.png",
]


# ============================================================================================ settings
@dataclasses.dataclass
class Settings:
    """What the report runs.  ``Settings()`` is the full workshop; :meth:`quick` finishes in under a minute."""
    dataset: str = "mnist"               # the main data set; the "second data set" section uses the other
    second_dataset: bool = True          # run the other data set (Fashion-MNIST for MNIST) too
    epochs: int = 10                     # main models: epochs (training curves, accuracy per epoch)
    batch_size: int = 128                # main models and every sweep that does not vary it
    batch_sizes: tuple = (32, 64, 128, 256, 512, 1024)       # exercise 1: the 1-layer model
    sweep_epochs: int = 5                # epochs for the batch-size, hidden-unit and hidden-layer sweeps
    hidden_units: tuple = (10, 32, 64, 128, 256, 512)        # exercise 2b: 2 hidden layers of n units
    hidden_layers: tuple = (1, 2, 3, 4)  # exercise 2b: n hidden layers of `depth_units` units
    depth_units: int = 512
    train_rows: int = 0                  # first rows of the training set to use (0 = all 60,000)
    test_rows: int = 0                   # first rows of the test set (0 = all 10,000)
    knn_neighbors: int = 3
    knn_train_rows: int = 0              # 0 = all training rows
    knn_test_rows: int = 0               # 0 = all test rows
    keras: str = "auto"                  # 'auto' (if TensorFlow imports), 'on' (required), 'off'
    sklearn: bool = True                 # scikit-learn's kNN beside nnscratch's
    seed: int = 0
    out: str = "workshop-report"
    verbose: int = 1                     # 0 silent, 1 one line per step, 2 also each epoch
    quick_mode: bool = False

    @classmethod
    def quick(cls, **overrides):
        """Every section and figure, on small subsets: under a minute on a 2-core machine."""
        base = dict(epochs=2, batch_size=128, batch_sizes=(32, 256), sweep_epochs=1,
                    hidden_units=(10, 128), hidden_layers=(1, 2), depth_units=64,
                    train_rows=3000, test_rows=1000, knn_train_rows=10000, knn_test_rows=1000,
                    quick_mode=True)
        base.update(overrides)
        return cls(**base)

    def check(self):
        from . import datasets
        if self.dataset not in datasets.__all__ or self.dataset == "DownloadError":
            raise ValueError(f"unknown dataset {self.dataset!r}: choose 'mnist' or 'fashion_mnist'")
        if self.keras not in ("auto", "on", "off"):
            raise ValueError(f"keras must be 'auto', 'on' or 'off', got {self.keras!r}")
        for name in ("epochs", "batch_size", "sweep_epochs", "depth_units", "knn_neighbors"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("batch_sizes", "hidden_units", "hidden_layers"):
            values = tuple(int(v) for v in getattr(self, name))
            if not values or min(values) < 1:
                raise ValueError(f"{name} must be a non-empty list of positive integers, got {values!r}")
            setattr(self, name, values)
        for name in ("train_rows", "test_rows", "knn_train_rows", "knn_test_rows"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0 (0 = all rows), got {getattr(self, name)!r}")
        return self


# ============================================================================================ progress
class Progress:
    """One line per step, with the elapsed time: ``[  3.1 s] 1-layer model, 2 epochs ... done``."""

    def __init__(self, verbose=1, stream=None):
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()

    def __call__(self, text):
        if self.verbose:
            print(f"[{time.perf_counter() - self.start:6.1f} s] {text}", file=self.stream, flush=True)

    @property
    def elapsed(self):
        return time.perf_counter() - self.start


# ============================================================================================ data
def load_data(name):
    """``x, y, xt, yt``: uint8 images and integer labels, plus the workshop's preparation:
    ``X = x.reshape(n, 784).astype('float32') / 255`` and one-hot ``Y = to_categorical(y, 10)``."""
    from . import datasets
    from .utils import to_categorical
    (x, y), (xt, yt) = getattr(datasets, name).load_data()
    X = x.reshape(len(x), 784).astype("float32") / 255
    Xt = xt.reshape(len(xt), 784).astype("float32") / 255
    return dict(x=x, y=y, xt=xt, yt=yt, X=X, Xt=Xt, Y=to_categorical(y, 10), Yt=to_categorical(yt, 10))


def subset(full, train_rows=0, test_rows=0, knn_train_rows=0, knn_test_rows=0):
    """The first rows of each split (0 = all), for the networks; ``*_knn`` for kNN."""
    def first(a, n):
        return a[:n] if n else a
    d = {k: first(full[k], train_rows) for k in ("x", "y", "X", "Y")}
    d.update({k: first(full[k], test_rows) for k in ("xt", "yt", "Xt", "Yt")})
    d.update(X_knn=first(full["X"], knn_train_rows), y_knn=first(full["y"], knn_train_rows),
             Xt_knn=first(full["Xt"], knn_test_rows), yt_knn=first(full["yt"], knn_test_rows))
    return d


def class_names(dataset):
    return FASHION_CLASSES if dataset == "fashion_mnist" else [str(i) for i in range(10)]


# ============================================================================================ models
def build_model(hidden_layers=0, units=512, dropout=0.2):
    """The workshop's models as one family, compiled as the workshop compiles them.

    ``hidden_layers=0``: the one-layer network ``Dense(10) -> sigmoid -> Dropout`` (7,850 parameters).
    ``hidden_layers=k``: k blocks ``Dense(units) -> sigmoid -> Dropout``, then ``Dense(10) -> softmax``
    (k=2, units=512 is the workshop's 784-512-512-10 network, 669,706 parameters).
    """
    from .layers import Activation, Dense, Dropout
    from .models import Sequential
    model = Sequential()
    if hidden_layers == 0:
        model.add(Dense(10, input_shape=(784,)))
        model.add(Activation("sigmoid"))
        model.add(Dropout(dropout))
    else:
        for k in range(hidden_layers):
            model.add(Dense(units, input_shape=(784,)) if k == 0 else Dense(units))
            model.add(Activation("sigmoid"))
            model.add(Dropout(dropout))
        model.add(Dense(10))
        model.add(Activation("softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def describe(hidden_layers, units):
    if hidden_layers == 0:
        return "1-layer 784-10"
    return "784-" + "-".join([str(units)] * hidden_layers) + "-10"


class KerasSide:
    """Keras beside nnscratch: the twin of an nnscratch model (``keras_reference.keras_twin``: same
    layers, same initial weights, the workshop's stock ``categorical_crossentropy``), trained with
    the same settings.  ``available`` is False (with ``reason``) when TensorFlow does not import."""

    def __init__(self, mode, progress):
        self.available, self.reason, self.version = False, "", None
        if mode == "off":
            self.reason = "switched off (--keras off)"
            return
        progress("importing TensorFlow/Keras for the side-by-side runs ...")
        try:
            import keras
            import keras_reference
        except Exception as e:           # ImportError, or TensorFlow failing to initialise
            if mode == "on":
                raise RuntimeError(f"--keras on, but Keras could not be imported: {e}") from e
            self.reason = (f"TensorFlow/Keras not available ({type(e).__name__}: {e}); install it with "
                           "pip install 'nnscratch[keras]' to see Keras's numbers beside nnscratch's")
            progress(self.reason)
            return
        self.keras, self.kr = keras, keras_reference
        import tensorflow as tf
        self.available = True
        self.version = f"TensorFlow {tf.__version__}, Keras {keras.__version__}"

    def twin(self, nn_model, seed):
        self.keras.utils.set_random_seed(seed)
        return self.kr.keras_twin(nn_model, loss="keras", seed=seed)


# ============================================================================================ runs
def _fit(model, X, Y, epochs, batch_size, verbose, validation_split=0.0):
    start = time.perf_counter()
    h = model.fit(X, Y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                  validation_split=validation_split)
    return time.perf_counter() - start, {k: [float(v) for v in vals] for k, vals in h.history.items()}


def _evaluate(model, X, Y):
    loss, acc = model.evaluate(X, Y, batch_size=512, verbose=0)
    return float(loss), float(acc)


def train_pair(data, hidden_layers, units, epochs, batch_size, settings, keras_side, label,
               progress, per_epoch=False, keep=False):
    """Train an nnscratch model and (if available) its Keras twin with identical settings.

    ``per_epoch``: train one epoch at a time with ``validation_split=0.1`` and measure test
    accuracy after every epoch (timing counts ``fit`` only); gives the training curves and the
    accuracy-against-epochs table in one run (``fit`` called again continues training, exactly as
    one longer ``fit`` would).  Returns a dict of numbers (and the models if ``keep``).
    """
    from .utils import set_random_seed
    set_random_seed(settings.seed)
    nn = build_model(hidden_layers, units)
    km = keras_side.twin(nn, settings.seed) if keras_side.available else None
    fit_verbose = 2 if settings.verbose >= 2 else 0
    out = {"label": label, "architecture": describe(hidden_layers, units), "hidden_layers": hidden_layers,
           "units": units if hidden_layers else None, "epochs": epochs, "batch_size": batch_size,
           "params": nn.count_params()}
    for side, model in (("nnscratch", nn), ("keras", km)):
        if model is None:
            continue
        progress(f"{label}: {side}, {out['architecture']}, {_epochs(epochs)} at batch "
                 f"size {batch_size} on {len(data['X']):,} images ...")
        r = {}
        if per_epoch:
            r["history"], r["epoch_test_accuracy"], r["epoch_seconds"] = {}, [], []
            for _ in range(epochs):
                sec, hist = _fit(model, data["X"], data["Y"], 1, batch_size, fit_verbose, validation_split=0.1)
                for k, v in hist.items():
                    r["history"].setdefault(k, []).extend(v)
                r["epoch_seconds"].append(sec)
                r["epoch_test_accuracy"].append(_evaluate(model, data["Xt"], data["Yt"])[1])
            r["seconds"] = float(sum(r["epoch_seconds"]))
        else:
            r["seconds"], r["history"] = _fit(model, data["X"], data["Y"], epochs, batch_size, fit_verbose)
        r["test_loss"], r["test_accuracy"] = _evaluate(model, data["Xt"], data["Yt"])
        progress(f"    test accuracy {r['test_accuracy']:.4f}, trained in {r['seconds']:.1f} s")
        out[side] = r
    if keep:
        out["models"] = (nn, km)
    return out


def knn_pair(data, settings, progress, label):
    """nnscratch's kNN and scikit-learn's on the same rows: accuracy, time, confusion matrix."""
    from .neighbors import KNeighborsClassifier
    from .utils import confusion_matrix
    X, y, Xt, yt = data["X_knn"], data["y_knn"], data["Xt_knn"], data["yt_knn"]
    k = settings.knn_neighbors
    out = {"label": label, "n_neighbors": k, "train_rows": len(X), "test_rows": len(Xt)}
    progress(f"{label}: nnscratch kNN (k={k}) on {len(X):,} training and {len(Xt):,} test images ...")
    start = time.perf_counter()
    pred = KNeighborsClassifier(n_neighbors=k).fit(X, y).predict(Xt)
    out["nnscratch"] = {"seconds": time.perf_counter() - start, "accuracy": float(np.mean(pred == yt))}
    out["confusion_matrix"] = confusion_matrix(yt, pred, num_classes=10).tolist()
    progress(f"    accuracy {out['nnscratch']['accuracy']:.4f} in {out['nnscratch']['seconds']:.1f} s")
    if settings.sklearn:
        try:
            from sklearn.neighbors import KNeighborsClassifier as SkKNN
        except ImportError as e:
            out["sklearn_unavailable"] = str(e)
        else:
            progress(f"{label}: scikit-learn kNN (k={k}) on the same images ...")
            start = time.perf_counter()
            sk = SkKNN(n_neighbors=k).fit(X, y).predict(Xt)
            out["sklearn"] = {"seconds": time.perf_counter() - start, "accuracy": float(np.mean(sk == yt)),
                              "same_predictions": float(np.mean(sk == pred))}
            progress(f"    accuracy {out['sklearn']['accuracy']:.4f} in {out['sklearn']['seconds']:.1f} s")
    return out


# ============================================================================================ report
class Report:
    """Blocks of content, written as Markdown and as HTML (same text, same PNGs)."""

    def __init__(self, title):
        self.title = title
        self.blocks = []

    def h(self, level, text):
        self.blocks.append(("h", level, text))

    def p(self, text):
        self.blocks.append(("p", text))

    def code(self, text):
        self.blocks.append(("code", text.rstrip("\n")))

    def table(self, header, rows):
        self.blocks.append(("table", [str(h) for h in header], [[_cell(c) for c in r] for r in rows]))

    def image(self, name, caption):
        self.blocks.append(("image", name, caption))

    def markdown(self):
        out = [f"# {self.title}", ""]
        for b in self.blocks:
            if b[0] == "h":
                out += ["#" * b[1] + " " + b[2], ""]
            elif b[0] == "p":
                out += [b[1], ""]
            elif b[0] == "code":
                out += ["```", b[1], "```", ""]
            elif b[0] == "table":
                out.append("| " + " | ".join(b[1]) + " |")
                out.append("|" + "|".join("---" for _ in b[1]) + "|")
                out += ["| " + " | ".join(r) + " |" for r in b[2]]
                out.append("")
            elif b[0] == "image":
                out += [f"![{b[2]}]({b[1]})", "", f"*{b[2]}*", ""]
        return "\n".join(out)

    def html(self):
        style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}"
                 "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;"
                 "text-align:right}th{background:#eee}pre{background:#f6f6f6;padding:.6em;overflow-x:auto;"
                 "font-size:12px;line-height:1.2}img{max-width:100%}figcaption{font-style:italic;color:#444}")
        out = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>", f"<title>{html.escape(self.title)}</title>",
               f"<style>{style}</style></head><body>", f"<h1>{html.escape(self.title)}</h1>"]
        for b in self.blocks:
            if b[0] == "h":
                out.append(f"<h{b[1]}>{_inline(b[2])}</h{b[1]}>")
            elif b[0] == "p":
                out.append(f"<p>{_inline(b[1])}</p>")
            elif b[0] == "code":
                out.append(f"<pre>{html.escape(b[1])}</pre>")
            elif b[0] == "table":
                out.append("<table><tr>" + "".join(f"<th>{_inline(h)}</th>" for h in b[1]) + "</tr>")
                out += ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in b[2]]
                out.append("</table>")
            elif b[0] == "image":
                out.append(f"<figure><img src='{html.escape(b[1])}' alt='{html.escape(b[2])}'>"
                           f"<figcaption>{_inline(b[2])}</figcaption></figure>")
        out.append("</body></html>")
        return "\n".join(out)


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _inline(text):
    """The little Markdown the report uses, as HTML: `code`, **bold**, *italic*, [text](link)."""
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"<i>\1</i>", text)
    return re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"<a href='\2'>\1</a>", text)


def _acc(run, side):
    return run[side]["test_accuracy"] if side in run else None


def _sec(run, side):
    return _seconds(run[side]["seconds"]) if side in run else None


def _seconds(x):
    return f"{x:.2f}"


def _epochs(n):
    return f"{n} epoch" + ("s" if n != 1 else "")


def matrix_text(mat):
    """The workshop's ``matprint``: a matrix with right-aligned columns."""
    mat = np.asarray(mat)
    widths = [max(len(f"{v:g}") for v in col) for col in mat.T]
    return "\n".join("  ".join(f"{v:g}".rjust(w) for v, w in zip(row, widths)) for row in mat)


def _summary_text(model, keras_model=None):
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    if keras_model is not None:
        klines = []
        keras_model.summary(print_fn=lambda s, *a, **k: klines.append(s))
        text += "\n\nKeras:\n" + "\n".join(klines)
    return text


# ============================================================================================ the run
def run(settings=None, **overrides):
    """Run the workshop and write the report.  Returns the results dict (also ``results.json``)."""
    from . import plotting
    from .backend import get_backend

    s = (settings or Settings())
    s = dataclasses.replace(s, **overrides).check()
    out_dir = os.path.abspath(s.out)
    os.makedirs(out_dir, exist_ok=True)
    fig_path = lambda name: os.path.join(out_dir, name)  # noqa: E731
    progress = Progress(s.verbose)
    progress(f"nnscratch workshop{' (quick)' if s.quick_mode else ''}: report in {out_dir}")
    keras_side = KerasSide(s.keras, progress)
    results = {"settings": dataclasses.asdict(s), "keras_available": keras_side.available}
    names = class_names(s.dataset)
    rng = np.random.default_rng(s.seed)

    # ------------------------------------------------------------------ step 1 and 2: data
    progress(f"loading {s.dataset} ...")
    full = load_data(s.dataset)
    data = subset(full, s.train_rows, s.test_rows, s.knn_train_rows, s.knn_test_rows)
    pick = rng.choice(len(full["x"]), 9, replace=False)
    plotting.plot_digit_grid(full["x"][pick], [f"Class {names[c]}" for c in full["y"][pick]],
                             fig_path("samples.png"))
    one = int(pick[-1])
    plotting.plot_digit_grid(full["x"][one:one + 1], [f"This is a: {names[full['y'][one]]}"],
                             fig_path("digit.png"), ncols=1, cell=2.5)
    from .utils import to_categorical
    one_hot = to_categorical(full["y"][one:one + 1], 10)[0]
    results["data"] = {"x_train": list(full["x"].shape), "x_test": list(full["xt"].shape),
                       "X_train": list(full["X"].shape), "used_train_rows": len(data["X"]),
                       "used_test_rows": len(data["Xt"]), "example_index": one,
                       "example_label": int(full["y"][one]), "example_one_hot": one_hot.tolist()}

    # ------------------------------------------------------------------ step 3-4: the one-layer model
    def main_model(hidden_layers, units, label, title, tag):
        """Train one of the workshop's two models beside its Keras twin; curves and prediction grids."""
        m = train_pair(data, hidden_layers, units, s.epochs, s.batch_size, s, keras_side, label, progress,
                       per_epoch=True, keep=True)
        nn, km = m.pop("models")
        curves = {"nnscratch": m["nnscratch"]["history"]}
        if "keras" in m:
            curves["Keras"] = m["keras"]["history"]
        plotting.plot_training_curves(curves, fig_path(f"curves_{tag}.png"), title=title)
        pred = np.argmax(nn.predict(data["Xt"], batch_size=512, verbose=0), axis=-1)
        _prediction_grids(plotting, data, pred, names, tag, fig_path)
        return m, _summary_text(nn, km)

    m1, summary1 = main_model(0, None, "one-layer network", "One-layer network", "1layer")
    results["one_layer"] = m1

    # ------------------------------------------------------------------ exercise 1: epochs, batch size
    batch_runs = [train_pair(data, 0, None, s.sweep_epochs, b, s, keras_side, f"exercise 1, batch size {b}",
                             progress) for b in s.batch_sizes]
    results["batch_size_sweep"] = batch_runs
    epochs_x = list(range(1, s.epochs + 1))
    series = {"nnscratch": (m1["nnscratch"]["epoch_test_accuracy"], np.cumsum(m1["nnscratch"]["epoch_seconds"]))}
    if "keras" in m1:
        series["Keras"] = (m1["keras"]["epoch_test_accuracy"], np.cumsum(m1["keras"]["epoch_seconds"]))
    plotting.plot_sweep(epochs_x, series, "epochs", fig_path("sweep_epochs.png"),
                        title=f"One-layer network: epochs (batch size {s.batch_size})")
    plotting.plot_sweep(list(s.batch_sizes), _series(batch_runs), "batch size", fig_path("sweep_batch_size.png"),
                        title=f"One-layer network: batch size ({_epochs(s.sweep_epochs)})", logx=True)

    # ------------------------------------------------------------------ exercise 2: the deep model
    m2, summary2 = main_model(2, 512, "deep network", "Deep network 784-512-512-10", "deep")
    results["deep"] = m2

    # ------------------------------------------------------------------ exercise 2b: width and depth
    unit_runs = [train_pair(data, 2, u, s.sweep_epochs, s.batch_size, s, keras_side,
                            f"exercise 2b, 2 x {u} hidden units", progress) for u in s.hidden_units]
    layer_runs = [train_pair(data, k, s.depth_units, s.sweep_epochs, s.batch_size, s, keras_side,
                             f"exercise 2b, {k} hidden layer{'s' * (k > 1)}", progress) for k in s.hidden_layers]
    results["hidden_units_sweep"], results["hidden_layers_sweep"] = unit_runs, layer_runs
    plotting.plot_sweep(list(s.hidden_units), _series(unit_runs), "hidden units per layer (2 hidden layers)",
                        fig_path("sweep_hidden_units.png"), title="Deep network: width", logx=True)
    plotting.plot_sweep(list(s.hidden_layers), _series(layer_runs),
                        f"hidden layers ({s.depth_units} units each)", fig_path("sweep_hidden_layers.png"),
                        title="Deep network: depth")

    # ------------------------------------------------------------------ part III: kNN
    knn = knn_pair(data, s, progress, "kNN")
    plotting.plot_confusion_matrix(np.array(knn["confusion_matrix"]), path=fig_path("knn_confusion.png"),
                                   class_names=names,
                                   title=f"kNN (k={knn['n_neighbors']}) on {s.dataset}: confusion matrix")
    results["knn"] = knn

    # ------------------------------------------------------------------ the other data set
    second = None
    if s.second_dataset:
        other = "fashion_mnist" if s.dataset == "mnist" else "mnist"
        progress(f"second data set: loading {other} ...")
        f2 = load_data(other)
        d2 = subset(f2, s.train_rows, s.test_rows, s.knn_train_rows, s.knn_test_rows)
        names2 = class_names(other)
        pick2 = rng.choice(len(f2["x"]), 9, replace=False)
        plotting.plot_digit_grid(f2["x"][pick2], [f"Class {names2[c]}" for c in f2["y"][pick2]],
                                 fig_path("second_samples.png"))
        r1 = train_pair(d2, 0, None, s.epochs, s.batch_size, s, keras_side, f"{other}: one-layer network",
                        progress, per_epoch=True)
        r2 = train_pair(d2, 2, 512, s.epochs, s.batch_size, s, keras_side, f"{other}: deep network",
                        progress, per_epoch=True)
        curves = {"1-layer nnscratch": r1["nnscratch"]["history"], "deep nnscratch": r2["nnscratch"]["history"]}
        if "keras" in r1:
            curves["1-layer Keras"] = r1["keras"]["history"]
            curves["deep Keras"] = r2["keras"]["history"]
        plotting.plot_training_curves(curves, fig_path("second_curves.png"), title=other)
        k2 = knn_pair(d2, s, progress, f"{other}: kNN")
        plotting.plot_confusion_matrix(np.array(k2["confusion_matrix"]), path=fig_path("second_knn_confusion.png"),
                                       class_names=names2,
                                       title=f"kNN (k={k2['n_neighbors']}) on {other}: confusion matrix")
        second = {"dataset": other, "one_layer": r1, "deep": r2, "knn": k2}
    results["second"] = second

    # ------------------------------------------------------------------ write
    results["environment"] = {
        "python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform(),
        "cpus": os.cpu_count(), "nnscratch_backend": get_backend(), "keras": keras_side.version,
        "keras_note": keras_side.reason or None, "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    results["seconds_total"] = progress.elapsed
    report = _write_report(s, results, full, one, one_hot, summary1, summary2, names, keras_side)
    for name, text in (("report.md", report.markdown()), ("report.html", report.html()),
                       ("results.json", json.dumps(results, indent=1, default=_json_default))):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            f.write(text)
    progress(f"done in {progress.elapsed:.1f} s: open {os.path.join(out_dir, 'report.html')} "
             f"(or report.md)")
    return results


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _series(runs):
    series = {"nnscratch": ([_acc(r, "nnscratch") for r in runs], [_sec(r, "nnscratch") for r in runs])}
    if any("keras" in r for r in runs):
        series["Keras"] = ([_acc(r, "keras") for r in runs], [_sec(r, "keras") for r in runs])
    return series


def _prediction_grids(plotting, data, pred, names, tag, fig_path):
    yt = data["yt"]
    for kind, idx in (("correct", np.nonzero(pred == yt)[0][:9]), ("incorrect", np.nonzero(pred != yt)[0][:9])):
        if len(idx) == 0:      # e.g. a perfect model on a tiny test set: say so in the figure
            from matplotlib.figure import Figure
            fig = Figure(figsize=(4, 2))
            ax = fig.add_subplot(1, 1, 1)
            ax.axis("off")
            ax.text(0.5, 0.5, f"no {kind} predictions", ha="center", va="center")
            fig.savefig(fig_path(f"{kind}_{tag}.png"), format="png", dpi=100)
            continue
        plotting.plot_digit_grid(data["Xt"][idx], [f"Predicted {names[pred[i]]}, Class {names[yt[i]]}" for i in idx],
                                 fig_path(f"{kind}_{tag}.png"))


# ============================================================================================ text
def _write_report(s, r, full, one, one_hot, summary1, summary2, names, keras_side):
    rep = Report(f"The workshop on nnscratch: {s.dataset}" + (" (quick mode)" if s.quick_mode else ""))
    ks = keras_side.available
    m1, m2, knn = r["one_layer"], r["deep"], r["knn"]
    rows_note = (f"Neural networks trained on the first {len(full['X']) if not s.train_rows else s.train_rows:,} "
                 f"training images and tested on the first {s.test_rows or len(full['Xt']):,} test images."
                 if (s.train_rows or s.test_rows) else "All 60,000 training and 10,000 test images.")
    rep.p("The workshop *Introductie Neurale Netwerken met Keras en TensorFlow* run end to end with "
          "nnscratch - a neural network written from scratch in NumPy - "
          + ("with Keras beside it: the same architecture, the same initial weights and the same "
             "settings for every run." if ks else f"without Keras: {keras_side.reason}.")
          + f" {rows_note} Accuracies are on the test set, as in the workshop's exercises."
          + (" **Quick mode**: small subsets, few epochs and tiny sweeps, to show every step fast; the "
             "accuracies are far below the workshop's. Run `nnscratch workshop` without `--quick` for "
             "the real numbers." if s.quick_mode else ""))

    # -------------------------------------------------------------- summary
    rep.h(2, SECTIONS[0])
    header = ["step", "setting", "nnscratch accuracy", "nnscratch time (s)"]
    header += ["Keras (kNN: scikit-learn) accuracy", "Keras (kNN: scikit-learn) time (s)"] \
        if ks or "sklearn" in knn else []
    rows = []

    def add(step, setting, run):
        row = [step, setting, _acc(run, "nnscratch"), _sec(run, "nnscratch")]
        rows.append(row + ([_acc(run, "keras"), _sec(run, "keras")] if len(header) > 4 else []))

    def add_knn(step, k):
        row = [step, f"k={k['n_neighbors']}, {k['train_rows']:,} train / {k['test_rows']:,} test images",
               k["nnscratch"]["accuracy"], _seconds(k["nnscratch"]["seconds"])]
        if len(header) > 4:
            row += [k["sklearn"]["accuracy"], _seconds(k["sklearn"]["seconds"])] if "sklearn" in k else ["-", "-"]
        rows.append(row)

    add("Step 3: one-layer network", f"{_epochs(s.epochs)}, batch {s.batch_size}", m1)
    for b in r["batch_size_sweep"]:
        add("Exercise 1: batch size", f"batch {b['batch_size']}, {_epochs(b['epochs'])}", b)
    add("Exercise 2: deep network", f"784-512-512-10, {_epochs(s.epochs)}, batch {s.batch_size}", m2)
    for u in r["hidden_units_sweep"]:
        add("Exercise 2b: hidden units", f"{u['architecture']}, {_epochs(u['epochs'])}", u)
    for u in r["hidden_layers_sweep"]:
        add("Exercise 2b: hidden layers", f"{u['architecture']}, {_epochs(u['epochs'])}", u)
    add_knn("Part III: kNN", knn)
    if r["second"]:
        sd = r["second"]
        add(f"{sd['dataset']}: one-layer network", f"{_epochs(s.epochs)}, batch {s.batch_size}", sd["one_layer"])
        add(f"{sd['dataset']}: deep network", f"784-512-512-10, {_epochs(s.epochs)}, batch {s.batch_size}",
            sd["deep"])
        add_knn(f"{sd['dataset']}: kNN", sd["knn"])
    rep.table(header, rows)
    rep.p("Times are wall-clock seconds of `model.fit` alone (Keras's include tracing its training "
          "function once per new model, about a second). Same initial weights does not mean the same "
          "numbers after training: each library shuffles the data and draws dropout masks with its own "
          "random generator, so the two runs are two different random samples of the same training "
          "procedure. (`python -m keras_reference.compare` shows that with the masks and order replayed "
          "the numbers agree to float rounding.)")

    # -------------------------------------------------------------- step 1
    rep.h(2, SECTIONS[1])
    d = r["data"]
    rep.p(f"`tf.keras.datasets.{s.dataset}.load_data()` gives `x_train` of shape {tuple(d['x_train'])} and "
          f"`x_test` of shape {tuple(d['x_test'])}: uint8 grey values 0 (black) .. 255 (white), "
          "one 28 x 28 matrix per image.")
    rep.image("samples.png", "Nine random training images with their classes")
    rep.p(f"Training image {one} (class {names[full['y'][one]]}) as its 28 x 28 matrix of pixel values, "
          "printed as the workshop's `matprint` does:")
    rep.code(matrix_text(full["x"][one]))
    rep.image("digit.png", f"Training image {one}")

    # -------------------------------------------------------------- step 2
    rep.h(2, SECTIONS[2])
    rep.p(f"Features: each image is flattened to a vector of 784 pixels and scaled to [0, 1]: "
          f"`X_train = x_train.reshape(60000, 784).astype('float32') / 255` gives shape {tuple(d['X_train'])}. "
          "Target: each label becomes a one-hot row of 10 (`tf.keras.utils.to_categorical(y, 10)`, "
          "`nnscratch/utils.py`):")
    rep.code(f"{names[full['y'][one]]} -> {one_hot.astype(int).tolist()}")

    # -------------------------------------------------------------- step 3
    rep.h(2, SECTIONS[3])
    rep.p("`Dense(10, input_shape=(784,))` -> `Activation('sigmoid')` -> `Dropout(0.2)`, compiled with "
          "`loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy']`:")
    rep.code(summary1)
    rep.p(f"Trained for {s.epochs} epochs at batch size {s.batch_size}; the last 10% of the training rows "
          f"are the validation data. Test accuracy: **{m1['nnscratch']['test_accuracy']:.4f}** (nnscratch)"
          + (f", **{m1['keras']['test_accuracy']:.4f}** (Keras)." if "keras" in m1 else "."))
    rep.image("curves_1layer.png", "One-layer network: loss and accuracy per epoch (solid: training, "
              "dashed: validation)")
    rep.p("Why is the training accuracy so much lower than the validation accuracy, and the training loss "
          "so much higher? The workshop puts `Dropout(0.2)` *after* the output layer: while training, each "
          "of the 10 outputs is zeroed with probability 0.2, so for about one image in five the true "
          "class's output is 0 - that image counts as wrong and costs -log(1e-7) = 16.1 in loss (the "
          "probability is clipped at 1e-7). At validation and test time dropout is off.")
    if "keras" in m1:
        rep.p("Keras's *validation* loss of this model is a different quantity from the other three loss "
              "curves: at inference Dropout passes the sigmoid's output straight to the loss, and Keras "
              "then silently computes the softmax cross-entropy of the pre-sigmoid values instead of "
              "the cross-entropy of the renormalised sigmoid outputs it trains on (and nnscratch uses "
              "throughout; see `nnscratch/losses.py` and `nnscratch compare --model 1layer`). "
              "The accuracies are the same quantity on both sides.")

    # -------------------------------------------------------------- step 4
    rep.h(2, SECTIONS[4])
    rep.p("`predicted_classes = np.argmax(model.predict(X_test), axis=-1)`; the first nine test images "
          "the one-layer network gets right, and the first nine it gets wrong:")
    rep.image("correct_1layer.png", "One-layer network: correctly predicted test images")
    rep.image("incorrect_1layer.png", "One-layer network: incorrectly predicted test images")

    # -------------------------------------------------------------- exercise 1
    rep.h(2, SECTIONS[5])
    rep.p("The workshop asks: play with epochs and batch size; how does the accuracy change, and the "
          "training time? (Target: about 92%.) Accuracy after each epoch comes from the run above "
          "(one more epoch of `fit` continues training, exactly as a longer `fit` would); time is "
          "cumulative.")
    header = ["epochs", "nnscratch accuracy", "nnscratch time (s)"] + (["Keras accuracy", "Keras time (s)"] if ks else [])
    rows = []
    for e in range(s.epochs):
        rows.append(_epoch_row(m1, e))
    rep.table(header, rows)
    rep.image("sweep_epochs.png", "One-layer network: test accuracy and training time against epochs")
    rep.p(f"Batch size, each run from fresh weights for {_epochs(s.sweep_epochs)}:")
    rep.table(["batch size"] + header[1:], [[b["batch_size"], _acc(b, "nnscratch"), _sec(b, "nnscratch")]
                                            + ([_acc(b, "keras"), _sec(b, "keras")] if ks else [])
                                            for b in r["batch_size_sweep"]])
    rep.image("sweep_batch_size.png", "One-layer network: test accuracy and training time against batch size")

    # -------------------------------------------------------------- exercise 2
    rep.h(2, SECTIONS[6])
    rep.p("Two hidden layers of 512 sigmoid units, each followed by `Dropout(0.2)`, and a softmax output "
          "layer of 10 units; compiled and trained with the same settings. (Target: 95%, up to about 98%.)")
    rep.code(summary2)
    rep.p(f"Test accuracy: **{m2['nnscratch']['test_accuracy']:.4f}** (nnscratch)"
          + (f", **{m2['keras']['test_accuracy']:.4f}** (Keras)" if "keras" in m2 else "")
          + f" after {s.epochs} epochs at batch size {s.batch_size}.")
    rows = []
    for e in range(s.epochs):
        rows.append(_epoch_row(m2, e))
    rep.table(header, rows)
    rep.image("curves_deep.png", "Deep network: loss and accuracy per epoch (solid: training, dashed: validation)")
    rep.image("correct_deep.png", "Deep network: correctly predicted test images")
    rep.image("incorrect_deep.png", "Deep network: incorrectly predicted test images")

    # -------------------------------------------------------------- exercise 2b
    rep.h(2, SECTIONS[7])
    rep.p(f"\"What happens with 10 neurons instead of 512? Add hidden layers.\" Each run from fresh weights, "
          f"{_epochs(s.sweep_epochs)} at batch size {s.batch_size}.")
    sweep_header = ["network", "parameters"] + header[1:]
    for runs in (r["hidden_units_sweep"], r["hidden_layers_sweep"]):
        rep.table(sweep_header, [[u["architecture"], f"{u['params']:,}", _acc(u, "nnscratch"), _sec(u, "nnscratch")]
                                 + ([_acc(u, "keras"), _sec(u, "keras")] if ks else []) for u in runs])
    rep.image("sweep_hidden_units.png", "Test accuracy and training time against hidden units (2 hidden layers)")
    rep.image("sweep_hidden_layers.png", f"Test accuracy and training time against hidden layers "
              f"({s.depth_units} units each)")

    # -------------------------------------------------------------- kNN
    rep.h(2, SECTIONS[8])
    rep.p(_knn_text(knn))
    rep.table(*_knn_table(knn))
    rep.image("knn_confusion.png", "kNN confusion matrix: rows are true classes, columns predicted classes")

    # -------------------------------------------------------------- second data set
    rep.h(2, SECTIONS[9])
    if r["second"]:
        sd = r["second"]
        rep.p(f"The same models on **{sd['dataset']}** (`tf.keras.datasets.{sd['dataset']}.load_data()`), "
              "same settings. The workshop expects kNN to drop towards 85% on Fashion-MNIST.")
        rep.image("second_samples.png", f"Nine random {sd['dataset']} training images")
        header2 = ["model", "nnscratch accuracy", "nnscratch time (s)"] + (["Keras accuracy", "Keras time (s)"] if ks else [])
        rows = [[name, _acc(x, "nnscratch"), _sec(x, "nnscratch")] + ([_acc(x, "keras"), _sec(x, "keras")] if ks else [])
                for name, x in (("one-layer network", sd["one_layer"]), ("deep network 784-512-512-10", sd["deep"]))]
        rep.table(header2, rows)
        rep.image("second_curves.png", f"{sd['dataset']}: loss and accuracy per epoch, both networks")
        rep.p(_knn_text(sd["knn"]))
        rep.table(*_knn_table(sd["knn"]))
        rep.image("second_knn_confusion.png", f"{sd['dataset']}: kNN confusion matrix")
    else:
        rep.p("Skipped (`--no-second-dataset`).")

    # -------------------------------------------------------------- settings
    rep.h(2, SECTIONS[10])
    rep.code(json.dumps(r["settings"], indent=1))
    rep.table(["", ""], [[k, v] for k, v in r["environment"].items()] + [["total time (s)", _seconds(r["seconds_total"])]])
    rep.p("Every number of this report is in `results.json` next to it. Reproduce with "
          f"`nnscratch workshop{' --quick' if s.quick_mode else ''} --dataset {s.dataset} --seed {s.seed}`.")
    return rep


def _epoch_row(run, e):
    row = [e + 1]
    for side in ("nnscratch", "keras"):
        if side in run:
            row += [run[side]["epoch_test_accuracy"][e], _seconds(sum(run[side]["epoch_seconds"][:e + 1]))]
    return row


def _knn_text(knn):
    return (f"k-nearest neighbours (k={knn['n_neighbors']}, Euclidean distance, majority vote) on "
            f"{knn['train_rows']:,} training and {knn['test_rows']:,} test images, with nnscratch's "
            "from-scratch `KNeighborsClassifier` (`nnscratch/neighbors.py`)"
            + (" and scikit-learn's beside it." if "sklearn" in knn else ".")
            + " kNN has no training phase: the time is spent predicting, comparing every test image "
            "with every training image.")


def _knn_table(knn):
    header = ["implementation", "accuracy", "time (s)", "same predictions as nnscratch"]
    rows = [["nnscratch", knn["nnscratch"]["accuracy"], _seconds(knn["nnscratch"]["seconds"]), "-"]]
    if "sklearn" in knn:
        rows.append(["scikit-learn", knn["sklearn"]["accuracy"], _seconds(knn["sklearn"]["seconds"]),
                     f"{100 * knn['sklearn']['same_predictions']:.2f}%"])
    return header, rows
