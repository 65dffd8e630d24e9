"""The workshop's models in real Keras (TensorFlow backend, Keras 3) and Keras twins of nnscratch models.

Two losses, and which one each comparison uses
------------------------------------------------
Keras's ``categorical_crossentropy`` (``keras/src/backend/tensorflow/nn.py``, ``_get_logits``) looks at
the prediction tensor: if it carries ``_keras_logits`` (set by the softmax *and* the sigmoid
activation, ``keras/src/backend/tensorflow/nn.py`` ``sigmoid`` and ``keras/src/activations``), it
silently computes softmax cross-entropy of the pre-activation ``z``.  Otherwise it renormalises and
clips the probabilities.  Dropout in training returns a new tensor (no ``_keras_logits``); Dropout at
inference, Dropout(0) and ``Identity`` return their input unchanged (the shortcut survives).

nnscratch (``nnscratch/losses.py``) uses the fused logits form for a softmax output layer (for every
loss and both ``from_logits``, as Keras does there), and otherwise the compiled loss's own formula on
the output: renormalised+clipped probabilities (categorical), clipped probabilities (sparse), or
log-softmax of the output (``from_logits=True``).  The same holds for ``SparseCategoricalCrossentropy``,
whose Keras code takes the same shortcut.

* ``loss="keras"``       -- the twin is compiled with Keras's own ``categorical_crossentropy``, as the
  workshop does.  Identical to nnscratch for a softmax head, and for a sigmoid head followed by an
  active Dropout (the workshop's first model while training).  Not for a bare sigmoid head, where Keras
  trains on softmax-CE of the pre-sigmoid logits.
* ``loss="consistent"``  -- the twin is compiled with Keras's own formula, applied so that it computes
  what nnscratch computes for every architecture: the stock loss for a softmax head, and
  :class:`ProbabilityCrossentropy` (Keras's own loss function, with the nnscratch model's
  ``from_logits`` and sparse-or-not, on a copy of the tensor that no longer carries
  ``_keras_logits``) otherwise.
"""
import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from nnscratch import conv as nn_conv  # noqa: E402
from nnscratch import layers as nn_layers  # noqa: E402
from nnscratch import losses as nn_losses  # noqa: E402
from nnscratch import optimizers as nn_optimizers  # noqa: E402
from nnscratch import zoo  # noqa: E402
from nnscratch.models import softmax_head  # noqa: E402


# ------------------------------------------------------------------------------------------- dtype
@contextlib.contextmanager
def keras_floatx(dtype):
    """Temporarily set ``keras.config.floatx()``.

    Needed for float64 twins: Keras's data adapters cast float inputs of ``fit``/``evaluate``/
    ``predict``/``train_on_batch`` to ``floatx()`` (``trainers/data_adapters/array_slicing.py``), which
    would round float64 data to float32 before a float64 layer casts it back.
    """
    old = keras.config.floatx()
    keras.config.set_floatx(str(dtype))
    try:
        yield
    finally:
        keras.config.set_floatx(old)


# -------------------------------------------------------------------------------------------- loss
@keras.saving.register_keras_serializable(package="keras_reference")
class ProbabilityCrossentropy(keras.losses.Loss):
    """Keras's ``categorical_crossentropy(from_logits=False)`` *without* the logits shortcut (with
    ``sparse=True`` its ``sparse_categorical_crossentropy``; with ``from_logits=True`` the log-softmax
    form applied to the output as it is).

    ``tf.identity`` returns a new tensor without the ``_keras_logits`` attribute (and, in a traced
    graph, with op type ``Identity`` rather than ``Softmax``), so Keras's own code takes its general
    path: ``q = p / sum(p)``, ``q = clip(q, 1e-7, 1 - 1e-7)``, ``L_i = -sum(y log q)``, then the mean
    over the batch.  This is exactly nnscratch's ``losses.categorical_crossentropy`` (and, sparse,
    ``losses.sparse_categorical_crossentropy``).
    """

    def __init__(self, name="probability_crossentropy", reduction="sum_over_batch_size", dtype=None,
                 sparse=False, from_logits=False, binary=False):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.sparse, self.from_logits, self.binary = bool(sparse), bool(from_logits), bool(binary)

    def call(self, y_true, y_pred):
        fn = keras.losses.sparse_categorical_crossentropy if self.sparse else keras.losses.categorical_crossentropy
        fn = keras.losses.binary_crossentropy if self.binary else fn
        return fn(y_true, tf.identity(y_pred), from_logits=self.from_logits)

    def get_config(self):
        return {**super().get_config(), "sparse": self.sparse, "from_logits": self.from_logits, "binary": self.binary}


def keras_loss_like(nn_loss, dtype, kind="keras", fused=False):
    """The Keras loss for an nnscratch loss object (or name): the stock class with the same
    ``from_logits`` (``kind='keras'``), or, with ``kind='consistent'`` and no softmax head
    (``fused=False``), :class:`ProbabilityCrossentropy` configured alike."""
    nn_loss = nn_losses.get(nn_loss if nn_loss is not None else "categorical_crossentropy")
    config = {k: v for k, v in nn_loss.get_config().items() if k != "name"}
    stock = getattr(keras.losses, type(nn_loss).__name__)(**config, dtype=dtype)   # the same class and arguments
    if kind == "keras" or (kind == "consistent" and (fused or nn_loss.fuses is None)):
        return stock
    if kind == "consistent":
        return ProbabilityCrossentropy(dtype=dtype, sparse=nn_loss.sparse, from_logits=nn_loss.from_logits,
                                       binary=nn_loss.fuses == "sigmoid")
    raise ValueError(f"loss must be 'consistent' or 'keras', got {kind!r}")


def _keras_loss(kind, dtype, fused, nn_loss=None):
    return keras_loss_like(nn_loss, dtype, kind, fused)


def keras_optimizer_like(optimizer):
    """A fresh Keras optimizer with the hyperparameters of an nnscratch one (or a name: 'adam', 'sgd',
    'rmsprop'); a learning-rate schedule becomes Keras's schedule of the same class and arguments."""
    opt = nn_optimizers.get(optimizer)
    lr = float(opt.learning_rate) if opt.schedule is None else keras_schedule_like(opt.schedule)
    if isinstance(opt, nn_optimizers.Adam):
        return keras.optimizers.Adam(learning_rate=lr, beta_1=opt.beta_1,
                                     beta_2=opt.beta_2, epsilon=opt.epsilon)
    if isinstance(opt, nn_optimizers.SGD):
        return keras.optimizers.SGD(learning_rate=lr, momentum=opt.momentum,
                                    nesterov=opt.nesterov)
    if isinstance(opt, nn_optimizers.RMSprop):
        return keras.optimizers.RMSprop(learning_rate=lr, rho=opt.rho, momentum=opt.momentum,
                                        epsilon=opt.epsilon, centered=opt.centered)
    raise ValueError(f"no Keras twin for optimizer {opt!r}")


def keras_schedule_like(schedule):
    """Keras's learning-rate schedule of the same class and arguments as an nnscratch one."""
    return getattr(keras.optimizers.schedules, type(schedule).__name__)(**schedule.get_config())


def keras_metric_like(metric, dtype="float32"):
    """A Keras metric for an nnscratch metric identifier: strings as they are, metric objects as
    Keras's class of the same name, arguments and dtype (``dtype``: for the strings, which Keras
    makes in ``floatx()``: use :func:`keras_floatx` around ``compile``)."""
    if isinstance(metric, str):
        return metric
    config = {k: v for k, v in metric.get_config().items() if k != "dtype"}
    dtype = metric.dtype.name
    for extra in ("threshold", "k", "init_thresholds", "top_k", "class_id"):
        if hasattr(metric, extra) and extra not in config:
            config["thresholds" if extra == "init_thresholds" else extra] = getattr(metric, extra)
    return getattr(keras.metrics, type(metric).__name__)(**config, dtype=dtype)


# ---------------------------------------------------------------------------- the workshop's models
def _compile_workshop(model, dtype, compile):
    if compile:
        # The workshop: model.compile(loss='categorical_crossentropy', optimizer='adam',
        # metrics=['accuracy']).  The loss object only makes its dtype explicit (the string form
        # takes floatx() at compile time and would cast a float64 output to float32).
        # keras_floatx: Keras's CompileLoss casts the loss value to floatx() at compile time; the
        # optimizer is created outside it so its learning_rate variable is float32, as by default.
        optimizer = keras.optimizers.Adam()
        with keras_floatx(dtype):
            model.compile(loss=keras.losses.CategoricalCrossentropy(dtype=dtype), optimizer=optimizer,
                          metrics=["accuracy"])
    return model


def build_1layer(dtype="float32", dropout=0.2, seed=None, compile=True):
    """The workshop's first model in Keras: Dense(10) -> sigmoid -> Dropout(0.2), 7,850 parameters."""
    model = keras.Sequential([
        keras.Input((784,), dtype=dtype),
        keras.layers.Dense(10, dtype=dtype),
        keras.layers.Activation("sigmoid", dtype=dtype),
        keras.layers.Dropout(dropout, seed=seed, dtype=dtype),
    ])
    return _compile_workshop(model, dtype, compile)


def build_3layer(dtype="float32", dropout=0.2, seed=None, compile=True):
    """The workshop's second model in Keras: 784-512-512-10, sigmoid, dropout 0.2, softmax; 669,706 parameters."""
    s = (lambda k: None) if seed is None else (lambda k: seed + k)
    model = keras.Sequential([
        keras.Input((784,), dtype=dtype),
        keras.layers.Dense(512, dtype=dtype),
        keras.layers.Activation("sigmoid", dtype=dtype),
        keras.layers.Dropout(dropout, seed=s(0), dtype=dtype),
        keras.layers.Dense(512, dtype=dtype),
        keras.layers.Activation("sigmoid", dtype=dtype),
        keras.layers.Dropout(dropout, seed=s(1), dtype=dtype),
        keras.layers.Dense(10, dtype=dtype),
        keras.layers.Activation("softmax", dtype=dtype),
    ])
    return _compile_workshop(model, dtype, compile)


def build_convnet(dtype="float32", dropout=0.5, seed=None, compile=True, input_shape=(28, 28, 1),
                  classes=10):
    """Keras's "simple MNIST convnet" (keras.io/examples/vision/mnist_convnet), 34,826 parameters,
    compiled as that example does: categorical_crossentropy, adam, accuracy."""
    model = keras.Sequential([
        keras.Input(tuple(input_shape), dtype=dtype),
        keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu", dtype=dtype),
        keras.layers.MaxPooling2D(pool_size=(2, 2), dtype=dtype),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu", dtype=dtype),
        keras.layers.MaxPooling2D(pool_size=(2, 2), dtype=dtype),
        keras.layers.Flatten(dtype=dtype),
        keras.layers.Dropout(dropout, seed=seed, dtype=dtype),
        keras.layers.Dense(classes, activation="softmax", dtype=dtype),
    ])
    return _compile_workshop(model, dtype, compile)


def nnscratch_1layer(dtype="float32", dropout=0.2, seed=None, compile=True):
    """The same first model in nnscratch: :func:`nnscratch.zoo.one_layer` (compiled as the workshop does)."""
    return zoo.one_layer(dropout, dtype=dtype, seed=seed, compile=compile)


def nnscratch_3layer(dtype="float32", dropout=0.2, seed=None, compile=True):
    """The same 784-512-512-10 model in nnscratch: :func:`nnscratch.zoo.mlp`."""
    return zoo.mlp(2, 512, dropout, dtype=dtype, seed=seed, compile=compile)


# ----------------------------------------------------------------------------------------- twins
def keras_layer_like(layer, dtype):
    """The Keras layer computing what the nnscratch ``layer`` computes (Dropout: see :func:`keras_twin`).

    Conv2D and MaxPooling2D keep Keras's channels-last layout, so the kernel ``(kh, kw, C_in, C_out)``
    is the same array on both sides."""
    act = getattr(layer, "activation", None)
    act = None if act is None or act.name == "linear" else act.name
    if isinstance(layer, nn_layers.Dense):
        return keras.layers.Dense(layer.units, activation=act, dtype=dtype)
    if isinstance(layer, nn_layers.Softmax):
        return keras.layers.Softmax(axis=-1, dtype=dtype)
    if isinstance(layer, nn_layers.Activation):
        return keras.layers.Activation(layer.activation.name, dtype=dtype)
    if isinstance(layer, nn_layers.Flatten):
        return keras.layers.Flatten(dtype=dtype)
    if isinstance(layer, nn_conv.Conv2D):
        return keras.layers.Conv2D(layer.filters, layer.kernel_size, strides=layer.strides,
                                   padding=layer.padding, activation=act, use_bias=layer.use_bias, dtype=dtype)
    if isinstance(layer, nn_conv.MaxPooling2D):
        return keras.layers.MaxPooling2D(layer.pool_size, strides=layer.strides, padding=layer.padding,
                                         dtype=dtype)
    raise ValueError(f"keras_twin: no Keras twin for layer {layer!r}")


def keras_twin(nn_model, loss="consistent", optimizer=None, copy_weights=True, compile=True, seed=None):
    """The Keras model with the same layers, dtype and (by default) the same weights as ``nn_model``.

    ``nn_model``: an nnscratch ``Sequential`` of Dense/Activation/Softmax/Dropout/Flatten/Conv2D/
    MaxPooling2D, built (input shape known).
    ``loss``: ``'consistent'`` (computes what nnscratch computes, always) or ``'keras'`` (Keras's
    stock loss with its logits shortcut); see the module docstring.  Either is the twin of the
    nnscratch model's compiled loss (class, ``from_logits``); categorical cross-entropy if uncompiled.
    ``optimizer``: an nnscratch optimizer or name; default: ``nn_model``'s optimizer's hyperparameters
    if it is compiled, else Adam's defaults.  The Keras optimizer is always fresh (step 0).
    ``seed``: seeds of the Keras Dropout layers' generators (``seed + k`` for the k-th Dropout).
    """
    if not nn_model.built:
        raise ValueError("keras_twin: build the nnscratch model first (input_shape or model.build(d))")
    dtype = nn_model.dtype.name
    stack = [keras.Input(tuple(nn_model.sample_shape), dtype=dtype)]
    n_dropout = 0
    for layer in nn_model.layers:
        if isinstance(layer, nn_layers.Dropout):
            stack.append(keras.layers.Dropout(layer.rate, seed=None if seed is None else seed + n_dropout,
                                              dtype=dtype))
            n_dropout += 1
        else:
            stack.append(keras_layer_like(layer, dtype))
            stack[-1].trainable = layer.trainable            # a frozen layer stays frozen in the twin
    model = keras.Sequential(stack)
    if copy_weights:
        from .transfer import to_keras
        to_keras(nn_model, model)
    if compile:
        if optimizer is None:
            optimizer = nn_model.optimizer if nn_model.optimizer is not None else "adam"
        keras_opt = keras_optimizer_like(optimizer)      # float32 learning_rate variable, as Keras's default
        with keras_floatx(dtype):                         # the compiled loss's value in the model's dtype
            model.compile(loss=_keras_loss(loss, dtype, softmax_head(nn_model.layers[-1]), nn_model.compiled_loss),
                          optimizer=keras_opt, metrics=["accuracy"])
    return model


def workshop_pair(name, dtype="float32", dropout=0.2, seed=0, loss="keras"):
    """``(nn_model, keras_model)`` for ``name`` in ``{'1layer', '3layer', 'convnet'}``, identical weights.

    The nnscratch model (:func:`nnscratch.zoo.workshop_model`) draws the initial weights (from
    ``seed``, laid out as :mod:`nnscratch.zoo` documents); Keras receives them.  The Keras
    model comes from :func:`build_1layer`/:func:`build_3layer` (stock loss, ``loss='keras'``) or, with
    ``loss='consistent'``, from :func:`keras_twin`.
    """
    if name == "convnet" and dropout == 0.2:
        dropout = 0.5                                # the convnet's own default
    nn_model = zoo.workshop_model(name, dropout=dropout, dtype=dtype, seed=seed)   # ValueError for other names
    if loss == "keras":
        keras_build = {"1layer": build_1layer, "3layer": build_3layer, "convnet": build_convnet}[name]
        km = keras_build(dtype=dtype, dropout=dropout, seed=seed)
        from .transfer import to_keras
        to_keras(nn_model, km)
    else:
        km = keras_twin(nn_model, loss=loss, seed=seed)
    return nn_model, km
