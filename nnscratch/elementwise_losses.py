"""Losses computed element by element and averaged over the outputs: mean squared error, mean
absolute error, binary cross-entropy.  (The cross-entropies over classes, and the :class:`Loss` base
with its sample weights, are in ``losses.py``.)

Notation: ``y (N, C)`` targets (any numbers; for the binary cross-entropy in [0, 1]), ``p (N, C)``
the network's output, ``z (N, C)`` logits (the input of a sigmoid).  Per sample, each loss is the
mean over the ``C`` outputs (Keras's functions, ``keras/src/losses/losses.py``)::

    mean_squared_error    L_i = (1/C) sum_j (p_ij - y_ij)^2
    mean_absolute_error   L_i = (1/C) sum_j |p_ij - y_ij|
    binary_crossentropy   L_i = (1/C) sum_j -( y_ij log c_ij + (1 - y_ij) log(1 - c_ij) ),
                                c = clip(p, eps, 1 - eps)
      from logits         L_i = (1/C) sum_j ( max(z_ij, 0) - z_ij y_ij + log(1 + exp(-|z_ij|)) )
                                (TensorFlow's sigmoid_cross_entropy_with_logits: no overflow)

The batch's loss is ``mean_i L_i`` (with sample weights ``sum_i w_i L_i / N``, ``Loss.weighted``), so
every gradient carries ``1 / (N C)``::

    MSE   dL/dp = 2 (p - y) / (N C)
    MAE   dL/dp = sign(p - y) / (N C)                    (0 where p = y, as TensorFlow's abs)
    BCE   dL/dp = (c - y) / (c (1 - c)) / (N C)           where eps <= p <= 1 - eps, else 0
          because d/dc -(y log c + (1 - y) log(1 - c)) = -y/c + (1 - y)/(1 - c) = (c - y) / (c (1 - c))
    BCE from logits, and a sigmoid output layer:  dL/dz = (sigmoid(z) - y) / (N C)
          the sigmoid's derivative c (1 - c) cancels the denominator above, as softmax and
          cross-entropy cancel in ``losses.py``

As Keras does, the binary cross-entropy takes the sigmoid's input ``z`` whenever the model's output
layer ends in a sigmoid (``Dense(1, activation='sigmoid')``, ``Activation('sigmoid')``), with either
``from_logits``: ``Sequential.loss_and_gradient`` then calls :meth:`BinaryCrossentropy.logits_value_and_gradient`.
The mean squared and absolute errors use no such shortcut: after a softmax or sigmoid the gradient
goes through that activation's own backward.

The functions below are Keras's: they return the per-sample losses ``(N,)`` (``keras.losses.mse``);
the classes reduce them to the batch's loss and give the gradient a model trains with.  Plain NumPy
on both backends (no engine pass: the regression losses are not on the benchmarked path).
"""
import numpy as np

from . import checks, registry
from .losses import EPSILON, Loss


def _same_rank(y, p):
    """``y`` as an array of ``p``'s shape: a ``(N,)`` target for a ``(N, 1)`` output gets its axis back
    (Keras's ``squeeze_or_expand_to_same_rank``)."""
    p = np.asarray(p)
    y = np.asarray(y, dtype=p.dtype if p.dtype.kind == "f" else np.float32)
    if y.ndim == p.ndim - 1 and p.shape[-1] == 1:
        y = y[..., None]
    return y, p


# ================================================================================== the formulas
def mean_squared_error(y_true, y_pred):
    """``L_i = mean_j (p_ij - y_ij)^2 : (N, C) -> (N,)``."""
    y, p = _same_rank(y_true, y_pred)
    return np.mean(np.square(y - p), axis=-1)


def mean_squared_error_gradient(y, p):
    """``dL/dp = 2 (p - y) / (N C) : (N, C)`` for the batch mean of :func:`mean_squared_error`."""
    return (p - y) * p.dtype.type(2 / p.size)


def mean_absolute_error(y_true, y_pred):
    """``L_i = mean_j |p_ij - y_ij| : (N, C) -> (N,)``."""
    y, p = _same_rank(y_true, y_pred)
    return np.mean(np.abs(y - p), axis=-1)


def mean_absolute_error_gradient(y, p):
    """``dL/dp = sign(p - y) / (N C) : (N, C)`` (``sign(0) = 0``, TensorFlow's gradient of ``abs`` at 0)."""
    return np.sign(p - y) * p.dtype.type(1 / p.size)


def sigmoid_crossentropy_from_logits(y, z):
    """Element-wise ``max(z, 0) - z y + log(1 + exp(-|z|)) : (N, C)``, the binary cross-entropy of
    ``sigmoid(z)`` written so that ``exp`` never overflows."""
    return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Keras's ``binary_crossentropy``: ``L_i : (N, C) -> (N,)`` (see the module docstring).
    ``label_smoothing``: the targets become ``y (1 - s) + s / 2``."""
    if axis != -1:
        raise checks.NotImplementedInNnscratch("binary_crossentropy: axis other than -1 is not implemented "
                                               "in nnscratch")
    y, p = _same_rank(y_true, y_pred)
    if label_smoothing:
        y = y * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        return np.mean(sigmoid_crossentropy_from_logits(y, p), axis=-1)
    c = np.clip(p, EPSILON, 1 - EPSILON)
    return np.mean(-(y * np.log(c) + (1 - y) * np.log(1 - c)), axis=-1)


def binary_crossentropy_gradient(y, p):
    """``dL/dp = (c - y) / (c (1 - c)) / (N C)`` with ``c = clip(p, eps, 1 - eps)``, and 0 where the clip
    is active (a clipped value does not move with p), for the batch mean of :func:`binary_crossentropy`."""
    c = np.clip(p, EPSILON, 1 - EPSILON)
    inside = (p >= EPSILON) & (p <= 1 - EPSILON)
    return np.where(inside, (c - y) / (c * (1 - c)), 0).astype(p.dtype, copy=False) * p.dtype.type(1 / p.size)


def sigmoid_crossentropy_from_logits_gradient(y, p):
    """The fused ``dL/dz = (p - y) / (N C)`` with ``p = sigmoid(z)``: ``(N, C)``."""
    return (p - y) * p.dtype.type(1 / p.size)


# ================================================================================ the loss objects
class _Elementwise(Loss):
    """A loss of numbers ``y (N, C)`` (``targets = 'values'``) without a fused output activation;
    subclasses give ``function`` (the per-sample losses) and ``gradient``."""
    targets = "values"
    fuses = None

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(False, reduction, name, dtype)

    def call(self, y, pred):
        return type(self).function(y, pred)

    def value_and_gradient(self, y, pred, owner=None, sample_weight=None):
        """``(L, dL/dp)``: the batch mean of :meth:`call` and the gradient (module docstring), weighted
        by ``sample_weight (N,)`` if given."""
        value = np.sum(self.call(y, pred)) / pred.dtype.type(len(pred))
        grad = type(self).gradient(y, pred)
        return self.weighted(value, grad, lambda: self.call(y, pred), sample_weight)

    def get_config(self):
        return {"name": self.name}

    def __hash__(self):
        return hash((type(self).__name__, self.name))

    def __repr__(self):
        return f"{type(self).__name__}()"


class MeanSquaredError(_Elementwise):
    """``keras.losses.MeanSquaredError()`` (``'mse'``, ``'mean_squared_error'``):
    ``L = mean_i mean_j (p_ij - y_ij)^2``, ``dL/dp = 2 (p - y) / (N C)``."""
    name = "mean_squared_error"
    function = staticmethod(mean_squared_error)
    gradient = staticmethod(mean_squared_error_gradient)

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(reduction, name, dtype)


class MeanAbsoluteError(_Elementwise):
    """``keras.losses.MeanAbsoluteError()`` (``'mae'``, ``'mean_absolute_error'``):
    ``L = mean_i mean_j |p_ij - y_ij|``, ``dL/dp = sign(p - y) / (N C)``."""
    name = "mean_absolute_error"
    function = staticmethod(mean_absolute_error)
    gradient = staticmethod(mean_absolute_error_gradient)

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(reduction, name, dtype)


class BinaryCrossentropy(Loss):
    """``keras.losses.BinaryCrossentropy(from_logits=False, label_smoothing=0.0)`` (``'binary_crossentropy'``,
    ``'bce'``): targets ``y (N, C)`` in [0, 1], one independent yes/no per output.  On probabilities
    the clipped formula, on logits (``from_logits=True``, or the input of a sigmoid output layer) the
    overflow-free one; see the module docstring."""
    name = "binary_crossentropy"
    targets = "values"
    fuses = "sigmoid"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        if axis != -1:
            raise checks.NotImplementedInNnscratch("BinaryCrossentropy: axis other than -1 is not implemented "
                                                   "in nnscratch; use axis=-1")
        if isinstance(label_smoothing, bool) or not 0 <= label_smoothing <= 1:
            raise ValueError(f"BinaryCrossentropy: label_smoothing must be in [0, 1], got {label_smoothing!r}")
        super().__init__(from_logits, reduction, name, dtype)
        self.label_smoothing = float(label_smoothing)

    def _smoothed(self, y):
        """``y (1 - s) + s / 2`` (Keras's label smoothing), or ``y`` itself when ``s = 0``."""
        s = self.label_smoothing
        return y if s == 0 else y * y.dtype.type(1 - s) + y.dtype.type(0.5 * s)

    def call(self, y, pred):
        return binary_crossentropy(self._smoothed(y), pred, from_logits=self.from_logits)

    def value_and_gradient(self, y, pred, owner=None, sample_weight=None):
        """``(L, dL/dp)`` on probabilities; with ``from_logits`` the fused form on ``z = pred``."""
        if self.from_logits:
            return self.logits_value_and_gradient(y, pred, None, owner, sample_weight)
        y = self._smoothed(y)
        value = np.sum(binary_crossentropy(y, pred)) / pred.dtype.type(len(pred))
        grad = binary_crossentropy_gradient(y, pred)
        return self.weighted(value, grad, lambda: binary_crossentropy(y, pred), sample_weight)

    def logits_value_and_gradient(self, y, z, p=None, owner=None, sample_weight=None):
        """On logits ``z (N, C)``: ``L = mean_i mean_j (max(z, 0) - z y + log(1 + exp(-|z|)))`` and
        ``dL/dz = (p - y) / (N C)`` with ``p = sigmoid(z)`` (the sigmoid output layer's own output,
        when the model has one)."""
        y = self._smoothed(y)
        if p is None:
            from .activations import sigmoid
            p = sigmoid(z)
        value = np.sum(binary_crossentropy(y, z, from_logits=True)) / z.dtype.type(len(z))
        grad = sigmoid_crossentropy_from_logits_gradient(y, p)
        return self.weighted(value, grad, lambda: binary_crossentropy(y, z, from_logits=True), sample_weight)

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits, "label_smoothing": self.label_smoothing}

    def __hash__(self):
        return hash((type(self).__name__, self.name, self.from_logits, self.label_smoothing))

    def __repr__(self):
        return f"BinaryCrossentropy(from_logits={self.from_logits}, label_smoothing={self.label_smoothing})"


# The names compile(loss=...) and a model file may use (Keras's, keras/src/losses/__init__.py).
registry.register(MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy, kind="loss")
for _names, _cls, _function in ((("mean_squared_error", "mse", "MSE"), MeanSquaredError, mean_squared_error),
                                (("mean_absolute_error", "mae", "MAE"), MeanAbsoluteError, mean_absolute_error),
                                (("binary_crossentropy", "bce", "BCE"), BinaryCrossentropy, binary_crossentropy)):
    for _name in _names:
        registry.alias(_name, _cls, kind="loss")
    registry.register_function(_function, _cls, kind="loss")
