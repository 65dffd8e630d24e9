"""``tf.keras.layers``: ``Dense``, ``Activation``, ``Dropout``, ``Flatten``, ``Softmax``
(``nnscratch/layers.py``), ``Conv2D``, ``MaxPooling2D`` (``nnscratch/conv.py``), ``Add``, ``Concatenate``
and ``add``, ``concatenate`` (``nnscratch/merging.py``), ``Input``, ``InputLayer``
(``nnscratch/functional.py``)."""
from ..conv import Conv2D, MaxPooling2D
from ..input_layer import Input, InputLayer
from ..layers import Activation, Dense, Dropout, Flatten, Layer, Softmax
from ..merging import Add, Concatenate, add, concatenate
from ._missing import missing_attribute

__all__ = ["Dense", "Activation", "Dropout", "Flatten", "Softmax", "Conv2D", "MaxPooling2D", "Layer", "Add",
           "Concatenate", "add", "concatenate", "Input", "InputLayer"]
__getattr__ = missing_attribute("tf.keras.layers", __all__)
