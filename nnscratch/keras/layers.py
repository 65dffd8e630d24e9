"""``tf.keras.layers``: ``Dense``, ``Activation``, ``Dropout``, ``Flatten``, ``Softmax``
(``nnscratch/layers.py``), ``Conv2D``, ``MaxPooling2D`` (``nnscratch/conv.py``)."""
from ..conv import Conv2D, MaxPooling2D
from ..layers import Activation, Dense, Dropout, Flatten, Layer, Softmax
from ._missing import missing_attribute

__all__ = ["Dense", "Activation", "Dropout", "Flatten", "Softmax", "Conv2D", "MaxPooling2D", "Layer"]
__getattr__ = missing_attribute("tf.keras.layers", __all__)
