"""``tf.keras.datasets``: ``mnist`` and ``fashion_mnist``, each with ``load_data()``
(see ``nnscratch/datasets/``)."""
from ..datasets import fashion_mnist, mnist
from ._missing import missing_attribute

__all__ = ["mnist", "fashion_mnist"]
__getattr__ = missing_attribute("tf.keras.datasets", __all__)
