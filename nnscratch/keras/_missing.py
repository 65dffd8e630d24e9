"""The clear error for the parts of Keras that nnscratch does not implement.

Every namespace of :mod:`nnscratch.keras` ends with ``__getattr__ = missing_attribute(__name__, ...)``:
Python calls a module's ``__getattr__`` only for names the module does not define, so
``tf.keras.layers.Dense`` is found normally and ``tf.keras.layers.Conv1D`` raises
:class:`NotImplementedInNnscratch` with the full name and, where we know one, what to use instead.
"""

HINTS = {
    "predict_classes": "it was removed from Keras in TensorFlow 2.6 as well; use "
                       "np.argmax(model.predict(x), axis=-1)",
    "predict_proba": "it was removed from Keras in TensorFlow 2.6 as well; use model.predict(x)",
    "Conv1D": "nnscratch's convolutions are 2-D: Conv2D and MaxPooling2D (nnscratch/conv.py)",
    "cifar10": "nnscratch ships MNIST and Fashion-MNIST only",
    "Adagrad": "nnscratch implements the optimizers Adam, SGD and RMSprop",
    "MeanSquaredError": "nnscratch implements the cross-entropy losses CategoricalCrossentropy and "
                        "SparseCategoricalCrossentropy",
}


class NotImplementedInNnscratch(AttributeError, NotImplementedError):
    """Raised for a Keras name that nnscratch does not implement.

    It is an ``AttributeError`` (so ``hasattr`` and ``getattr(..., default)`` keep working) and a
    ``NotImplementedError`` (which is what it means)."""


def message(qualname, implemented):
    hint = HINTS.get(qualname.rsplit(".", 1)[-1])
    text = f"{qualname} is not implemented in nnscratch (a from-scratch subset of Keras)"
    if hint:
        text += f": {hint}"
    if implemented:
        text += f". Implemented here: {', '.join(implemented)}"
    return text + "."


def missing_attribute(public_name, implemented):
    """A module-level ``__getattr__`` that names the missing Keras attribute."""
    def __getattr__(name):
        if name.startswith("__") and name.endswith("__"):       # Python's own probes: stay silent
            raise AttributeError(f"module {public_name!r} has no attribute {name!r}")
        raise NotImplementedInNnscratch(message(f"{public_name}.{name}", implemented))
    return __getattr__
