"""A model you write yourself: Keras's model subclassing, with its gradients from the tape.

Read ``tape.py`` and ``layers.py``'s ``Layer.__call__`` first.  TensorFlow's "quickstart for experts"
writes its network as a class::

    class MyModel(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.conv1 = Conv2D(32, 3, activation='relu')       # layers assigned as attributes ...
            self.flatten = Flatten()
            self.d1 = Dense(128, activation='relu')
            self.d2 = Dense(10)

        def call(self, x):                                      # ... and the forward pass, as code
            x = self.conv1(x)
            return self.d2(self.d1(self.flatten(x)))

There is no list of layers for a hand-written backward to walk back through: ``call`` is any
Python.  So the model's gradients come from the tape (:meth:`SubclassingAPI.compute_gradients`)::

    with GradientTape() as tape:
        p = model(x, training=True)        # call(): each layer one node, its own backward as its VJP
        loss = loss_fn(y, p)               # the loss object: one node, its own gradient as its VJP
    grads = tape.gradient(loss, model.trainable_variables)

and ``fit`` (``training.py``) runs exactly that step on every batch, then the optimizer's ``update``.
A ``Sequential`` (``models.py``) keeps its hand-written step: it overrides these methods, and its
``fit`` never touches the tape.

Here is what :class:`~nnscratch.training.Model` (``keras.Model``) gets from the ``call`` you write:
its layers, found among its attributes (also in lists and dicts) in the order they were assigned,
as Keras tracks them; ``model(x)``; building by calling (``model.build`` calls the model once on
zeros); the shapes ``fit`` checks inputs against; ``trainable_variables``; and the forward pass, loss
and gradients ``fit``, ``evaluate`` and ``predict`` use.
"""
import inspect

import numpy as np

from . import layers as layers_module
from . import checks, errors, losses, tape
from .tape import GradientTape, Tensor, as_array

_CATEGORICAL = losses.CategoricalCrossentropy()
_TAKES_TRAINING = {}            # class -> whether its call() takes ``training`` (Keras passes it only then)


def _tracked(value, found, owner):
    """Every layer or model in ``value`` (an attribute: itself, or inside lists, tuples and dicts)."""
    if isinstance(value, (layers_module.Layer, SubclassingAPI)):
        if value is not owner and not any(value is f for f in found):
            found.append(value)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _tracked(item, found, owner)
    elif isinstance(value, dict):
        for item in value.values():
            _tracked(item, found, owner)
    return found


class SubclassingAPI:
    """What a model whose forward pass is a ``call`` method gets (see the module docstring).
    :class:`~nnscratch.training.Model` inherits it; ``Sequential`` overrides it with its own step."""

    _shapes = None                 # (one input sample's shape, one output sample's shape), once called
    _logits = None                 # the softmax head's input from the last forward, for the loss

    # ------------------------------------------------------------------ the forward pass you write
    def call(self, inputs, training=None):
        """The forward pass, written by a subclass: layers called on ``inputs`` (tensors)."""
        raise NotImplementedError(f"{type(self).__name__}: a subclass of keras.Model defines its forward pass "
                                  "as a method call(self, inputs, training=None), calling its layers")

    def add_loss(self, loss):
        """Keras's ``self.add_loss`` (a loss term added from inside ``call``): not implemented."""
        raise errors.add_loss(self)

    def __call__(self, inputs, training=None):
        """``model(x)``: :meth:`call` on ``x``, each layer one node of an open tape; the first call
        builds the model (its layers create their weights).  ``training`` reaches every layer that
        ``call`` calls without it (Keras's call context), and ``call`` itself if it takes it."""
        if not isinstance(inputs, (Tensor, tape.Variable)):
            inputs = Tensor(as_array(inputs))
        takes_training = _TAKES_TRAINING.get(type(self))
        if takes_training is None:
            takes_training = _TAKES_TRAINING[type(self)] = "training" in inspect.signature(self.call).parameters
        with layers_module.training_context(training):
            out = self.call(inputs, training=training) if takes_training else self.call(inputs)
        out = out if isinstance(out, Tensor) else Tensor(as_array(out))
        if self._shapes is None:
            self._shapes = (tuple(inputs.shape[1:]), tuple(out.shape[1:]))
        return out

    @property
    def layers(self):
        """The layers (and models) among this model's attributes, in the order they were assigned."""
        return _tracked(list(vars(self).values()), [], self)

    @property
    def trainable(self):
        """Keras's ``model.trainable``: setting it sets every layer's flag (``False``: nothing trains)."""
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value):
        self._trainable = checks.flag(value, f"{self.name}: trainable")
        for layer in self.layers:
            layer.trainable = self._trainable

    @property
    def trainable_variables(self):
        """Keras's ``model.trainable_variables``: every layer's trainable weights as Variables that hold
        the very arrays training updates, layer by layer (``[W1, b1, W2, b2, ...]``)."""
        return [v for layer in self.layers for v in layer.trainable_variables]

    @property
    def variables(self):
        return [v for layer in self.layers for v in layer.variables]

    @property
    def trainable_weights(self):
        """The arrays of :attr:`trainable_variables`, what ``fit`` hands the optimizer."""
        return [v.array for v in self.trainable_variables]

    @property
    def weights(self):
        """Every parameter array, trainable or frozen, layer by layer."""
        return [v.array for v in self.variables]

    @property
    def non_trainable_weights(self):
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    # ------------------------------------------------------------------ building by calling
    def build(self, input_shape):
        """Create the weights by calling the model once, on zeros of one sample's shape (``(784,)``, or
        Keras's ``(None, 784)``), as Keras builds a subclassed model."""
        shape = tuple(input_shape)
        shape = shape[1:] if shape and shape[0] is None else shape
        self(np.zeros((1,) + tuple(int(d) for d in shape), self.dtype), training=False)

    @property
    def built(self):
        return self._shapes is not None

    @property
    def sample_shape(self):
        """One input sample's shape, once the model has been called or built: ``(28, 28, 1)``."""
        return self._shapes[0] if self.built else None

    @property
    def output_shape(self):
        return self._shapes[1] if self.built else None

    @property
    def input_dim(self):
        return self.sample_shape[-1] if self.built else None

    @property
    def output_dim(self):
        return self.output_shape[-1] if self.built else None

    # ------------------------------------------------------------------ what fit, evaluate, predict run
    def forward(self, x, training=False):
        """``model(x)`` as an array, for ``evaluate`` and ``predict``; keeps the softmax head's input (a
        Keras softmax's output remembers it) for :meth:`loss_and_gradient`, as a head layer's cache does."""
        out = self(x, training=training)
        self._logits = None if out._keras_logits is None else out._keras_logits.numpy()
        return out.numpy()

    def loss_and_gradient(self, y, p, sample_weight=None):
        """The compiled loss of the last :meth:`forward`'s output ``p``: from the softmax's input with
        the fused form where the output is a Keras softmax's (Keras's shortcut), else from ``p``."""
        loss = self.compiled_loss if self.compiled_loss is not None else _CATEGORICAL
        if self._logits is not None:
            return loss.logits_value_and_gradient(y, self._logits, sample_weight=sample_weight)
        return loss.value_and_gradient(y, p, sample_weight=sample_weight)

    def compute_gradients(self, x, y, training=True, sample_weight=None):
        """One batch's ``(loss, output, grads)`` from the tape: the model called on ``x`` (each layer
        one node), the compiled loss in the model's dtype (one node), then ``tape.gradient`` walks
        back.  ``grads`` follow :attr:`trainable_variables`; None where the loss does not depend on a
        variable (the optimizer then leaves it as it is, as Keras does)."""
        loss_object = self.compiled_loss if self.compiled_loss is not None else _CATEGORICAL
        with GradientTape() as recorder:
            p = self(x, training=training)
            loss = loss_object.compute(y, p, self.dtype, sample_weight=sample_weight)
        grads = recorder.gradient(loss, self.trainable_variables)
        return float(loss), p.numpy(), [None if g is None else g.array for g in grads]
