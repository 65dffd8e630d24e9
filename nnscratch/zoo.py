"""The workshop's models, built in one place.  Everyone who needs them (the CLI, the workshop report,
``keras_reference``, the benchmarks and the tests) calls these functions.

* :func:`one_layer`: ``Dense(10) -> Activation('sigmoid') -> Dropout(0.2)``, 7,850 parameters.
* :func:`mlp`: ``hidden_layers`` blocks ``Dense(units) -> Activation('sigmoid') -> Dropout(0.2)``, then
  ``Dense(10) -> Activation('softmax')``; the defaults are the workshop's 784-512-512-10 network,
  669,706 parameters.
* :func:`simple_convnet`: Keras's "simple MNIST convnet" (``Conv2D(32, 3, relu) -> MaxPooling2D(2) ->
  Conv2D(64, 3, relu) -> MaxPooling2D(2) -> Flatten -> Dropout(0.5) -> Dense(10, softmax)``),
  34,826 parameters; the workshop's part II.
* :func:`workshop_model` picks one by name: ``'1layer'``, ``'3layer'`` or ``'convnet'``.

Seeds: with ``seed=s`` the k-th layer that draws random numbers (a Dense kernel, a Dropout mask)
gets ``seed=s + k`` and the model (its shuffling) the next one, so a model is the same bit for bit
in every process.  Without a seed everything draws from :func:`nnscratch.utils.set_random_seed`'s
generator.  ``compile=True`` compiles as the workshop does: categorical cross-entropy, Adam, accuracy.
"""
from .conv import Conv2D, MaxPooling2D
from .layers import Activation, Dense, Dropout, Flatten
from .models import Sequential

INPUT_DIM, CLASSES = 784, 10
IMAGE_SHAPE = (28, 28, 1)
NAMES = ("1layer", "3layer", "convnet")


class _Seeds:
    """``next()`` gives ``s, s+1, s+2, ...`` for a seed ``s``, and None forever for no seed."""

    def __init__(self, seed):
        self.seed = seed

    def next(self):
        if self.seed is None:
            return None
        self.seed += 1
        return self.seed - 1


def _finish(layers, dtype, seeds, compile):
    model = Sequential(layers, dtype=dtype, seed=seeds.next())
    if compile:
        model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def one_layer(dropout=0.2, dtype="float32", seed=None, compile=True, input_dim=INPUT_DIM, classes=CLASSES):
    """The workshop's first network: ``Dense(10) -> sigmoid -> Dropout(dropout)`` (7,850 parameters)."""
    s = _Seeds(seed)
    layers = [Dense(classes, input_shape=(input_dim,), seed=s.next()), Activation("sigmoid"),
              Dropout(dropout, seed=s.next())]
    return _finish(layers, dtype, s, compile)


def mlp(hidden_layers=2, units=512, dropout=0.2, dtype="float32", seed=None, compile=True,
        input_dim=INPUT_DIM, classes=CLASSES):
    """``input_dim -> units x hidden_layers -> classes`` with sigmoid, dropout and a softmax output.

    The defaults are the workshop's deep network, 784-512-512-10 (669,706 parameters).
    ``hidden_layers=0`` gives :func:`one_layer`.
    """
    if hidden_layers == 0:
        return one_layer(dropout, dtype, seed, compile, input_dim, classes)
    s = _Seeds(seed)
    layers = []
    for k in range(hidden_layers):
        first = {"input_shape": (input_dim,)} if k == 0 else {}
        layers += [Dense(units, seed=s.next(), **first), Activation("sigmoid"), Dropout(dropout, seed=s.next())]
    layers += [Dense(classes, seed=s.next()), Activation("softmax")]
    return _finish(layers, dtype, s, compile)


def simple_convnet(dropout=0.5, dtype="float32", seed=None, compile=True, input_shape=IMAGE_SHAPE,
                   classes=CLASSES, filters=(32, 64)):
    """Keras's "simple MNIST convnet" (keras.io/examples/vision/mnist_convnet), channels-last::

        Conv2D(32, (3, 3), relu) -> MaxPooling2D((2, 2)) -> Conv2D(64, (3, 3), relu) -> MaxPooling2D((2, 2))
        -> Flatten -> Dropout(0.5) -> Dense(10, softmax)

    Inputs ``(N, 28, 28, 1)``; output shapes (26, 26, 32), (13, 13, 32), (11, 11, 64), (5, 5, 64),
    (1600,); 34,826 parameters.  ``filters`` changes the two widths (smaller for quick tests).
    """
    s = _Seeds(seed)
    f1, f2 = filters
    layers = [Conv2D(f1, (3, 3), activation="relu", input_shape=tuple(input_shape), seed=s.next()),
              MaxPooling2D((2, 2)),
              Conv2D(f2, (3, 3), activation="relu", seed=s.next()),
              MaxPooling2D((2, 2)),
              Flatten(),
              Dropout(dropout, seed=s.next()),
              Dense(classes, activation="softmax", seed=s.next())]
    return _finish(layers, dtype, s, compile)


def workshop_model(name, units=512, dropout=None, dtype="float32", seed=None, compile=True):
    """``'1layer'`` (:func:`one_layer`), ``'3layer'`` (:func:`mlp` with two hidden layers of ``units``)
    or ``'convnet'`` (:func:`simple_convnet`).  ``dropout``: default 0.2 (dense) or 0.5 (convnet)."""
    if name == "1layer":
        return one_layer(0.2 if dropout is None else dropout, dtype, seed, compile)
    if name == "3layer":
        return mlp(2, units, 0.2 if dropout is None else dropout, dtype, seed, compile)
    if name == "convnet":
        return simple_convnet(0.5 if dropout is None else dropout, dtype, seed, compile)
    raise ValueError(f"unknown workshop model {name!r}: use one of {NAMES}")


def describe(hidden_layers, units=512):
    """A short name for :func:`mlp`'s architecture, e.g. ``'784-512-512-10'``."""
    if hidden_layers == 0:
        return f"1-layer {INPUT_DIM}-{CLASSES}"
    return f"{INPUT_DIM}-" + "-".join([str(units)] * hidden_layers) + f"-{CLASSES}"
