"""nnscratch: a neural network from scratch in NumPy that computes exactly what Keras computes.

Start reading at ``models.py`` (one training step, top to bottom), then ``training.py`` (``fit``,
``evaluate``, ``predict`` around that step), ``layers.py`` (each layer's forward and backward side by
side), ``losses.py`` and ``optimizers.py``.  ``fit`` runs exactly these methods; where one of them is
fast, it hands its work to the engine (``engine/``) in one line.  ``docs/architecture.md`` draws the
whole house.
"""
import importlib
from .version import __version__

from . import activations, datasets, gradcheck, initializers, layers, losses, nn, optimizers, utils
from .backend import get_backend, set_backend
from .models import History, Sequential
from .saving import load_model
from .utils import set_random_seed
from . import keras  # the tf.keras surface: `import nnscratch as tf; tf.keras.Sequential()` (last: it uses the rest)
from . import saved_model  # tf.saved_model.save / load (nnscratch's layout: model.keras in the folder)

# Reached as attributes after a plain ``import nnscratch``, imported on first use (so importing
# nnscratch stays fast and never loads scikit-learn or matplotlib before they are needed).
_LAZY = ("neighbors", "plotting", "workshop", "zoo")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'nnscratch' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["Sequential", "History", "load_model", "set_random_seed", "set_backend", "get_backend",
           "keras", "saved_model", "activations", "datasets", "nn",
           "gradcheck", "initializers", "layers", "losses", "optimizers", "utils", "__version__"]
