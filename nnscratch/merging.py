"""Layers that join tensors: ``Add`` and ``Concatenate`` (Keras's ``keras.layers.merging``).

Read ``layers.py`` first.  A merging layer takes a *list* of inputs: ``forward(xs)`` gets a list of
arrays, and ``backward(g)`` returns one gradient per input, in the same order.  They are where the
paths of a graph meet, so their backward passes are the other half of the chain rule at a junction:

* ``Add``: ``a = x_1 + x_2 + ... + x_k``, so ``da/dx_i = I`` and every input receives the whole
  gradient, ``dx_i = g``.  (Where one tensor *feeds* several layers, the opposite happens: their
  gradients add up; ``functional.py`` does that.)
* ``Concatenate``: ``a = [x_1 | x_2 | ... | x_k]`` along an axis, so each input receives its own
  slice of the gradient, ``dx_i = g[..., start_i:end_i]``.

Neither has parameters.  Derivations: docs/functional.md#add-and-concatenate
"""
import numpy as np

from . import backend, registry, symbolic, tape
from .array_ops import cast
from .engine import fast, inference
from .layers import Layer
from .tape import Tensor


class Merge(Layer):
    """A layer of several inputs (``takes_list``).  ``build`` takes the list of their sample shapes;
    called on tensors (``layer([x, y])``) it is one node of an open tape, its backward the VJP."""
    takes_list = True

    def build(self, input_shape, dtype="float32"):
        """``input_shape``: one sample's shape for each input, ``[(8,), (8,)]``."""
        if not isinstance(input_shape, (list, tuple)) or not input_shape or \
                not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError(f"{self.name}: a {type(self).__name__} layer is called on a list of tensors, "
                             f"e.g. {type(self).__name__}()([x, y]); got input shape {input_shape!r}")
        shapes = [tuple(int(d) for d in s) for s in input_shape]
        self.output_shape = self.compute_output_shape(shapes)
        self.built_input_shape = shapes
        self.dtype = np.dtype(dtype)
        self.built = True

    def __call__(self, inputs, training=None):
        """``layer([x, y])``: on symbolic tensors, a node of the graph being described; on tensors, the
        merged tensor, and on an open tape ONE node whose vector-Jacobian product is :meth:`backward`."""
        if symbolic.is_symbolic(inputs):
            return symbolic.connect(self, inputs, training)
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{self.name}: a {type(self).__name__} layer takes a list of tensors, "
                             f"e.g. {type(self).__name__}()([x, y]); got a {type(inputs).__name__}")
        if not self.built:
            self.build([np.shape(x)[1:] for x in inputs], self.dtype or tape.floatx())
        xs = [cast(x, self.dtype) for x in inputs]
        if [tuple(x.shape[1:]) for x in xs] != self.built_input_shape:
            raise ValueError(f"{self.name} was built for inputs of shapes {self.built_input_shape}, but is "
                             f"called on {[tuple(x.shape[1:]) for x in xs]}")
        replica = inference.call_replica(self)            # this call's own work arrays
        out = Tensor(replica.forward([x.array for x in xs]))
        return tape.record(out, xs, lambda g: [np.array(dx) for dx in replica.backward(g)])


class Add(Merge):
    """``keras.layers.Add()``: the element-wise sum of its inputs, all of one shape.

    ``a = x_1 + x_2 + ... + x_k``: ``k x (N, ...) -> (N, ...)``, added left to right (as Keras adds
    them, so float32 rounds the same).  Backward: ``dx_i = g`` for every ``i``: a sum passes its
    gradient unchanged to each term (the same array for each: nothing writes into a gradient it
    receives).  The residual connection ``y = x + f(x)`` is an ``Add`` of ``x`` and ``f(x)``."""

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        if any(s != shapes[0] for s in shapes):
            raise ValueError(f"{self.name}: Add needs inputs of one shape, got {[(None,) + s for s in shapes]}")
        return shapes[0]

    def forward(self, xs, training=False):
        """``a = ((x_1 + x_2) + x_3) + ...``: ``k x (N, ...) -> (N, ...)``."""
        if backend.fast():
            a = fast.add_all(self, "a", xs)               # the lines below, into a reused array
        else:
            a = xs[0]
            for x in xs[1:]:
                a = a + x                                 # (N, ...) + (N, ...), left to right
        self.cache = len(xs)
        return a

    def backward(self, da, need_dx=True):
        """``dx_i = da`` for each of the k inputs (``d(x_1 + ... + x_k)/dx_i = 1``)."""
        return [da] * self.cache

    def get_config(self):
        return {"name": self.name}


class Concatenate(Merge):
    """``keras.layers.Concatenate(axis=-1)``: its inputs joined along ``axis``.

    ``a = [x_1 | x_2 | ... | x_k]``: ``(N, ..., d_1), ..., (N, ..., d_k) -> (N, ..., d_1 + ... + d_k)``
    for ``axis=-1`` (any axis but the batch axis; the other sizes must agree).  Backward: each input
    gets its slice of the gradient, ``dx_i = g[..., s_i:s_i + d_i]`` with ``s_i = d_1 + ... + d_(i-1)``
    (a view of ``g``: no copy)."""

    def __init__(self, axis=-1, name=None, dtype=None, trainable=True):
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or axis == 0:
            raise ValueError(f"Concatenate: axis must be an integer axis of the samples (not 0, the batch "
                             f"axis), e.g. -1; got {axis!r}")
        self.axis = int(axis)

    def _sample_axis(self, ndim):
        """The axis within one sample (``axis`` counts the batch axis, as in Keras)."""
        axis = self.axis - 1 if self.axis > 0 else self.axis + ndim
        if not 0 <= axis < ndim:
            raise ValueError(f"{self.name}: axis={self.axis} is outside inputs of {ndim + 1} axes")
        return axis

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        if len({len(s) for s in shapes}) != 1:
            raise ValueError(f"{self.name}: Concatenate needs inputs with the same number of axes, got "
                             f"{[(None,) + s for s in shapes]}")
        axis = self._sample_axis(len(shapes[0]))
        rest = {s[:axis] + s[axis + 1:] for s in shapes}
        if len(rest) != 1:
            raise ValueError(f"{self.name}: Concatenate joins along axis {self.axis}; the other axes must "
                             f"match, got {[(None,) + s for s in shapes]}")
        return shapes[0][:axis] + (sum(s[axis] for s in shapes),) + shapes[0][axis + 1:]

    def forward(self, xs, training=False):
        """``a = concatenate(xs, axis)``: ``(N, ..., d_i) -> (N, ..., sum_i d_i)``."""
        axis = self._sample_axis(xs[0].ndim - 1) + 1
        if backend.fast():
            a = fast.concatenate(self, "a", xs, axis)     # the line below, into a reused array
        else:
            a = np.concatenate(xs, axis=axis)
        self.cache = (axis, [x.shape[axis] for x in xs])
        return a

    def backward(self, da, need_dx=True):
        """``dx_i = da[..., s_i:s_i + d_i]`` along the axis: the split that undoes the concatenation."""
        axis, sizes = self.cache
        ends = np.cumsum(sizes)
        return [da[(slice(None),) * axis + (slice(end - size, end),)] for size, end in zip(sizes, ends)]

    def get_config(self):
        return {"name": self.name, "axis": self.axis}


def add(inputs, **kwargs):
    """``keras.layers.add([x, y])``: ``Add(**kwargs)([x, y])``."""
    return Add(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """``keras.layers.concatenate([x, y], axis=-1)``: ``Concatenate(axis, **kwargs)([x, y])``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


registry.register(Add, Concatenate)                                   # the layers a model file may name
