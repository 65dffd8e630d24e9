"""Keras's numbers for ``nnscratch exercise check``: what real Keras computes for each exercise.

Each function takes the exercise's inputs (float64 NumPy arrays, the same the checker gives the
learner's code) and returns Keras's answer as a dict of float64 arrays, named as the exercise names its
outputs.  Gradients come from ``tf.GradientTape`` through the Keras layer, activation, loss or
optimizer itself, in float64 (``dtype='float64'`` layers), so they are exact to ~1e-15 and not a second
implementation of the formulas.  The exercises reach this module through
``nnscratch/workshop/keras_side.py``, the one door of nnscratch to Keras.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

F64 = "float64"


def _tape(forward, weights, x, grad_out, training=False):
    """``L = sum(forward(x) * grad_out)`` (so dL/d(output) = grad_out): returns ``(output, dx, [dw...])``."""
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = forward(xv, training=training)
        loss = tf.reduce_sum(out * tf.constant(grad_out))
    grads = tape.gradient(loss, [xv] + list(weights))
    return out.numpy(), grads[0].numpy(), [g.numpy() for g in grads[1:]]


def dense_backward(x, W, b, dz):
    """``keras.layers.Dense`` (no activation) with kernel ``W`` and bias ``b``: dx, dW, db."""
    layer = keras.layers.Dense(W.shape[1], dtype=F64)
    layer.build(x.shape)
    layer.set_weights([W, b])
    _, dx, (dW, db) = _tape(layer, [layer.kernel, layer.bias], x, dz)
    return {"dx": dx, "dW": dW, "db": db}


def activation_backward(name, z, da):
    """``keras.activations.<name>`` under a tape: dz."""
    fn = keras.activations.get(name)
    _, dz, _ = _tape(lambda v, training=False: fn(v), [], z, da)
    return {"dz": dz}


def softmax_crossentropy_gradient(z, y):
    """``keras.losses.CategoricalCrossentropy(from_logits=True)`` (the batch mean) under a tape: dz."""
    loss = keras.losses.CategoricalCrossentropy(from_logits=True, dtype=F64)
    zv = tf.Variable(z)
    with tf.GradientTape() as tape:
        value = loss(tf.constant(y), zv)
    return {"dz": tape.gradient(value, zv).numpy()}


def dropout(x, da, rate, seed=0):
    """``keras.layers.Dropout(rate)`` in training: its output ``a``, its gradient ``dx``, and the keep
    mask it drew (``a != 0``; ``x`` has no zeros), which the checker hands to the learner's code."""
    layer = keras.layers.Dropout(rate, seed=seed, dtype=F64)
    a, dx, _ = _tape(layer, [], x, da, training=True)
    return {"a": a, "dx": dx, "keep": a != 0}


OPTIMIZERS = {"sgd": (keras.optimizers.SGD, {"v": "momentums"}),
              "adam": (keras.optimizers.Adam, {"m": "_momentums", "v": "_velocities"}),
              "rmsprop": (keras.optimizers.RMSprop, {"v": "_velocities"})}


def optimizer_steps(kind, w, grads, **hyper):
    """``keras.optimizers.<kind>(**hyper)`` applied to a float64 variable, one step per gradient: the
    weights and the optimizer's slots after each step (``sgd``: the velocity ``v``; ``adam``: ``m``,
    ``v``; ``rmsprop``: ``v``).  Created under the default floatx, so its learning rate is a float32
    variable, as Keras's always is."""
    cls, slots = OPTIMIZERS[kind]
    var = keras.Variable(w, dtype=F64)
    opt = cls(**hyper)
    out = []
    for g in grads:
        opt.apply_gradients([(tf.constant(g), var)])
        out.append({"w": np.array(var.numpy()),
                    **{name: np.array(getattr(opt, attr)[0].numpy()) for name, attr in slots.items()}})
    return out


def conv_backward(x, W, b, dz):
    """``keras.layers.Conv2D`` (stride 1, 'valid', channels-last) with kernel ``W`` and bias ``b``: dx, dW, db."""
    kh, kw, _, F = W.shape
    layer = keras.layers.Conv2D(F, (kh, kw), dtype=F64)
    layer.build(x.shape)
    layer.set_weights([W, b])
    _, dx, (dW, db) = _tape(layer, [layer.kernel, layer.bias], x, dz)
    return {"dx": dx, "dW": dW, "db": db}


def maxpool_backward(x, da, pool):
    """``keras.layers.MaxPooling2D(pool)`` (strides = pool, 'valid'): dx."""
    layer = keras.layers.MaxPooling2D(pool, dtype=F64)
    _, dx, _ = _tape(layer, [], x, da)
    return {"dx": dx}


def scale_backward(x, gamma, da):
    """A per-feature scale ``a = x * gamma`` is a Dense layer whose kernel is ``diag(gamma)``, without
    bias: ``keras.layers.Dense`` under a tape, then the diagonal of its dW is d(gamma)."""
    layer = keras.layers.Dense(len(gamma), use_bias=False, dtype=F64)
    layer.build(x.shape)
    layer.set_weights([np.diag(gamma)])
    a, dx, (dW,) = _tape(layer, [layer.kernel], x, da)
    return {"a": a, "dx": dx, "dgamma": np.diag(dW).copy()}


def softplus_backward(z, da):
    """``keras.activations.softplus`` under a tape: a and dz."""
    a, dz, _ = _tape(lambda v, training=False: keras.activations.softplus(v), [], z, da)
    return {"a": a, "dz": dz}
