"""Operations on tensors, each a forward beside its vector-Jacobian product (VJP).

Read ``tape.py`` first.  Every operation here has the same three lines::

    c = <the NumPy expression>                          the forward pass
    def vjp(g): return <dL/d(input) for each input>     g = dL/dc, the same shape as c
    return record(Tensor(c), (a, b), vjp)               one record on every open tape

A VJP never builds the Jacobian: for ``c = a * b`` the Jacobian of ``c`` with respect to ``a`` is
``diag(b)``, and ``g @ diag(b)`` is just ``g * b``.  The activations use the very functions of
``activations.py`` (``sigmoid`` and ``sigmoid_backward``, ...): one formula, read once.

**Broadcasting.**  ``a + b`` with ``a: (N, M)`` and ``b: (M,)`` adds the same ``b`` to every row: ``b``
is used N times, so its gradient is the sum of the N row gradients.  :func:`unbroadcast` sums a
gradient back to its operand's shape, over the axes the forward pass broadcast along.

The names are TensorFlow's (``tf.matmul``, ``tf.reduce_sum``, ``tf.math.exp``, ``tf.nn.relu``); Keras's
``keras.ops`` names are aliases (``nnscratch/keras/ops.py``).  Shapes, indexing, ``concat``, ``gather``
and the making of tensors are in ``array_ops.py``.  Non-differentiable operations (comparisons,
``argmax``) return a Tensor and record nothing, as TensorFlow's give no gradient.
"""
import numpy as np

from . import activations
from .tape import Tensor, Variable, as_array, record

_VALUES = (Tensor, Variable)


# ================================================================================== operands
def tensor(x):
    """``x`` as a tape value: a Tensor or Variable as it is, anything else a new constant Tensor."""
    return x if isinstance(x, _VALUES) else Tensor(as_array(x))


def _like(value, dtype):
    """A number, list or NumPy array converted to ``dtype``, the other operand's (TensorFlow's rule)."""
    array = as_array(value) if isinstance(value, (np.ndarray, np.generic)) else np.asarray(value)
    if dtype.kind in "iub" and array.dtype.kind in "fc" and np.any(array != np.round(array)):
        raise TypeError(f"cannot convert {value!r:.60} to a {dtype.name} tensor; cast the tensor first")
    return as_array(array, dtype)


def operands(a, b):
    """Both operands of a binary operation as tape values.  A number, list or NumPy array takes the
    dtype of the other operand (``x * 2`` stays float32); two tensors of different dtypes are refused,
    as TensorFlow refuses them (float32 * float64 is an error there too)."""
    if isinstance(a, _VALUES) and not isinstance(b, _VALUES):
        b = Tensor(_like(b, a.dtype))
    elif isinstance(b, _VALUES) and not isinstance(a, _VALUES):
        a = Tensor(_like(a, b.dtype))
    elif not isinstance(a, _VALUES):
        a = Tensor(as_array(a))
        b = Tensor(_like(b, a.dtype))
    if a.dtype != b.dtype:
        raise TypeError(f"an operation on a {a.dtype.name} and a {b.dtype.name} tensor: TensorFlow refuses "
                        f"mixed dtypes too; convert one with tf.cast(x, tf.{b.dtype.name})")
    return a, b


def unbroadcast(g, shape):
    """Sum the gradient ``g`` down to ``shape``: over the axes broadcasting added in front, and over
    the axes where ``shape`` has 1 (an operand used once per position it was copied to gets the sum
    of the gradients of all those positions).  ``(N, M) -> (M,)`` sums over the rows."""
    if g.shape == shape:
        return g
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))                    # the axes added in front
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def _axes(axis, ndim):
    """``axis`` (None, an int or a sequence, negatives allowed) as a sorted tuple of axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return tuple(sorted(int(a) % ndim if ndim else 0 for a in axes))


# ================================================================================== arithmetic
def add(a, b):
    """``c = a + b`` (broadcast).  VJP: ``da = g``, ``db = g``, each summed back to its shape."""
    a, b = operands(a, b)
    c = a.array + b.array
    return record(Tensor(c), (a, b), lambda g: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)))


def subtract(a, b):
    """``c = a - b``.  VJP: ``da = g``, ``db = -g``."""
    a, b = operands(a, b)
    c = a.array - b.array
    return record(Tensor(c), (a, b), lambda g: (unbroadcast(g, a.shape), unbroadcast(-g, b.shape)))


def multiply(a, b):
    """``c = a * b`` element by element.  VJP: ``da = g * b``, ``db = g * a`` (the Jacobian of ``c``
    with respect to ``a`` is ``diag(b)``; ``g @ diag(b) = g * b``)."""
    a, b = operands(a, b)
    A, B = a.array, b.array
    return record(Tensor(A * B), (a, b), lambda g: (unbroadcast(g * B, a.shape), unbroadcast(g * A, b.shape)))


def divide(a, b):
    """``c = a / b``.  VJP: ``da = g / b``, ``db = -g * a / b**2`` (integers divide to float64, as
    TensorFlow's ``/`` does)."""
    a, b = operands(a, b)
    A, B = a.array, b.array
    return record(Tensor(A / B), (a, b),
                  lambda g: (unbroadcast(g / B, a.shape), unbroadcast(g * (-A / B / B), b.shape)))


def pow(a, b):   # noqa: A001  (tf.pow)
    """``c = a ** b``.  VJP: ``da = g * b * a**(b - 1)``;  ``db = g * c * log(a)`` where ``a > 0``, else 0
    (TensorFlow's convention: the gradient of ``0 ** b`` with respect to ``b`` is 0, not NaN)."""
    a, b = operands(a, b)
    A, B = a.array, b.array
    C = A ** B

    def vjp(g):
        log_a = np.log(np.where(A > 0, A, 1))                          # 0 where a <= 0
        return unbroadcast(g * B * A ** (B - 1), a.shape), unbroadcast(g * C * log_a, b.shape)
    return record(Tensor(C), (a, b), vjp)


def floordiv(a, b):
    """``c = floor(a / b)``: piecewise constant, so no gradient (as in TensorFlow)."""
    a, b = operands(a, b)
    return Tensor(a.array // b.array)


def mod(a, b):
    """``c = a - b * floor(a / b)``.  VJP: ``da = g``, ``db = -g * floor(a / b)``."""
    a, b = operands(a, b)
    A, B = a.array, b.array
    return record(Tensor(np.mod(A, B)), (a, b),
                  lambda g: (unbroadcast(g, a.shape), unbroadcast(-g * np.floor_divide(A, B), b.shape)))


def negative(a):
    """``c = -a``.  VJP: ``da = -g``."""
    a = tensor(a)
    return record(Tensor(-a.array), (a,), lambda g: (-g,))


def matmul(a, b, transpose_a=False, transpose_b=False):
    """``c = a @ b : (..., N, K) @ (..., K, M) -> (..., N, M)`` (leading axes broadcast, as a batch).

    VJP: ``da = g @ b.T : (N, M) @ (M, K) -> (N, K)``;  ``db = a.T @ g : (K, N) @ (N, M) -> (K, M)``
    (``.T`` swaps the last two axes).  Both operands need at least 2 axes, as in ``tf.matmul``."""
    a, b = operands(a, b)
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"matmul: both operands need at least 2 axes (rows and columns), got shapes "
                         f"{a.shape} and {b.shape}; use tf.reshape(x, (1, -1)) for a single row")
    A = np.swapaxes(a.array, -1, -2) if transpose_a else a.array
    B = np.swapaxes(b.array, -1, -2) if transpose_b else b.array
    T = lambda x: np.swapaxes(x, -1, -2)   # noqa: E731

    def vjp(g):
        da, db = g @ T(B), T(A) @ g                                    # (N, K), (K, M)
        da, db = (T(da) if transpose_a else da), (T(db) if transpose_b else db)
        return unbroadcast(da, a.shape), unbroadcast(db, b.shape)
    return record(Tensor(A @ B), (a, b), vjp)


# ================================================================================== element-wise
def _unary(a, forward, derivative, integers=False):
    """``c = forward(a)``; VJP ``da = g * derivative(a, c)``.  ``integers``: integer tensors allowed
    (their results get no gradient), as TensorFlow allows ``abs`` and ``square`` of integers."""
    a = tensor(a)
    if a.dtype.kind not in "fc" and not integers:
        raise ValueError(f"{forward.__name__}: the tensor must be floating point (float32 or float64), got "
                         f"{a.dtype.name}; convert it first, e.g. tf.cast(x, tf.float32)")
    A = a.array
    C = forward(A)
    return record(Tensor(C), (a,), lambda g: (g * derivative(A, C),))


def exp(a):
    """``c = e^a``.  VJP: ``da = g * c``."""
    return _unary(a, np.exp, lambda A, C: C)


def log(a):
    """``c = ln a``.  VJP: ``da = g / a``."""
    return _unary(a, np.log, lambda A, C: 1 / A)


def sqrt(a):
    """``c = sqrt(a)``.  VJP: ``da = g * 0.5 / c`` (infinite at 0, as in TensorFlow)."""
    def derivative(A, C):
        with np.errstate(divide="ignore"):
            return 0.5 / C
    return _unary(a, np.sqrt, derivative)


def square(a):
    """``c = a^2``.  VJP: ``da = g * 2a``."""
    return _unary(a, np.square, lambda A, C: 2 * A, integers=True)


def abs(a):   # noqa: A001  (tf.abs)
    """``c = |a|``.  VJP: ``da = g * sign(a)`` (0 at 0, as in TensorFlow)."""
    return _unary(a, np.abs, lambda A, C: np.sign(A), integers=True)


def _activation(a, name, axis=-1):
    """``c = f(a)`` with ``f`` and its backward from ``activations.py``: VJP ``da = f_backward(a, c, g)``."""
    a = tensor(a)
    if a.dtype.kind != "f":
        raise ValueError(f"{name}: the tensor must be floating point (float32 or float64), got {a.dtype.name}; "
                         "convert it first, e.g. tf.cast(x, tf.float32)")
    f = activations.get(name)
    if name == "softmax":                                   # over ``axis``: moved last, and back
        if a.ndim == 0:
            raise ValueError("softmax: the logits need at least one axis, got a scalar")
        A = np.moveaxis(a.array, axis, -1)
        C = f.forward(A)

        def vjp(g):
            return (np.moveaxis(f.backward(A, C, np.moveaxis(g, axis, -1)), -1, axis),)
        vjp.__qualname__ = "softmax.vjp"
        return record(Tensor(np.moveaxis(C, -1, axis)), (a,), vjp)
    A = a.array
    C = f.forward(A)

    def vjp(g):
        return (f.backward(A, C, g),)
    vjp.__qualname__ = f"{name}.vjp"                         # the record reads "sigmoid", not "_activation"
    return record(Tensor(C), (a,), vjp)


def sigmoid(a):
    """``c = 1 / (1 + e^-a)`` (``activations.sigmoid``).  VJP: ``da = g * c * (1 - c)``."""
    return _activation(a, "sigmoid")


def tanh(a):
    """``c = tanh(a)``.  VJP: ``da = g * (1 - c^2)``."""
    return _activation(a, "tanh")


def relu(a):
    """``c = max(a, 0)``.  VJP: ``da = g * [a > 0]``."""
    return _activation(a, "relu")


def softmax(logits, axis=-1):
    """``c_j = e^(a_j - max a) / sum_k e^(a_k - max a)`` along ``axis`` (the last by default, as
    ``tf.nn.softmax``).  VJP: ``da = c * (g - sum_k g_k c_k)`` (``activations.softmax_backward``)."""
    return _activation(logits, "softmax", axis)


def keras_softmax(x, axis=-1):
    """Keras's softmax (``keras.activations.softmax``, ``keras.ops.softmax``, a softmax layer): the
    same, and the result remembers its input ``x`` (``_keras_logits``), so that a cross-entropy given
    these probabilities computes from the logits instead, as Keras's does.  (``tf.nn.softmax`` does
    not remember.)"""
    c = softmax(x, axis)
    c._keras_logits = tensor(x) if axis in (-1, c.ndim - 1) else None
    return c


def log_softmax(logits, axis=-1):
    """``c = a - logsumexp(a)`` along ``axis``, with ``logsumexp(a) = m + log sum e^(a - m)``,
    ``m = max a``.  VJP: ``da = g - softmax(a) * sum g``."""
    a = tensor(logits)
    A = a.array
    m = A.max(axis=axis, keepdims=True)
    C = A - (m + np.log(np.sum(np.exp(A - m), axis=axis, keepdims=True)))
    return record(Tensor(C), (a,), lambda g: (g - np.exp(C) * g.sum(axis=axis, keepdims=True),))


# ================================================================================== two-way choices
def maximum(a, b):
    """``c = max(a, b)`` element by element.  VJP: ``g`` goes to ``a`` where ``a >= b`` (ties to
    ``a``, as in TensorFlow), else to ``b``."""
    a, b = operands(a, b)
    first = a.array >= b.array
    c = np.where(first, a.array, b.array)
    return record(Tensor(c), (a, b), lambda g: (unbroadcast(np.where(first, g, 0), a.shape),
                                                unbroadcast(np.where(first, 0, g), b.shape)))


def minimum(a, b):
    """``c = min(a, b)``.  VJP: ``g`` to ``a`` where ``a <= b`` (ties to ``a``), else to ``b``."""
    a, b = operands(a, b)
    first = a.array <= b.array
    c = np.where(first, a.array, b.array)
    return record(Tensor(c), (a, b), lambda g: (unbroadcast(np.where(first, g, 0), a.shape),
                                                unbroadcast(np.where(first, 0, g), b.shape)))


def where(condition, x=None, y=None):
    """``c = x where condition, else y`` (broadcast).  VJP: ``dx = g`` where the condition holds,
    ``dy = g`` elsewhere; the condition gets none.  ``where(condition)`` alone: the coordinates of
    the true entries, ``(count, ndim)`` int64, as ``tf.where``."""
    cond = as_array(condition).astype(bool)
    if x is None and y is None:
        return Tensor(np.argwhere(cond).astype(np.int64))
    x, y = operands(x, y)
    c = np.where(cond, x.array, y.array)
    return record(Tensor(c), (x, y), lambda g: (unbroadcast(np.where(cond, g, 0), x.shape),
                                                unbroadcast(np.where(cond, 0, g), y.shape)))


def clip_by_value(t, clip_value_min, clip_value_max):
    """``c = min(max(t, lo), hi)``.  VJP: ``dt = g`` where ``lo <= t <= hi`` (the bounds included,
    as in TensorFlow), else 0; the bounds get ``g`` where they were chosen."""
    t, lo = operands(t, clip_value_min)
    _, hi = operands(t, clip_value_max)
    T, below, above = t.array, t.array < lo.array, t.array > hi.array
    c = np.clip(T, lo.array, hi.array).astype(t.dtype, copy=False)
    return record(Tensor(c), (t, lo, hi), lambda g: (unbroadcast(np.where(below | above, 0, g), t.shape),
                                                     unbroadcast(np.where(below, g, 0), lo.shape),
                                                     unbroadcast(np.where(above, g, 0), hi.shape)))


# ================================================================================== reductions
def _spread(g, shape, axes, keepdims):
    """``g`` (the gradient of a reduction) broadcast back over the axes that were reduced."""
    if not keepdims:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


def reduce_sum(input_tensor, axis=None, keepdims=False):
    """``c = sum of a over axis`` (all axes by default).  VJP: ``da = g``, copied to every element
    that was added (each counts once)."""
    a = tensor(input_tensor)
    axes = _axes(axis, a.ndim)
    c = a.array.sum(axis=axes, keepdims=keepdims)
    return record(Tensor(c), (a,), lambda g: (_spread(g, a.shape, axes, keepdims),))


def reduce_mean(input_tensor, axis=None, keepdims=False):
    """``c = sum(a) / n`` over ``axis``, ``n`` the number of elements averaged.  VJP: ``da = g / n``
    for every element.  (Integers average to an integer, truncated, as in TensorFlow.)"""
    a = tensor(input_tensor)
    axes = _axes(axis, a.ndim)
    n = int(np.prod([a.shape[i] for i in axes]))
    c = np.mean(a.array, axis=axes, keepdims=keepdims)
    if a.dtype.kind != "f":
        return Tensor(c.astype(a.dtype))
    return record(Tensor(c.astype(a.dtype, copy=False)), (a,), lambda g: (_spread(g / n, a.shape, axes, keepdims),))


def _reduce_extreme(a, axis, keepdims, take):
    """max or min over ``axis``.  VJP: ``g`` shared equally among the elements equal to the result
    (TensorFlow's rule: a tie of k elements gives each ``g / k``)."""
    a = tensor(a)
    axes = _axes(axis, a.ndim)
    c = take(a.array, axis=axes, keepdims=True)
    chosen = a.array == c                                      # where the extreme value sits

    def vjp(g):
        share = chosen / chosen.sum(axis=axes, keepdims=True)
        return (share * _spread(g, a.shape, axes, keepdims),)
    return record(Tensor(c if keepdims else np.squeeze(c, axes)), (a,), vjp)


def reduce_max(input_tensor, axis=None, keepdims=False):
    """``c = max of a over axis``.  VJP: ``da = g`` at the maximum (shared among ties), 0 elsewhere."""
    return _reduce_extreme(input_tensor, axis, keepdims, np.max)


def reduce_min(input_tensor, axis=None, keepdims=False):
    """``c = min of a over axis``.  VJP: ``da = g`` at the minimum (shared among ties), 0 elsewhere."""
    return _reduce_extreme(input_tensor, axis, keepdims, np.min)


def reduce_logsumexp(input_tensor, axis=None, keepdims=False):
    """``c = m + log sum e^(a - m)``, ``m = max a``.  VJP: ``da = g * softmax(a)`` over ``axis``."""
    a = tensor(input_tensor)
    axes = _axes(axis, a.ndim)
    m = a.array.max(axis=axes, keepdims=True)
    c = m + np.log(np.sum(np.exp(a.array - m), axis=axes, keepdims=True))
    p = np.exp(a.array - c)
    return record(Tensor(c if keepdims else np.squeeze(c, axes)), (a,),
                  lambda g: (p * _spread(g, a.shape, axes, keepdims),))


# ================================================================================== no gradient
def _compare(f):
    def op(a, b):
        a, b = operands(a, b)
        return Tensor(f(a.array, b.array))
    op.__name__ = f.__name__
    op.__doc__ = f"``c = {f.__name__}(a, b)`` element by element, a bool tensor; no gradient."
    return op


equal, not_equal = _compare(np.equal), _compare(np.not_equal)
less, less_equal = _compare(np.less), _compare(np.less_equal)
greater, greater_equal = _compare(np.greater), _compare(np.greater_equal)


def argmax(input, axis=None, output_type=np.int64):   # noqa: A002
    """The index of the largest value along ``axis`` (axis 0 by default, as ``tf.argmax``); no gradient."""
    return Tensor(np.argmax(as_array(input), axis=0 if axis is None else axis).astype(output_type))


def argmin(input, axis=None, output_type=np.int64):   # noqa: A002
    """The index of the smallest value along ``axis`` (axis 0 by default); no gradient."""
    return Tensor(np.argmin(as_array(input), axis=0 if axis is None else axis).astype(output_type))


# ================================================================================== the operators
def _equal_operator(a, b):
    if b is None or isinstance(b, (str, dict, set)):
        return NotImplemented                       # t == None is False, as in TensorFlow
    return equal(a, b)


def _not_equal_operator(a, b):
    if b is None or isinstance(b, (str, dict, set)):
        return NotImplemented
    return not_equal(a, b)


OPERATORS = {
    "__add__": add, "__radd__": lambda a, b: add(b, a),
    "__sub__": subtract, "__rsub__": lambda a, b: subtract(b, a),
    "__mul__": multiply, "__rmul__": lambda a, b: multiply(b, a),
    "__truediv__": divide, "__rtruediv__": lambda a, b: divide(b, a),
    "__pow__": pow, "__rpow__": lambda a, b: pow(b, a),
    "__floordiv__": floordiv, "__rfloordiv__": lambda a, b: floordiv(b, a),
    "__mod__": mod, "__rmod__": lambda a, b: mod(b, a),
    "__matmul__": matmul, "__rmatmul__": lambda a, b: matmul(b, a),
    "__neg__": negative, "__abs__": abs,
    "__lt__": less, "__le__": less_equal, "__gt__": greater, "__ge__": greater_equal,
    "__eq__": _equal_operator, "__ne__": _not_equal_operator,
}
for _name, _operation in OPERATORS.items():         # t + u is add(t, u): the operators of tape.py's values
    setattr(Tensor, _name, _operation)
    setattr(Variable, _name, _operation)
