"""``tf.nn``: the neural-network operations, each an alias of its implementation beside its
vector-Jacobian product (``ops.py``; the fused cross-entropies in ``loss_functions.py``).

    import nnscratch as tf
    tf.nn.softmax(logits).numpy()
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))

``softmax``, ``log_softmax``, ``relu``, ``sigmoid``, ``tanh`` and the two cross-entropies on logits.
A list of Python numbers becomes float32, as TensorFlow converts it; the result is a
:class:`~nnscratch.tape.Tensor` (``.numpy()`` works) and is recorded on an open ``GradientTape``.
"""
from .loss_functions import softmax_cross_entropy_with_logits, sparse_softmax_cross_entropy_with_logits
from .ops import log_softmax, relu, sigmoid, softmax, tanh
from .errors import missing_attribute

__all__ = ["softmax", "log_softmax", "relu", "sigmoid", "tanh", "softmax_cross_entropy_with_logits",
           "sparse_softmax_cross_entropy_with_logits"]

__getattr__ = missing_attribute("tf.nn", __all__)
