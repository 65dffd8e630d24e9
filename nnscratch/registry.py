"""The classes a model file may name.

A saved model names its model class (``"Sequential"``) and each layer by its class (``"Dense"``,
``"Conv2D"``); loading looks the names up here, and only here: nothing named in a file is ever
imported or evaluated.  Each room registers its own classes at its end
(``registry.register(Dense, Activation, ...)``), so the file format needs no import of the rooms
that define them.
"""
KINDS = ("layer", "model")
_CLASSES = {kind: {} for kind in KINDS}


def register(*classes, kind="layer"):
    """Let model files name these classes (by ``cls.__name__``) as a ``kind`` ('layer' or 'model')."""
    for cls in classes:
        _CLASSES[kind][cls.__name__] = cls


def get(name, kind="layer"):
    """The ``kind`` class registered under ``name``, or None."""
    return _CLASSES[kind].get(name) if isinstance(name, str) else None


def names(kind="layer"):
    """Every registered name of ``kind``, in registration order."""
    return list(_CLASSES[kind])
