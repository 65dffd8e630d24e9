"""Weights both ways, so nnscratch and Keras start from the same numbers.

Both libraries order parameters ``[W1, b1, W2, b2, ...]`` with kernels of shape ``(in, out)`` (rows
are samples: ``z = x @ W + b``), so transfer is a copy, checked for count, shape and dtype.
"""
import numpy as np

import nnscratch
from nnscratch import layers as nn_layers


def _check(src, dst, what):
    if len(src) != len(dst):
        raise ValueError(f"{what}: {len(src)} weight arrays but the target has {len(dst)}")
    for i, (a, b) in enumerate(zip(src, dst)):
        if tuple(a.shape) != tuple(b.shape):
            raise ValueError(f"{what}: weight {i} has shape {tuple(a.shape)}, target expects {tuple(b.shape)}")


def to_keras(nn_model, keras_model):
    """Copy nnscratch's weights into ``keras_model`` (cast to the Keras variables' dtype). Returns it."""
    src = nn_model.get_weights()
    dst = keras_model.get_weights()
    _check(src, dst, "to_keras")
    keras_model.set_weights([w.astype(d.dtype, copy=False) for w, d in zip(src, dst)])
    return keras_model


def to_nnscratch(keras_model, nn_model):
    """Copy Keras's weights into ``nn_model`` (cast to its dtype). Returns it."""
    src = keras_model.get_weights()
    _check(src, nn_model.trainable_weights, "to_nnscratch")
    nn_model.set_weights([np.asarray(w, dtype=nn_model.dtype) for w in src])
    return nn_model


def nnscratch_twin(keras_model, dtype=None):
    """The nnscratch ``Sequential`` with the same Dense/Activation/Dropout/Flatten/Softmax stack and
    weights as a Keras ``Sequential`` (compiled with Adam's defaults unless you compile it again)."""
    import keras
    dtype = dtype or (keras_model.layers[0].dtype if keras_model.layers else "float32")
    model = nnscratch.Sequential(dtype=dtype)
    first = True
    for layer in keras_model.layers:
        kw = {"input_shape": tuple(int(d) for d in keras_model.input_shape[1:])} if first else {}
        if isinstance(layer, keras.layers.Dense):
            model.add(nn_layers.Dense(layer.units, activation=layer.activation.__name__, **kw))
        elif isinstance(layer, keras.layers.Activation):
            model.add(nn_layers.Activation(layer.activation.__name__, **kw))
        elif isinstance(layer, keras.layers.Dropout):
            model.add(nn_layers.Dropout(layer.rate, **kw))
        elif isinstance(layer, keras.layers.Flatten):
            model.add(nn_layers.Flatten(**kw))
        elif isinstance(layer, keras.layers.Softmax) and layer.axis in (-1, [-1], (-1,)):
            model.add(nn_layers.Softmax(**kw))
        else:
            raise ValueError(f"nnscratch_twin: no nnscratch twin for Keras layer {layer.name} "
                             f"({type(layer).__name__})")
        first = False
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return to_nnscratch(keras_model, model)
