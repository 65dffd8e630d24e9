"""The error nnscratch raises for a Keras or TensorFlow name (or argument) it does not implement.

It lives in the base of the house so that every room may raise it (the tape for second derivatives,
``training.py`` for the functional API, ``keras/`` for a missing ``tf.keras`` name).

Every namespace of ``tf.keras`` (``keras/``), ``tf.nn``, ``tf.math``, ``tf.random`` and ``tf.data`` ends
with ``__getattr__ = missing_attribute(...)``: Python calls a module's ``__getattr__`` only for names
the module does not define, so ``tf.keras.layers.Dense`` is found normally and
``tf.keras.layers.Conv1D`` raises :class:`NotImplementedInNnscratch` with the full name and, where we
know one, what to use instead.
"""


class NotImplementedInNnscratch(AttributeError, NotImplementedError):
    """Raised for a Keras or TensorFlow name that nnscratch does not implement.

    It is an ``AttributeError`` (so ``hasattr`` and ``getattr(..., default)`` keep working) and a
    ``NotImplementedError`` (which is what it means)."""


def message(qualname, implemented, hint=None):
    text = f"{qualname} is not implemented in nnscratch (a from-scratch subset of Keras)"
    if hint:
        text += f": {hint}"
    if implemented:
        text += f". Implemented here: {', '.join(implemented)}"
    return text + "."


def missing_attribute(public_name, implemented, hints=None):
    """A module-level ``__getattr__`` that names the missing attribute (``hints``: name -> what to use)."""
    def __getattr__(name):
        if name.startswith("__") and name.endswith("__"):       # Python's own probes: stay silent
            raise AttributeError(f"module {public_name!r} has no attribute {name!r}")
        raise NotImplementedInNnscratch(message(f"{public_name}.{name}", implemented, (hints or {}).get(name)))
    return __getattr__
