"""``tf.keras.optimizers``: ``Adam``, ``SGD`` and ``RMSprop`` with Keras's defaults (see
``nnscratch/optimizers.py``), and ``schedules`` (``nnscratch/schedules.py``)."""
from ..optimizers import SGD, Adam, Optimizer, RMSprop, get
from . import schedules
from ._missing import missing_attribute

__all__ = ["Adam", "SGD", "RMSprop", "Optimizer", "get", "schedules"]
__getattr__ = missing_attribute("tf.keras.optimizers", __all__)
