"""The loss functions as functions, as ``keras.losses.*`` and ``tf.nn.*`` give them: one loss per
sample, on tape values, so a training loop written with a tape can use them.

Read ``losses.py`` first: there the loss *objects* (``CategoricalCrossentropy()``) and the batch-mean
formulas a model trains with.  Here Keras's functions, with Keras's semantics: they return one loss
per sample, ``(N, C) -> (N,)``, and a loss object is their mean over the batch.  They are written
with the tape's operations (``ops.py``), as Keras writes them, so their gradients come from the
tape, and they equal TensorFlow's operation by operation::

    categorical_crossentropy(y, p)        = -reduce_sum(y * log(clip(p / reduce_sum(p), eps, 1 - eps)))
    sparse_categorical_crossentropy(k, p) = sparse_softmax_cross_entropy_with_logits(k, log(clip(p, eps, 1 - eps)))
    ... from_logits=True                  = the fused forms below, softmax_cross_entropy_with_logits

**Keras's shortcut.**  A probability tensor made by a softmax remembers its input (``_keras_logits``,
set by ``ops.softmax`` and by a softmax layer on a tape); the cross-entropies then compute from those
logits with the fused form, as Keras's do (``keras/src/backend/tensorflow/nn.py``, ``_get_logits``).
"""
import warnings

import numpy as np

from .array_ops import cast, squeeze
from .ops import clip_by_value, log, multiply, negative, operands, reduce_sum, tensor
from .tape import EPSILON, Tensor, as_array, record


# ================================================================================== the fused forms (tf.nn)
def softmax_cross_entropy_with_logits(labels, logits, axis=-1):
    """``tf.nn.softmax_cross_entropy_with_logits``: per row ``L_i = sum_j y_ij (logsumexp(z_i) - z_ij)``,
    ``(N, C) -> (N,)``.  VJP: ``dz = g_i * (softmax(z_i) - y_i)`` (the fused gradient of ``losses.py``,
    per sample); ``dy = -g_i * log_softmax(z_i)``."""
    y, z = operands(labels, logits)
    Y, Z = np.moveaxis(y.array, axis, -1), np.moveaxis(z.array, axis, -1)
    m = Z.max(axis=-1, keepdims=True)
    log_p = Z - (m + np.log(np.sum(np.exp(Z - m), axis=-1, keepdims=True)))     # log softmax(z)
    c = -np.sum(Y * log_p, axis=-1)

    def vjp(g):
        g = g[..., None]
        return (np.moveaxis(-g * log_p, -1, axis), np.moveaxis(g * (np.exp(log_p) - Y), -1, axis))
    return record(Tensor(c), (y, z), vjp)


def sparse_softmax_cross_entropy_with_logits(labels, logits):
    """``tf.nn.sparse_softmax_cross_entropy_with_logits``: ``L_i = logsumexp(z_i) - z_i,labels_i`` for
    integer ``labels (N,)`` and ``logits (N, C)``.  VJP: ``dz = g_i * (softmax(z_i) - one_hot(labels_i))``;
    the labels get none."""
    z = tensor(logits)
    k = as_array(labels).astype(np.int64)
    if k.shape != z.shape[:-1]:
        raise ValueError(f"sparse_softmax_cross_entropy_with_logits: labels of shape {k.shape} do not fit "
                         f"logits of shape {z.shape} (one label per row)")
    if k.size and (k.min() < 0 or k.max() >= z.shape[-1]):
        raise ValueError(f"sparse_softmax_cross_entropy_with_logits: a label is outside [0, {z.shape[-1]})")
    Z = z.array
    m = Z.max(axis=-1, keepdims=True)
    log_p = Z - (m + np.log(np.sum(np.exp(Z - m), axis=-1, keepdims=True)))
    picked = np.take_along_axis(log_p, k[..., None], axis=-1)[..., 0]

    def vjp(g):
        dz = np.exp(log_p)
        np.put_along_axis(dz, k[..., None], np.take_along_axis(dz, k[..., None], axis=-1) - 1, axis=-1)
        return (g[..., None] * dz,)
    return record(Tensor(-picked), (z,), vjp)



# ================================================================================== Keras's functions
def _logits(y_pred, from_logits, name):
    """Keras's ``_get_logits``: a softmax's output is replaced by its input (and ``from_logits``
    becomes True); with ``from_logits=True`` already, Keras warns that it was a softmax's output."""
    logits = getattr(y_pred, "_keras_logits", None)
    if logits is None:
        return y_pred, from_logits
    if from_logits:
        warnings.warn(f'"`{name}` received `from_logits=True`, but the `output` argument was produced by a '
                      "Softmax activation and thus does not represent logits. Was this intended?", stacklevel=3)
    return logits, True


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``keras.losses.categorical_crossentropy``: ``L_i = -sum_j y_ij log q_ij`` with
    ``q = clip(p / sum_j p_ij, eps, 1 - eps)`` (or, ``from_logits=True``, the fused
    :func:`softmax_cross_entropy_with_logits`); ``y_true, y_pred: (N, C) -> (N,)``.
    ``label_smoothing``: ``y = y * (1 - s) + s / C`` first."""
    y_pred = tensor(y_pred)
    y_true = cast(y_true, y_pred.dtype)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"categorical_crossentropy: y_true {y_true.shape} and y_pred {y_pred.shape} must have "
                         "the same shape (one-hot rows; for integer labels use sparse_categorical_crossentropy)")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    y_pred, from_logits = _logits(y_pred, from_logits, "categorical_crossentropy")
    if from_logits:
        return softmax_cross_entropy_with_logits(y_true, y_pred, axis=axis)
    q = y_pred / reduce_sum(y_pred, axis, keepdims=True)              # each row renormalised to sum 1
    q = clip_by_value(q, EPSILON, 1.0 - EPSILON)
    return negative(reduce_sum(multiply(y_true, log(q)), axis))


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """``keras.losses.sparse_categorical_crossentropy``: integer labels ``(N,)`` (or ``(N, 1)``) and
    ``y_pred (N, C) -> (N,)``.  ``from_logits=False``: ``c = clip(p, eps, 1 - eps)``, then the fused
    form on ``log c``, ``L_i = logsumexp(log c_i) - log c_i,k`` (clip first, renormalise after)."""
    if ignore_class is not None or axis not in (-1, np.ndim(y_pred) - 1):
        raise ValueError("sparse_categorical_crossentropy: ignore_class and axis other than -1 are not "
                         "implemented in nnscratch")
    y_pred, from_logits = _logits(tensor(y_pred), from_logits, "sparse_categorical_crossentropy")
    labels = as_array(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = squeeze(labels, -1).array
    if not from_logits:
        y_pred = log(clip_by_value(y_pred, EPSILON, 1 - EPSILON))
    return sparse_softmax_cross_entropy_with_logits(labels, y_pred)
