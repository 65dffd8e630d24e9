"""Dropout's random numbers: a counter-based generator, the kind Keras uses for its masks.

Keras draws each dropout mask with ``tf.random.stateless_uniform(shape, seed=[s, k])``: the numbers
are a pure function of a key and of each element's position, not the next values of a running
stream.  nnscratch does the same with a simpler function, SplitMix64's finaliser (Steele, Lea &
Flood, 2014): for a call with key ``key``, element ``i`` (in row-major order) gets

    z = key + (i + 1) * 0x9E3779B97F4A7C15          (mod 2**64)
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
    z =  z ^ (z >> 31)
    u = (z >> 40) / 2**24                             (24 random bits, in [0, 1), exactly a float32)

The key of each call is drawn from the layer's own ``numpy.random.Generator`` (``self.rng``), so a
seed makes every mask repeatable.  The NumPy expression below and the Numba loop
(``dropout_forward`` in ``engine/loops.py``, which computes ``u`` inside its loop instead of
storing it) give the same numbers, so both backends draw the same masks.
"""
import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX_1, MIX_2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def new_key(rng):
    """A fresh 64-bit key for one call, from the generator ``rng``."""
    return rng.integers(0, 2**64, dtype=np.uint64)


def counter_uniform(key, shape):
    """``u`` of ``shape``: float32 numbers in [0, 1), element ``i`` a function of ``(key, i)`` alone."""
    n = int(np.prod(shape))
    z = np.uint64(key) + np.arange(1, n + 1, dtype=np.uint64) * GOLDEN
    z = (z ^ (z >> np.uint64(30))) * MIX_1
    z = (z ^ (z >> np.uint64(27))) * MIX_2
    z ^= z >> np.uint64(31)
    return ((z >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24)).reshape(shape)
