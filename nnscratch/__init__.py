"""nnscratch: a neural network from scratch in NumPy that computes exactly what Keras computes.

Start reading at ``models.py`` (one training step, top to bottom), then ``layers.py`` (each layer's
forward and backward side by side), ``losses.py`` and ``optimizers.py``.
"""
from . import activations, datasets, gradcheck, initializers, layers, losses, optimizers, utils
from .models import History, Sequential, load_model
from .utils import set_random_seed

__version__ = "0.1.0"

__all__ = ["Sequential", "History", "load_model", "set_random_seed", "activations", "datasets",
           "gradcheck", "initializers", "layers", "losses", "optimizers", "utils", "__version__"]
