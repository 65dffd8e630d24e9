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


def require_forward(layer):
    """Refuse, by its class, a layer written the Keras way as ``call()`` alone: nnscratch's models run each
    layer's own ``forward`` and ``backward`` (``layers.py``), which such a layer does not have.  Called
    where the layer enters a model: ``Sequential.add``, a call on a ``keras.Input`` tensor, its first call."""
    if not callable(getattr(layer, "forward", None)):
        raise NotImplementedInNnscratch(
            f"{type(layer).__name__} ({getattr(layer, 'name', '?')}) is a layer written as call() alone, without "
            "forward and backward: such a layer is not implemented in nnscratch, whose models run each layer's "
            "own forward and backward. Write forward(x, training) and backward(grad, need_dx) for it (see "
            "docs/write-your-own.md), or write its computation with tf operations in a GradientTape loop (or in "
            "the call() of your keras.Model subclass), where the tape records each operation")


def add_loss(owner):
    """The error for Keras's ``self.add_loss(...)`` (a loss term added from inside a ``call``)."""
    return NotImplementedInNnscratch(
        f"{type(owner).__name__}.add_loss (a loss term added from inside call(), Keras's add_loss) is not "
        "implemented in nnscratch: add the term to the loss itself, in a keras.losses.Loss subclass of your own "
        "or in the loss of a GradientTape loop")
