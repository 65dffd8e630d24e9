"""Finite-difference gradient checking: is each ``backward`` really the derivative of its ``forward``?

For every entry ``w`` of a parameter (or of the input) we compare the analytic gradient from
``backward`` with the central difference ::

    dL/dw  ~  ( L(w + h) - L(w - h) ) / (2 h)          error O(h^2), h = 1e-5, in float64

and report, per tensor, the relative error ``||num - ana|| / (||num|| + ||ana||)`` (norms over the
entries checked).  In float64 a correct backward gives about 1e-8 or smaller; an error of 1e-2 or
larger means a bug.  The checks here fail above ``tol = 1e-7``.

Usage::

    from nnscratch import gradcheck
    print(gradcheck.check_layer(Dense(5, activation='sigmoid'), x))     # any layer
    print(gradcheck.check_model(model, x, y))                            # a whole model, with its loss
    print(gradcheck.check_loss('softmax', y, z))                         # a loss alone
    print(gradcheck.check_function(lambda w, b: tf.reduce_sum(tf.tanh(x @ w + b)), [w, b]))
                                                   # the tape's gradient of a function of tf.Variables

Dropout is random; during a check each layer's random generator is rewound before every forward
pass, so all evaluations see the same mask.

**Which code is checked.**  By default every check runs on the ``'numpy'`` backend: the plain NumPy
lines you read (and may edit) in ``activations.py``, ``layers.py``, ``conv.py`` and ``losses.py``.
Change ``sigmoid_backward`` and the default check fails.  ``backend='numba'`` checks the engine's fast
paths instead (``engine/fast.py``), which compute the library's own formulas whatever you edit; the
report says which code it checked.
"""
import functools

import numpy as np

from . import backend as backend_switch
from . import losses
from .layers import Dropout
from .tape import GradientTape, Variable

DEFAULT_TOL = 1e-7


def relative_error(numeric, analytic):
    """``||numeric - analytic|| / (||numeric|| + ||analytic||)``, 0 when both are 0."""
    numeric, analytic = np.ravel(numeric), np.ravel(analytic)
    denom = np.linalg.norm(numeric) + np.linalg.norm(analytic)
    return float(np.linalg.norm(numeric - analytic) / denom) if denom > 0 else 0.0


def numerical_gradient(f, x, h=1e-5, indices=None):
    """Central differences of the scalar function ``f()`` with respect to the array ``x`` (changed in
    place and restored).  ``indices``: flat positions to check (default: all).  Returns the estimates
    at those positions."""
    flat = x.reshape(-1)
    if indices is None:
        indices = np.arange(flat.size)
    out = np.empty(len(indices))
    for k, i in enumerate(indices):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        out[k] = (f_plus - f_minus) / (2 * h)
    return out


BACKEND_NOTES = {"numpy": "the plain NumPy lines of the learner's rooms, as you read and edit them",
                 "numba": "the engine's fast paths (engine/fast.py), not the plain lines you read"}


def on_backend(check):
    """Run a check on one backend: ``backend='numpy'`` (the default) checks the plain NumPy lines a
    learner reads and edits; ``backend='numba'`` checks the engine's fast paths.  The report says which."""
    @functools.wraps(check)
    def run(*args, backend="numpy", **kwargs):
        with backend_switch.use(backend):                 # every forward/backward of the check runs here
            report = check(*args, **kwargs)
        report.backend = backend
        return report
    return run


class Report:
    """Rows of ``(name, shape, entries checked, relative error, max abs difference)`` with a verdict,
    and ``backend``: which code was checked (see the module docstring)."""

    def __init__(self, title, tol=DEFAULT_TOL):
        self.title, self.tol, self.rows, self.backend = title, tol, [], None

    def add(self, name, shape, numeric, analytic):
        self.rows.append({"name": name, "shape": tuple(shape), "checked": len(numeric),
                          "rel_error": relative_error(numeric, analytic),
                          "max_abs_diff": float(np.max(np.abs(numeric - analytic))) if len(numeric) else 0.0})

    @property
    def max_error(self):
        return max((r["rel_error"] for r in self.rows), default=0.0)

    @property
    def passed(self):
        return self.max_error < self.tol

    def __getitem__(self, name):
        return next(r for r in self.rows if r["name"] == name)

    def __str__(self):
        lines = [f"Gradient check: {self.title}  (central differences, float64; a correct gradient "
                 f"gives ~1e-8 or less, fail above {self.tol:g})",
                 *([f"  backend {self.backend}: checks {BACKEND_NOTES[self.backend]}"] if self.backend else []),
                 f"  {'tensor':<22} {'shape':<14} {'checked':>8} {'rel. error':>11} {'max |diff|':>11}"]
        for r in self.rows:
            lines.append(f"  {r['name']:<22} {str(r['shape']):<14} {r['checked']:>8} "
                         f"{r['rel_error']:>11.2e} {r['max_abs_diff']:>11.2e}")
        lines.append(f"  -> {'PASS' if self.passed else 'FAIL'} (largest relative error {self.max_error:.2e})")
        return "\n".join(lines)

    __repr__ = __str__


def _rewinder(layers):
    """A function that puts every Dropout's random generator back to its current state."""
    saved = [(l, l.rng.bit_generator.state) for l in layers if isinstance(l, Dropout)]

    def rewind():
        for layer, state in saved:
            layer.rng.bit_generator.state = state
    return rewind


def _pick(size, max_entries, rng):
    if max_entries is None or size <= max_entries:
        return np.arange(size)
    return np.sort(rng.choice(size, max_entries, replace=False))


@on_backend
def check_layer(layer, x, training=True, h=1e-5, max_entries=None, tol=DEFAULT_TOL, seed=0):
    """Check one layer's ``backward`` on input ``x (N, D)``, through ``L = sum(forward(x) * R)`` with a
    fixed random ``R`` (so ``dL/d(output) = R``); ``x`` may also be images ``(N, H, W, C)``.  Builds
    the layer in float64 if it is not built.  ``backend``: ``'numpy'`` (default) or ``'numba'``."""
    rng = np.random.default_rng(seed)
    x = np.array(x, dtype=np.float64)
    if not layer.built:
        layer.build(x.shape[1:], np.float64)
    if layer.dtype != np.float64:
        raise ValueError("check_layer: build the layer in float64 for a meaningful check")
    rewind = _rewinder([layer])
    rewind()
    R = rng.standard_normal((x.shape[0],) + tuple(layer.output_shape))

    def loss():
        rewind()
        return float(np.sum(layer.forward(x, training=training) * R))

    rewind()
    layer.forward(x, training=training)
    dx = layer.backward(R)
    analytic = [g.copy() for g in layer.grads]
    report = Report(f"{type(layer).__name__} {layer.name}", tol)
    names = ["kernel", "bias"] if len(layer.weights) == 2 else [f"w{i}" for i in range(len(layer.weights))]
    for name, w, g in zip(names, layer.weights, analytic):
        idx = _pick(w.size, max_entries, rng)
        report.add(name, w.shape, numerical_gradient(loss, w, h, idx), g.reshape(-1)[idx])
    idx = _pick(x.size, max_entries, rng)
    report.add("input", x.shape, numerical_gradient(loss, x, h, idx), dx.reshape(-1)[idx])
    return report


@on_backend
def check_loss(kind, y, pred, h=1e-5, tol=DEFAULT_TOL, sample_weight=None):
    """Check a loss's gradient.  ``kind='softmax'``: ``pred`` are logits ``z`` and the fused gradient
    ``(softmax(z) - y)/N`` is checked against ``softmax_crossentropy_from_logits``; ``kind=
    'probability'``: ``pred`` are outputs ``p`` (e.g. sigmoid) and ``categorical_crossentropy_gradient``
    is checked against ``categorical_crossentropy``.  ``kind`` may also be a loss object
    (``MeanSquaredError()``, ``BinaryCrossentropy(from_logits=True)``, ...): its
    ``value_and_gradient``, weighted by ``sample_weight (N,)`` if given.  ``backend``: ``'numpy'``
    (default) or ``'numba'``."""
    y = np.asarray(y, dtype=np.float64)
    pred = np.array(pred, dtype=np.float64)
    if isinstance(kind, losses.Loss):
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        f = lambda: float(kind.value_and_gradient(y, pred, sample_weight=w)[0])         # noqa: E731
        analytic = np.array(kind.value_and_gradient(y, pred, sample_weight=w)[1])
        report = Report(f"{kind!r}" + (" with sample weights" if w is not None else ""), tol)
        report.add("prediction", pred.shape, numerical_gradient(f, pred, h), analytic.reshape(-1))
        return report
    if kind == "softmax":
        from .activations import softmax
        f = lambda: losses.softmax_crossentropy_from_logits(y, pred)
        analytic = losses.softmax_crossentropy_from_logits_gradient(y, softmax(pred))
    elif kind == "probability":
        f = lambda: losses.categorical_crossentropy(y, pred)
        analytic = losses.categorical_crossentropy_gradient(y, pred)
    else:
        raise ValueError("check_loss: kind must be 'softmax' (logits) or 'probability'")
    report = Report(f"categorical cross-entropy ({kind})", tol)
    report.add("prediction", pred.shape, numerical_gradient(f, pred, h), analytic.reshape(-1))
    return report


@on_backend
def check_model(model, x, y, training=True, h=1e-5, max_entries=200, tol=DEFAULT_TOL, seed=0, sample_weight=None):
    """Check every trainable parameter tensor of a float64 model end to end (loss included, weighted by
    ``sample_weight (N,)`` if given), and the input.  Large tensors are checked on ``max_entries``
    random entries each (``None``: all).  The layers of a nested ``Sequential`` are checked in their
    place (``outer/inner/dense/kernel``).  A graph model (``keras.Model(inputs, outputs)``) takes a list
    of inputs and of targets where it has several; each input is checked (``input a``, ``input b``).
    ``backend``: ``'numpy'`` (default) or ``'numba'``."""
    if model.dtype != np.float64:
        raise ValueError("check_model: create the model in float64 (Sequential(dtype='float64'), or float64 "
                         "layers) for a meaningful check")
    rng = np.random.default_rng(seed)
    several = isinstance(x, (list, tuple))
    xs = [np.array(a, dtype=np.float64) for a in (x if several else [x])]
    x = xs if several else xs[0]
    as_targets = lambda t: np.asarray(t, dtype=np.float64 if np.asarray(t).dtype.kind == "f" else np.int64)  # noqa: E731
    y = [as_targets(t) for t in y] if isinstance(y, (list, tuple)) else as_targets(y)
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if not model.built:
        model.build(x.shape[1:])
    rewind = _rewinder(model.all_layers())           # every Dropout, nested ones too

    def loss():
        rewind()
        return float(model.loss_and_gradient(y, model.forward(x, training=training), sw)[0])

    rewind()
    p = model.forward(x, training=training)
    dx = model.backward(model.loss_and_gradient(y, p, sw)[1], input_grad=True)
    analytic = [g.copy() for g in model.gradients]
    report = Report(f"model {model.name}", tol)
    for (name, w), g in zip(_named_trainable_weights(model), analytic):   # the same order as gradients
        idx = _pick(w.size, max_entries, rng)
        report.add(name, w.shape, numerical_gradient(loss, w, h, idx), g.reshape(-1)[idx])
    names = [f"input {t.name}" for t in model.inputs] if several else ["input"]
    for name, a, d in zip(names, xs, dx if several else [dx]):
        idx = _pick(a.size, max_entries, rng)
        report.add(name, a.shape, numerical_gradient(loss, a, h, idx), d.reshape(-1)[idx])
    return report


def _named_trainable_weights(model, prefix=""):
    """``(name, array)`` for each of ``model.trainable_weights``, in its order: ``dense/kernel``, ...;
    a nested model's as ``inner/dense/kernel``; frozen layers left out, as ``trainable_weights`` does."""
    named = []
    for layer in model.layers if model.trainable else []:
        if hasattr(layer, "all_layers"):                 # a nested Sequential
            named += _named_trainable_weights(layer, f"{prefix}{layer.name}/")
        else:
            kinds = ["kernel", "bias"] if len(layer.weights) <= 2 else [f"w{i}" for i in range(len(layer.weights))]
            named += [(f"{prefix}{layer.name}/{k}", w) for k, w in zip(kinds, layer.trainable_weights)]
    return named


@on_backend
def check_function(f, variables, h=1e-5, max_entries=None, tol=DEFAULT_TOL, seed=0):
    """Check the tape's gradient of ``L = f(*variables)``, a function written with nnscratch's
    operations (``tf.matmul``, ``tf.tanh``, a layer called on tensors, ...) of float64 Variables,
    against central differences on every entry of each Variable (``max_entries``: that many random
    entries each).  A non-scalar ``L`` is summed, as ``tape.gradient`` sums it.  ``f`` must give the same
    value for the same variables (no fresh randomness inside)."""
    variables = list(variables)
    for v in variables:
        if not isinstance(v, Variable) or v.dtype != np.float64:
            raise ValueError("check_function: give float64 Variables, e.g. tf.Variable(w, dtype='float64'), "
                             f"for a meaningful check; got {type(v).__name__} {getattr(v, 'dtype', '')}")
    rng = np.random.default_rng(seed)
    with GradientTape() as tape:
        value = f(*variables)
    analytic = tape.gradient(value, variables)
    loss = lambda: float(np.sum(np.asarray(f(*variables))))   # noqa: E731
    report = Report(f"function {getattr(f, '__name__', 'f')}", tol)
    for v, g in zip(variables, analytic):
        g = np.zeros(v.shape) if g is None else g.numpy()
        idx = _pick(v.array.size, max_entries, rng)
        report.add(v.name, v.shape, numerical_gradient(loss, v.array, h, idx), np.ravel(g)[idx])
    return report


__all__ = ["check_layer", "check_loss", "check_model", "check_function", "numerical_gradient",
           "relative_error", "Report", "on_backend"]
