"""``tf.keras.activations``: ``sigmoid``, ``softmax``, ``relu``, ``tanh``, ``linear``, as functions on
tensors, recorded on an open ``GradientTape`` (``nnscratch/ops.py``; the formulas are those of
``nnscratch/activations.py``).  Keras's ``softmax`` remembers its input, so a cross-entropy of its
output computes from the logits, as in Keras.  Each may also be given to a layer
(``Dense(10, activation=tf.keras.activations.relu)``), as may ``tf.nn.relu`` and the names
(``activation='relu'``)."""
from ..activations import get
from ..ops import keras_softmax as softmax  # noqa: F401
from ..ops import relu, sigmoid, tanh
from ._missing import missing_attribute


def linear(x):
    """``a = x``, unchanged (Keras's ``linear``)."""
    return x


__all__ = ["sigmoid", "softmax", "relu", "tanh", "linear", "get"]
__getattr__ = missing_attribute("tf.keras.activations", __all__)
