"""``tf.keras.utils``: ``to_categorical``, ``set_random_seed`` (see ``nnscratch/utils.py``) and ``PyDataset``
(also ``Sequence``, its older name; see ``nnscratch/data.py``)."""
from ..data import PyDataset
from ..utils import set_random_seed, to_categorical
from ._missing import missing_attribute

Sequence = PyDataset

__all__ = ["to_categorical", "set_random_seed", "PyDataset", "Sequence"]
__getattr__ = missing_attribute("tf.keras.utils", __all__)
