"""Operations that move numbers around (shapes, indexing, joining, gathering, casting) and make new
tensors (``zeros``, ``ones``, random), each forward beside its vector-Jacobian product.

Read ``ops.py`` first.  Moving numbers is linear, so each VJP moves the gradient back the way the
numbers came: ``reshape``'s VJP reshapes back, ``transpose``'s transposes back, ``concat``'s cuts the
gradient into the pieces, and indexing's puts each gradient where its number was read (adding where
one number was read twice, ``x[[0, 0]]``: ``np.add.at``).

The making of new tensors records nothing (a new tensor depends on no other); the random ones draw
from nnscratch's generator (``tf.random.set_seed``), not TensorFlow's: the same distributions, other
numbers.
"""
import numpy as np

from . import utils
from .ops import operands, tensor
from .tape import Tensor, Variable, as_array, record

newaxis = None


# ================================================================================== indexing
def _key(key):
    """An index with any tensors in it as NumPy arrays."""
    if isinstance(key, tuple):
        return tuple(_key(k) for k in key)
    return as_array(key) if isinstance(key, (Tensor, Variable, list)) else key


def _basic(key):
    """True for an index of ints, slices, ``None`` and ``...`` only: it reads each number at most once."""
    parts = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (slice, int, np.integer)) for k in parts)


def getitem(x, key):
    """``c = x[key]`` (``x[0]``, ``x[:, 1:]``, ``x[..., None]``, ``x[[2, 0]]``).  VJP: a zero array of
    ``x``'s shape with ``g`` put where each number was read; an index that reads a number twice
    (``x[[0, 0]]``) adds both gradients there (``np.add.at``)."""
    x, key = tensor(x), _key(key)
    c = x.array[key]

    def vjp(g):
        dx = np.zeros(x.shape, g.dtype)
        if _basic(key):
            dx[key] = g
        else:
            np.add.at(dx, key, g)
        return (dx,)
    return record(Tensor(c), (x,), vjp)


# ================================================================================== shapes
def _shape(shape):
    """A shape given as an int, a tuple, a list or a tensor (``tf.shape(x)``), as a tuple of ints."""
    return tuple(int(n) for n in np.atleast_1d(as_array(shape)))


def reshape(tensor_, shape):
    """``c = x.reshape(shape)`` (one entry may be -1).  VJP: ``dx = g.reshape(x.shape)``."""
    x = tensor(tensor_)
    c = x.array.reshape(_shape(shape))
    return record(Tensor(c), (x,), lambda g: (g.reshape(x.shape),))


def transpose(a, perm=None):
    """``c = x`` with its axes in the order ``perm`` (reversed by default).  VJP: ``dx`` = ``g`` with
    the axes put back, ``np.transpose(g, argsort(perm))``."""
    x = tensor(a)
    perm = tuple(range(x.ndim))[::-1] if perm is None else tuple(int(p) for p in perm)
    c = np.transpose(x.array, perm)
    return record(Tensor(c), (x,), lambda g: (np.transpose(g, np.argsort(perm)),))


def expand_dims(input, axis):   # noqa: A002
    """``c = x`` with a new axis of size 1 at ``axis``.  VJP: the axis removed again."""
    x = tensor(input)
    c = np.expand_dims(x.array, axis)
    return record(Tensor(c), (x,), lambda g: (g.reshape(x.shape),))


def squeeze(input, axis=None):   # noqa: A002
    """``c = x`` without its axes of size 1 (or only ``axis``).  VJP: the axes put back."""
    x = tensor(input)
    c = np.squeeze(x.array, axis=None if axis is None else tuple(np.atleast_1d(axis)))
    return record(Tensor(c), (x,), lambda g: (g.reshape(x.shape),))


def shape(input, out_type=np.int32):   # noqa: A002
    """The shape of ``input`` as an int32 Tensor (``tf.shape``); ``x.shape`` gives it as a tuple."""
    return Tensor(np.array(np.shape(as_array(input)), dtype=out_type))


def size(input, out_type=np.int32):   # noqa: A002
    """The number of elements, an int32 Tensor."""
    return Tensor(np.array(as_array(input).size, dtype=out_type))


def rank(input):   # noqa: A002
    """The number of axes, an int32 Tensor."""
    return Tensor(np.array(as_array(input).ndim, dtype=np.int32))


# ================================================================================== joining
def concat(values, axis):
    """``c = [x1 x2 ...]`` joined along ``axis``.  VJP: ``g`` cut back into pieces of each input's
    size along ``axis``."""
    xs = [tensor(v) for v in values]
    for x in xs[1:]:
        operands(xs[0], x)                                   # one dtype for all, as in TensorFlow
    c = np.concatenate([x.array for x in xs], axis=axis)
    ends = np.cumsum([x.shape[axis] for x in xs])[:-1]
    return record(Tensor(c), tuple(xs), lambda g: tuple(np.split(g, ends, axis=axis)))


def stack(values, axis=0):
    """``c`` = the inputs (all of one shape) stacked along a new ``axis``.  VJP: ``dx_i`` = slice ``i``
    of ``g`` along that axis."""
    xs = [tensor(v) for v in values]
    for x in xs[1:]:
        operands(xs[0], x)
    c = np.stack([x.array for x in xs], axis=axis)
    return record(Tensor(c), tuple(xs), lambda g: tuple(np.moveaxis(g, axis, 0)))


def unstack(value, axis=0):
    """The slices of ``value`` along ``axis``, a list of tensors (each recorded as an index)."""
    x = tensor(value)
    moved = [slice(None)] * (axis % x.ndim)
    return [getitem(x, tuple(moved + [i])) for i in range(x.shape[axis])]


def gather(params, indices, axis=None, batch_dims=0):
    """``c = params`` at ``indices`` along ``axis`` (0 by default): ``np.take(params, indices, axis)``,
    ``(V, D)`` at ``(N,)`` -> ``(N, D)``.  VJP: ``g`` added back at the rows it came from (twice for a
    row taken twice), a dense array (TensorFlow returns ``IndexedSlices``, the same numbers)."""
    if batch_dims:
        raise ValueError("gather: batch_dims is not implemented in nnscratch; use batch_dims=0")
    x, k = tensor(params), as_array(indices).astype(np.int64)
    axis = 0 if axis is None else int(axis) % x.ndim
    if k.size and (k.min() < 0 or k.max() >= x.shape[axis]):
        raise ValueError(f"gather: an index is outside [0, {x.shape[axis]}) on axis {axis}")
    c = np.take(x.array, k, axis=axis)

    def vjp(g):
        dx = np.zeros(x.shape, g.dtype)
        moved = np.moveaxis(dx, axis, 0)                               # a view: writes reach dx
        g = np.moveaxis(g, tuple(range(axis, axis + k.ndim)), tuple(range(k.ndim)))
        np.add.at(moved, k, g)
        return (dx,)
    return record(Tensor(c), (x,), vjp)


# ================================================================================== casting
def cast(x, dtype):
    """``c = x`` converted to ``dtype``.  VJP: ``dx = g`` converted back (between float types; no
    gradient flows into or out of integers, as in TensorFlow)."""
    x, dtype = tensor(x), np.dtype(dtype)
    if x.dtype == dtype:
        return x
    c = x.array.astype(dtype)
    return record(Tensor(c), (x,), lambda g: (g.astype(x.dtype) if x.dtype.kind == "f" else None,))


def stop_gradient(input):   # noqa: A002
    """The same values, as a new tensor the tape does not connect to ``input``: no gradient passes."""
    return Tensor(tensor(input).array)


def identity(input):   # noqa: A002
    """``c = x``, a new tensor.  VJP: ``dx = g``."""
    x = tensor(input)
    return record(Tensor(x.array), (x,), lambda g: (g,))


def one_hot(indices, depth, on_value=None, off_value=None, axis=-1, dtype=None):
    """``c[..., j] = on_value if j == indices[...] else off_value`` (1 and 0 by default): ``(N,) ->
    (N, depth)``, float32 unless ``dtype``, as ``tf.one_hot``.  No gradient (indices are integers)."""
    k = as_array(indices).astype(np.int64)
    dtype = np.dtype(dtype or "float32")
    on = 1 if on_value is None else on_value
    off = 0 if off_value is None else off_value
    c = np.where(k[..., None] == np.arange(int(depth)), on, off).astype(dtype)
    return Tensor(c if axis == -1 else np.moveaxis(c, -1, axis))


# ================================================================================== new tensors
def zeros(shape, dtype=None):
    """A tensor of zeros, float32 by default (``tf.zeros((2, 3))``)."""
    return Tensor(np.zeros(_shape(shape), np.dtype(dtype or "float32")))


def ones(shape, dtype=None):
    """A tensor of ones, float32 by default."""
    return Tensor(np.ones(_shape(shape), np.dtype(dtype or "float32")))


def zeros_like(input, dtype=None):   # noqa: A002
    """Zeros of ``input``'s shape and dtype."""
    a = as_array(input)
    return Tensor(np.zeros(a.shape, dtype or a.dtype))


def ones_like(input, dtype=None):   # noqa: A002
    """Ones of ``input``'s shape and dtype."""
    a = as_array(input)
    return Tensor(np.ones(a.shape, dtype or a.dtype))


def fill(dims, value):
    """A tensor of shape ``dims`` filled with ``value`` (its dtype as TensorFlow converts it)."""
    v = as_array(value)
    return Tensor(np.full(_shape(dims), v, v.dtype))


def arange(start, limit=None, delta=1, dtype=None):
    """``tf.range``: ``[start, start + delta, ...)`` below ``limit`` (``tf.range(5)`` is 0..4, int32)."""
    if limit is None:
        start, limit = 0, start
    first = as_array(start if dtype is None else np.asarray(start, dtype))
    return Tensor(np.arange(start, limit, delta, dtype=dtype or first.dtype))


def eye(num_rows, num_columns=None, dtype=None):
    """The identity matrix, float32 by default."""
    return Tensor(np.eye(num_rows, num_columns, dtype=np.dtype(dtype or "float32")))


# ================================================================================== random
_SEEDED = {}            # op seed -> its generator: a seeded op draws a repeatable sequence


def _generator(seed):
    """The generator for one random op: its own for a given ``seed``, else nnscratch's global one
    (``tf.random.set_seed`` / ``keras.utils.set_random_seed``)."""
    if seed is None:
        return utils.make_rng()
    if seed not in _SEEDED:
        _SEEDED[seed] = np.random.default_rng(seed)
    return _SEEDED[seed]


def uniform(shape, minval=0, maxval=None, dtype=None, seed=None, name=None):
    """Numbers drawn uniformly from ``[minval, maxval)`` (``[0, 1)`` by default), float32 unless
    ``dtype``; integer dtypes need ``maxval``, as in TensorFlow."""
    dtype, rng = np.dtype(dtype or "float32"), _generator(seed)
    if dtype.kind in "iu":
        if maxval is None:
            raise ValueError("uniform: an integer dtype needs maxval, e.g. tf.random.uniform((3,), 0, 10, tf.int32)")
        return Tensor(rng.integers(int(minval), int(maxval), size=_shape(shape)).astype(dtype))
    maxval = 1 if maxval is None else maxval
    return Tensor((float(minval) + (float(maxval) - float(minval)) * rng.random(_shape(shape))).astype(dtype))


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None, name=None):
    """Numbers drawn from the normal distribution ``N(mean, stddev^2)``, float32 unless ``dtype``."""
    dtype, rng = np.dtype(dtype or "float32"), _generator(seed)
    return Tensor((float(mean) + float(stddev) * rng.standard_normal(_shape(shape))).astype(dtype))


def set_seed(seed):
    """``tf.random.set_seed(seed)``: every later random draw of nnscratch repeats from run to run
    (initial weights, dropout masks, shuffling, ``tf.random.*``): it seeds nnscratch's one global
    generator, as :func:`nnscratch.utils.set_random_seed` does, and restarts the seeded ops."""
    utils.set_random_seed(seed)
    _SEEDED.clear()


Tensor.__getitem__ = getitem                # t[0], t[:, 1:]: recorded on the tape, as in TensorFlow
Variable.__getitem__ = getitem
