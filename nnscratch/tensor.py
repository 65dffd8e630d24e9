"""``Tensor``: what ``model(x)``, a loss object and every operation return (``tape.py`` defines it).

TensorFlow tutorials call ``.numpy()`` on what a model, a loss or ``tf.nn.softmax`` returns::

    predictions = model(x_train[:1]).numpy()
    loss_fn(y_train[:1], predictions).numpy()

nnscratch returns a :class:`~nnscratch.tape.Tensor` in those places, as TensorFlow returns its
``tf.Tensor``: an immutable array that answers ``.numpy()``, formats like a number when it is one,
and is recorded on a ``GradientTape``.  ``model.predict`` returns a plain NumPy array, as Keras's does.
"""
from .tape import Tensor, Variable  # noqa: F401

__all__ = ["Tensor", "Variable"]
