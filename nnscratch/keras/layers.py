"""``tf.keras.layers``: ``Dense``, ``Activation``, ``Dropout``, ``Flatten``, ``Softmax`` (see
``nnscratch/layers.py``)."""
from ..layers import Activation, Dense, Dropout, Flatten, Layer, Softmax
from ._missing import missing_attribute

__all__ = ["Dense", "Activation", "Dropout", "Flatten", "Softmax", "Layer"]
__getattr__ = missing_attribute("tf.keras.layers", __all__)
