"""The classes a model file (or a name such as ``compile(loss='mse')``) may name.

A saved model names its model class (``"Sequential"``) and each layer by its class (``"Dense"``,
``"Conv2D"``); loading looks the names up here, and only here: nothing named in a file is ever
imported or evaluated.  Each room registers its own classes at its end
(``registry.register(Dense, Activation, ...)``), so the file format needs no import of the rooms
that define them.
"""
KINDS = ("layer", "model", "loss")
_CLASSES = {kind: {} for kind in KINDS}
_FUNCTIONS = {kind: {} for kind in KINDS}


def register(*classes, kind="layer"):
    """Let model files name these classes (by ``cls.__name__``) as a ``kind`` ('layer', 'model', 'loss')."""
    for cls in classes:
        _CLASSES[kind][cls.__name__] = cls


def alias(name, cls, kind="layer"):
    """One more name for a registered class: Keras's ``'mse'`` for ``MeanSquaredError``."""
    _CLASSES[kind][name] = cls


def register_function(function, cls, kind="loss"):
    """A function that stands for a class: ``compile(loss=keras.losses.mean_squared_error)``."""
    _FUNCTIONS[kind][function] = cls


def for_function(function, kind="loss"):
    """The class registered for ``function``, or None."""
    try:
        return _FUNCTIONS[kind].get(function)
    except TypeError:                         # unhashable
        return None


def get(name, kind="layer"):
    """The ``kind`` class registered under ``name``, or None."""
    return _CLASSES[kind].get(name) if isinstance(name, str) else None


def names(kind="layer"):
    """Every registered name of ``kind``, in registration order."""
    return list(_CLASSES[kind])
