"""``tf.keras.layers``: ``Dense``, ``Activation``, ``Dropout`` (see ``nnscratch/layers.py``)."""
from ..layers import Activation, Dense, Dropout, Layer
from ._missing import missing_attribute

__all__ = ["Dense", "Activation", "Dropout", "Layer"]
__getattr__ = missing_attribute("tf.keras.layers", __all__)
