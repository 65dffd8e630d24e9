"""``keras.Input`` and ``InputLayer``: where a graph of layers starts (``symbolic.py``, ``functional.py``).

``keras.Input(shape=(784,))`` makes an :class:`InputLayer` and returns its output, a symbolic tensor of
shape ``(None, 784)`` with no numbers in it; layers called on it record the graph.  In a model the
InputLayer computes nothing: its ``forward`` and ``backward`` pass their array through.
"""
import numpy as np

from . import registry, symbolic, tape
from .errors import NotImplementedInNnscratch
from .layers import Layer, _unique_name


class InputLayer(Layer):
    """``keras.layers.InputLayer``: where a graph starts.  It holds the shape of one sample and computes
    nothing (``forward`` and ``backward`` pass their array through).  ``keras.Input(shape)`` makes one
    and returns its output, a :class:`~nnscratch.symbolic.KerasTensor`."""
    is_input_layer = True

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, **kwargs):
        for key, value, default in (("batch_size", batch_size, None), ("sparse", sparse, (None, False)),
                                    ("input_tensor", input_tensor, None), ("optional", optional, False)):
            if value not in (default if isinstance(default, tuple) else (default,)):
                raise NotImplementedInNnscratch(f"keras.Input({key}={value!r}) is not implemented in nnscratch: "
                                                "batches have any size, inputs are dense arrays")
        if kwargs:
            raise TypeError(f"keras.Input: unexpected arguments {sorted(kwargs)}")
        if batch_shape is not None:
            if shape is not None or not isinstance(batch_shape, (list, tuple)) or not batch_shape \
                    or batch_shape[0] is not None:
                raise ValueError(f"keras.Input: give shape=(784,) (one sample), or batch_shape=(None, 784); got "
                                 f"shape={shape!r}, batch_shape={batch_shape!r}")
            shape = tuple(batch_shape[1:])
        shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
        if shape is None or not isinstance(shape, (list, tuple)) or not shape or not all(
                isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in shape):
            hint = (" (a size of None, for sequences of any length, is not implemented: nnscratch's layers "
                    "need every size of a sample)" if isinstance(shape, (list, tuple)) and None in shape else "")
            raise ValueError(f"keras.Input: shape must be one sample's shape, positive integers such as (784,) "
                             f"or (28, 28, 1); got {shape!r}{hint}")
        super().__init__(name=name or _unique_name("input_layer"), dtype=dtype)
        self.build(tuple(int(d) for d in shape), np.dtype(dtype or tape.floatx()))
        self.batch_shape = (None,) + self.built_input_shape
        node = symbolic.Node(self, (), ())
        node.output = symbolic.KerasTensor(self.batch_shape, self.dtype.name, node, name)
        self.output = node.output

    def forward(self, x, training=False):
        return x

    def backward(self, da, need_dx=True):
        return da

    def get_config(self):
        return {"name": self.name, "batch_shape": list(self.batch_shape), "dtype": self.dtype.name}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None,
          optional=False):
    """``keras.Input(shape=(784,))``: the symbolic input of a graph, ``(None, 784)``.  Call layers on it,
    then ``keras.Model(inputs, outputs)``; or start a ``Sequential`` with it.  ``dtype``: the dtype of
    the arrays it takes (``keras.backend.floatx()`` by default)."""
    return InputLayer(shape, batch_size, dtype, sparse, batch_shape, tensor, optional, name).output


registry.register(InputLayer)                                        # the layers a model file may name
