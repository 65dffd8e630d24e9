"""Layers.  Each keeps its forward and backward pass side by side.

The contract (after CS231n's ``layers.py``):

* ``forward(x, training)`` computes the output and keeps in ``self.cache`` exactly what ``backward``
  needs (the input, the pre-activation, the dropout mask).
* ``backward(grad_out, need_dx=True)`` reads only that cache, writes the parameter gradients into ``self.grads``
  (same order and shapes as ``self.weights``) and returns the gradient with respect to the input.
  It never changes a parameter: updating weights is the optimizer's job alone.

Conventions: rows are samples, as in Keras.  A batch ``x`` has shape ``(N, D)``: N samples of D
features.  A Dense kernel has shape ``(D, M)`` so the layer computes ``x @ W + b``.  ``grad_out`` is
always dL/d(output) of the same shape as the output, where L is the mean loss over the batch.
"""
import collections
import re

import numpy as np

from . import activations as activations_module
from . import initializers
from .utils import make_rng

_name_counts = collections.Counter()


def _unique_name(base):
    """Keras-style automatic names: the first Dense is ``dense``, then ``dense_1``, ``dense_2``, ..."""
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def _snake_case(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Layer:
    """Base class: a name, parameters ``weights`` and their gradients ``grads`` (Keras order)."""

    def __init__(self, name=None, input_shape=None, dtype=None):
        self.name = name or _unique_name(_snake_case(type(self).__name__))
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        if self.input_shape is not None and len(self.input_shape) != 1:
            raise ValueError(f"{self.name}: input_shape must be a 1-tuple such as (784,), "
                             f"got {input_shape!r} (nnscratch layers take flat feature vectors)")
        self.dtype = dtype
        self.built = False
        self.input_dim = None
        self.output_dim = None
        self.weights = []
        self.grads = []
        self.cache = None

    def build(self, input_dim, dtype="float32"):
        """Create parameters once the number of input features is known."""
        self.input_dim = int(input_dim)
        self.output_dim = self.input_dim
        self.dtype = np.dtype(dtype)
        self.built = True

    def compute_output_shape(self, input_shape):
        """The output shape for an input of ``input_shape`` (one sample, no batch axis), as Keras names it."""
        return tuple(input_shape)

    def weight_shapes(self, input_shape):
        """The shapes of the parameters :meth:`build` would create, without creating them."""
        return []

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"


class Dense(Layer):
    """Fully connected layer: ``z = x @ W + b``, then ``a = activation(z)`` (linear by default).

    Shapes: ``x (N, D)``, kernel ``W (D, M)``, bias ``b (M,)``, ``z`` and ``a (N, M)``.
    Parameters: ``D*M + M`` (784*10 + 10 = 7,850 for the workshop's first model).
    """

    def __init__(self, units, activation=None, input_shape=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", seed=None, name=None, input_dim=None, dtype=None):
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        if not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = activations_module.get(activation)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.seed = seed

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def weight_shapes(self, input_shape):
        return [(int(input_shape[-1]), self.units), (self.units,)]

    def build(self, input_dim, dtype="float32"):
        super().build(input_dim, dtype)
        self.output_dim = self.units
        rng = make_rng(self.seed)
        shape = (self.input_dim, self.units)
        self.kernel = initializers.get(self.kernel_initializer)(shape, rng, self.dtype)
        self.bias = initializers.get(self.bias_initializer)((self.units,), rng, self.dtype)
        self.weights = [self.kernel, self.bias]
        self.d_kernel = np.zeros_like(self.kernel)
        self.d_bias = np.zeros_like(self.bias)
        self.grads = [self.d_kernel, self.d_bias]

    def forward(self, x, training=False):
        """``z = x @ W + b : (N, D) @ (D, M) + (M,) -> (N, M)``; ``a = activation(z)``."""
        z = x @ self.kernel + self.bias
        a = self.activation.forward(z)
        self.cache = (x, z, a)
        return a

    def backward(self, da, need_dx=True):
        """``dz = activation'(z) * da``, then :meth:`backward_from_z`."""
        x, z, a = self.cache
        return self.backward_from_z(self.activation.backward(z, a, da), need_dx)

    def backward_from_z(self, dz, need_dx=True):
        """Chain rule through ``z = x @ W + b``, given ``dz = dL/dz : (N, M)``.

        ``dW = x.T @ dz : (D, M)``;  ``db = sum over rows of dz : (M,)``;
        returns ``dx = dz @ W.T : (N, D)``, or None when ``need_dx`` is False (the model's first
        layer: nothing upstream needs dL/dx, which saves a third of its backward matmuls).
        Used directly when the loss already delivers dL/dz (the fused softmax + cross-entropy).
        """
        x = self.cache[0]
        np.matmul(x.T, dz, out=self.d_kernel)
        np.sum(dz, axis=0, out=self.d_bias)
        return dz @ self.kernel.T if need_dx else None

    def get_config(self):
        return {"name": self.name, "units": self.units, "activation": self.activation.name,
                "input_shape": self.input_shape}


class Activation(Layer):
    """Applies an activation element-wise (softmax: row-wise): ``a = f(z)``, shapes ``(N, M) -> (N, M)``."""

    def __init__(self, activation, name=None, input_shape=None, dtype=None):
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.activation = activations_module.get(activation)

    def forward(self, z, training=False):
        """``a = f(z)``."""
        a = self.activation.forward(z)
        self.cache = (z, a)
        return a

    def backward(self, da, need_dx=True):
        """``dz = f'(z) * da`` (for softmax the Jacobian-vector product; see ``activations.py``)."""
        z, a = self.cache
        return self.activation.backward(z, a, da)

    def get_config(self):
        return {"name": self.name, "activation": self.activation.name, "input_shape": self.input_shape}


class Dropout(Layer):
    """Inverted dropout, as in Keras: ``rate`` is the fraction of units set to zero during training.

    Training: ``keep_ij = [U_ij >= rate]`` with ``U ~ Uniform[0, 1)``, and
    ``a = x * keep / (1 - rate)`` (computed as ``x * mask`` with ``mask = keep * (1 / (1 - rate))``),
    so the expected value of ``a`` equals ``x``.  Inference (``training=False``): ``a = x``.
    Shapes ``(N, M) -> (N, M)``; no parameters.

    ``mask_source``: optional callable ``(shape, dtype) -> boolean keep array`` used instead of this
    layer's random generator.  ``keras_reference`` uses it to replay the masks Keras drew.
    """

    def __init__(self, rate, seed=None, name=None, input_shape=None, dtype=None):
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1) (the fraction of units dropped), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.rng = make_rng(seed)
        self.mask_source = None

    def forward(self, x, training=False):
        """``a = x * mask`` in training, ``a = x`` at inference (and when rate is 0)."""
        if not training or self.rate == 0:
            self.cache = None
            return x
        if self.mask_source is not None:
            keep = self.mask_source(x.shape, x.dtype)
        else:
            keep = self.rng.random(x.shape, dtype=x.dtype) >= self.rate
        mask = keep * x.dtype.type(1.0 / (1.0 - self.rate))   # 0 or 1/(1-rate)
        self.cache = mask
        return x * mask

    def backward(self, da, need_dx=True):
        """``dx = da * mask`` (identity when the forward pass was the identity)."""
        mask = self.cache
        return da if mask is None else da * mask

    def get_config(self):
        return {"name": self.name, "rate": self.rate, "input_shape": self.input_shape}


LAYER_CLASSES = {cls.__name__: cls for cls in (Dense, Activation, Dropout)}
