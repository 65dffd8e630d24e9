"""``tf.math``: the element-wise and reducing operations under their TensorFlow names, each an alias
of its implementation beside its vector-Jacobian product in ``ops.py`` (``tf.math.log``,
``tf.math.reduce_sum``, ...).  Names nnscratch does not implement raise ``NotImplementedInNnscratch``.
"""
from .errors import missing_attribute
from .ops import (abs, add, argmax, argmin, divide, equal, exp, floordiv, greater, greater_equal, less,  # noqa: A004
                  less_equal, log, log_softmax, maximum, minimum, mod, multiply, negative, not_equal, pow,
                  reduce_logsumexp, reduce_max, reduce_mean, reduce_min, reduce_sum, relu, sigmoid, softmax,
                  sqrt, square, subtract, tanh)

floormod = mod
truediv = divide

__all__ = ["abs", "add", "argmax", "argmin", "divide", "equal", "exp", "floordiv", "floormod", "greater",
           "greater_equal", "less", "less_equal", "log", "log_softmax", "maximum", "minimum", "mod",
           "multiply", "negative", "not_equal", "pow", "reduce_logsumexp", "reduce_max", "reduce_mean",
           "reduce_min", "reduce_sum", "relu", "sigmoid", "softmax", "sqrt", "square", "subtract", "tanh",
           "truediv"]

__getattr__ = missing_attribute("tf.math", __all__)
