"""The workshop's experiments: each model trained with nnscratch and (when TensorFlow is installed) its
Keras twin with the same settings (:func:`train_pair`), kNN beside scikit-learn's (:func:`knn_pair`),
and :func:`run`, which does every step, draws the figures and writes the report.
"""
import dataclasses
import json
import os
import platform
import time

import numpy as np

from .. import zoo
from . import inside
from .data import class_names, load_data, subset
from .keras_side import KerasSide
from .report import epochs as _epochs
from .settings import Progress, Settings
from .writeup import _acc, _sec, write_report

GRADIENT_DEPTHS = (2, 4, 6)       # Dense layers of the networks whose gradients per layer the report draws


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
    from ..utils import set_random_seed
    set_random_seed(settings.seed)
    nn = zoo.mlp(hidden_layers, units)
    initial = nn.get_weights() if keep else None
    km = keras_side.twin(nn, settings.seed) if keras_side.available else None
    fit_verbose = 2 if settings.verbose >= 2 else 0
    out = {"label": label, "architecture": zoo.describe(hidden_layers, units), "hidden_layers": hidden_layers,
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
        out["models"], out["initial_weights"] = (nn, km), initial
    return out


def knn_pair(data, settings, progress, label):
    """nnscratch's kNN and scikit-learn's on the same rows: accuracy, time, confusion matrix."""
    from ..neighbors import KNeighborsClassifier
    from ..utils import confusion_matrix
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
    from .. import plotting
    from ..backend import get_backend

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
    from ..utils import to_categorical
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
        initial = m.pop("initial_weights")
        curves = {"nnscratch": m["nnscratch"]["history"]}
        if "keras" in m:
            curves["Keras"] = m["keras"]["history"]
        plotting.plot_training_curves(curves, fig_path(f"curves_{tag}.png"), title=title)
        probabilities = nn.predict(data["Xt"], batch_size=512, verbose=0)
        pred = np.argmax(probabilities, axis=-1)
        _prediction_grids(plotting, data, pred, names, tag, fig_path)
        m["confusion_matrix"] = _confusion(plotting, data["yt"], pred, names, f"{title}: confusion matrix "
                                           "(test set)", fig_path(f"confusion_{tag}.png"))
        plotting.plot_misclassified(data["Xt"], probabilities, data["yt"], fig_path(f"misclassified_{tag}.png"),
                                    class_names=names, max_images=6,
                                    title=f"{title}: misclassified test images and its ten outputs")
        return m, _summary_text(nn, km), nn, initial

    m1, summary1, nn1, initial1 = main_model(0, None, "one-layer network", "One-layer network", "1layer")
    results["one_layer"] = m1
    # what it learned: its ten weight columns as images, and how well they match the class means
    never_inked = data["X"].max(axis=0) == 0
    plotting.plot_weight_templates(nn1.layers[0].kernel, fig_path("weights_1layer.png"), class_names=names,
                                   never_inked=never_inked, initial=initial1[0],
                                   title="One-layer network: the weights of each output unit as an image "
                                         "(top), and what training changed (bottom)")
    corr = inside.template_match(nn1.layers[0].kernel, data["X"], data["y"])
    change = inside.template_match(nn1.layers[0].kernel - initial1[0], data["X"], data["y"])
    results["inside"] = {"template_correlation": np.diag(corr).tolist(),
                         "template_best_match": corr.argmax(axis=1).tolist(),
                         "change_correlation": np.diag(change).tolist(),
                         "change_best_match": change.argmax(axis=1).tolist(),
                         "never_inked_pixels": int(never_inked.sum())}

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
    m2, summary2, nn2, _ = main_model(2, 512, "deep network", "Deep network 784-512-512-10", "deep")
    results["deep"] = m2
    acts = inside.hidden_activations(nn2, data["Xt"][:2000])
    saturated = {k: inside.saturated_fraction(v) for k, v in acts.items()}
    plotting.plot_activation_histograms(acts, fig_path("activations_deep.png"), value_range=(0, 1),
                                        saturation=saturated,
                                        title="Deep network: sigmoid outputs of each hidden layer (test images)")
    results["inside"]["saturated"] = saturated

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
    # why: the size of each layer's gradient before the first step, sigmoid against ReLU
    norms = inside.gradient_norms(data["X"][:256], data["Y"][:256], depths=GRADIENT_DEPTHS, units=s.depth_units,
                                  seed=s.seed)
    plotting.plot_gradient_norms(norms, fig_path("gradient_norms.png"),
                                 title=f"Mean |dL/dW| per layer at initialisation ({s.depth_units} units per layer)")
    results["inside"]["gradient_norms"] = norms

    # ------------------------------------------------------------------ part II: convnet, altered digits
    results["part2"] = None
    if s.part2:
        from .part2 import run_part2
        results["part2"] = run_part2(full, s.part2_epochs, s.batch_size, s.seed, progress, fig_path,
                                     s.part2_train_rows or s.train_rows, s.part2_test_rows or s.test_rows)
        cnn = results["part2"].pop("models")["simple convnet"]
        plotting.plot_conv_filters(cnn.layers[0].kernel, fig_path("conv_filters.png"),
                                   title="Simple convnet: the 32 filters of its first layer (3 x 3)")
        digit = data["Xt"][0].reshape(28, 28, 1)
        plotting.plot_feature_maps(digit, inside.feature_maps(cnn, digit), fig_path("feature_maps.png"),
                                   title=f"What the first layer makes of test image 0 (class {names[data['yt'][0]]}): "
                                         "16 of its 32 maps, after ReLU, each on its own scale")
        n_cnn = results["part2"]["test_rows"]
        cnn_pred = cnn.predict(full["xt"][:n_cnn, :, :, None].astype("float32") / 255, batch_size=512,
                               verbose=0).argmax(axis=1)
        results["part2"]["confusion_matrix"] = _confusion(plotting, full["yt"][:n_cnn], cnn_pred, names,
                                                          "Simple convnet: confusion matrix (original test images)",
                                                          fig_path("confusion_cnn.png"))

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
    report = write_report(s, results, full, one, one_hot, summary1, summary2, names, keras_side)
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


def _confusion(plotting, labels, pred, names, title, path):
    """Draw the confusion matrix of ``pred`` against ``labels``; return it as lists (for results.json)."""
    from ..utils import confusion_matrix
    cm = confusion_matrix(labels, pred, num_classes=len(names))
    plotting.plot_confusion_matrix(cm, path=path, class_names=names, title=title)
    return cm.tolist()


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

