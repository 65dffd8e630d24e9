"""The tape: how a framework finds gradients without a hand-written backward pass.

Read ``layers.py`` first: there every layer's ``backward`` is written by hand beside its ``forward``.
A framework such as TensorFlow lets you write only the forward pass; it *records* what you compute
and then runs the chain rule backwards over the record.  This room is that record.

* **Values.**  A :class:`Tensor` is an immutable array of numbers (a NumPy array inside;
  ``t.numpy()`` gives a copy).  A :class:`Variable` is a named, mutable one (``v.assign(...)``): a
  weight.  A layer's weights are Variables that hold the layer's own arrays (``layer.variables``).
* **The record.**  Every operation (``ops.py``, ``array_ops.py``, a layer called as ``layer(x)``, a loss
  object) computes its output with NumPy and then calls :func:`record` with its inputs and its
  *vector-Jacobian product* ``vjp``: the function that turns ``g = dL/d(output)`` into
  ``dL/d(input)`` for each input.  With no tape open, :func:`record` returns at once: recording costs
  nothing when nobody records.
* **The tape.**  :class:`GradientTape` keeps the records while it is open, in the order the
  operations ran.  ``tape.gradient(L, w)`` walks them backwards from ``L``::

      h = x @ W          record (h; x, W)          dL/dh: arrives from the records after it
      p = sigmoid(h)     record (p; h)             dL/dW = x.T @ dL/dh   (matmul's vjp)
      L = sum(p * p)     record (L; p, p)          dL/dp = 2 p ...       (p is used twice: the two add)

  Each record's ``vjp`` receives the gradient of its output, summed over every place that output
  was used (``grads[x] = grads[x] + g``, one visible line in :meth:`GradientTape.gradient`), and
  sends a gradient to each of its inputs.  That is the chain rule, once per record, in reverse.

micrograd (Karpathy) is this idea on scalars; here each record is a whole array operation, and a
layer called on a tape records *one* node whose ``vjp`` is the layer's own ``backward``.  What a
learner reads in ``layers.py`` is what the tape runs.

nnscratch runs eagerly: every operation runs when Python reaches it (:func:`function`, TensorFlow's
``@tf.function``, changes nothing).  The tape computes first derivatives: the ``vjp`` functions are
NumPy, not recorded operations, so a tape cannot differentiate another tape's gradient.
"""
import contextlib
import threading

import numpy as np

from .errors import NotImplementedInNnscratch

# ================================================================================== dtypes
float16, float32, float64 = np.dtype("float16"), np.dtype("float32"), np.dtype("float64")
int8, int16, int32, int64, uint8 = (np.dtype(t) for t in ("int8", "int16", "int32", "int64", "uint8"))
bool_ = np.dtype("bool")
EPSILON = 1e-7                      # keras.backend.epsilon(): the clip of the probability losses
_FLOATX = ["float32"]


def floatx():
    """The default float type of layers, models and loss objects: ``'float32'``, as in Keras."""
    return _FLOATX[0]


def set_floatx(value):
    """``keras.backend.set_floatx('float64')``: layers, models and loss objects made from now on
    compute in float64 (for tight gradient checks)."""
    if str(value) not in ("float32", "float64"):
        raise ValueError(f"set_floatx: nnscratch computes in 'float32' or 'float64', got {value!r}")
    _FLOATX[0] = str(value)


def epsilon():
    """``keras.backend.epsilon()``: 1e-7."""
    return EPSILON


def as_array(value, dtype=None):
    """``value`` as a NumPy array, converted as TensorFlow converts it: a Tensor or Variable gives its
    array (no copy), a NumPy array keeps its dtype, Python numbers and lists become float32 (floats)
    or int32 (integers).  ``dtype``: cast to it."""
    if isinstance(value, (Tensor, Variable)):
        array = value.array
    elif isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
    elif dtype is not None:                             # Python numbers straight into dtype (0.7 exactly)
        array = np.asarray(value, dtype=dtype)
    else:
        array = np.asarray(value)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        elif array.dtype == np.int64 and (array.size == 0 or np.abs(array).max() < 2**31):
            array = array.astype(np.int32)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"cannot make a tensor of {type(value).__name__} {value!r:.80}: numbers only")
    return array if dtype is None or array.dtype == dtype else array.astype(dtype)


# ================================================================================== values
class Tensor:
    """An immutable array of numbers, what every operation returns (TensorFlow's ``tf.Tensor``).

    ``t.numpy()`` (a copy, or a NumPy scalar for a 0-d tensor), ``t.shape``, ``t.dtype``, ``t.ndim``,
    ``len(t)``, ``float(t)``, ``f"{t:.2f}"`` (a 0-d tensor formats like a number) and ``np.asarray(t)``
    (the array itself, no copy: do not write into it) work as in TensorFlow.  Its operators
    (``+ - * / ** @``, unary ``-``, ``abs``, comparisons) and indexing (``t[0]``, ``t[:, 1:]``) are the
    operations of ``ops.py`` and ``array_ops.py``, recorded on the tape; those rooms install them here
    (as each room registers its classes in ``registry.py``), so this room imports neither.  NumPy's
    own functions (``np.exp(t)``) give plain arrays the tape does not see, as in TensorFlow.
    """
    __slots__ = ("array", "_keras_logits", "__weakref__")
    __array_priority__ = 100        # ndarray + Tensor calls Tensor.__radd__, so the tape sees it
    __hash__ = None                 # == compares element by element, as in TensorFlow

    def __init__(self, array):
        self.array = np.asarray(array)
        self._keras_logits = None   # a softmax's input, where this is a softmax's output (losses use it)

    shape = property(lambda self: self.array.shape, doc="The shape, a tuple: ``(N, 10)``.")
    dtype = property(lambda self: self.array.dtype, doc="The NumPy dtype: ``t.dtype == tf.float32``.")
    ndim = property(lambda self: self.array.ndim)

    def numpy(self):
        """A copy of the values as NumPy (``tf.Tensor.numpy()``): an array, or a NumPy scalar such as
        ``np.float32`` for a 0-d tensor."""
        return self.array[()] if self.array.ndim == 0 else self.array.copy()

    def get_shape(self):
        return self.shape

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self.array, dtype=dtype, copy=True)
        return self.array if dtype is None else self.array.astype(dtype, copy=False)

    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError("a 0-d tensor (a scalar) has no len()")
        return len(self.array)

    def __iter__(self):                             # the rows, each a tensor on the tape (t[i])
        return (self[i] for i in range(len(self)))

    def __bool__(self):
        return bool(self.array)                     # NumPy's error for more than one element

    def __float__(self):
        return float(self.array)

    def __int__(self):
        return int(self.array)

    def __index__(self):
        return self.array.__index__()

    def __format__(self, spec):
        return format(self.array[()] if self.array.ndim == 0 else str(self), spec)

    def __repr__(self):
        return (f"<{type(self).__name__}: shape={self.shape}, dtype={self.dtype.name}, "
                f"numpy={np.array_repr(self.array) if self.ndim else np.array2string(self.array)}>")

    def __str__(self):
        return f"{type(self).__name__}({self.array!s}, shape={self.shape}, dtype={self.dtype.name})"


class Variable:
    """A named, mutable array of numbers (TensorFlow's ``tf.Variable``): a weight.

    ``Variable(initial_value, trainable=True, name=None, dtype=None)`` copies ``initial_value`` into
    an array of its own.  ``assign``, ``assign_add`` and ``assign_sub`` write into that array in
    place; ``numpy()`` returns a copy; in an operation a Variable reads its array as it is then.  A
    trainable Variable is watched by every open tape that sees it used (TensorFlow's
    ``watch_accessed_variables``).  A layer's weights are Variables that hold the layer's own arrays
    (:meth:`holding`): ``optimizer.apply_gradients`` and ``fit`` update the same memory.
    """
    __slots__ = ("array", "trainable", "name", "path", "__weakref__")
    __array_priority__ = 100
    __hash__ = None

    def __init__(self, initial_value=None, trainable=True, name=None, dtype=None):
        if initial_value is None:
            raise ValueError("Variable: give an initial_value, e.g. tf.Variable(tf.zeros((784, 10)))")
        if callable(initial_value):
            initial_value = initial_value()
        self.array = np.array(as_array(initial_value, None if dtype is None else np.dtype(dtype)), order="C")
        self.trainable = bool(trainable)
        self.name = self.path = str(name) if name is not None else "Variable"

    @classmethod
    def holding(cls, array, name, trainable=True):
        """A Variable whose values live in ``array`` itself (no copy): how a layer's weights become
        Variables.  ``name``: ``'dense/kernel'`` (``v.name`` is ``'kernel'``, ``v.path`` all of it)."""
        v = cls.__new__(cls)
        v.array, v.trainable, v.path, v.name = array, bool(trainable), name, name.rsplit("/", 1)[-1]
        return v

    shape = property(lambda self: self.array.shape)
    dtype = property(lambda self: self.array.dtype)
    ndim = property(lambda self: self.array.ndim)

    def assign(self, value):
        """``v = value``, in place (the same memory: a layer holding it sees the change)."""
        value = as_array(value)
        if value.shape != self.shape and np.broadcast_shapes(value.shape, self.shape) != self.shape:
            raise ValueError(f"Variable {self.name}: cannot assign a value of shape {value.shape} to a "
                             f"variable of shape {self.shape}")
        self.array[...] = value
        return self

    def assign_add(self, delta):
        """``v += delta``, in place."""
        return self.assign(self.array + as_array(delta, self.dtype))

    def assign_sub(self, delta):
        """``v -= delta``, in place."""
        return self.assign(self.array - as_array(delta, self.dtype))

    def numpy(self):
        """A copy of the current values (a NumPy scalar for a 0-d variable)."""
        return self.array[()].copy() if self.array.ndim == 0 else self.array.copy()

    def value(self):
        """The current values as a :class:`Tensor` (a snapshot: later assignments do not change it)."""
        return Tensor(self.array.copy())

    read_value = value
    __array__ = Tensor.__array__
    __len__ = Tensor.__len__
    __float__ = Tensor.__float__
    __int__ = Tensor.__int__
    __bool__ = Tensor.__bool__

    def __format__(self, spec):
        return format(self.array[()] if self.array.ndim == 0 else repr(self), spec)

    def __repr__(self):
        return (f"<Variable '{self.path}' shape={self.shape} dtype={self.dtype.name}, "
                f"numpy={np.array_repr(self.array) if self.ndim else np.array2string(self.array)}>")


def constant(value, dtype=None, shape=None, name=None):
    """``tf.constant(value, dtype=None, shape=None)``: a new :class:`Tensor` holding a copy of
    ``value`` (Python floats become float32, ints int32, as in TensorFlow)."""
    array = np.array(as_array(value, None if dtype is None else np.dtype(dtype)))
    if shape is not None:
        array = np.broadcast_to(array, shape).copy() if array.size == 1 else array.reshape(shape)
    return Tensor(array)


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None):
    """``tf.convert_to_tensor``: a Tensor is returned as it is (``dtype`` must then be its own, as in
    TensorFlow); a Variable gives its current values; anything else becomes a constant."""
    if isinstance(value, Tensor):
        if dtype is not None and value.dtype != np.dtype(dtype):
            raise TypeError(f"convert_to_tensor: the tensor is {value.dtype.name}, not {np.dtype(dtype).name}; "
                            "use tf.cast to change a tensor's dtype")
        return value
    if isinstance(value, Variable):
        return value.value()
    if dtype is None and dtype_hint is not None and not isinstance(value, (np.ndarray, np.generic)):
        return Tensor(as_array(value, np.dtype(dtype_hint)))
    return Tensor(as_array(value, None if dtype is None else np.dtype(dtype)))


def function(func=None, **options):
    """``@tf.function``: nnscratch runs eagerly, so this returns ``func`` unchanged (with or without
    arguments: ``@tf.function(jit_compile=True)``).  TensorFlow would trace ``func`` into a graph once
    and run the graph; here every call runs the Python code, and a tape records it as it runs."""
    return func if func is not None else (lambda f: f)


# ================================================================================== the record
_local = threading.local()          # .tapes: the tapes open on this thread, innermost last


def _open_tapes():
    return getattr(_local, "tapes", ())


def record(output, inputs, vjp):
    """Tell every open tape that ``output`` was computed from ``inputs`` (Tensors and Variables);
    ``vjp(g)`` turns ``g = dL/d(output)`` into one gradient per input (None where an input gets none).
    Returns ``output``.  With no tape open it returns at once."""
    tapes = _open_tapes()
    if tapes:
        for tape in tapes:
            tape._record(output, inputs, vjp)
    return output


def is_recording():
    """True while a tape is open (and not stopped) on this thread: operations are then recorded."""
    return any(tape._recording for tape in _open_tapes())


def is_recorded(value):
    """True if an open tape records operations on ``value`` (it is watched, computed from a watched
    value, or a trainable Variable): the operation may then skip work nobody needs (a layer's dx)."""
    return any(tape._watches(value, add=False) for tape in _open_tapes())


def _flatten(structure):
    """The leaves of a nested list / tuple / dict, in order."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _flatten(item)]
    if isinstance(structure, dict):
        return [leaf for key in structure for leaf in _flatten(structure[key])]
    return [structure]


def _pack(structure, leaves):
    """``structure`` rebuilt with ``leaves`` (an iterator) in place of its leaves."""
    if isinstance(structure, (list, tuple)):
        return type(structure)(_pack(item, leaves) for item in structure)
    if isinstance(structure, dict):
        return {key: _pack(structure[key], leaves) for key in structure}
    return next(leaves)


def _differentiable(value):
    return value.dtype.kind in "fc"


class GradientTape:
    """``tf.GradientTape``: records the operations run while it is open, for :meth:`gradient`.

    ``persistent``: allow more than one :meth:`gradient` call (else the record is freed after the
    first).  ``watch_accessed_variables``: watch every trainable Variable an operation uses (True, as
    in TensorFlow); other tensors are watched with :meth:`watch`.  An operation is recorded when at
    least one of its inputs is watched or was computed from a watched value.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = bool(persistent)
        self.watch_accessed_variables = bool(watch_accessed_variables)
        self._records = []          # (output, inputs, vjp, needed), in the order the operations ran
        self._watched = {}          # id -> value: watched, or computed from a watched value
        self._recording = False

    def __enter__(self):
        if self._records is None:
            raise RuntimeError("this GradientTape was used up by gradient(); open a new one "
                               "(or create it with persistent=True)")
        _local.tapes = _open_tapes() + (self,)
        self._recording = True
        return self

    def __exit__(self, *exc):
        _local.tapes = tuple(t for t in _open_tapes() if t is not self)
        self._recording = False

    def watch(self, tensor):
        """Record the operations on ``tensor`` (a Tensor, a Variable, or a nested list / dict of them)."""
        for x in _flatten(tensor):
            if not isinstance(x, (Tensor, Variable)):
                raise ValueError(f"watch: {type(x).__name__} is not a Tensor or Variable; make one with "
                                 "tf.constant(x) (or tf.Variable(x)) and compute with that")
            self._watched[id(x)] = x

    def watched_variables(self):
        return [x for x in self._watched.values() if isinstance(x, Variable)]

    @contextlib.contextmanager
    def stop_recording(self):
        """``with tape.stop_recording():`` operations in the block are not recorded."""
        self._recording, was = False, self._recording
        try:
            yield
        finally:
            self._recording = was

    def reset(self):
        """Forget everything recorded and watched so far."""
        self._records, self._watched = [], {}

    def _watches(self, x, add=True):
        if id(x) in self._watched:
            return True
        if (self.watch_accessed_variables and isinstance(x, Variable) and x.trainable and _differentiable(x)
                and self._recording):
            if add:
                self._watched[id(x)] = x
            return True
        return False

    def _record(self, output, inputs, vjp):
        if not self._recording or self._records is None or not _differentiable(output):
            return                                          # stopped, used up by gradient(), or integers
        needed = [isinstance(x, (Tensor, Variable)) and _differentiable(x) and self._watches(x) for x in inputs]
        if any(needed):
            self._watched[id(output)] = output
            self._records.append((output, inputs, vjp, needed))

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """``dL/d(source)`` for each source (a Tensor, a Variable, or a nested list / dict of them,
        returned in the same structure), where ``L`` is ``target`` (summed over its elements, or
        weighted by ``output_gradients``).  A source the target does not depend on gets None
        (``unconnected_gradients='zero'``: zeros), as in TensorFlow.  Integer sources get None."""
        if self._records is None:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one set of "
                               "gradients; create it with tf.GradientTape(persistent=True) to call "
                               "gradient() more than once")
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(f"gradient: unconnected_gradients must be 'none' or 'zero', got "
                             f"{unconnected_gradients!r}")
        for other in _open_tapes():
            if other is not self and other._recording and any(id(t) in other._watched for t in _flatten(target)):
                raise NotImplementedInNnscratch(
                    "a gradient inside another tape that records it (a second derivative) is not "
                    "implemented in nnscratch: its vector-Jacobian products are NumPy, not recorded "
                    "operations. Take the gradient outside the outer tape, or inside "
                    "`with outer_tape.stop_recording():` if the outer tape need not see it")
        flat_sources = _flatten(sources)
        for s in flat_sources:
            if not isinstance(s, (Tensor, Variable)):
                raise TypeError(f"gradient: a source must be a Tensor or Variable, got {type(s).__name__}")
        wanted = {id(s) for s in flat_sources}
        targets = _flatten(target)
        seeds = _flatten(output_gradients) if output_gradients is not None else [None] * len(targets)
        grads = {}                  # id(value) -> dL/d(value), summed over every use of the value
        for t, seed in zip(targets, seeds):
            if isinstance(t, (Tensor, Variable)) and id(t) in self._watched and _differentiable(t):
                g = np.ones(t.shape, t.dtype) if seed is None else as_array(seed, t.dtype)
                grads[id(t)] = grads[id(t)] + g if id(t) in grads else g
        for output, inputs, vjp, needed in reversed(self._records):
            g = grads.get(id(output)) if id(output) in wanted else grads.pop(id(output), None)
            if g is None:
                continue                                    # the target does not depend on this output
            for x, gx, need in zip(inputs, vjp(g), needed):
                if need and gx is not None:
                    grads[id(x)] = grads[id(x)] + gx if id(x) in grads else gx   # gradients add where a value is used twice
        if not self.persistent:
            self._records, self._watched = None, {}
        results = []
        for s in flat_sources:
            g = grads.get(id(s)) if _differentiable(s) else None
            if g is None and unconnected_gradients == "zero":
                g = np.zeros(s.shape, s.dtype)
            results.append(None if g is None else Tensor(np.asarray(g, dtype=s.dtype, order="C")))
        return _pack(sources, iter(results))

    def jacobian(self, *args, **kwargs):
        raise NotImplementedInNnscratch("GradientTape.jacobian is not implemented in nnscratch; take one "
                                        "gradient per output element, or use gradient() of a sum")

    batch_jacobian = jacobian
