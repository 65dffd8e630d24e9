"""Side-by-side differences between an nnscratch model and its Keras twin.

Python::

    from keras_reference import workshop_pair
    from keras_reference.compare import compare_models
    nn, km = workshop_pair("3layer", dtype="float32")
    report = compare_models(nn, km, x, y, steps=100, fit_data=(x_fit, y_fit))
    print(report.table()); report.ok; report.to_dict()

Command line (MNIST from ``NNSCRATCH_DATA``; exit status 1 if any tolerance is exceeded)::

    python -m keras_reference.compare --model 3layer --steps 100 --dtype float32

Every row holds ``max|a - b|`` over a tensor and ``max rel = max|a - b| / max|b|`` (the difference
relative to the size of Keras's tensor; ``a`` nnscratch, ``b`` Keras).  Stages:

* ``forward``   -- each layer's output at inference (``training=False``), and in training with
  Keras's dropout masks replayed in nnscratch (:mod:`keras_reference.masks`).
* ``loss``/``gradients`` -- one training-mode forward/backward pass, masks replayed; Keras's
  gradients from ``tf.GradientTape`` over ``model.compute_loss``.
* ``N steps``   -- weights (and each step's loss) after N optimizer steps on the batch, Keras via
  ``train_on_batch``, masks replayed.  Both sides start from fresh optimizers.
* ``fit``       -- one epoch of ``fit(shuffle=False)`` on ``fit_data`` with dropout disabled (rate 0),
  weights and the logged ``loss``/``accuracy``; and, if the model has dropout, one epoch with dropout
  on and Keras's masks replayed.
* ``evaluate``/``predict`` -- at inference.  Where Keras's ``evaluate`` loss is computed by a
  different formula from nnscratch's (its logits shortcut), both numbers are shown with the reason,
  and Keras's number is checked against that other formula instead.
"""
import argparse
import dataclasses
import json
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import nnscratch  # noqa: E402
from nnscratch import checks as nn_checks  # noqa: E402
from nnscratch import layers as nn_layers  # noqa: E402
from nnscratch import losses as nn_losses  # noqa: E402
from nnscratch import optimizers as nn_optimizers  # noqa: E402
from nnscratch.models import softmax_head  # noqa: E402

from .masks import replay_keras_masks  # noqa: E402
from .models import ProbabilityCrossentropy, keras_floatx, keras_loss_like, workshop_pair  # noqa: E402

# accuracy: Keras's metric is a float32/64 fraction; 1e-7 is far below one sample in 1/n.
TOLERANCES = {
    "float32": {"forward": 1e-6, "loss": 1e-6, "gradients": 1e-6, "steps": 1e-5, "fit": 1e-5,
                "predict": 1e-6, "evaluate": 1e-6, "accuracy": 1e-7},
    "float64": {"forward": 1e-10, "loss": 1e-10, "gradients": 1e-10, "steps": 1e-10, "fit": 1e-10,
                "predict": 1e-10, "evaluate": 1e-10, "accuracy": 1e-10},
}

EVALUATE_SHORTCUT_NOTE = (
    "Keras's evaluate loss for a {act} output is softmax cross-entropy of the pre-{act} logits "
    "(at inference Dropout passes the {act}'s tensor, with its _keras_logits, straight to the loss), "
    "unlike its training loss and nnscratch's loss, which renormalise and clip the {act} outputs.")


# ------------------------------------------------------------------------------------- the report
@dataclasses.dataclass
class Row:
    stage: str
    name: str
    max_abs: float
    max_rel: float
    tol: float = None          # None: shown for information, not checked
    nnscratch: float = None    # scalar rows (loss, accuracy): both values
    keras: float = None
    note: str = ""

    scale: float = 1.0         # max(1, max|keras|): the tolerance is relative above 1

    @property
    def ok(self):
        return self.tol is None or (math.isfinite(self.max_abs) and self.max_abs <= self.tol * self.scale)


@dataclasses.dataclass
class Report:
    title: str
    dtype: str
    rows: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    tolerances: dict = None    # stage -> tol; default TOLERANCES[dtype]

    def __post_init__(self):
        if self.tolerances is None:
            self.tolerances = dict(TOLERANCES[self.dtype])

    @property
    def ok(self):
        return all(r.ok for r in self.rows)

    def add(self, stage, name, a, b, tol, note="", scalar=False):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        max_abs, max_rel = diff(a, b)
        scale = max(1.0, float(np.max(np.abs(b)))) if b.size and np.all(np.isfinite(b)) else 1.0
        row = Row(stage, name, max_abs, max_rel, tol, note=note, scale=scale)
        if scalar:
            row.nnscratch, row.keras = float(a.max()) if a.ndim else float(a), float(b.max()) if b.ndim else float(b)
        self.rows.append(row)
        return row

    def worst(self, stage_prefix):
        """Largest max|diff| over the checked rows whose stage starts with ``stage_prefix``."""
        vals = [r.max_abs for r in self.rows if r.stage.startswith(stage_prefix) and r.tol is not None]
        return max(vals) if vals else None

    def table(self):
        head = f"{'stage':<30} {'tensor':<36} {'max|diff|':>10} {'max rel':>10} {'tol':>8}  ok"
        out = [self.title, head, "-" * len(head)]
        for r in self.rows:
            tol = "info" if r.tol is None else f"{r.tol * r.scale:.1e}"
            flag = "  " if r.tol is None else ("ok" if r.ok else "FAIL")
            line = f"{r.stage:<30} {r.name:<36} {r.max_abs:>10.2e} {r.max_rel:>10.2e} {tol:>8}  {flag}"
            if r.nnscratch is not None:
                line += f"   nnscratch {r.nnscratch:.10g}  keras {r.keras:.10g}"
            out.append(line)
            if r.note:
                out.append(f"{'':<31}  ^ {r.note}")
        out += [f"note: {n}" for n in self.notes]
        out.append(f"{'ALL WITHIN TOLERANCE' if self.ok else 'TOLERANCE EXCEEDED'} ({self.seconds:.1f} s)")
        return "\n".join(out)

    def to_dict(self):
        return {"title": self.title, "dtype": self.dtype, "ok": self.ok, "seconds": self.seconds,
                "notes": self.notes, "rows": [dict(dataclasses.asdict(r), ok=r.ok) for r in self.rows]}


def diff(a, b):
    """``(max|a - b|, max|a - b| / max|b|)``; NaN anywhere gives ``(inf, inf)``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0, 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return (0.0, 0.0) if np.array_equal(a, b, equal_nan=True) else (math.inf, math.inf)
    d = float(np.max(np.abs(a - b)))
    scale = float(np.max(np.abs(b)))
    return d, (d / scale if scale > 0 else (0.0 if d == 0 else math.inf))


# ------------------------------------------------------------------------------------ both sides
def keras_dtype(km):
    return keras.backend.standardize_dtype(km.weights[0].dtype)


def nn_pass(nn, x, y=None, training=False):
    """nnscratch, layer by layer (what ``Sequential.compute_gradients`` does), keeping every output.
    Returns ``(outputs, loss, grads)``; loss and grads only when ``y`` is given."""
    h = np.asarray(x, dtype=nn.dtype)
    outs = []
    for layer in nn.layers:
        h = layer.forward(h, training=training)
        outs.append(h.copy())
    if y is None:
        return outs, None, None
    y = nn_checks.targets(nn.compiled_loss, y, len(h), nn.output_dim, nn.dtype, "nn_pass")
    loss, grad = nn.loss_and_gradient(y, h)
    nn.backward(grad)
    return outs, float(loss), [g.copy() for g in nn.gradients]


def keras_pass(km, x, y=None, training=False):
    """Keras, layer by layer (what ``Sequential.call`` does) under ``tf.GradientTape``, keeping every
    output; the loss is ``model.compute_loss`` (the compiled loss, as ``train_step`` uses it)."""
    dtype = keras_dtype(km)
    with keras_floatx(dtype), tf.GradientTape() as tape:
        h = tf.convert_to_tensor(np.asarray(x, dtype=dtype))
        outs = []
        for layer in km.layers:
            h = layer(h, training=training)
            outs.append(h)
        if y is None:
            return [o.numpy() for o in outs], None, None
        loss = km.compute_loss(x=x, y=tf.convert_to_tensor(np.asarray(y, dtype=dtype)), y_pred=h,
                               training=training)
    grads = tape.gradient(loss, km.trainable_weights)
    return [o.numpy() for o in outs], float(loss), [g.numpy() for g in grads]


def clone_nn(nn, dropout=None):
    """A fresh nnscratch copy: same layers (Dropout rates replaced by ``dropout`` if given), same
    weights, a fresh optimizer with the same hyperparameters."""
    model = nnscratch.Sequential(dtype=nn.dtype)
    for layer in nn.layers:
        cfg = dict(layer.get_config())
        cfg.pop("name")
        if cfg.get("input_shape") is None:
            cfg.pop("input_shape", None)
        if dropout is not None and isinstance(layer, nn_layers.Dropout):
            cfg["rate"] = dropout
        model.add(type(layer)(**cfg))
    if not model.built:
        model.build(nn.sample_shape)
    model.set_weights(nn.get_weights())
    opt = nn_optimizers.from_config(nn.optimizer.get_config()) if nn.optimizer is not None else "adam"
    loss = nn.compiled_loss if nn.compiled_loss is not None else nn_losses.CategoricalCrossentropy()
    model.compile(loss=nn_losses.get(nn_losses.serialize(loss)), optimizer=opt, metrics=["accuracy"])
    return model


def _copy_loss(loss, dtype):
    if isinstance(loss, ProbabilityCrossentropy):
        return ProbabilityCrossentropy(dtype=dtype, sparse=loss.sparse, from_logits=loss.from_logits)
    if isinstance(loss, (keras.losses.CategoricalCrossentropy, keras.losses.SparseCategoricalCrossentropy)):
        return type(loss)(from_logits=loss.get_config()["from_logits"], dtype=dtype)
    if loss == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy(dtype=dtype)
    raise ValueError(f"compare: unsupported Keras loss {loss!r}")


def clone_keras(km, dropout=None, loss=None):
    """A fresh Keras copy (``keras.models.clone_model``): same layers (Dropout rates replaced by
    ``dropout`` if given), same weights, the same loss (or ``loss``), a fresh optimizer from the
    original's config."""
    dtype = keras_dtype(km)

    def clone_layer(layer):
        cfg = layer.get_config()
        if dropout is not None and isinstance(layer, keras.layers.Dropout):
            cfg["rate"] = dropout
        return layer.__class__.from_config(cfg)

    with keras_floatx(dtype):
        model = keras.models.clone_model(km, clone_function=clone_layer)
    model.set_weights(km.get_weights())
    optimizer = km.optimizer.__class__.from_config(km.optimizer.get_config())
    with keras_floatx(dtype):
        model.compile(loss=loss if loss is not None else _copy_loss(km.loss, dtype), optimizer=optimizer,
                      metrics=["accuracy"])
    return model


def _param_names(nn):
    names = []
    for layer in nn.layers:
        for kind, w in zip(("kernel", "bias"), layer.trainable_weights):
            names.append(f"{layer.name}/{kind} {tuple(w.shape)}")
    return names


def _has_dropout(nn):
    return any(isinstance(l, nn_layers.Dropout) and l.rate > 0 for l in nn.layers)


def _inference_logits_layer(nn):
    """The layer whose sigmoid/softmax output reaches Keras's loss at inference (trailing Dropouts are
    the identity there), or None.  Keras's stock loss then uses that layer's pre-activation."""
    stack = [l for l in nn.layers if not isinstance(l, nn_layers.Dropout)]
    last = stack[-1]
    if isinstance(last, (nn_layers.Dense, nn_layers.Activation)) and last.activation.name in ("sigmoid", "softmax"):
        return last
    return None


def _pre_activation(nn, layer, x):
    """``z`` fed to ``layer``'s activation, at inference."""
    nn.forward(np.asarray(x, dtype=nn.dtype), training=False)
    return layer.cache[1] if isinstance(layer, nn_layers.Dense) else layer.cache[0]


def _uses_stock_loss(km):
    return (isinstance(km.loss, (keras.losses.CategoricalCrossentropy, keras.losses.SparseCategoricalCrossentropy))
            or km.loss == "categorical_crossentropy")


def _loss_note(nn, km):
    head = [l for l in nn.layers if not isinstance(l, nn_layers.Dropout)][-1]
    act = head.activation.name if hasattr(head, "activation") else "linear"
    if softmax_head(nn.layers[-1]):
        return "loss: softmax head, both sides use softmax cross-entropy of the logits (Keras's stock loss)."
    if _uses_stock_loss(km):
        return (f"loss: Keras's stock categorical_crossentropy; the {act} output reaches it through an "
                "active Dropout while training, so Keras uses the renormalised+clipped formula, as nnscratch does.")
    return ("loss: Keras twin compiled with ProbabilityCrossentropy = Keras's own categorical_crossentropy on a "
            "tensor stripped of _keras_logits (renormalise+clip), which is nnscratch's loss.")


# --------------------------------------------------------------------------------------- stages
def compare_forward(report, nn, km, x, training=False):
    tol = report.tolerances["forward"]
    replays = replay_keras_masks(nn, km) if training and _has_dropout(nn) else []
    try:
        k_outs, _, _ = keras_pass(km, x, training=training)
        n_outs, _, _ = nn_pass(nn, x, training=training)
    finally:
        for layer in nn.layers:
            if isinstance(layer, nn_layers.Dropout):
                layer.mask_source = None
    stage = "forward (training, masks)" if training else "forward (inference)"
    for i, (layer, a, b) in enumerate(zip(nn.layers, n_outs, k_outs)):
        note, row_tol = "", tol
        if isinstance(layer, nn_layers.Dense) and layer.activation.name == "linear":
            # z = x @ W + b, unbounded.  In float32 a K-term dot product carries ~sqrt(K) roundings;
            # BLAS (NumPy) and oneDNN/Eigen (TensorFlow) add in different orders, and each lands about
            # 1e-6 from the exact value for K = 512.  Shown, with Keras's own error against exact
            # arithmetic on its own input; checked in float64, and through every activation after it.
            x_in = np.asarray(k_outs[i - 1] if i else x, dtype=np.float64)
            w, bias = (np.asarray(v, dtype=np.float64) for v in layer.weights)
            keras_err = float(np.max(np.abs(b - (x_in @ w + bias)))) if b.size else 0.0
            note = f"pre-activation z over {w.shape[0]} inputs; Keras's own error vs exact arithmetic: {keras_err:.2e}"
            if report.dtype == "float32":
                row_tol = None
        report.add(stage, f"{layer.name} out {a.shape}", a, b, row_tol, note=note)
    return replays


def compare_gradients(report, nn, km, x, y, training=True):
    t = report.tolerances
    replays = replay_keras_masks(nn, km) if training and _has_dropout(nn) else []
    try:
        _, k_loss, k_grads = keras_pass(km, x, y, training=training)
        _, n_loss, n_grads = nn_pass(nn, x, y, training=training)
    finally:
        for layer in nn.layers:
            if isinstance(layer, nn_layers.Dropout):
                layer.mask_source = None
    masks = " (masks replayed)" if replays else ""
    report.add("loss" + masks, "training loss", n_loss, k_loss, t["loss"], scalar=True)
    for name, a, b in zip(_param_names(nn), n_grads, k_grads):
        report.add("gradients" + masks, name, a, b, t["gradients"])


def compare_steps(report, nn, km, x, y, steps=100, via="fit"):
    """``steps`` optimizer steps on the batch ``(x, y)``, on fresh copies of both models.

    Keras runs ``train_on_batch``; nnscratch runs ``fit(x, y, batch_size=len(x), shuffle=False)``
    one epoch (= one step) at a time (``via='fit'``, what users run) or ``train_on_batch``
    (``via='train_on_batch'``).  Returns the trajectory: after every step, the largest
    ``max|nnscratch - Keras|`` over all weights (a list of ``steps`` numbers).
    """
    if via not in ("fit", "train_on_batch"):
        raise ValueError(f"compare_steps: via must be 'fit' or 'train_on_batch', got {via!r}")
    t = report.tolerances
    a, b = clone_nn(nn), clone_keras(km)
    replays = replay_keras_masks(a, b) if _has_dropout(a) else []
    n_losses, k_losses, trajectory = [], [], []
    x_n, y_n = np.asarray(x, a.dtype), np.asarray(y, a.dtype)
    with keras_floatx(keras_dtype(b)):
        for _ in range(steps):
            k_losses.append(b.train_on_batch(x, y)[0])
            if via == "fit":
                n_losses.append(a.fit(x_n, y_n, batch_size=len(x_n), epochs=1, shuffle=False,
                                      verbose=0).history["loss"][0])
            else:
                n_losses.append(a.train_on_batch(x_n, y_n)[0])
            trajectory.append(max(diff(wa, wb)[0] for wa, wb in zip(a.get_weights(), b.get_weights())))
    if replays and not all(r.in_step_with_keras() for r in replays):
        raise RuntimeError("compare_steps: Keras drew a different number of dropout masks than were replayed")
    opt = type(a.optimizer).__name__
    stage = f"{steps} {opt} steps ({via})" + (" (masks)" if replays else "")
    report.add(stage, "loss at every step", np.array(n_losses), np.array(k_losses), t["loss"],
               note="each step's loss, before its update")
    report.rows[-1].nnscratch, report.rows[-1].keras = float(n_losses[-1]), float(k_losses[-1])
    for name, wa, wb in zip(_param_names(a), a.get_weights(), b.get_weights()):
        report.add(stage, name, wa, wb, t["steps"])
    return trajectory


def compare_fit(report, nn, km, x, y, batch_size=128, dropout_on=False):
    """One epoch of ``fit(shuffle=False)`` on fresh copies.  Dropout off: rate 0 on both sides and the
    Keras twin compiled with the consistent loss.  Dropout on: Keras's masks replayed, its own loss."""
    t = report.tolerances
    dtype = keras_dtype(km)
    if dropout_on:
        a, b = clone_nn(nn), clone_keras(km)
        replay_keras_masks(a, b)
        stage = "fit 1 epoch (dropout, masks)"
    else:
        a = clone_nn(nn, dropout=0.0)
        loss = keras_loss_like(a.compiled_loss, dtype, "consistent", softmax_head(a.layers[-1]))
        b = clone_keras(km, dropout=0.0, loss=loss)
        stage = "fit 1 epoch (dropout 0)"
    with keras_floatx(dtype):
        hk = b.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    hn = a.fit(np.asarray(x, a.dtype), np.asarray(y, a.dtype), batch_size=batch_size, epochs=1,
               shuffle=False, verbose=0)
    report.add(stage, "history loss", hn.history["loss"][0], hk.history["loss"][0], t["loss"],
               scalar=True, note="running mean over the epoch of each batch's loss before its update")
    report.add(stage, "history accuracy", hn.history["accuracy"][0], hk.history["accuracy"][0],
               t["accuracy"], scalar=True)
    for name, wa, wb in zip(_param_names(a), a.get_weights(), b.get_weights()):
        report.add(stage, name, wa, wb, t["fit"])


def compare_inference(report, nn, km, x, y):
    """``predict`` and ``evaluate`` (dropout off).  If Keras's evaluate takes its logits shortcut where
    nnscratch does not, both losses are shown (information) and Keras's is checked against the
    formula it really uses, computed from nnscratch's pre-activation."""
    t = report.tolerances
    dtype = keras_dtype(km)
    with keras_floatx(dtype):
        pk = km.predict(x, verbose=0)
        ek = km.evaluate(x, y, verbose=0)
    pn = nn.predict(np.asarray(x, nn.dtype), verbose=0)
    en = nn.evaluate(np.asarray(x, nn.dtype), np.asarray(y, nn.dtype), verbose=0)
    report.add("predict", f"outputs {pn.shape}", pn, pk, t["predict"])
    report.add("evaluate", "accuracy", en[1], ek[1], t["accuracy"], scalar=True)
    head = _inference_logits_layer(nn)
    shortcut = (head is not None and _uses_stock_loss(km) and not softmax_head(nn.layers[-1]))
    if not shortcut:
        report.add("evaluate", "loss", en[0], ek[0], t["evaluate"], scalar=True)
        return
    act = head.activation.name
    note = EVALUATE_SHORTCUT_NOTE.format(act=act)
    report.add("evaluate", "loss (nnscratch's formula)", en[0], ek[0], None, scalar=True, note=note)
    # Keras's number, recomputed: batch-size-weighted mean of per-batch softmax-CE of z (batch 32).
    z = _pre_activation(nn, head, x)
    yy = nn_checks.targets(nn.compiled_loss, y, len(z), nn.output_dim, nn.dtype, "compare_inference")
    yy = nn.compiled_loss.rows(yy, nn.output_dim, nn.dtype)
    n = len(z)
    per_batch = [nn_losses.softmax_crossentropy_from_logits(yy[i:i + 32], z[i:i + 32]) * len(z[i:i + 32])
                 for i in range(0, n, 32)]
    report.add("evaluate", f"loss (softmax-CE of pre-{act} z)", sum(per_batch) / n, ek[0], t["evaluate"],
               scalar=True, note="Keras's evaluate loss, recomputed with the formula Keras uses there")


def compare_models(nn, km, x, y, steps=100, fit_data=None, fit_batch_size=128, title=None,
                   fit_dropout_on=True, tol_scale=1.0):
    """Every stage for a twin pair on the batch ``(x, y)``; ``fit_data=(x, y)`` adds a fit epoch.

    ``nn`` and ``km`` must hold the same weights (see :mod:`keras_reference.transfer`); neither is
    trained (steps and fit run on fresh copies).  ``tol_scale`` multiplies every tolerance of
    :data:`TOLERANCES`.  Returns a :class:`Report`.
    """
    start = time.perf_counter()
    dtype = nn.dtype.name
    if keras_dtype(km) != dtype:
        raise ValueError(f"compare_models: nnscratch model is {dtype}, Keras model is {keras_dtype(km)}")
    report = Report(title or f"{nn.name} vs Keras, {dtype}, batch {len(x)}", dtype,
                    tolerances={k: v * tol_scale for k, v in TOLERANCES[dtype].items()})
    report.add("weights", "initial weights (all)", np.concatenate([w.ravel() for w in nn.get_weights()]),
               np.concatenate([w.ravel() for w in km.get_weights()]), 0.0)
    compare_forward(report, nn, km, x, training=False)
    if _has_dropout(nn):
        compare_forward(report, nn, km, x, training=True)
    compare_gradients(report, nn, km, x, y)
    if steps:
        compare_steps(report, nn, km, x, y, steps)
    if fit_data is not None:
        compare_fit(report, nn, km, *fit_data, batch_size=fit_batch_size)
        if fit_dropout_on and _has_dropout(nn):
            compare_fit(report, nn, km, *fit_data, batch_size=fit_batch_size, dropout_on=True)
    compare_inference(report, nn, km, x, y)
    report.notes.append(_loss_note(nn, km))
    if _has_dropout(nn):
        report.notes.append("masks: Keras's dropout masks rebuilt from each layer's seed generator state "
                            "[s, k] as tf.random.stateless_uniform(shape, seed=[s, k]) >= rate and "
                            "replayed in nnscratch's Dropout (mask_source).")
    if dtype == "float32":
        report.notes.append("float32 pre-activations z = x @ W + b (rows marked info) are shown, not checked: "
                            "NumPy's BLAS and TensorFlow's oneDNN sum the K products in different orders and "
                            "each is ~1e-6 from exact for K = 512 (Keras's own error is printed under each); "
                            "every activation, dropout output and the model output after them is checked.")
    report.notes.append("max rel = max|nnscratch - keras| / max|keras| over the tensor; a row passes if "
                        "max|diff| <= tol * max(1, max|keras|) (the tol column shows that product): "
                        "absolute for values up to 1, relative above, as float spacing is.")
    report.seconds = time.perf_counter() - start
    return report


# ------------------------------------------------------------------------------------------ CLI
def mnist_sample(n, dtype="float32", offset=0):
    """The first ``n`` MNIST training images (from ``offset``), flattened and scaled to [0, 1],
    with one-hot labels (Keras's ``to_categorical``)."""
    from nnscratch.datasets import mnist
    (x, y), _ = mnist.load_data()
    x = x[offset:offset + n].reshape(-1, 784).astype(dtype) / np.asarray(255, dtype)
    return x.astype(dtype), keras.utils.to_categorical(y[offset:offset + n], 10).astype(dtype)


OPTIMIZER_CHOICES = {
    "adam": lambda: nn_optimizers.Adam(),
    "sgd": lambda: nn_optimizers.SGD(learning_rate=0.01),
    "momentum": lambda: nn_optimizers.SGD(learning_rate=0.01, momentum=0.9),
    "nesterov": lambda: nn_optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True),
    "rmsprop": lambda: nn_optimizers.RMSprop(),
    "rmsprop-momentum": lambda: nn_optimizers.RMSprop(momentum=0.9),
    "rmsprop-centered": lambda: nn_optimizers.RMSprop(centered=True),
}


def run(model="3layer", dtype="float32", steps=100, batch=128, fit_samples=2048, fit_batch_size=128,
        optimizer="adam", seed=0, fit_dropout_on=True, tol_scale=1.0):
    """Build a workshop pair (identical weights, Keras compiled as the workshop does) and compare it."""
    from .models import keras_optimizer_like
    keras.utils.set_random_seed(seed)
    nn, km = workshop_pair(model, dtype=dtype, seed=seed, loss="keras")
    if optimizer != "adam":
        opt = OPTIMIZER_CHOICES[optimizer]()
        nn.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
        keras_opt = keras_optimizer_like(opt)
        with keras_floatx(dtype):
            km.compile(loss=km.loss, optimizer=keras_opt, metrics=["accuracy"])
    x, y = mnist_sample(max(batch, fit_samples), dtype)
    title = (f"{model} ({nn.count_params():,} params), {dtype}: batch {batch}, {steps} {optimizer} steps, "
             f"fit 1 epoch on {fit_samples} MNIST samples (batch {fit_batch_size})")
    return compare_models(nn, km, x[:batch], y[:batch], steps=steps,
                          fit_data=(x[:fit_samples], y[:fit_samples]) if fit_samples else None,
                          fit_batch_size=fit_batch_size, title=title, fit_dropout_on=fit_dropout_on,
                          tol_scale=tol_scale)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m keras_reference.compare",
                                description="Compare nnscratch with Keras on a workshop model.")
    p.add_argument("--model", choices=["1layer", "3layer"], default="3layer")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--steps", type=int, default=100, help="optimizer steps on one batch (0: skip)")
    p.add_argument("--batch", type=int, default=128, help="batch for forward/gradients/steps")
    p.add_argument("--fit-samples", type=int, default=2048, help="MNIST samples for the fit epoch (0: skip)")
    p.add_argument("--fit-batch-size", type=int, default=128)
    p.add_argument("--optimizer", choices=sorted(OPTIMIZER_CHOICES), default="adam")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tol-scale", type=float, default=1.0,
                   help="multiply every tolerance (e.g. 0.1 to see how much margin there is)")
    p.add_argument("--json", help="also write the report as JSON to this file")
    args = p.parse_args(argv)
    report = run(args.model, args.dtype, args.steps, args.batch, args.fit_samples, args.fit_batch_size,
                 args.optimizer, args.seed, tol_scale=args.tol_scale)
    print(report.table())
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report.to_dict(), f, indent=1)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
