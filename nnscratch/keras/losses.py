"""``tf.keras.losses``: ``CategoricalCrossentropy`` and ``SparseCategoricalCrossentropy`` (each with
``from_logits=False | True``; ``nnscratch/losses.py``), and the functions ``categorical_crossentropy``
and ``sparse_categorical_crossentropy`` (``nnscratch/loss_functions.py``), which return one loss per
sample, as Keras's do, and work on tensors on a ``GradientTape``.

``model.compile(loss=...)`` takes a loss object, a name (``'categorical_crossentropy'``,
``'sparse_categorical_crossentropy'``), one of the functions, or a function of your own written with
nnscratch's operations (its gradient comes from the tape).  A loss object is callable:
``loss_fn(y_true, y_pred).numpy()`` is the batch mean."""
from ..loss_functions import categorical_crossentropy, sparse_categorical_crossentropy
from ..losses import CategoricalCrossentropy, Loss, LossFunctionWrapper, SparseCategoricalCrossentropy, get
from ._missing import missing_attribute

__all__ = ["CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Loss", "LossFunctionWrapper",
           "categorical_crossentropy", "sparse_categorical_crossentropy", "get"]
__getattr__ = missing_attribute("tf.keras.losses", __all__)
