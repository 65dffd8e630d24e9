"""Rebuild the dropout masks Keras draws, and replay them in nnscratch's Dropout.

How Keras draws a mask (Keras 3.15.1, TensorFlow backend):

* ``keras.layers.Dropout.call`` (``keras/src/layers/regularization/dropout.py``) calls
  ``backend.random.dropout(x, rate, seed=self.seed_generator)`` when ``training and rate > 0``.
* ``keras/src/backend/tensorflow/random.py``: ``seed = _cast_seed(draw_seed(seed_generator))``.
  ``draw_seed`` returns the generator's state ``[s, k]`` (an int64 variable) and then advances it to
  ``[s, k + 1]`` (``SeedGenerator.next``, ``keras/src/random/seed_generator.py``); ``_cast_seed``
  maps it to int32 with ``floormod(seed, 2**31 - 2)``.
* ``tf.nn.experimental.stateless_dropout(x, rate, seed)`` draws
  ``U = tf.random.stateless_uniform(shape, seed, dtype=x.dtype)`` and keeps ``U >= rate``; kept
  values are ``x * (1 / (1 - rate))``.

So the mask of the k-th training call of a Dropout layer is a pure function of ``(s, k)``, the
shape and the dtype.  We read ``[s, k]`` off the layer *before* Keras uses it and count calls from
there; nnscratch's ``Dropout.mask_source`` then receives exactly Keras's keep mask.
"""
import numpy as np
import tensorflow as tf

from nnscratch import layers as nn_layers

_INT32_MAX_MINUS_1 = 2**31 - 2   # tf.int32.max - 1, as in keras/src/backend/tensorflow/random.py


def keras_keep_mask(seed_state, shape, dtype, rate):
    """Keras's boolean keep mask for a Dropout call whose seed generator state is ``seed_state = [s, k]``."""
    seed = np.mod(np.asarray(seed_state, dtype=np.int64), _INT32_MAX_MINUS_1).astype(np.int32)
    u = tf.random.stateless_uniform(tuple(int(d) for d in shape), seed=seed, dtype=tf.as_dtype(np.dtype(dtype)))
    return (u >= tf.constant(rate, dtype=u.dtype)).numpy()


class KerasDropoutMasks:
    """A ``mask_source`` for nnscratch's Dropout that replays a Keras Dropout layer's masks.

    Created from the Keras layer, it remembers the generator state ``[s, k]`` at that moment.  Its
    n-th call returns the mask Keras draws on the n-th training call after that moment, for the
    shape and dtype asked.  Keep both sides in step: one training forward pass each.
    """

    def __init__(self, keras_dropout):
        self.layer = keras_dropout
        self.rate = float(keras_dropout.rate)
        self.seed, self.counter = (int(v) for v in keras_dropout.seed_generator.state.numpy())
        self.calls = 0

    def __call__(self, shape, dtype):
        keep = keras_keep_mask([self.seed, self.counter], shape, dtype, self.rate)
        self.counter += 1
        self.calls += 1
        return keep

    def in_step_with_keras(self):
        """True if Keras's generator has advanced exactly as many times as this replay was used."""
        return int(self.layer.seed_generator.state.numpy()[1]) == self.counter


def replay_keras_masks(nn_model, keras_model):
    """Point every nnscratch Dropout (rate > 0) at the Keras Dropout in the same position.

    Returns the list of :class:`KerasDropoutMasks` (empty if there is no active Dropout).  Call it
    when both models are about to start the same sequence of training calls.  Undo with
    ``layer.mask_source = None``.
    """
    import keras
    nn_drop = [l for l in nn_model.layers if isinstance(l, nn_layers.Dropout)]
    k_drop = [l for l in keras_model.layers if isinstance(l, keras.layers.Dropout)]
    if len(nn_drop) != len(k_drop):
        raise ValueError(f"replay_keras_masks: {len(nn_drop)} nnscratch Dropout layers but {len(k_drop)} in Keras")
    replays = []
    for a, b in zip(nn_drop, k_drop):
        if a.rate != b.rate:
            raise ValueError(f"replay_keras_masks: rates differ ({a.name}: {a.rate}, {b.name}: {b.rate})")
        if a.rate > 0:
            a.mask_source = KerasDropoutMasks(b)
            replays.append(a.mask_source)
        else:
            a.mask_source = None
    return replays
