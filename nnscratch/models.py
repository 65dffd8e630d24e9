"""``Sequential``: a stack of layers, and one training step through it, top to bottom.

One step (:meth:`Sequential.compute_gradients`, then ``training.Model.train_step``)::

    p      = layer_K( ... layer_2( layer_1(x) ) )          forward, each layer caches what it needs
    L, g   = loss(y, p),  dL/dp                            (or dL/dz for a softmax head, fused)
    g      = layer_k.backward(g)   for k = K .. 1          chain rule; each Dense fills its dW, db
    W, b  -= optimizer step                                 the only place weights change

``fit`` runs exactly this step on every mini-batch (``training.py``: the loop around it, shared by
every model), and ``evaluate``/``predict`` run the same ``forward``.

The API mirrors ``keras.Sequential``: ``add``, ``build``, ``layers``, ``count_params``, and from
:class:`~nnscratch.training.Model` ``compile``, ``fit``, ``evaluate``, ``predict``, ``summary``,
``get_weights``, ``set_weights``, ``save``; and :func:`~nnscratch.saving.load_model`.  A
``Sequential`` can itself be a layer of another one (``Sequential([model, Softmax()])``): it then
shares its layers and weights with the outer model, as in Keras.
"""
import numpy as np

from . import backend, checks, registry, symbolic, tape
from . import layers as layers_module
from . import losses
from .engine import inference
from .errors import NotImplementedInNnscratch, require_forward
from .layers import Activation, Dense
from .tape import Tensor
from .training import History, Model  # noqa: F401  (History: nnscratch.models.History, as before)


def head_activation(layer):
    """The name of the activation ``layer`` ends in (``'softmax'`` for ``Dense(activation='softmax')``,
    ``Activation('softmax')``, ``Softmax()``; ``'sigmoid'``, ...; inside a nested ``Sequential``, its
    last layer's), or None.  A loss whose ``fuses`` names it takes that activation's input ``z``
    instead of its output, as Keras does: the cross-entropies a softmax's, the binary one a sigmoid's."""
    if isinstance(layer, Sequential):
        return head_activation(layer.layers[-1]) if layer.layers else None
    return layer.activation.name if isinstance(layer, (Dense, Activation)) else None


def softmax_head(layer):
    """True if ``layer`` ends in a softmax (see :func:`head_activation`)."""
    return head_activation(layer) == "softmax"


_CATEGORICAL = losses.CategoricalCrossentropy()


class Sequential(Model):
    """A linear stack of layers (``keras.Sequential``).

    ``dtype``: Keras's ``floatx()`` (``'float32'``) by default, or ``'float64'`` (for tight gradient
    checks).  ``seed``: seeds the shuffling of ``fit``; layers take their own ``seed`` argument.
    Without seeds, :func:`nnscratch.utils.set_random_seed` makes everything repeatable.
    """

    _count = 0
    _saveable = True

    def __init__(self, layers=None, name=None, dtype=None, seed=None):
        if name is None:
            name = "sequential" if Sequential._count == 0 else f"sequential_{Sequential._count}"
            Sequential._count += 1
        super().__init__(name=name, dtype=dtype, seed=seed)
        self.layers = []
        self._trainable = True
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------------ building
    def add(self, layer):
        """Append a layer; it is built (its weights created) as soon as its input size is known.

        A ``Sequential`` may be added as a layer: the outer model then runs it as one step and trains
        its weights (the same arrays: both models see every change), as Keras nests models."""
        if isinstance(layer, symbolic.KerasTensor) or getattr(layer, "is_input_layer", False):
            return self._add_input(layer)
        nested = isinstance(layer, Sequential)
        if not isinstance(layer, layers_module.Layer) and not nested:
            raise ValueError(f"Sequential.add expects an nnscratch layer, got {type(layer).__name__}")
        if not nested:
            require_forward(layer)                       # a layer written as call() alone is refused by name
        if nested and (layer is self or self in layer.submodels()):
            raise ValueError(f"Sequential.add: {layer.name} cannot contain itself")
        inside = {id(l) for l in self.all_layers()} | {id(m) for m in self.submodels()}
        again = [l for l in [layer] + (layer.all_layers() + layer.submodels() if nested else []) if id(l) in inside]
        if again:
            raise ValueError(
                f"Sequential.add: {again[0].name} is already in {self.name}. A layer can be used only once "
                "in a Sequential: its backward pass keeps one cache (the input of its last forward), which "
                "a second use would overwrite, so the first use's gradients would be wrong. Add a new "
                "layer instead (e.g. Dense(units) again: its own weights). Sharing one layer's weights "
                "between two places needs a model whose backward adds the shared layer's gradients up, "
                "as Keras's functional API does (keras.Model(inputs, outputs)).")
        if nested and layer.dtype != self.dtype:
            raise ValueError(f"Sequential.add: {layer.name} is {layer.dtype.name} but {self.name} is "
                             f"{self.dtype.name}; create both with the same dtype")
        if self.layers and not nested and layer.input_shape is not None:
            raise ValueError(f"{layer.name}: only the first layer takes input_shape")
        self.layers.append(layer)
        input_shape = layer.sample_shape if nested else layer.input_shape
        input_shape = self.__dict__.get("_input_shape") if input_shape is None else input_shape
        if len(self.layers) == 1 and input_shape is not None:
            self.build(input_shape)
        elif len(self.layers) > 1 and self.layers[-2].built:
            layer.build(self.layers[-2].output_shape, self.dtype)

    def pop(self):
        """Remove the last layer (Keras's ``model.pop()``) and return it; the model's output is then the
        layer before's.  Compile again before training: the loss may have used the old head."""
        if not self.layers:
            raise ValueError("pop: the model has no layers to remove")
        layer = self.layers.pop()
        return layer

    def _add_input(self, given):
        """``Sequential([keras.Input((784,)), ...])``, Keras 3's recommended form: the input's shape builds
        the layers as they come (a keras.Input tensor, or an InputLayer)."""
        node = getattr(given, "node", None)
        if node is not None and not node.is_input:
            raise ValueError(f"Sequential.add: {given.name} is the output of layer {node.layer.name!r}, not a "
                             "keras.Input; a Sequential takes layers, and keras.Input(shape) first")
        if self.layers or "_input_shape" in self.__dict__:
            raise ValueError("Sequential.add: keras.Input must come first, once (it gives the input shape)")
        self._input_shape = tuple(given.shape[1:]) if node is not None else given.built_input_shape

    def build(self, input_shape, dtype=None):
        """Create every layer's parameters for inputs of ``input_shape``: one sample's shape (``(784,)``,
        or just 784), or Keras's form with the batch axis first, ``(None, 784)``.
        (``dtype``: the outer model's, when this model is a layer of another; it must be this one's.)"""
        if not self.layers:
            raise ValueError("Sequential model has no layers: add some with model.add(...)")
        if dtype is not None and np.dtype(dtype) != self.dtype:
            raise ValueError(f"{self.name} is {self.dtype.name} but is built as a layer of a "
                             f"{np.dtype(dtype).name} model; create both with the same dtype")
        shape = (input_shape,) if isinstance(input_shape, (int, np.integer)) else tuple(input_shape)
        if len(shape) > 1 and shape[0] is None:          # Keras's model.build((None, 784)): the batch axis
            shape = shape[1:]
        if not shape or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0
                                for d in shape):
            raise ValueError(f"{self.name}.build: input_shape must be one sample's shape, positive integers "
                             f"such as (784,) or (28, 28, 1), or Keras's (None, 784); got {input_shape!r}")
        shape = tuple(int(d) for d in shape)
        for layer in self.layers:
            if not layer.built:
                layer.build(shape, self.dtype)
            elif layer.built_input_shape != shape:
                raise ValueError(f"{layer.name} was built for inputs of shape {layer.built_input_shape}, "
                                 f"but receives {shape}")
            shape = layer.output_shape
        if self.compiled_loss is not None:               # compiled before it was built (fit builds it)
            self._compiled_hook()

    @property
    def layers(self):
        """The stack, first layer first (``model.layers[0]``)."""
        return self._layers

    @layers.setter
    def layers(self, layers):
        self._layers = layers

    @property
    def built(self):
        return bool(self.layers) and all(layer.built for layer in self.layers)

    @property
    def input_dim(self):
        """Features per sample for flat inputs (the last axis of :attr:`sample_shape`)."""
        return self.layers[0].input_dim if self.built else None

    @property
    def sample_shape(self):
        """The shape of one input sample, without the batch axis: ``(784,)``, ``(28, 28, 1)``."""
        return self.layers[0].built_input_shape if self.built else None

    @property
    def output_dim(self):
        return self.layers[-1].output_dim if self.built else None

    # The layer contract, for a Sequential inside another one: built_input_shape, output_shape,
    # weights, grads, forward, backward(grad, need_dx=...).
    @property
    def built_input_shape(self):
        return self.sample_shape

    @property
    def output_shape(self):
        """The shape of one output sample, without the batch axis: ``(10,)``."""
        return self.layers[-1].output_shape if self.built else None

    @property
    def weights(self):
        """Every parameter array, trainable or frozen, Keras's order ``[W1, b1, W2, b2, ...]``: what
        ``get_weights``, ``set_weights`` and ``save`` read and write."""
        return [w for layer in self.layers for w in layer.weights]

    @property
    def grads(self):
        return [g for layer in self.layers for g in layer.grads]

    @property
    def head(self):
        """The layer that makes the model's output: the last layer (inside a nested Sequential, its last)."""
        last = self.layers[-1]
        return last.head if isinstance(last, Sequential) else last

    def submodels(self):
        """Every Sequential nested in this one, at any depth."""
        inner = [l for l in self.layers if isinstance(l, Sequential)]
        return inner + [m for l in inner for m in l.submodels()]

    def all_layers(self):
        """Every layer at any depth, in order: a nested Sequential's layers in its place."""
        return [leaf for l in self.layers for leaf in (l.all_layers() if isinstance(l, Sequential) else [l])]

    @property
    def trainable_weights(self):
        """The parameter arrays ``fit`` updates (the arrays themselves), Keras's order ``[W1, b1, ...]``:
        :attr:`weights` without those of frozen layers (``layer.trainable = False``)."""
        return [w for layer in self.layers for w in layer.trainable_weights] if self.trainable else []

    @property
    def non_trainable_weights(self):
        """The parameter arrays of frozen layers (Keras's name)."""
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    @property
    def gradients(self):
        """The gradient arrays, same order as :attr:`trainable_weights`, filled by ``backward``."""
        return [g for layer in self.layers for g in layer.trainable_grads] if self.trainable else []

    @property
    def trainable_grads(self):
        return self.gradients

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    def _compiled_hook(self):
        if self.built and self.fused_head():
            losses.warn_if_logits_output(self.compiled_loss, self.head.name)

    def fused_head(self):
        """True if the compiled loss takes the output activation's input ``z`` (a softmax head with a
        cross-entropy, a sigmoid head with the binary cross-entropy): see :meth:`loss_and_gradient`."""
        loss = self.compiled_loss if self.compiled_loss is not None else _CATEGORICAL
        return loss.fuses is not None and head_activation(self.layers[-1]) == loss.fuses

    # ------------------------------------------------------------------ model(x)
    def __call__(self, x, training=None):
        """``model(x)``: the outputs for all of ``x`` (Keras's direct call), a new
        :class:`~nnscratch.tape.Tensor` (``model(x_train[:1]).numpy()`` runs as in the tutorials).

        Under an open ``GradientTape``: :meth:`call`, each layer one node of the tape.  Otherwise one
        ``forward`` over all rows (on the numba backend: in pieces of rows, split over the cores).  As in
        Keras, ``x`` is cast to the model's dtype first (``x / 255.0`` is float64; a float32 model rounds
        it to float32, as Keras's layers cast their inputs)."""
        if symbolic.is_symbolic(x):
            raise NotImplementedInNnscratch(f"{self.name}(x) on a symbolic tensor (a Sequential used as a layer "
                                            "of a graph) is not implemented in nnscratch; add its layers to the "
                                            "graph one by one")
        if tape.is_recording():
            return self.call(x, training=training)
        x = checks.features(self, x, "model(x)")
        if backend.fast() and not training:
            return Tensor(inference.direct_call(self, x))     # the line below, in pieces over the cores
        return Tensor(np.array(self.forward(x, training=bool(training)), copy=True))

    def call(self, inputs, training=None):
        """Each layer called in turn, ``x = layer(x)``: on a tape, one node per layer (its backward as
        its vector-Jacobian product).  Builds the model from ``inputs``' shape if it is not built."""
        if not self.built:
            self.build(np.shape(inputs)[1:])
        x = inputs
        for layer in self.layers:
            x = layer(x, training=training)
        return x

    # ------------------------------------------------------------------ one step, readable
    def forward(self, x, training=False):
        """Run every layer in order.  ``x: (N, D) -> (N, C)``.  (The result may be a layer's work
        array, valid until the next ``forward``; ``model(x)`` and ``predict`` return copies.)"""
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def loss_and_gradient(self, y, p, sample_weight=None):
        """The batch's loss and the gradient that starts the backward pass (see ``losses.py``).

        Softmax head with a cross-entropy (either ``from_logits``, Keras's shortcut): on the softmax's
        input ``z``, ``L = mean(logsumexp(z) - y.z)`` and the fused ``dL/dz = (p - y) / N``; a sigmoid
        head with the binary cross-entropy likewise (``elementwise_losses.py``).  Otherwise: the
        compiled loss's ``L`` and ``dL/dp`` on the output ``p`` (with ``from_logits``, the fused form
        with ``z = p``).  ``y``: one-hot rows ``(N, C)``, labels ``(N,)`` for a sparse loss, numbers
        ``(N, C)`` for the others.  ``sample_weight (N,)``: ``L = sum_i w_i L_i / N``.  The fast paths
        write into the head layer's work arrays.  (Before ``compile``: categorical cross-entropy,
        e.g. for ``gradcheck.check_model``.)
        """
        loss = self.compiled_loss if self.compiled_loss is not None else _CATEGORICAL
        head = self.head
        if self.fused_head():
            z = head.cache[-2]                        # the activation's input, cached by its forward
            return loss.logits_value_and_gradient(y, z, p, owner=head, sample_weight=sample_weight)
        return loss.value_and_gradient(y, p, owner=head, sample_weight=sample_weight)

    def backward(self, grad, input_grad=False, *, need_dx=None):
        """Chain rule from the loss back to the first kernel, filling every layer's ``grads``.

        ``grad`` is what :meth:`loss_and_gradient` returned.  With a fused head it is already dL/dz, so
        the softmax (or sigmoid) itself is skipped (a Dense(activation='softmax') continues from z).
        Returns dL/dx for the model's input if ``input_grad``, else None (nobody needs it in training).
        As a layer of another model (the layer contract, ``need_dx`` given), ``grad`` is dL/d(output)
        and every layer runs its full backward; the outer model decides about a softmax head.
        """
        if need_dx is not None:
            return self._backward(grad, need_dx, from_z=False)
        return self._backward(grad, input_grad, from_z=self.fused_head())

    def _backward(self, grad, need_dx, from_z):
        stack = list(self.layers)
        if from_z:                                    # grad is dL/dz of the softmax (sigmoid) head
            last = stack.pop()
            if isinstance(last, Dense):
                grad = last.backward_from_z(grad, need_dx=bool(stack) or need_dx)
            elif isinstance(last, Sequential):
                grad = last._backward(grad, bool(stack) or need_dx, from_z=True)
            # an Activation('softmax') / Softmax() / Activation('sigmoid'): dL/dz is its input's gradient
        for i in range(len(stack) - 1, -1, -1):
            grad = stack[i].backward(grad, need_dx=i > 0 or need_dx)
        return grad

    def compute_gradients(self, x, y, training=True, sample_weight=None):
        """Forward + backward on one batch without updating anything: ``(loss, output, grads)``."""
        p = self.forward(x, training=training)
        loss, grad = self.loss_and_gradient(y, p, sample_weight)
        self.backward(grad)
        return loss, p, self.gradients

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype.name,
                "layers": [{"class_name": type(l).__name__, "config": l.get_config()} for l in self.layers]}


registry.register(Sequential, kind="model")                          # the model a model file may name
