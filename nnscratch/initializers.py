"""Initial weights, as Keras draws them (same distributions; the random streams differ).

Each initializer is a function ``init(shape, rng, dtype) -> array``; ``rng`` is a
``numpy.random.Generator``.
"""
import numpy as np


def glorot_uniform(shape, rng, dtype="float32"):
    """Keras's default kernel initializer: ``W ~ U(-limit, limit)``, ``limit = sqrt(6 / (fan_in + fan_out))``.

    For a Dense kernel of shape ``(fan_in, fan_out)``.  Chosen so the variance of activations and of
    gradients stays about the same from layer to layer (Glorot & Bengio, 2010).
    """
    fan_in, fan_out = shape[0], shape[-1]
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def zeros(shape, rng=None, dtype="float32"):
    """Keras's default bias initializer: all zeros."""
    return np.zeros(shape, dtype=dtype)


INITIALIZERS = {"glorot_uniform": glorot_uniform, "zeros": zeros}


def get(identifier):
    if callable(identifier):
        return identifier
    if identifier in INITIALIZERS:
        return INITIALIZERS[identifier]
    raise ValueError(f"Unknown initializer {identifier!r}; nnscratch implements {sorted(INITIALIZERS)}")
