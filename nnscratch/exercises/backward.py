"""The backward-pass exercises: Dense, the activations, softmax + cross-entropy, dropout, Conv2D, max
pooling and a layer of your own.  Each: the stub, its inputs, and the answers of finite differences,
nnscratch and Keras (see :mod:`.catalog`)."""
import numpy as np

from .. import activations, backend, losses
from ..conv import Conv2D, MaxPooling2D, conv_forward_naive
from ..layers import Dense, Dropout
from .exercise import Exercise, _fd, _header


# ============================================================================================ Dense
def _dense_layer(W, b):
    layer = Dense(W.shape[1], seed=0)
    layer.build((W.shape[0],), "float64")
    layer.kernel[...], layer.bias[...] = W, b
    return layer


def _dense_inputs(rng):
    N, D, M = 4, 5, 3
    return {"N": N, "x": rng.standard_normal((N, D)), "W": rng.standard_normal((D, M)),
            "b": rng.standard_normal(M), "dz": rng.standard_normal((N, M))}


def _dense_library(i):
    layer = _dense_layer(i["W"], i["b"])
    with backend.use("numpy"):
        layer.forward(i["x"], training=True)
        dx = layer.backward(i["dz"])
    return {"dx": dx, "dW": layer.d_kernel.copy(), "db": layer.d_bias.copy()}


def _dense_numeric(_, i):
    x, layer = i["x"].copy(), _dense_layer(i["W"], i["b"])
    with backend.use("numpy"):
        return _fd(lambda: float(np.sum(layer.forward(x) * i["dz"])),
                   {"dx": x, "dW": layer.kernel, "db": layer.bias})


def _dense_run(mod, i):
    dx, dW, db = mod.dense_backward(i["dz"], i["x"], i["W"])
    return {"dx": dx, "dW": dW, "db": db}


DENSE = Exercise(
    "dense_backward", "the Dense layer's backward pass", "dense", "dense_backward(dz, x, W) -> (dx, dW, db)",
    _header("dense_backward", "the Dense layer's backward pass", "dense", """
The forward pass (nnscratch/layers.py, Dense.forward) is

    z = x @ W + b            x (N, D), W (D, M), b (M,)  ->  z (N, M)

Given dz = dL/dz (N, M), return the gradients of the loss with respect to x, W and b.  Work it out one
index at a time first: z[n, m] = sum_d x[n, d] W[d, m] + b[m].  Which entries z[n, m] does W[d, m]
touch?  Then write it with matrix products (no loops needed).""") + '''

def dense_backward(dz, x, W):
    """dz (N, M), x (N, D), W (D, M)  ->  dx (N, D), dW (D, M), db (M,)."""
    # TODO: dW = ..., db = ..., dx = ...
    raise NotImplementedError("TODO: write the Dense backward pass")
''',
    _dense_inputs, _dense_run, _dense_library, "nnscratch.layers.Dense.backward",
    lambda ref, i: (ref.dense_backward(i["x"], i["W"], i["b"], i["dz"]), {}),
    "keras.layers.Dense under tf.GradientTape",
    _dense_numeric, "nnscratch's Dense.forward",
)


# ========================================================================================== sigmoid
def _sigmoid_inputs(rng):
    z = rng.standard_normal((4, 6)) * 3
    return {"N": 4, "z": z, "a": activations.sigmoid(z), "da": rng.standard_normal((4, 6))}


def _sigmoid_numeric(_, i):
    z = i["z"].copy()
    return _fd(lambda: float(np.sum(activations.sigmoid(z) * i["da"])), {"dz": z})


SIGMOID = Exercise(
    "sigmoid_backward", "an activation's derivative: sigmoid", "sigmoid",
    "sigmoid_backward(z, a, da) -> dz",
    _header("sigmoid_backward", "an activation's derivative: sigmoid", "sigmoid", """
The forward pass (nnscratch/activations.py, sigmoid) is, element by element,

    a = sigmoid(z) = 1 / (1 + exp(-z))          z, a (N, M)

Given da = dL/da (N, M), return dz = dL/dz (N, M).  Differentiate sigmoid and write its derivative with
what the forward pass already computed: a.""") + '''

def sigmoid_backward(z, a, da):
    """z, a = sigmoid(z), da: all (N, M)  ->  dz (N, M)."""
    # TODO: dz = da * sigmoid'(z), with sigmoid'(z) written using a
    raise NotImplementedError("TODO: write sigmoid's derivative")
''',
    _sigmoid_inputs, lambda mod, i: {"dz": mod.sigmoid_backward(i["z"], i["a"], i["da"])},
    lambda i: {"dz": activations.sigmoid_backward(i["z"], i["a"], i["da"])},
    "nnscratch.activations.sigmoid_backward",
    lambda ref, i: (ref.activation_backward("sigmoid", i["z"], i["da"]), {}),
    "keras.activations.sigmoid under tf.GradientTape",
    _sigmoid_numeric, "nnscratch's sigmoid",
    mistakes=[
        ("sigmoid'(z) = a (1 - a) is in terms of a, the output; you used z where a belongs",
         lambda i: {"dz": i["da"] * i["z"] * (1 - i["z"])}),
        ("a factor is missing: sigmoid'(z) = a (1 - a), then times da", lambda i: {"dz": i["da"] * i["a"]}),
        ("a factor is missing: sigmoid'(z) = a (1 - a), then times da", lambda i: {"dz": i["da"] * (1 - i["a"])}),
        ("the chain rule: multiply sigmoid'(z) by the incoming gradient da",
         lambda i: {"dz": i["a"] * (1 - i["a"])}),
    ],
)


# ============================================================================ tanh, relu, softmax
def _activation_inputs(forward, scale=2.0, shape=(4, 6), away_from_zero=False):
    def inputs(rng):
        z = rng.standard_normal(shape) * scale
        if away_from_zero:                                # no kink inside a finite difference's step
            z += 0.1 * np.sign(z)
        return {"N": shape[0], "z": z, "a": forward(z), "da": rng.standard_normal(shape)}
    return inputs


def _activation_exercise(name, title, anchor, forward, library_backward, keras_name, body, todo, mistakes,
                         away_from_zero=False):
    def numeric(_, i):
        z = i["z"].copy()
        return _fd(lambda: float(np.sum(forward(z) * i["da"])), {"dz": z})
    return Exercise(
        name, title, anchor, f"{name}(z, a, da) -> dz",
        _header(name, title, anchor, body) + f'''

def {name}(z, a, da):
    """z, a = f(z), da: all (N, M)  ->  dz (N, M)."""
    # TODO: {todo}
    raise NotImplementedError("TODO: write {name}")
''',
        _activation_inputs(forward, away_from_zero=away_from_zero),
        lambda mod, i: {"dz": getattr(mod, name)(i["z"], i["a"], i["da"])},
        lambda i: {"dz": library_backward(i["z"], i["a"], i["da"])}, f"nnscratch.activations.{name}",
        lambda ref, i: (ref.activation_backward(keras_name, i["z"], i["da"]), {}),
        f"keras.activations.{keras_name} under tf.GradientTape", numeric, f"nnscratch's {keras_name}",
        mistakes=mistakes)


TANH = _activation_exercise(
    "tanh_backward", "an activation's derivative: tanh", "tanh", activations.tanh, activations.tanh_backward,
    "tanh", """
The forward pass (nnscratch/activations.py, tanh) is, element by element, a = tanh(z), z and a (N, M).
Given da = dL/da, return dz = dL/dz.  Write tanh's derivative with a, the forward pass's output.""",
    "dz = da * tanh'(z), with tanh'(z) written using a",
    [("tanh'(z) = 1 - tanh(z)^2 = 1 - a^2: the square is missing", lambda i: {"dz": i["da"] * (1 - i["a"])}),
     ("tanh'(z) = 1 - a^2 is in terms of a, the output; you used z", lambda i: {"dz": i["da"] * (1 - i["z"] ** 2)})])

RELU = _activation_exercise(
    "relu_backward", "an activation's derivative: ReLU", "relu", activations.relu, activations.relu_backward,
    "relu", """
The forward pass (nnscratch/activations.py, relu) is a = max(z, 0), element by element, z and a (N, M).
Given da = dL/da, return dz = dL/dz.  (At exactly z = 0 take the derivative as 0, as TensorFlow does.)""",
    "dz = da * relu'(z)",
    [("relu'(z) is 0 or 1 (is z > 0?), not the output a itself", lambda i: {"dz": i["da"] * i["a"]}),
     ("the chain rule: multiply relu'(z) by the incoming gradient da", lambda i: {"dz": (i["z"] > 0) * 1.0})],
    away_from_zero=True)

SOFTMAX = _activation_exercise(
    "softmax_backward", "softmax's backward pass (its Jacobian)", "softmax-jacobian", activations.softmax,
    activations.softmax_backward, "softmax", """
Softmax works on each row: a[n, j] = exp(z[n, j]) / sum_k exp(z[n, k]), z and a (N, M).  Every output of
a row depends on every input of that row.  Given da = dL/da, return dz = dL/dz, without building the
M x M Jacobian: differentiate a[n, j] with respect to z[n, i] first.""",
    "dz[n, i] = sum_j da[n, j] * (partial a[n, j] / partial z[n, i]), one dot product per row",
    [("softmax is not element-wise: its Jacobian diag(a) - a a^T is not diagonal, so "
      "dz_i = a_i (da_i - sum_j da_j a_j), not da_i a_i (1 - a_i)",
      lambda i: {"dz": i["da"] * i["a"] * (1 - i["a"])})])


# ========================================================================= softmax + cross-entropy
def _sce_inputs(rng):
    N, C = 5, 4
    return {"N": N, "z": rng.standard_normal((N, C)) * 2, "y": np.eye(C)[rng.integers(0, C, N)]}


def _sce_numeric(_, i):
    z = i["z"].copy()
    return _fd(lambda: float(losses.softmax_crossentropy_from_logits(i["y"], z)), {"dz": z})


SOFTMAX_CE = Exercise(
    "softmax_crossentropy", "the gradient of softmax + cross-entropy", "softmax-cross-entropy",
    "softmax_crossentropy_gradient(z, y) -> dz",
    _header("softmax_crossentropy", "the gradient of softmax + cross-entropy", "softmax-cross-entropy", """
The loss (nnscratch/losses.py, softmax_crossentropy_from_logits) of a batch of logits z (N, C) and
one-hot targets y (N, C) is the MEAN over the N rows of the cross-entropy of p = softmax(z):

    p[n, j] = exp(z[n, j]) / sum_k exp(z[n, k])
    L = (1/N) sum_n ( -sum_j y[n, j] log p[n, j] )

Return dz = dL/dz (N, C).  Write log p[n, j] = z[n, j] - log sum_k exp(z[n, k]) first, and use that
every row of y sums to 1.""") + '''

def softmax(z):
    """Row-wise softmax, shifted by the row maximum so exp never overflows (done for you)."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_crossentropy_gradient(z, y):
    """z (N, C) logits, y (N, C) one-hot  ->  dz = dL/dz (N, C), L the mean over the batch."""
    # TODO
    raise NotImplementedError("TODO: write the gradient of softmax + cross-entropy")
''',
    _sce_inputs, lambda mod, i: {"dz": mod.softmax_crossentropy_gradient(i["z"], i["y"])},
    lambda i: {"dz": losses.softmax_crossentropy_from_logits_gradient(i["y"], activations.softmax(i["z"]))},
    "nnscratch.losses.softmax_crossentropy_from_logits_gradient",
    lambda ref, i: (ref.softmax_crossentropy_gradient(i["z"], i["y"]), {}),
    "keras.losses.CategoricalCrossentropy(from_logits=True) under tf.GradientTape",
    _sce_numeric, "nnscratch's softmax_crossentropy_from_logits",
    mistakes=[("p = softmax(z), not z itself: dz = (softmax(z) - y) / N",
               lambda i: {"dz": (i["z"] - i["y"]) / i["N"]})],
)


# ========================================================================================== dropout
def _dropout_inputs(rng):
    rate, shape = 0.25, (6, 8)
    x = rng.standard_normal(shape)
    x[x == 0] = 1.0                                       # no zeros: a != 0 marks the kept units
    return {"N": shape[0], "x": x, "rate": rate, "keep": rng.random(shape) >= rate, "da": rng.standard_normal(shape)}


def _dropout_run(mod, i):
    a, mask = mod.dropout_forward(i["x"], i["keep"], i["rate"])
    return {"a": a, "dx": mod.dropout_backward(i["da"], mask)}


def _dropout_library(i):
    layer = Dropout(i["rate"], seed=0)
    layer.mask_source = lambda shape, dtype: i["keep"]
    with backend.use("numpy"):
        a = layer.forward(i["x"], training=True)
        return {"a": a, "dx": layer.backward(i["da"])}


def _dropout_numeric(mod, i):
    x = i["x"].copy()
    return _fd(lambda: float(np.sum(np.asarray(mod.dropout_forward(x, i["keep"], i["rate"])[0]) * i["da"])),
               {"dx": x})


def _dropout_keras(ref, i):
    answer = ref.dropout(i["x"], i["da"], i["rate"])
    return {"a": answer["a"], "dx": answer["dx"]}, {"keep": answer["keep"]}   # Keras's own mask


DROPOUT = Exercise(
    "dropout", "dropout, forward and backward", "dropout",
    "dropout_forward(x, keep, rate) -> (a, mask);  dropout_backward(da, mask) -> dx",
    _header("dropout", "dropout, forward and backward", "dropout", """
In training, Dropout(rate) keeps each unit with probability 1 - rate (keep is a boolean array the
caller draws for you: keep = U >= rate) and scales the kept units so that the expected value of the
output equals the input, E[a] = x.  At inference it does nothing.

Write the training forward pass (return the output a and the mask your backward needs) and the backward
pass.  What must the kept units be multiplied by for E[a] = x?""") + '''

def dropout_forward(x, keep, rate):
    """x (N, M), keep (N, M) booleans, rate: the fraction dropped  ->  a (N, M), mask (N, M)."""
    # TODO: mask = ..., a = ...
    raise NotImplementedError("TODO: write dropout's forward pass")


def dropout_backward(da, mask):
    """da (N, M), the mask of dropout_forward  ->  dx (N, M)."""
    # TODO
    raise NotImplementedError("TODO: write dropout's backward pass")
''',
    _dropout_inputs, _dropout_run, _dropout_library, "nnscratch.layers.Dropout (forward and backward)",
    _dropout_keras, "keras.layers.Dropout(training=True) under tf.GradientTape, with the mask Keras drew",
    _dropout_numeric, "your dropout_forward (same mask)",
    mistakes=[
        ("the kept units must be scaled by 1/(1 - rate), so that E[a] = x",
         lambda i: {"a": i["x"] * i["keep"], "dx": i["da"] * i["keep"]}),
        ("rate is the fraction DROPPED (as in Keras and PyTorch): scale by 1/(1 - rate), not 1/rate",
         lambda i: {"a": i["x"] * i["keep"] / i["rate"], "dx": i["da"] * i["keep"] / i["rate"]}),
    ],
)


# =========================================================================================== Conv2D
def _conv_layer(W, b):
    layer = Conv2D(W.shape[3], W.shape[:2], seed=0)
    layer.build((5, 5, W.shape[2]), "float64")
    layer.kernel[...], layer.bias[...] = W, b
    return layer


def _conv_inputs(rng):
    return {"N": 2, "x": rng.standard_normal((2, 5, 5, 2)), "W": rng.standard_normal((3, 3, 2, 3)),
            "b": rng.standard_normal(3), "dz": rng.standard_normal((2, 3, 3, 3))}


def _conv_library(i):
    layer = _conv_layer(i["W"], i["b"])
    with backend.use("numpy"):
        layer.forward(i["x"], training=True)
        dx = layer.backward(i["dz"])
    return {"dx": dx, "dW": layer.d_kernel.copy(), "db": layer.d_bias.copy()}


def _conv_numeric(_, i):
    x, layer = i["x"].copy(), _conv_layer(i["W"], i["b"])
    with backend.use("numpy"):
        return _fd(lambda: float(np.sum(layer.forward(x) * i["dz"])),
                   {"dx": x, "dW": layer.kernel, "db": layer.bias})


def _conv_unflipped(i):
    """dx computed as a correlation of the padded dz with the kernel NOT flipped: the classic mistake."""
    kh, kw = i["W"].shape[:2]
    dzp = np.pad(i["dz"], ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
    return {"dx": conv_forward_naive(dzp, i["W"].transpose(0, 1, 3, 2))}


def _conv_run(mod, i):
    dx, dW, db = mod.conv2d_backward(i["dz"], i["x"], i["W"])
    return {"dx": dx, "dW": dW, "db": db}


CONV = Exercise(
    "conv2d_backward", "Conv2D's backward pass", "conv2d", "conv2d_backward(dz, x, W) -> (dx, dW, db)",
    _header("conv2d_backward", "Conv2D's backward pass", "conv2d", """
A 2-D convolution with stride 1 and no padding ('valid'), channels last, as Keras computes it
(nnscratch/conv.py, conv_forward_naive; the forward is written out for you below):

    z[n, r, c, f] = b[f] + sum_{i, j, ch} x[n, r + i, c + j, ch] * W[i, j, ch, f]

    x (N, H, W, C), W (kh, kw, C, F), b (F,)  ->  z (N, H - kh + 1, W - kw + 1, F)

Given dz = dL/dz, return dx, dW and db.  Plain loops are fine: which z[n, r, c, f] does x[n, h, w, ch]
appear in, and multiplied by what?""") + '''

def conv2d_forward(x, W, b):
    """The forward pass, as plain loops (done for you, to read)."""
    N, H, Wd, C = x.shape
    kh, kw, _, F = W.shape
    z = np.zeros((N, H - kh + 1, Wd - kw + 1, F))
    for n in range(N):
        for r in range(H - kh + 1):
            for c in range(Wd - kw + 1):
                for f in range(F):
                    z[n, r, c, f] = b[f] + np.sum(x[n, r:r + kh, c:c + kw, :] * W[:, :, :, f])
    return z


def conv2d_backward(dz, x, W):
    """dz (N, OH, OW, F), x (N, H, W, C), W (kh, kw, C, F)  ->  dx (N, H, W, C), dW (kh, kw, C, F), db (F,)."""
    # TODO
    raise NotImplementedError("TODO: write Conv2D's backward pass")
''',
    _conv_inputs, _conv_run, _conv_library, "nnscratch.conv.Conv2D.backward (im2col / col2im)",
    lambda ref, i: (ref.conv_backward(i["x"], i["W"], i["b"], i["dz"]), {}),
    "keras.layers.Conv2D under tf.GradientTape",
    _conv_numeric, "nnscratch's Conv2D.forward",
    mistakes=[("dx is a correlation of the zero-padded dz with the kernel FLIPPED in both spatial axes "
               "(W[::-1, ::-1]); yours pairs each weight with the wrong neighbour", _conv_unflipped)],
)


# ===================================================================================== max pooling
def _pool_inputs(rng):
    return {"N": 2, "x": rng.standard_normal((2, 4, 6, 3)), "da": rng.standard_normal((2, 2, 3, 3))}


def _pool_layer():
    layer = MaxPooling2D((2, 2))
    layer.build((4, 6, 3), "float64")
    return layer


def _pool_library(i):
    layer = _pool_layer()
    with backend.use("numpy"):
        layer.forward(i["x"], training=True)
        return {"dx": layer.backward(i["da"])}


def _pool_numeric(_, i):
    x, layer = i["x"].copy(), _pool_layer()
    with backend.use("numpy"):
        return _fd(lambda: float(np.sum(layer.forward(x) * i["da"])), {"dx": x})


def _upsampled(i, scale=1.0):
    return {"dx": np.repeat(np.repeat(i["da"], 2, axis=1), 2, axis=2) * scale}


POOL = Exercise(
    "maxpool_backward", "max pooling's backward pass", "max-pooling", "maxpool_backward(da, x, pool=2) -> dx",
    _header("maxpool_backward", "max pooling's backward pass", "max-pooling", """
MaxPooling2D(pool) with strides = pool and no padding, channels last (nnscratch/conv.py,
maxpool_forward_naive):

    a[n, r, c, ch] = max_{0 <= i, j < pool} x[n, r*pool + i, c*pool + j, ch]

    x (N, H, W, C)  ->  a (N, H // pool, W // pool, C)

Given da = dL/da, return dx = dL/dx (N, H, W, C).  Which entries of a window change the maximum when
they change a little?  (The check uses inputs without ties.)""") + '''

def maxpool_backward(da, x, pool=2):
    """da (N, H // pool, W // pool, C), x (N, H, W, C)  ->  dx (N, H, W, C)."""
    # TODO
    raise NotImplementedError("TODO: write max pooling's backward pass")
''',
    _pool_inputs, lambda mod, i: {"dx": mod.maxpool_backward(i["da"], i["x"], 2)}, _pool_library,
    "nnscratch.conv.MaxPooling2D.backward",
    lambda ref, i: (ref.maxpool_backward(i["x"], i["da"], (2, 2)), {}),
    "keras.layers.MaxPooling2D under tf.GradientTape",
    _pool_numeric, "nnscratch's MaxPooling2D.forward",
    mistakes=[("the gradient goes to the maximum of each window only, not to every entry of the window",
               _upsampled),
              ("that is average pooling's gradient: max pooling sends all of da to the window's maximum",
               lambda i: _upsampled(i, 0.25))],
)


# =================================================================================== your own layer
def _scale_inputs(rng):
    return {"N": 5, "x": rng.standard_normal((5, 4)), "gamma": rng.standard_normal(4),
            "da": rng.standard_normal((5, 4))}


def _their_scale(mod, i):
    layer = mod.Scale()
    layer.build((i["x"].shape[1],), "float64")
    layer.weights[0][...] = i["gamma"]
    return layer


def _scale_run(mod, i):
    layer = _their_scale(mod, i)
    a = np.array(layer.forward(i["x"].copy(), training=True), dtype=np.float64)
    dx = layer.backward(i["da"].copy())
    return {"a": a, "dx": dx, "dgamma": np.array(layer.grads[0], dtype=np.float64)}


def _scale_library(i):
    layer = _dense_layer(np.diag(i["gamma"]), np.zeros(len(i["gamma"])))   # x @ diag(gamma) = x * gamma
    with backend.use("numpy"):
        a = layer.forward(i["x"], training=True).copy()
        dx = layer.backward(i["da"])
    return {"a": a, "dx": dx, "dgamma": np.diag(layer.d_kernel).copy()}


def _scale_numeric(mod, i):
    layer, x = _their_scale(mod, i), i["x"].copy()
    return _fd(lambda: float(np.sum(np.asarray(layer.forward(x, training=True)) * i["da"])),
               {"dx": x, "dgamma": layer.weights[0]})


SCALE = Exercise(
    "my_layer", "a layer of your own: Scale, a learnable scale per feature", "docs/write-your-own.md",
    "class Scale(Layer): build, forward, backward",
    _header("my_layer", "a layer of your own: Scale, a learnable scale per feature", "docs/write-your-own.md", """
A layer with one weight per feature, gamma (D,), that scales each feature:

    a[n, d] = x[n, d] * gamma[d]            x, a (N, D)

Fill in forward and backward, following the layer contract of nnscratch/layers.py: forward keeps in
self.cache what backward needs; backward WRITES the weight's gradient into self.d_gamma (the array in
self.grads, which the optimizer reads) and returns dL/dx.  gamma is broadcast over the rows in the
forward pass: what does that make its gradient?  When it passes, docs/write-your-own.md trains it and
compares it with Keras.""") + '''
from nnscratch.layers import Layer


class Scale(Layer):
    """a = x * gamma, gamma (D,) one learnable scale per feature; x, a (N, D)."""

    def build(self, input_shape, dtype="float32"):
        super().build(input_shape, dtype)
        self.gamma = np.ones(self.built_input_shape[-1], dtype=self.dtype)      # (D,)
        self.d_gamma = np.zeros_like(self.gamma)                                # (D,)
        self.weights, self.grads = [self.gamma], [self.d_gamma]

    def forward(self, x, training=False):
        """x (N, D) -> a (N, D)."""
        # TODO: self.cache = ...; return ...
        raise NotImplementedError("TODO: write Scale.forward")

    def backward(self, da, need_dx=True):
        """da (N, D) -> dx (N, D); writes d_gamma (D,) into self.d_gamma."""
        # TODO: self.d_gamma[...] = ...; return ...
        raise NotImplementedError("TODO: write Scale.backward")
''',
    _scale_inputs, _scale_run, _scale_library, "nnscratch.layers.Dense with kernel diag(gamma)",
    lambda ref, i: (ref.scale_backward(i["x"], i["gamma"], i["da"]), {}),
    "keras.layers.Dense with kernel diag(gamma) under tf.GradientTape",
    _scale_numeric, "your Scale.forward",
    mistakes=[("dx = da * gamma: the gradient for x is scaled by gamma, not by x",
               lambda i: {"dx": i["da"] * i["x"]})],
)
