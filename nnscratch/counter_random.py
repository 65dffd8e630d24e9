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
storing it) give the same numbers, so both backends draw the same masks.  (``nnscratch.random`` is
TensorFlow's ``tf.random``: ``uniform``, ``normal``, ``set_seed``.)

A model file keeps each ``numpy.random.Generator`` (the model's shuffling, each Dropout's keys) as its
``bit_generator.state`` in JSON: :func:`generator_state` writes it, :func:`generator_from_state`
rebuilds exactly that generator, choosing its bit generator from a fixed list (never by a name from
the file).
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


BIT_GENERATORS = {bg.__name__: bg for bg in (np.random.PCG64, np.random.PCG64DXSM, np.random.Philox,
                                             np.random.SFC64, np.random.MT19937)}


def generator_state(rng):
    """``rng.bit_generator.state`` as JSON can hold it: arrays become lists, NumPy integers Python ints."""
    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.integer):
            return int(value)
        return value
    return plain(rng.bit_generator.state)


def generator_from_state(state):
    """A ``numpy.random.Generator`` in exactly ``state`` (what :func:`generator_state` wrote), or a
    ValueError saying why not."""
    kind = state.get("bit_generator") if isinstance(state, dict) else None
    if kind not in BIT_GENERATORS:
        raise ValueError(f"must be a bit_generator.state of one of {', '.join(BIT_GENERATORS)}, "
                         f"got {state!r:.80}")
    generator = np.random.Generator(BIT_GENERATORS[kind]())
    try:
        generator.bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as e:
        raise ValueError(f"is not a valid {kind} state: {e!r}") from None
    return generator
