"""nnscratch: a neural network from scratch in NumPy that computes exactly what Keras computes.

Start reading at ``models.py`` (one training step, top to bottom), then ``layers.py`` (each layer's
forward and backward side by side), ``losses.py`` and ``optimizers.py``.
"""
__version__ = "0.1.0"

from . import activations, datasets, gradcheck, initializers, layers, losses, nn, optimizers, utils
from .backend import get_backend, set_backend
from .models import History, Sequential
from .saving import load_model
from .utils import set_random_seed
from . import keras  # the tf.keras surface: `import nnscratch as tf; tf.keras.Sequential()` (last: it uses the rest)

__all__ = ["Sequential", "History", "load_model", "set_random_seed", "set_backend", "get_backend",
           "keras", "activations", "datasets", "nn",
           "gradcheck", "initializers", "layers", "losses", "optimizers", "utils", "__version__"]
