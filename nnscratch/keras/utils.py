"""``tf.keras.utils``: ``to_categorical`` and ``set_random_seed`` (see ``nnscratch/utils.py``)."""
from ..utils import set_random_seed, to_categorical
from ._missing import missing_attribute

__all__ = ["to_categorical", "set_random_seed"]
__getattr__ = missing_attribute("tf.keras.utils", __all__)
