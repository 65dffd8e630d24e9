"""``tf.keras.optimizers``: ``Adam`` and ``SGD`` with Keras's defaults (see ``nnscratch/optimizers.py``)."""
from ..optimizers import SGD, Adam, Optimizer, get
from ._missing import missing_attribute

__all__ = ["Adam", "SGD", "Optimizer", "get"]
__getattr__ = missing_attribute("tf.keras.optimizers", __all__)
