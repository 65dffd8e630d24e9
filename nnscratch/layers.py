"""Layers.  Each keeps its forward and backward pass side by side.

The contract (after CS231n's ``layers.py``):

* ``forward(x, training)`` computes the output and keeps in ``self.cache`` exactly what ``backward``
  needs (the input, the pre-activation, the dropout mask).
* ``backward(grad_out, need_dx=True)`` reads only that cache, writes the parameter gradients into
  ``self.grads`` (same order and shapes as ``self.weights``) and returns the gradient with respect to
  the input.  It never changes a parameter: updating weights is the optimizer's job alone.

Conventions: rows are samples, as in Keras.  A batch ``x`` has shape ``(N, D)``: N samples of D
features.  A Dense kernel has shape ``(D, M)`` so the layer computes ``x @ W + b``.  ``grad_out`` is
always dL/d(output) of the same shape as the output, where L is the mean loss over the batch.

Fast path: where a method says ``if backend.fast():``, the one line under it hands the plain NumPy
lines of the ``else:`` branch to the engine (``engine/fast.py``), which computes the same numbers in
one pass, into work arrays it keeps for the layer from batch to batch.
``nnscratch.set_backend('numpy')`` runs the plain lines.  Either way an output is valid until the
layer's next ``forward``.
"""
import collections
import contextlib
import re
import threading

import numpy as np

from . import activations as activations_module
from . import backend, checks, errors, initializers, registry, symbolic, tape
from .array_ops import cast
from .counter_random import counter_uniform, new_key
from .engine import fast, inference
from .tape import Tensor, Variable
from .utils import make_rng

_name_counts = collections.Counter()
_calls = threading.local()        # .training: the flag of the model call in progress (Keras's call context)


@contextlib.contextmanager
def training_context(training):
    """Layers called inside the block without ``training=`` take ``training`` (a model's
    ``model(x, training=True)`` reaches the Dropout its ``call`` uses), as Keras's call context does."""
    outer = getattr(_calls, "training", None)
    _calls.training = outer if training is None else training
    try:
        yield
    finally:
        _calls.training = outer


def _unique_name(base):
    """Keras-style automatic names: the first Dense is ``dense``, then ``dense_1``, ``dense_2``, ..."""
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def _snake_case(name):
    """Keras's ``to_snake_case``: ``MyModel`` -> ``my_model``, ``MLP`` -> ``mlp``, ``MaxPooling2D`` ->
    ``max_pooling2d``."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", re.sub(r"\W+", "", name))
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


class Layer:
    """Base class: a name, parameters ``weights`` and their gradients ``grads`` (Keras order), and
    ``trainable`` (Keras's flag: a frozen layer, ``layer.trainable = False``, keeps its weights while
    its model trains; they stay in ``weights`` but leave ``trainable_weights``)."""

    def __init__(self, name=None, input_shape=None, dtype=None, trainable=True):
        self.name = name or _unique_name(_snake_case(type(self).__name__))
        if input_shape is not None:
            if isinstance(input_shape, (int, np.integer)):
                input_shape = (input_shape,)
            if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0
                       for d in input_shape) or len(input_shape) == 0:
                raise ValueError(f"{self.name}: input_shape must be a tuple of positive integers (one "
                                 f"sample's shape, without the batch axis), e.g. (784,) or (28, 28, 1); "
                                 f"got {input_shape!r}")
        self.input_shape = tuple(int(d) for d in input_shape) if input_shape is not None else None
        self.dtype = dtype
        self.built = False
        self.built_input_shape = None
        self.output_shape = None
        self.weights = []
        self.grads = []
        self.cache = None
        self.trainable = trainable

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = checks.flag(value, f"{self.name}: trainable")

    @property
    def trainable_weights(self):
        """The weights ``fit`` updates: all of ``weights``, or none while the layer is frozen."""
        return self.weights if self.trainable else []

    @property
    def non_trainable_weights(self):
        return [] if self.trainable else self.weights

    @property
    def trainable_grads(self):
        """The gradients of :attr:`trainable_weights`, in the same order."""
        return self.grads if self.trainable else []

    def build(self, input_shape, dtype="float32"):
        """Create parameters once the shape of one input sample is known (``(784,)``, or just 784)."""
        if isinstance(input_shape, (int, np.integer)):
            input_shape = (int(input_shape),)
        self.built_input_shape = tuple(int(d) for d in input_shape)
        self.output_shape = self.compute_output_shape(self.built_input_shape)
        self.dtype = np.dtype(dtype)
        self.built = True

    @property
    def input_dim(self):
        return self.built_input_shape[-1] if self.built else None

    @property
    def output_dim(self):
        return self.output_shape[-1] if self.built else None

    def compute_output_shape(self, input_shape):
        """The output shape for an input of ``input_shape`` (one sample, no batch axis), as Keras names it."""
        return tuple(input_shape)

    def weight_shapes(self, input_shape):
        """The shapes of the parameters :meth:`build` would create, without creating them."""
        return []

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    # ------------------------------------------------------------------ layer(x) and the tape
    def __call__(self, inputs, training=None):
        """``layer(x)``, Keras's way to call a layer: builds it on the first call (from ``x``'s shape,
        in its dtype or ``keras.backend.floatx()``), casts ``x`` to that dtype as Keras's layers do,
        runs :meth:`forward` and returns a :class:`~nnscratch.tape.Tensor`.

        On an open ``GradientTape`` the call is ONE node of the tape whose vector-Jacobian product is
        this layer's own :meth:`backward`: ``g = dL/d(output)`` in, ``dL/dx`` and ``dL/dW, dL/db``
        (its ``grads``) out.  The call runs on a *replica* of the layer (the same weight arrays, its own
        ``cache`` and work arrays), so what it returns and what its backward reads stay valid when
        the layer is called again (a layer used twice, the next batch).  Called on symbolic tensors
        (``keras.Input``), it records a node of a graph instead (``symbolic.py``)."""
        if symbolic.is_symbolic(inputs):
            return symbolic.connect(self, inputs, training)
        if not self.built:
            errors.require_forward(self)                  # a layer written as call() alone is refused by name
            self.build(np.shape(inputs)[1:], self.dtype or tape.floatx())
        if tuple(np.shape(inputs)[1:]) != self.built_input_shape:
            raise ValueError(f"{self.name} was built for inputs of shape {self.built_input_shape} (one sample), "
                             f"but is called on {tuple(np.shape(inputs)[1:])}")
        x = cast(inputs, self.dtype)
        training = getattr(_calls, "training", None) if training is None else training
        variables = self.trainable_variables
        replica = inference.call_replica(self)            # this call's own cache and work arrays
        out = Tensor(replica.forward(x.array, training=bool(training)))
        need_dx = tape.is_recorded(x)

        def vjp(g):                                       # g = dL/d(out): this layer's own backward
            dx = replica.backward(g, need_dx=need_dx)
            return [None if dx is None else np.array(dx), *(np.array(d) for d in replica.trainable_grads)]
        out = tape.record(out, [x, *variables], vjp)
        out._keras_logits = self._logits(replica, x, variables, need_dx)
        return out

    def add_loss(self, loss):
        """Keras's ``self.add_loss`` (a loss term added from inside ``call``): not implemented."""
        raise errors.add_loss(self)

    def _logits(self, replica, x, variables, need_dx):
        """A softmax output layer's input, for a cross-entropy to use (Keras's shortcut); else None."""
        return None

    @property
    def variables(self):
        """The layer's weights as Variables (``tf.Variable``s holding the very arrays of ``weights``,
        no copy): what a tape watches and ``optimizer.apply_gradients`` updates in place."""
        kept, weights = self.__dict__.get("_variables"), self.weights
        if kept is None or len(kept) != len(weights) or any(v.array is not w for v, w in zip(kept, weights)):
            names = ["kernel", "bias"] if len(weights) <= 2 else [f"weight_{i}" for i in range(len(weights))]
            kept = self._variables = [Variable.holding(w, f"{self.name}/{n}") for n, w in zip(names, weights)]
        return kept

    @property
    def trainable_variables(self):
        """:attr:`variables`, or none for a frozen layer (``layer.trainable = False``)."""
        return self.variables if self.trainable else []

    def get_weights(self):
        """Copies of this layer's parameters (``[kernel, bias]`` for a Dense), as Keras's ``layer.get_weights()``."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy ``weights`` (this layer's order and shapes) into its parameter arrays, in place, so the
        model (and its optimizer) keep using the same arrays."""
        checks.replace_weights(self.weights, weights, f"{self.name}.set_weights", f"layer {self.name}")

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
                 bias_initializer="zeros", seed=None, name=None, input_dim=None, dtype=None, trainable=True):
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        super().__init__(name=name, input_shape=input_shape, dtype=dtype, trainable=trainable)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = activations_module.get(activation)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.seed = seed

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"{self.name}: Dense takes flat inputs (N, D), but receives samples of shape "
                             f"{tuple(input_shape)}; add a Flatten() layer before it")
        return (self.units,)

    def weight_shapes(self, input_shape):
        return [(int(input_shape[-1]), self.units), (self.units,)]

    def build(self, input_shape, dtype="float32"):
        super().build(input_shape, dtype)
        rng = make_rng(self.seed)
        kernel_shape, bias_shape = self.weight_shapes(self.built_input_shape)
        self.kernel = initializers.get(self.kernel_initializer)(kernel_shape, rng, self.dtype)
        self.bias = initializers.get(self.bias_initializer)(bias_shape, rng, self.dtype)
        self.weights = [self.kernel, self.bias]
        self.d_kernel = np.zeros_like(self.kernel)
        self.d_bias = np.zeros_like(self.bias)
        self.grads = [self.d_kernel, self.d_bias]

    def forward(self, x, training=False):
        """``z = x @ W + b : (N, D) @ (D, M) + (M,) -> (N, M)``;  ``a = activation(z) : (N, M)``."""
        if backend.fast():
            z, a = fast.dense_forward(self, x)            # the two lines below, fused, into reused arrays
        else:
            z = x @ self.kernel + self.bias               # (N, D) @ (D, M) + (M,) -> (N, M)
            a = self.activation.forward(z)                # (N, M)
        self.cache = (x, z, a)
        return a

    def backward(self, da, need_dx=True):
        """``dz = activation'(z) * da : (N, M)``, then the chain rule through ``z = x @ W + b``:

        ``dW = x.T @ dz : (D, M)``;  ``db = sum over rows of dz : (M,)``;
        returns ``dx = dz @ W.T : (N, D)``, or None when ``need_dx`` is False (the model's first
        layer: nothing upstream needs dL/dx, which saves a third of its backward matmuls).
        Derivation, index by index (why each transpose): docs/derivations.md#dense
        """
        x, z, a = self.cache
        if backend.fast():
            dz = fast.activation_backward(self, z, a, da, db=self.d_bias)   # the two lines below, one pass
        else:
            dz = self.activation.backward(z, a, da)       # dL/dz = f'(z) * da : (N, M)
            np.sum(dz, axis=0, out=self.d_bias)           # db = sum_n dz[n] : (M,)
        return self._weight_and_input_gradients(dz, need_dx)

    def backward_from_z(self, dz, need_dx=True):
        """The same chain rule when the loss already delivers ``dz = dL/dz`` (the fused softmax +
        cross-entropy, see ``Sequential.loss_and_gradient``): ``db = sum over rows of dz``, then as
        :meth:`backward`."""
        np.sum(dz, axis=0, out=self.d_bias)               # db : (M,)
        return self._weight_and_input_gradients(dz, need_dx)

    def _weight_and_input_gradients(self, dz, need_dx):
        x = self.cache[0]
        np.matmul(x.T, dz, out=self.d_kernel)             # dW = x.T @ dz : (D, N) @ (N, M) -> (D, M)
        if not need_dx:
            return None
        if backend.fast():
            return fast.matmul(self, "dx", dz, self.kernel.T)   # the line below, into a reused array
        return dz @ self.kernel.T                         # dx = dz @ W.T : (N, M) @ (M, D) -> (N, D)

    def _logits(self, replica, x, variables, need_dx):
        """With ``activation='softmax'``: ``z = x @ W + b`` as a node of its own, whose vector-Jacobian
        product is :meth:`backward_from_z`; a cross-entropy of the output uses it (Keras's shortcut)."""
        if self.activation.name != "softmax":
            return None

        def vjp(dz):
            dx = replica.backward_from_z(dz, need_dx=need_dx)
            return [None if dx is None else np.array(dx), *(np.array(d) for d in replica.trainable_grads)]
        return tape.record(Tensor(replica.cache[1]), [x, *variables], vjp)

    def get_config(self):
        return {"name": self.name, "units": self.units, "activation": self.activation.name,
                "input_shape": self.input_shape, "trainable": self.trainable}


class Activation(Layer):
    """Applies an activation element-wise (softmax: row-wise): ``a = f(z)``, shapes ``(N, M) -> (N, M)``."""

    def __init__(self, activation, name=None, input_shape=None, dtype=None):
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.activation = activations_module.get(activation)

    def forward(self, z, training=False):
        """``a = f(z) : (N, ..., M) -> (N, ..., M)``."""
        if backend.fast():
            a = fast.activation_forward(self, z)          # the line below, into a reused array
        else:
            a = self.activation.forward(z)
        self.cache = (z, a)
        return a

    def backward(self, da, need_dx=True):
        """``dz = f'(z) * da`` (for softmax the Jacobian-vector product; see ``activations.py``)."""
        z, a = self.cache
        if backend.fast():
            return fast.activation_backward(self, z, a, da)   # the line below, into a reused array
        return self.activation.backward(z, a, da)

    def _logits(self, replica, x, variables, need_dx):
        """A softmax's input ``x`` itself, for a cross-entropy of its output (Keras's shortcut)."""
        return x if self.activation.name == "softmax" else None

    def get_config(self):
        return {"name": self.name, "activation": self.activation.name, "input_shape": self.input_shape}


class Softmax(Activation):
    """``keras.layers.Softmax()``: ``a_ij = exp(z_ij - max_k z_ik) / sum_k exp(z_ik - max_k z_ik)`` over
    the last axis, ``(N, M) -> (N, M)``; no parameters.

    The same computation as ``Activation('softmax')`` (its forward, backward and kernel; see
    ``activations.softmax``).  As a model's output layer it is a softmax head: the model trains with the
    fused softmax + cross-entropy on its input ``z`` (``losses.py``), as Keras does for it.  The
    TensorFlow quickstart appends one to a trained logits model:
    ``Sequential([model, Softmax()])``.  Only ``axis=-1`` (the last axis) is implemented.
    """

    def __init__(self, axis=-1, name=None, input_shape=None, dtype=None):
        if axis != -1:
            raise ValueError(f"Softmax: axis={axis!r} is not implemented in nnscratch; it normalises over "
                             "the last axis (axis=-1)")
        super().__init__("softmax", name=name, input_shape=input_shape, dtype=dtype)
        self.axis = -1

    def get_config(self):
        return {"name": self.name, "axis": self.axis, "input_shape": self.input_shape}


class Dropout(Layer):
    """Inverted dropout, as in Keras: ``rate`` is the fraction of units set to zero during training.

    Training: ``keep_ij = [U_ij >= rate]`` with ``U ~ Uniform[0, 1)`` from a counter-based generator
    keyed by a number the layer's own generator ``self.rng`` draws for each call
    (``counter_random.py``, the kind of generator Keras uses for its masks), and
    ``a = x * keep / (1 - rate)`` (computed as ``x * mask`` with ``mask = keep * (1 / (1 - rate))``),
    so the expected value of ``a`` equals ``x``.
    Inference (``training=False``): ``a = x``.  Shapes ``(N, M) -> (N, M)``; no parameters.
    Both backends draw the same ``U``, so the same seed gives the same masks.

    ``mask_source``: optional callable ``(shape, dtype) -> boolean keep array`` used instead of this
    layer's random generator.  ``keras_reference`` uses it to replay the masks Keras drew.
    Derivation (why ``1/(1 - rate)``): docs/derivations.md#dropout
    """

    def __init__(self, rate, seed=None, name=None, input_shape=None, dtype=None):
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) \
                or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1) (the fraction of units dropped, a number), "
                             f"got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.rng = make_rng(seed)
        self.mask_source = None

    def forward(self, x, training=False):
        """``a = x * mask`` in training, ``a = x`` at inference (and when rate is 0).  ``(N, M) -> (N, M)``."""
        if not training or self.rate == 0:
            self.cache = None
            return x
        scale = x.dtype.type(1.0 / (1.0 - self.rate))
        if backend.fast():
            mask, a = fast.dropout_forward(self, x, scale)    # the lines below, in one pass, the same U
        else:
            if self.mask_source is not None:
                keep = self.mask_source(x.shape, x.dtype)
            else:                                         # U: a function of this call's key and i
                keep = counter_uniform(new_key(self.rng), x.shape) >= np.float32(self.rate)
            mask = keep * scale                           # 0 or 1/(1-rate)
            a = x * mask
        self.cache = mask
        return a

    def backward(self, da, need_dx=True):
        """``dx = da * mask`` (identity when the forward pass was the identity)."""
        mask = self.cache
        if mask is None:
            return da
        if backend.fast():
            return fast.multiply(self, "dx", da, mask)    # the line below, into a reused array
        return da * mask

    def get_config(self):
        return {"name": self.name, "rate": self.rate, "input_shape": self.input_shape}


class Flatten(Layer):
    """Reshape each sample to one row: ``(N, d1, d2, ...) -> (N, d1*d2*...)``, as ``keras.layers.Flatten``
    (row-major order, so a channels-last image ``(28, 28, 1)`` becomes its 784 pixels row by row).
    No parameters; the backward pass reshapes the gradient back: ``dx = da.reshape(x.shape)``."""

    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        """``a = x.reshape(N, -1)`` (a view, no copy)."""
        self.cache = x.shape
        return x.reshape(len(x), -1)

    def backward(self, da, need_dx=True):
        """``dx = da.reshape(x.shape)``."""
        return da.reshape(self.cache)

    def get_config(self):
        return {"name": self.name, "input_shape": self.input_shape}


registry.register(Dense, Activation, Dropout, Flatten, Softmax)       # the layers a model file may name
