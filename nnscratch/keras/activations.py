"""``tf.keras.activations``: ``sigmoid``, ``softmax``, ``relu``, ``tanh``, ``linear``
(see ``nnscratch/activations.py``)."""
from ..activations import get, linear, relu, sigmoid, softmax, tanh
from ._missing import missing_attribute

__all__ = ["sigmoid", "softmax", "relu", "tanh", "linear", "get"]
__getattr__ = missing_attribute("tf.keras.activations", __all__)
