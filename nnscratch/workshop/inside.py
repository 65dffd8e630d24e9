"""Inside the networks: what the workshop's models learned, and why a deeper sigmoid network learns slower.

Numbers behind the report's pictures of the inside of the networks (the pictures themselves are
drawn by :mod:`nnscratch.plotting`):

* :func:`template_match`: how well the one-layer model's ten weight columns, seen as 28 x 28 images,
  match the ten class means;
* :func:`hidden_activations`: every hidden layer's outputs on a batch (sigmoid saturation);
* :func:`feature_maps`: what the convnet's first layer makes of one digit;
* :func:`gradient_norms`: the mean ``|dL/dW|`` of each layer at initialisation, sigmoid against ReLU,
  at several depths: the reason the depth sweep looks as it does.
"""
import numpy as np

from ..layers import Dense
from ..models import Sequential


def template_match(kernel, X, y, classes=10):
    """``corr[j, k]``: the correlation between weight column ``j`` of a one-layer model's kernel
    ``(784, C)`` and the mean image of class ``k`` minus the mean of all images (what sets class ``k``
    apart).  A model that learned templates has its largest entry of row ``j`` at ``k = j``."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    centre = X.mean(axis=0)
    means = np.stack([X[y == k].mean(axis=0) - centre for k in range(classes)])      # (C, 784)
    W = np.asarray(kernel, dtype=np.float64).T                                         # (C, 784)
    W = (W - W.mean(axis=1, keepdims=True)) / W.std(axis=1, keepdims=True)
    M = (means - means.mean(axis=1, keepdims=True)) / means.std(axis=1, keepdims=True)
    return W @ M.T / W.shape[1]


def hidden_activations(model, X, skip=("linear", "softmax")):
    """``{'<layer name> (<activation>)': outputs}`` for every layer of ``model`` with an activation
    other than ``skip``, on the rows ``X`` (inference: dropout off).  Copies, not work arrays."""
    out, h = {}, X
    for layer in model.layers:
        h = layer.forward(h, training=False)
        act = getattr(layer, "activation", None)
        if act is not None and act.name not in skip:
            out[f"{layer.name} ({act.name})"] = np.array(h)
    return out


def saturated_fraction(a, margin=0.05):
    """The fraction of sigmoid outputs within ``margin`` of 0 or 1, where ``a(1 - a) < margin``."""
    a = np.asarray(a)
    return float(np.mean((a < margin) | (a > 1 - margin)))


def feature_maps(model, image):
    """The outputs of ``model``'s first layer (a Conv2D, after its activation) for one ``image
    (H, W, C)``: ``(OH, OW, F)``."""
    return np.array(model.layers[0].forward(np.asarray(image, dtype=model.dtype)[None], training=False)[0])


def gradient_model(depth, activation, units, input_dim=784, classes=10, seed=0):
    """``depth`` Dense layers (``depth - 1`` hidden ones of ``units`` with ``activation``, then a
    softmax output), Keras's default initialisation (Glorot uniform, zero biases), no dropout."""
    layers = [Dense(units, activation=activation, input_shape=(input_dim,), seed=seed)]
    layers += [Dense(units, activation=activation, seed=seed + k) for k in range(1, depth - 1)]
    layers += [Dense(classes, activation="softmax", seed=seed + depth)]
    return Sequential(layers)


def gradient_norms(X, Y, depths=(2, 4, 6), activations=("sigmoid", "relu"), units=512, seed=0):
    """``{'<activation>, <depth> layers': [mean |dW| of layer 1, ..., of layer depth]}``: one backward
    pass at initialisation on the rows ``X`` (one-hot ``Y``), before any step.  Each sigmoid layer
    multiplies the gradient by ``sigmoid' <= 1/4``, so it shrinks towards the input; ReLU's
    derivative is 0 or 1 and Glorot's initialisation keeps its size."""
    out = {}
    for depth in depths:
        for act in activations:
            model = gradient_model(depth, act, units, X.shape[1], Y.shape[1], seed)
            model.compute_gradients(X, Y, training=True)
            out[f"{act}, {depth} layers"] = [float(np.mean(np.abs(layer.d_kernel))) for layer in model.layers]
    return out
