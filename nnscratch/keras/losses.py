"""``tf.keras.losses``: ``categorical_crossentropy`` (see ``nnscratch/losses.py``).

``model.compile(loss='categorical_crossentropy')`` and ``loss=tf.keras.losses.categorical_crossentropy``
both select it."""
from ..losses import categorical_crossentropy, get
from ._missing import missing_attribute

__all__ = ["categorical_crossentropy", "get"]
__getattr__ = missing_attribute("tf.keras.losses", __all__)
