"""Convolution and max-pooling layers, channels-last, as ``keras.layers.Conv2D`` / ``MaxPooling2D``.

Shapes (channels-last, Keras's default): a batch of images ``x`` is ``(N, H, W, C)``: N samples,
H rows, W columns, C channels (1 for MNIST: ``input_shape=(28, 28, 1)``).

Read in this order:

1. :func:`conv_forward_naive` and :func:`maxpool_forward_naive`: the definitions, as plain loops
   (after CS231n's ``conv_forward_naive``), each with its backward beside it
   (:func:`conv_backward_naive`, :func:`maxpool_backward_naive`).  Slow; tests check the layers
   against them.  Derivations: ``docs/derivations.md``.
2. :func:`im2col` / :func:`col2im`: a convolution is a matrix product once every receptive field
   is copied into one row ("image to columns").  The loops here run over the kernel's ``kh * kw``
   positions only, never over samples.
3. :class:`Conv2D` and :class:`MaxPooling2D`: ``forward``/``backward`` with the CS231n cache contract
   (see ``layers.py``), each with the plain NumPy expression and, in one line beside it, the call
   into the engine (``engine/fast.py``) that computes the same thing without the copies.

Padding, as Keras (TensorFlow) computes it: ``'valid'``: no padding, ``out = floor((n - k) / s) + 1``;
``'same'``: ``out = ceil(n / s)`` and ``total = max((out - 1) * s + k - n, 0)`` zeros are added,
``total // 2`` before and the rest after (the extra one goes at the bottom/right).  Max pooling
pads with ``-inf`` (a padded cell is never the maximum).
"""
import numpy as np

from . import activations as activations_module
from . import backend, initializers, registry
from .engine import fast
from .layers import Layer, _unique_name
from .utils import make_rng

PADDINGS = ("valid", "same")


# ===================================================================================== geometry
def _pair(value, what):
    """``3 -> (3, 3)``; ``(3, 2) -> (3, 2)``; positive integers only."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    try:
        pair = tuple(value)
    except TypeError:
        pair = ()
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
                                 for v in pair):
        raise ValueError(f"{what} must be a positive integer or a pair of them, e.g. 3 or (3, 3); "
                         f"got {value!r}")
    return int(pair[0]), int(pair[1])


def _padding(value, what):
    p = str(value).lower() if isinstance(value, str) else value
    if p not in PADDINGS:
        raise ValueError(f"{what}: padding must be 'valid' or 'same', got {value!r}")
    return p


def output_length(n, k, s, padding):
    """Output size along one axis: ``floor((n - k) / s) + 1`` ('valid') or ``ceil(n / s)`` ('same')."""
    return (n - k) // s + 1 if padding == "valid" else -(-n // s)


def padding_amounts(n, k, s, padding):
    """``(before, after)`` padding along one axis, as TensorFlow: ``total = max((out-1)*s + k - n, 0)``,
    ``before = total // 2``."""
    if padding == "valid":
        return 0, 0
    total = max((output_length(n, k, s, padding) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _geometry(input_shape, kernel, strides, padding, name):
    """``(OH, OW, (top, bottom), (left, right))`` for images ``(H, W, C)``, or a ValueError."""
    if len(input_shape) != 3:
        hint = (" Add the channel axis, e.g. input_shape=(28, 28, 1) and x[..., None]."
                if len(input_shape) == 2 else "")
        raise ValueError(f"{name}: takes images of shape (height, width, channels), channels last, but "
                         f"receives samples of shape {tuple(input_shape)}.{hint}")
    (H, W, _), (kh, kw), (sh, sw) = input_shape, kernel, strides
    if padding == "valid" and (kh > H or kw > W):
        raise ValueError(f"{name}: window {kh}x{kw} is larger than the {H}x{W} input with "
                         "padding='valid'; use a smaller window or padding='same'")
    return (output_length(H, kh, sh, padding), output_length(W, kw, sw, padding),
            padding_amounts(H, kh, sh, padding), padding_amounts(W, kw, sw, padding))


def pad(x, pads, value=0.0):
    """``x (N, H, W, C)`` with ``pads = ((top, bottom), (left, right))`` rows/columns of ``value`` added."""
    (t, b), (l, r) = pads
    if t == b == l == r == 0:
        return x
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=value)


def _crop(xp, pads):
    """The inverse of :func:`pad`: ``xp (N, Hp, Wp, C)`` without its padded rows and columns."""
    (t, b), (l, r) = pads
    return xp[:, t:xp.shape[1] - b, l:xp.shape[2] - r, :]


# ============================================================== the definitions, as plain loops
def conv_forward_naive(x, w, b=None, strides=(1, 1), padding="valid"):
    """The definition of a (cross-correlation) convolution, one output number at a time::

        out[n, r, c, f] = b[f] + sum_{i, j, ch} xp[n, r*sh + i, c*sw + j, ch] * w[i, j, ch, f]

    ``x (N, H, W, C)``, ``w (kh, kw, C, F)``, ``b (F,)`` -> ``out (N, OH, OW, F)``; ``xp`` is ``x``
    padded as Keras pads (module docstring).  Four nested loops: a reference for tests, not for training.
    """
    N, H, W, C = x.shape
    kh, kw, _, F = w.shape
    (sh, sw), padding = _pair(strides, "strides"), _padding(padding, "conv_forward_naive")
    OH, OW, pads_h, pads_w = _geometry((H, W, C), (kh, kw), (sh, sw), padding, "conv_forward_naive")
    xp = pad(x, (pads_h, pads_w))
    out = np.zeros((N, OH, OW, F), dtype=np.result_type(x, w))
    for n in range(N):
        for r in range(OH):
            for c in range(OW):
                field = xp[n, r * sh:r * sh + kh, c * sw:c * sw + kw, :]        # (kh, kw, C)
                for f in range(F):
                    out[n, r, c, f] = np.sum(field * w[:, :, :, f]) + (b[f] if b is not None else 0)
    return out


def maxpool_forward_naive(x, pool_size=(2, 2), strides=None, padding="valid"):
    """The definition of max pooling: ``out[n, r, c, ch] = max_{i, j} xp[n, r*sh + i, c*sw + j, ch]``,
    ``0 <= i < ph``, ``0 <= j < pw``; ``xp`` padded with ``-inf``.  ``(N, H, W, C) -> (N, OH, OW, C)``."""
    N, H, W, C = x.shape
    ph, pw = _pair(pool_size, "pool_size")
    sh, sw = _pair(strides if strides is not None else (ph, pw), "strides")
    padding = _padding(padding, "maxpool_forward_naive")
    OH, OW, pads_h, pads_w = _geometry((H, W, C), (ph, pw), (sh, sw), padding, "maxpool_forward_naive")
    xp = pad(x, (pads_h, pads_w), -np.inf)
    out = np.zeros((N, OH, OW, C), dtype=x.dtype)
    for n in range(N):
        for r in range(OH):
            for c in range(OW):
                for ch in range(C):
                    out[n, r, c, ch] = np.max(xp[n, r * sh:r * sh + ph, c * sw:c * sw + pw, ch])
    return out


def conv_backward_naive(dz, x, w, strides=(1, 1), padding="valid"):
    """The backward pass of :func:`conv_forward_naive`, one term at a time
    (docs/derivations.md#conv2d).  Each product
    ``xp[n, r*sh + i, c*sw + j, ch] * w[i, j, ch, f]`` in ``out[n, r, c, f]`` sends ``dz[n, r, c, f]``
    times its other factor to each of its two factors::

        dw[i, j, ch, f]                  += xp[n, r*sh + i, c*sw + j, ch] * dz[n, r, c, f]
        dxp[n, r*sh + i, c*sw + j, ch]   += w[i, j, ch, f] * dz[n, r, c, f]     (then cropped to x)
        db[f]                            += dz[n, r, c, f]

    ``dz (N, OH, OW, F)``, ``x (N, H, W, C)``, ``w (kh, kw, C, F)`` -> ``(dx, dw, db)`` of the shapes of
    ``x``, ``w`` and ``(F,)``.  Four nested loops: a reference for tests, not for training.
    """
    N, H, W, C = x.shape
    kh, kw, _, F = w.shape
    (sh, sw), padding = _pair(strides, "strides"), _padding(padding, "conv_backward_naive")
    OH, OW, pads_h, pads_w = _geometry((H, W, C), (kh, kw), (sh, sw), padding, "conv_backward_naive")
    xp = pad(x, (pads_h, pads_w))
    dxp, dw, db = np.zeros(xp.shape, dz.dtype), np.zeros(w.shape, dz.dtype), np.zeros(F, dz.dtype)
    for n in range(N):
        for r in range(OH):
            for c in range(OW):
                rows, cols = slice(r * sh, r * sh + kh), slice(c * sw, c * sw + kw)
                for f in range(F):
                    dw[:, :, :, f] += xp[n, rows, cols, :] * dz[n, r, c, f]     # (kh, kw, C)
                    dxp[n, rows, cols, :] += w[:, :, :, f] * dz[n, r, c, f]     # fields overlap: add
                    db[f] += dz[n, r, c, f]
    return _crop(dxp, (pads_h, pads_w)), dw, db


def maxpool_backward_naive(da, x, pool_size=(2, 2), strides=None, padding="valid"):
    """The backward pass of :func:`maxpool_forward_naive` (docs/derivations.md#max-pooling): a max
    passes its gradient to the input that was the maximum, and to it alone; ties go to the first in
    the window's row-major order (as TensorFlow)::

        (i, j) = argmax_{i, j} xp[n, r*sh + i, c*sw + j, ch]
        dxp[n, r*sh + i, c*sw + j, ch] += da[n, r, c, ch]       (then cropped to x)

    ``da (N, OH, OW, C)``, ``x (N, H, W, C)`` -> ``dx (N, H, W, C)``.  A reference for tests."""
    N, H, W, C = x.shape
    ph, pw = _pair(pool_size, "pool_size")
    sh, sw = _pair(strides if strides is not None else (ph, pw), "strides")
    padding = _padding(padding, "maxpool_backward_naive")
    OH, OW, pads_h, pads_w = _geometry((H, W, C), (ph, pw), (sh, sw), padding, "maxpool_backward_naive")
    xp = pad(x, (pads_h, pads_w), -np.inf)
    dxp = np.zeros(xp.shape, dtype=da.dtype)
    for n in range(N):
        for r in range(OH):
            for c in range(OW):
                for ch in range(C):
                    i, j = divmod(int(np.argmax(xp[n, r * sh:r * sh + ph, c * sw:c * sw + pw, ch])), pw)
                    dxp[n, r * sh + i, c * sw + j, ch] += da[n, r, c, ch]
    return _crop(dxp, (pads_h, pads_w))


# ============================================================================= im2col / col2im
def im2col(xp, kh, kw, sh, sw, OH, OW):
    """Every receptive field as one row: ``cols[n, r, c, i, j, ch] = xp[n, r*sh + i, c*sw + j, ch]``.

    ``xp (N, Hp, Wp, C)`` (already padded) -> ``cols (N, OH, OW, kh, kw, C)``; reshaped to
    ``(N*OH*OW, kh*kw*C)`` its rows are the fields, in the order of a Keras kernel ``(kh, kw, C, F)``
    reshaped to ``(kh*kw*C, F)``, so the convolution is one matrix product.  One strided copy per
    kernel position ``(i, j)``.
    """
    N, _, _, C = xp.shape
    cols = np.empty((N, OH, OW, kh, kw, C), dtype=xp.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = xp[:, i:i + sh * (OH - 1) + 1:sh, j:j + sw * (OW - 1) + 1:sw, :]
    return cols


def col2im(dcols, padded_shape, sh, sw):
    """The adjoint of :func:`im2col`: add each field's gradient back where the field came from,
    ``dxp[n, r*sh + i, c*sw + j, ch] += dcols[n, r, c, i, j, ch]`` (overlapping fields add up).
    ``dcols (N, OH, OW, kh, kw, C)`` -> ``dxp`` of ``padded_shape (N, Hp, Wp, C)``.
    Why the adjoint is the gradient: docs/derivations.md#conv2d"""
    _, OH, OW, kh, kw, _ = dcols.shape
    dxp = np.zeros(padded_shape, dtype=dcols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, i:i + sh * (OH - 1) + 1:sh, j:j + sw * (OW - 1) + 1:sw, :] += dcols[:, :, :, i, j, :]
    return dxp


def glorot_uniform_conv(shape, rng, dtype="float32"):
    """Keras's glorot_uniform for a kernel ``(kh, kw, C_in, C_out)``: ``limit = sqrt(6 / (fan_in + fan_out))``
    with ``fan_in = kh*kw*C_in`` and ``fan_out = kh*kw*C_out`` (``keras/src/initializers``' ``compute_fans``)."""
    receptive = int(np.prod(shape[:-2]))
    fan_in, fan_out = receptive * shape[-2], receptive * shape[-1]
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


# ======================================================================================= Conv2D
class Conv2D(Layer):
    """2-D convolution (cross-correlation, as every deep-learning library computes it), channels-last::

        z[n, r, c, f] = b[f] + sum_{i, j, ch} xp[n, r*sh + i, c*sw + j, ch] * W[i, j, ch, f]
        a = activation(z)

    Shapes: ``x (N, H, W, C)``, kernel ``W (kh, kw, C, F)`` (Keras's layout), bias ``b (F,)``,
    ``z`` and ``a (N, OH, OW, F)``.  Parameters: ``kh*kw*C*F + F`` (3*3*1*32 + 32 = 320 for the first
    layer of Keras's MNIST convnet).  Computed as ``cols @ W.reshape(kh*kw*C, F)`` with
    ``cols = im2col(x)`` of shape ``(N*OH*OW, kh*kw*C)``.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros", seed=None,
                 name=None, input_shape=None, dtype=None, trainable=True):
        super().__init__(name=name or _unique_name("conv2d"), input_shape=input_shape, dtype=dtype,
                         trainable=trainable)
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(f"Conv2D: filters must be a positive integer, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "Conv2D: kernel_size")
        self.strides = _pair(strides, "Conv2D: strides")
        self.padding = _padding(padding, "Conv2D")
        self.activation = activations_module.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.seed = seed

    def compute_output_shape(self, input_shape):
        OH, OW, _, _ = _geometry(input_shape, self.kernel_size, self.strides, self.padding, self.name)
        return (OH, OW, self.filters)

    def weight_shapes(self, input_shape):
        kh, kw = self.kernel_size
        kernel = (kh, kw, int(input_shape[-1]), self.filters)
        return [kernel, (self.filters,)] if self.use_bias else [kernel]

    def build(self, input_shape, dtype="float32"):
        super().build(input_shape, dtype)
        rng = make_rng(self.seed)
        shapes = self.weight_shapes(self.built_input_shape)
        init = (glorot_uniform_conv if self.kernel_initializer == "glorot_uniform"
                else initializers.get(self.kernel_initializer))
        self.kernel = init(shapes[0], rng, self.dtype)
        self.d_kernel = np.zeros_like(self.kernel)
        self.weights, self.grads = [self.kernel], [self.d_kernel]
        if self.use_bias:
            self.bias = initializers.get(self.bias_initializer)(shapes[1], rng, self.dtype)
            self.d_bias = np.zeros_like(self.bias)
            self.weights.append(self.bias)
            self.grads.append(self.d_bias)
        _, _, self.pads_h, self.pads_w = _geometry(self.built_input_shape, self.kernel_size, self.strides,
                                                   self.padding, self.name)

    def forward(self, x, training=False):
        """``cols = im2col(xp) : (N*OH*OW, K)`` with ``K = kh*kw*C``;
        ``z = cols @ W.reshape(K, F) + b : (N, OH, OW, F)``;  ``a = activation(z)``."""
        N = len(x)
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        OH, OW, F = self.output_shape
        K = kh * kw * x.shape[3]
        if backend.fast():
            cols, z, a = fast.conv2d_forward(self, x)       # the lines below, without the padded copy
        else:
            xp = pad(x, (self.pads_h, self.pads_w))                              # (N, Hp, Wp, C)
            cols = im2col(xp, kh, kw, sh, sw, OH, OW).reshape(N * OH * OW, K)    # (N*OH*OW, K)
            z = (cols @ self.kernel.reshape(K, F)).reshape(N, OH, OW, F)        # (N, OH, OW, F)
            if self.use_bias:
                z = z + self.bias
            a = self.activation.forward(z)
        self.cache = (x, cols, z, a)
        return a

    def backward(self, da, need_dx=True):
        """``dz = activation'(z) * da : (N, OH, OW, F)``, flattened to ``(N*OH*OW, F)``; then

        ``dW = cols.T @ dz : (K, F)`` reshaped to ``(kh, kw, C, F)``;  ``db = sum of dz over N, OH, OW``;
        ``dcols = dz @ W.reshape(K, F).T : (N*OH*OW, K)`` and ``dx = col2im(dcols)`` cropped to
        ``(N, H, W, C)`` (or None when ``need_dx`` is False: the model's first layer).
        Derivation (dx, a correlation with the flipped kernel; col2im): docs/derivations.md#conv2d
        """
        x, cols, z, a = self.cache
        N, H, W, C = x.shape
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        OH, OW, F = self.output_shape
        K = kh * kw * C
        db = self.d_bias if self.use_bias else None
        da2, z2, a2 = da.reshape(-1, F), z.reshape(-1, F), a.reshape(-1, F)
        if backend.fast():
            dz = fast.activation_backward(self, z2, a2, da2, db=db)     # the three lines below, one pass
        else:
            dz = self.activation.backward(z2, a2, da2)                   # (N*OH*OW, F)
            if db is not None:
                np.sum(dz, axis=0, out=db)                               # db : (F,)
        np.matmul(cols.T, dz, out=self.d_kernel.reshape(K, F))           # dW = cols.T @ dz : (K, F)
        if not need_dx:
            return None
        if backend.fast():
            return fast.conv2d_input_gradient(self, dz)                  # the lines below, no padded copy
        dcols = (dz @ self.kernel.reshape(K, F).T).reshape(N, OH, OW, kh, kw, C)
        padded = (N, H + sum(self.pads_h), W + sum(self.pads_w), C)
        return _crop(col2im(dcols, padded, sh, sw), (self.pads_h, self.pads_w))

    def get_config(self):
        return {"name": self.name, "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "activation": self.activation.name,
                "use_bias": self.use_bias, "input_shape": self.input_shape, "trainable": self.trainable}


# ================================================================================= MaxPooling2D
class MaxPooling2D(Layer):
    """Max pooling, channels-last: ``a[n, r, c, ch] = max_{i < ph, j < pw} xp[n, r*sh + i, c*sw + j, ch]``.

    ``pool_size`` (default ``(2, 2)``), ``strides`` (default: ``pool_size``), ``padding`` 'valid' or
    'same' (padded with ``-inf``).  Shapes ``(N, H, W, C) -> (N, OH, OW, C)``; no parameters.

    Backward: the gradient of a max flows to the input that was the maximum, and to it alone:
    ``dx[argmax of the window] += da[n, r, c, ch]``.  Ties (a window of equal values, as after a ReLU
    that zeroed all four): the *first* maximum in the window's row-major order gets it, as
    TensorFlow's ``MaxPoolGrad`` does (``tests/test_conv_keras.py`` pins this against Keras).
    """

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", name=None, input_shape=None,
                 dtype=None):
        super().__init__(name=name or _unique_name("max_pooling2d"), input_shape=input_shape, dtype=dtype)
        self.pool_size = _pair(pool_size, "MaxPooling2D: pool_size")
        self.strides = _pair(strides if strides is not None else self.pool_size, "MaxPooling2D: strides")
        self.padding = _padding(padding, "MaxPooling2D")

    def compute_output_shape(self, input_shape):
        OH, OW, _, _ = _geometry(input_shape, self.pool_size, self.strides, self.padding, self.name)
        return (OH, OW, int(input_shape[-1]))

    def build(self, input_shape, dtype="float32"):
        super().build(input_shape, dtype)
        _, _, self.pads_h, self.pads_w = _geometry(self.built_input_shape, self.pool_size, self.strides,
                                                   self.padding, self.name)

    def forward(self, x, training=False):
        """``windows = im2col(xp) : (N, OH, OW, ph*pw, C)``; ``k = argmax over the window`` (first of
        equals); ``a = windows[k] : (N, OH, OW, C)``.  ``k`` is kept for the backward pass."""
        N, C = len(x), x.shape[3]
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        OH, OW, _ = self.output_shape
        if backend.fast():
            a, k = fast.maxpool_forward(self, x)            # the lines below, without the windows' copy
        else:
            xp = pad(x, (self.pads_h, self.pads_w), -np.inf)
            windows = im2col(xp, ph, pw, sh, sw, OH, OW).reshape(N, OH, OW, ph * pw, C)
            k = windows.argmax(axis=3)                                    # the first maximum
            a = np.take_along_axis(windows, k[:, :, :, None, :], axis=3)[:, :, :, 0, :]
        self.cache = (x.shape, k)
        return a

    def backward(self, da, need_dx=True):
        """``dx[n, r*sh + i, c*sw + j, ch] += da[n, r, c, ch]`` where ``(i, j)`` is the window's argmax
        ``k = i*pw + j``; zero elsewhere.  ``(N, OH, OW, C) -> (N, H, W, C)``.
        Derivation: docs/derivations.md#max-pooling"""
        x_shape, k = self.cache
        N, H, W, C = x_shape
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        OH, OW, _ = self.output_shape
        if backend.fast():
            return fast.maxpool_backward(self, da)          # the lines below, in one pass
        dwindows = np.zeros((N, OH, OW, ph, pw, C), dtype=da.dtype)
        for i in range(ph):
            for j in range(pw):
                dwindows[:, :, :, i, j, :] = np.where(k == i * pw + j, da, 0)
        padded = (N, H + sum(self.pads_h), W + sum(self.pads_w), C)
        return _crop(col2im(dwindows, padded, sh, sw), (self.pads_h, self.pads_w))

    def get_config(self):
        return {"name": self.name, "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding, "input_shape": self.input_shape}


registry.register(Conv2D, MaxPooling2D)                               # the layers a model file may name

__all__ = ["Conv2D", "MaxPooling2D", "conv_forward_naive", "maxpool_forward_naive", "conv_backward_naive",
           "maxpool_backward_naive", "im2col", "col2im",
           "output_length", "padding_amounts", "glorot_uniform_conv"]
