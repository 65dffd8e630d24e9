"""``keras.ops``: Keras 3's backend-independent operations, as aliases of nnscratch's (``ops.py``,
``array_ops.py``, ``loss_functions.py``), with Keras's names and arguments (``ops.sum(x, axis)``,
``ops.take(x, indices)``, ``ops.clip(x, lo, hi)``).  Each is recorded on an open ``GradientTape``.

Where Keras's names differ from TensorFlow's, the argument conventions are Keras's: ``take`` and
``argmax`` without ``axis`` work on the flattened tensor; ``shape`` returns a tuple.  Binary operations
promote two tensors of different float types to the wider one, as ``keras.ops`` does (``tf.*``
refuses them, as TensorFlow does).
"""
import numpy as np

from .. import array_ops, loss_functions, ops
from ..tape import Tensor, Variable, as_array, convert_to_tensor  # noqa: F401
from ._missing import missing_attribute

# the same functions under the same names
from ..array_ops import (cast, concat, expand_dims, eye, ones, ones_like, reshape, squeeze, stack,  # noqa: F401
                         stop_gradient, zeros, zeros_like)
from ..ops import (abs, exp, log, log_softmax, negative, relu, sigmoid, sqrt, square, tanh,  # noqa: F401,A004
                   where)
from ..ops import keras_softmax as softmax  # noqa: F401  (remembers its logits, as Keras's does)

absolute = abs
arange = array_ops.arange


def _promoted(a, b):
    """Two tensors of different float types, both cast to the wider one (``keras.ops``'s promotion)."""
    da, db = getattr(a, "dtype", None), getattr(b, "dtype", None)
    if da is not None and db is not None and da != db and np.dtype(da).kind == np.dtype(db).kind == "f":
        wider = np.promote_types(da, db)
        return array_ops.cast(a, wider), array_ops.cast(b, wider)
    return a, b


def _binary(op):
    def keras_op(x1, x2):
        return op(*_promoted(x1, x2))
    keras_op.__name__, keras_op.__doc__ = op.__name__, op.__doc__
    return keras_op


add, subtract, multiply, divide = (_binary(f) for f in (ops.add, ops.subtract, ops.multiply, ops.divide))
power, maximum, minimum, matmul = (_binary(f) for f in (ops.pow, ops.maximum, ops.minimum, ops.matmul))
true_divide = divide


def sum(x, axis=None, keepdims=False):   # noqa: A001
    return ops.reduce_sum(x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    return ops.reduce_mean(x, axis, keepdims)


def max(x, axis=None, keepdims=False):   # noqa: A001
    return ops.reduce_max(x, axis, keepdims)


def min(x, axis=None, keepdims=False):   # noqa: A001
    return ops.reduce_min(x, axis, keepdims)


def logsumexp(x, axis=None, keepdims=False):
    return ops.reduce_logsumexp(x, axis, keepdims)


def transpose(x, axes=None):
    return array_ops.transpose(x, axes)


def concatenate(xs, axis=0):
    return array_ops.concat(xs, axis)


def take(x, indices, axis=None):
    """``x`` at ``indices`` along ``axis``; without ``axis``, in the flattened ``x`` (as ``np.take``)."""
    if axis is None:
        return array_ops.gather(array_ops.reshape(x, (-1,)), indices)
    return array_ops.gather(x, indices, axis=axis)


def argmax(x, axis=None, keepdims=False):
    """The index of the largest value along ``axis`` (of the flattened ``x`` without one), int32."""
    return Tensor(np.argmax(as_array(x), axis=axis, keepdims=keepdims).astype(np.int32))


def argmin(x, axis=None, keepdims=False):
    """The index of the smallest value along ``axis`` (of the flattened ``x`` without one), int32."""
    return Tensor(np.argmin(as_array(x), axis=axis, keepdims=keepdims).astype(np.int32))


def clip(x, x_min, x_max):
    return ops.clip_by_value(x, x_min, x_max)


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    return array_ops.one_hot(x, num_classes, axis=axis, dtype=dtype)


def shape(x):
    """The shape as a tuple (``keras.ops.shape``)."""
    return tuple(np.shape(as_array(x)))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    return loss_functions.categorical_crossentropy(target, output, from_logits=from_logits, axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    return loss_functions.sparse_categorical_crossentropy(target, output, from_logits=from_logits, axis=axis)


__all__ = sorted(n for n in globals() if not n.startswith("_") and n not in
                 ("np", "array_ops", "loss_functions", "ops", "missing_attribute", "Tensor", "Variable", "as_array"))
__getattr__ = missing_attribute("keras.ops", __all__)
