"""``tf.random``: ``uniform``, ``normal`` and ``set_seed`` (implemented in ``array_ops.py``).

nnscratch draws from NumPy's generator, not TensorFlow's: the same distributions, other numbers.
``tf.random.set_seed(s)`` makes every later random draw of nnscratch repeat from run to run (initial
weights, dropout masks, shuffling and these functions), as ``keras.utils.set_random_seed`` does.
(Dropout's own counter-based generator is ``counter_random.py``.)
"""
from .array_ops import normal, set_seed, uniform
from .errors import missing_attribute

__all__ = ["uniform", "normal", "set_seed"]

__getattr__ = missing_attribute("tf.random", __all__)
