"""Weights both ways, so nnscratch and Keras start from the same numbers.

Both libraries order parameters ``[W1, b1, W2, b2, ...]`` with Dense kernels of shape ``(in, out)``
(rows are samples: ``z = x @ W + b``) and Conv2D kernels of shape ``(kh, kw, C_in, C_out)``
(channels-last), so transfer is a copy, checked for count, shape and dtype.
"""
import numpy as np

import nnscratch
from nnscratch import conv as nn_conv
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
    _check(src, nn_model.weights, "to_nnscratch")
    nn_model.set_weights([np.asarray(w, dtype=nn_model.dtype) for w in src])
    return nn_model


def nnscratch_layer_like(layer, **kw):
    """The nnscratch layer computing what the Keras ``layer`` computes (``kw``: ``input_shape``)."""
    import keras
    act = getattr(layer, "activation", None)
    act = None if act is None else act.__name__
    if isinstance(layer, keras.layers.Dense):
        return nn_layers.Dense(layer.units, activation=act, **kw)
    if isinstance(layer, keras.layers.Activation):
        return nn_layers.Activation(act, **kw)
    if isinstance(layer, keras.layers.Dropout):
        return nn_layers.Dropout(layer.rate, **kw)
    if isinstance(layer, keras.layers.Flatten):
        return nn_layers.Flatten(**kw)
    if isinstance(layer, keras.layers.Softmax) and layer.axis in (-1, [-1], (-1,)):
        return nn_layers.Softmax(**kw)
    if isinstance(layer, keras.layers.Conv2D) and type(layer) is keras.layers.Conv2D:
        if layer.data_format != "channels_last" or tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1:
            raise ValueError(f"nnscratch_twin: {layer.name}: nnscratch's Conv2D is channels-last, without "
                             "dilation or groups")
        return nn_conv.Conv2D(layer.filters, tuple(layer.kernel_size), strides=tuple(layer.strides),
                                padding=layer.padding, activation=act, use_bias=layer.use_bias, **kw)
    if isinstance(layer, keras.layers.MaxPooling2D):
        if layer.data_format != "channels_last":
            raise ValueError(f"nnscratch_twin: {layer.name}: nnscratch's MaxPooling2D is channels-last")
        return nn_conv.MaxPooling2D(tuple(layer.pool_size), strides=tuple(layer.strides),
                                      padding=layer.padding, **kw)
    raise ValueError(f"nnscratch_twin: no nnscratch twin for Keras layer {layer.name} ({type(layer).__name__})")


def nnscratch_twin(keras_model, dtype=None):
    """The nnscratch ``Sequential`` with the same stack (Dense, Activation, Softmax, Dropout, Flatten,
    Conv2D, MaxPooling2D) and weights as a Keras ``Sequential`` (compiled with Adam's defaults unless you
    compile it again)."""
    dtype = dtype or (keras_model.layers[0].dtype if keras_model.layers else "float32")
    model = nnscratch.Sequential(dtype=dtype)
    for i, layer in enumerate(keras_model.layers):
        kw = {"input_shape": tuple(int(d) for d in keras_model.input_shape[1:])} if i == 0 else {}
        model.add(nnscratch_layer_like(layer, **kw))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return to_nnscratch(keras_model, model)
