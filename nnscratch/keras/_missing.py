"""The clear error for the parts of Keras that nnscratch does not implement.

Every namespace of :mod:`nnscratch.keras` ends with ``__getattr__ = missing_attribute(__name__, ...)``:
Python calls a module's ``__getattr__`` only for names the module does not define, so
``tf.keras.layers.Dense`` is found normally and ``tf.keras.layers.Conv1D`` raises
:class:`NotImplementedInNnscratch` with the full name and, where we know one, what to use instead.
"""
from .. import errors
from ..errors import NotImplementedInNnscratch  # noqa: F401  (defined in the base, raised from here)

HINTS = {
    "predict_classes": "it was removed from Keras in TensorFlow 2.6 as well; use "
                       "np.argmax(model.predict(x), axis=-1)",
    "predict_proba": "it was removed from Keras in TensorFlow 2.6 as well; use model.predict(x)",
    "Conv1D": "nnscratch's convolutions are 2-D: Conv2D and MaxPooling2D (nnscratch/conv.py)",
    "cifar10": "nnscratch ships MNIST and Fashion-MNIST only",
    "Adagrad": "nnscratch implements the optimizers Adam, SGD and RMSprop",
    "Huber": "nnscratch implements the losses MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy, "
             "CategoricalCrossentropy and SparseCategoricalCrossentropy",
}


def message(qualname, implemented):
    return errors.message(qualname, implemented, HINTS.get(qualname.rsplit(".", 1)[-1]))


def missing_attribute(public_name, implemented):
    """A module-level ``__getattr__`` that names the missing Keras attribute (with a hint, if any)."""
    return errors.missing_attribute(public_name, implemented, HINTS)
