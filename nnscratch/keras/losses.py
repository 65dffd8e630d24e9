"""``tf.keras.losses``: ``CategoricalCrossentropy`` and ``SparseCategoricalCrossentropy`` (each with
``from_logits=False | True``), and the functions ``categorical_crossentropy`` and
``sparse_categorical_crossentropy`` (see ``nnscratch/losses.py``).

``model.compile(loss=...)`` takes a loss object, a name (``'categorical_crossentropy'``,
``'sparse_categorical_crossentropy'``) or one of the functions.  A loss object is callable:
``loss_fn(y_true, y_pred).numpy()``.  (The functions return the batch mean; Keras's return the
per-sample losses.)"""
from ..losses import (CategoricalCrossentropy, Loss, SparseCategoricalCrossentropy, categorical_crossentropy,
                      get, sparse_categorical_crossentropy)
from ._missing import missing_attribute

__all__ = ["CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Loss", "categorical_crossentropy",
           "sparse_categorical_crossentropy", "get"]
__getattr__ = missing_attribute("tf.keras.losses", __all__)
