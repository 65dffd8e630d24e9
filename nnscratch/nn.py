"""``tf.nn`` for tutorials: :func:`softmax`.  ``import nnscratch as tf; tf.nn.softmax(logits).numpy()``."""
import numpy as np

from . import activations
from .tensor import Tensor


def softmax(logits, axis=-1):
    """``a_ij = exp(z_ij - max_k z_ik) / sum_k exp(z_ik - max_k z_ik)`` along ``axis`` (the last by
    default, as ``tf.nn.softmax``): :func:`nnscratch.activations.softmax`, the same formula the
    layers use, applied with ``axis`` moved last.

    ``logits``: any array of floats (a Python list becomes float32, as TensorFlow converts it); the
    result has the same shape and dtype, as a :class:`~nnscratch.tensor.Tensor` (``.numpy()`` works).
    """
    z = np.asarray(logits)
    if isinstance(logits, (list, tuple)) and np.issubdtype(z.dtype, np.number):
        z = z.astype(np.float32)
    if not np.issubdtype(z.dtype, np.floating):
        raise ValueError(f"softmax: logits must be floating point (float32 or float64), got {z.dtype}; "
                         "convert first, e.g. logits.astype('float32')")
    if z.ndim == 0:
        raise ValueError("softmax: logits must have at least one axis, got a scalar")
    a = activations.softmax(np.moveaxis(z, axis, -1))          # the formula, over the last axis
    return Tensor(np.moveaxis(a, -1, axis))


__all__ = ["softmax"]
