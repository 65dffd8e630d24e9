"""``tf.keras.losses``: ``CategoricalCrossentropy`` and ``SparseCategoricalCrossentropy`` (each with
``from_logits=False | True``; ``nnscratch/losses.py``), ``MeanSquaredError``, ``MeanAbsoluteError`` and
``BinaryCrossentropy`` (``nnscratch/elementwise_losses.py``), and Keras's functions, which return one
loss per sample: ``categorical_crossentropy`` and ``sparse_categorical_crossentropy``
(``nnscratch/loss_functions.py``, working on tensors on a ``GradientTape``), ``mean_squared_error``,
``mean_absolute_error`` and ``binary_crossentropy``.

``model.compile(loss=...)`` takes a loss object, a name (``'categorical_crossentropy'``,
``'sparse_categorical_crossentropy'``, ``'mse'``, ``'mae'``, ``'binary_crossentropy'``, ...), one of the
functions, or a function of your own written with nnscratch's operations (its gradient comes from the
tape).  A loss object is callable: ``loss_fn(y_true, y_pred, sample_weight=None).numpy()``."""
from ..elementwise_losses import (BinaryCrossentropy, MeanAbsoluteError, MeanSquaredError, binary_crossentropy,
                                  mean_absolute_error, mean_squared_error)
from ..loss_functions import categorical_crossentropy, sparse_categorical_crossentropy
from ..losses import CategoricalCrossentropy, Loss, LossFunctionWrapper, SparseCategoricalCrossentropy, get
from ._missing import missing_attribute

__all__ = ["CategoricalCrossentropy", "SparseCategoricalCrossentropy", "MeanSquaredError", "MeanAbsoluteError",
           "BinaryCrossentropy", "Loss", "LossFunctionWrapper", "categorical_crossentropy",
           "sparse_categorical_crossentropy", "mean_squared_error", "mean_absolute_error", "binary_crossentropy", "get"]
__getattr__ = missing_attribute("tf.keras.losses", __all__)
