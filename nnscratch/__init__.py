"""nnscratch: a neural network from scratch in NumPy that computes exactly what Keras computes.

Start reading at ``models.py`` (one training step, top to bottom), then ``training.py`` (``fit``,
``evaluate``, ``predict`` around that step), ``layers.py`` (each layer's forward and backward side by
side), ``losses.py`` and ``optimizers.py``.  ``fit`` runs exactly these methods; where one of them is
fast, it hands its work to the engine (``engine/``) in one line.  ``tape.py`` and ``ops.py`` show how
a framework finds the same gradients without a hand-written backward pass (``tf.GradientTape``).
``docs/architecture.md`` draws the whole house.

``import nnscratch as tf`` runs TensorFlow code written for Keras and for the tape: the names below
(``tf.keras``, ``tf.Variable``, ``tf.GradientTape``, ``tf.matmul``, ``tf.reduce_mean``, ``tf.nn``,
``tf.math``, ``tf.random``, ``tf.data``, ``tf.float32``, ...) are nnscratch's implementations.
A TensorFlow name nnscratch does not implement raises ``NotImplementedInNnscratch`` naming it.
"""
import importlib
from .version import __version__

from . import activations, datasets, gradcheck, initializers, layers, losses, nn, optimizers, utils
from . import callbacks, elementwise_losses, metrics, monitors, schedules, version
from . import functional, input_layer, merging  # noqa: F401  (keras.Model(inputs, outputs) and its layers)
from .backend import get_backend, set_backend
from .errors import NotImplementedInNnscratch
from .models import History, Sequential
from .saving import load_model
from .utils import set_random_seed

# ------------------------------------------------------------------ the TensorFlow names
from . import data, math, random  # noqa: A004  (tf.math, tf.random: modules of nnscratch)
from .tape import (GradientTape, Tensor, Variable, bool_ as bool, constant, convert_to_tensor,  # noqa: A004
                   float16, float32, float64, function, int8, int16, int32, int64, uint8)
from .ops import (abs, add, argmax, argmin, divide, equal, exp, greater, greater_equal, less, less_equal,  # noqa: A004
                  matmul, maximum, minimum, multiply, negative, not_equal, pow, reduce_logsumexp, reduce_max,
                  reduce_mean, reduce_min, reduce_sum, sigmoid, sqrt, square, subtract, tanh, where, clip_by_value)
from .array_ops import (cast, concat, expand_dims, eye, fill, gather, identity, newaxis, one_hot, ones,
                        ones_like, rank, reshape, shape, size, squeeze, stack, stop_gradient, transpose,
                        unstack, zeros, zeros_like)
from .array_ops import arange as range  # noqa: A004  (tf.range)

from . import keras  # the tf.keras surface: `import nnscratch as tf; tf.keras.Sequential()` (last: it uses the rest)
from . import saved_model  # tf.saved_model.save / load (nnscratch's layout: model.keras in the folder)

# Reached as attributes after a plain ``import nnscratch``, imported on first use (so importing
# nnscratch stays fast and never loads scikit-learn or matplotlib before they are needed).
_LAZY = ("neighbors", "plotting", "workshop", "zoo")
_HINTS = {"log": "TensorFlow 2 names it tf.math.log", "Session": "TensorFlow 2 runs eagerly, as nnscratch does",
          "placeholder": "TensorFlow 2 runs eagerly, as nnscratch does: pass arrays"}


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    if name.startswith("_"):
        raise AttributeError(f"module 'nnscratch' has no attribute {name!r}")
    hint = f": {_HINTS[name]}" if name in _HINTS else ""
    raise NotImplementedInNnscratch(f"tf.{name} is not implemented in nnscratch (a from-scratch subset of "
                                    f"TensorFlow and Keras){hint}.")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["Sequential", "History", "load_model", "set_random_seed", "set_backend", "get_backend",
           "keras", "saved_model", "activations", "callbacks", "datasets", "elementwise_losses", "metrics", "nn",
           "math", "random", "data", "schedules", "version",
           "gradcheck", "initializers", "layers", "losses", "optimizers", "utils", "__version__",
           "Tensor", "Variable", "GradientTape", "constant", "convert_to_tensor", "function",
           "NotImplementedInNnscratch"]
