"""The fast paths: what each learner's method calls, in one line, on the numba backend.

Each function here computes exactly what the plain NumPy lines beside its call compute (the
docstring names them), with the engine's Numba loops (``loops.py``, ``conv_loops.py``) and the
owner's work arrays (``buffers.py``).  It is also the boundary a loop never crosses unchecked: a
loop checks nothing and trusts every index, so each function here checks the shape, dtype and
memory layout of every array a loop reads or writes that it did not make itself, once per call, and
raises a ``ValueError`` naming it instead of letting a loop run past an array.

``tests/test_backends.py``, ``tests/test_kernels.py`` and ``tests/test_conv.py`` hold the fast paths
equal to the plain lines.
"""
import numpy as np

from .. import counter_random
from . import Fused
from .buffers import work


def _loops():
    """The Numba loops, imported on first use (so the numpy backend never loads Numba), then kept:
    an import statement on every call would cost microseconds a batch of 32 notices."""
    global _LOOPS
    if _LOOPS is None:
        from . import loops
        _LOOPS = loops
    return _LOOPS


def _conv_loops():
    global _CONV_LOOPS
    if _CONV_LOOPS is None:
        from . import conv_loops
        _CONV_LOOPS = conv_loops
    return _CONV_LOOPS


_LOOPS = _CONV_LOOPS = None


def _as_2d(x):
    """``x`` as 2-D rows over its last axis, ``(N, ..., M) -> (N * ..., M)``: the element-wise loops
    work on rows, whatever the layer's sample shape."""
    x = np.ascontiguousarray(x)
    return x if x.ndim == 2 else x.reshape(-1, x.shape[-1])


def _check(array, shape, dtype, what):
    """``array`` is a C-contiguous ``dtype`` array of ``shape``, or a ValueError naming ``what``."""
    if not (isinstance(array, np.ndarray) and array.shape == tuple(shape) and array.dtype == dtype
            and array.flags.c_contiguous):
        found = (f"{array.shape} {array.dtype}{'' if array.flags.c_contiguous else ' (not contiguous)'}"
                 if isinstance(array, np.ndarray) else type(array).__name__)
        raise ValueError(f"{what} must be a C-contiguous {np.dtype(dtype).name} array of shape "
                         f"{tuple(shape)}, got {found}")
    return array


def _floats(x, what):
    """``x`` as a C-contiguous float32 or float64 array (the types the loops are written for), or a
    ValueError naming ``what``."""
    x = np.ascontiguousarray(x)
    if x.dtype not in (np.float32, np.float64) or x.ndim == 0:
        raise ValueError(f"{what} must be a float32 or float64 array with at least one axis, got "
                         f"{x.dtype} of shape {x.shape}")
    return x


def _images(layer, x):
    """``x`` as C-contiguous float images ``(N,) + layer.built_input_shape``: the loops of Conv2D and
    MaxPooling2D size their outputs from the built shape and trust ``x`` to have it."""
    x = _floats(x, f"{layer.name}: the input")
    if x.shape[1:] != tuple(layer.built_input_shape):
        raise ValueError(f"{layer.name}: inputs of shape {x.shape}, but the layer was built for samples of "
                         f"shape {tuple(layer.built_input_shape)} (channels last)")
    return x


def _fused(activation):
    """The activation's loop number as a plain int (Numba types an IntEnum argument anew on every call,
    ~100 us; an int costs nothing), or None for an activation of your own."""
    return None if activation.fused is None else int(activation.fused)


def _writable(array, what):
    if not array.flags.writeable:
        raise ValueError(f"{what} is read-only; the update writes into it in place")
    return array


# ============================================================================ Dense, Activation
def dense_forward(layer, x):
    """``z = x @ W + b; a = f(z)`` (``Dense.forward``): the product into a reused array, then
    ``z += b`` and ``a = f(z)`` in one pass.  Returns ``(z, a)``, ``(N, M)`` each."""
    z = np.matmul(x, layer.kernel, out=work(layer, "z", (len(x), layer.units), x.dtype))
    _check(layer.bias, (layer.units,), z.dtype, f"{layer.name}: bias")
    fused = _fused(layer.activation)
    if fused is None:                                # an activation of your own: its own function
        z += layer.bias
        return z, layer.activation.forward(z)
    a = z if fused == Fused.LINEAR else work(layer, "a", z.shape, z.dtype)
    _loops().bias_activation_forward(z, layer.bias, fused, a)
    return z, a


def activation_forward(layer, z):
    """``a = f(z)`` (``Activation.forward``), over rows, into a reused array."""
    fused = _fused(layer.activation)
    if fused is None:
        return layer.activation.forward(z)
    z = _floats(z, f"{layer.name}: the input")
    a = work(layer, "a", z.shape, z.dtype)
    _loops().activation_forward(_as_2d(z), fused, _as_2d(a))
    return a


def activation_backward(layer, z, a, da, db=None):
    """``dz = f'(z) * da`` (``activations.*_backward``) and, if ``db`` is given, ``db = dz.sum(axis=0)``
    over rows, in one pass.  ``z, a, da: (N, ..., M)``; ``db: (M,)``, written in place."""
    fused = _fused(layer.activation)
    if db is not None:
        _writable(_check(db, (da.shape[-1],), da.dtype, f"{layer.name}: the bias gradient"), f"{layer.name}: db")
    if fused is None or fused == Fused.LINEAR:
        dz = da if fused == Fused.LINEAR else layer.activation.backward(z, a, da)
        if db is not None:
            np.sum(dz.reshape(-1, dz.shape[-1]), axis=0, out=db)
        return dz
    if not (z.shape == a.shape == da.shape and z.dtype == a.dtype == da.dtype):
        raise ValueError(f"{layer.name}: the gradient {da.shape} {da.dtype} does not match the output "
                         f"{a.shape} {a.dtype} of the forward pass")
    dz = work(layer, "dz", da.shape, da.dtype)
    _loops().activation_backward(_as_2d(z), _as_2d(a), _as_2d(da), fused, _as_2d(dz), db)
    return dz


def matmul(owner, name, a, b):
    """``a @ b`` into ``owner``'s reused array ``name`` (a layer's ``dx = dz @ W.T``)."""
    return np.matmul(a, b, out=work(owner, name, a.shape[:-1] + b.shape[-1:], a.dtype))


def multiply(owner, name, a, b):
    """``a * b`` (same shapes) into ``owner``'s reused array ``name`` (Dropout's ``dx = da * mask``)."""
    return np.multiply(a, b, out=work(owner, name, a.shape, a.dtype))


# ==================================================================================== Dropout
def dropout_forward(layer, x, scale):
    """``keep = u >= rate`` (or the layer's ``mask_source``), ``mask = keep * scale``, ``out = x * mask``
    (``Dropout.forward``), in one pass; ``u`` is computed inside the loop from a key drawn from
    ``layer.rng``, the same numbers as ``counter_random.counter_uniform(key, x.shape)``.
    Returns ``(mask, out)``."""
    x = _floats(x, f"{layer.name}: the input")
    mask, out = work(layer, "mask", x.shape, x.dtype), work(layer, "out", x.shape, x.dtype)
    if layer.mask_source is not None:
        keep = np.ascontiguousarray(layer.mask_source(x.shape, x.dtype))
        _check(keep, x.shape, keep.dtype, f"{layer.name}: the mask_source's keep array")
        _loops().dropout_keep(_as_2d(x), _as_2d(keep), scale, _as_2d(mask), _as_2d(out))
    else:
        key = counter_random.new_key(layer.rng)
        _loops().dropout_forward(_as_2d(x), key, np.float32(layer.rate), scale, _as_2d(mask), _as_2d(out))
    return mask, out


# ======================================================================================= Conv2D
def conv2d_forward(layer, x):
    """``cols = im2col(xp)``, ``z = cols @ W.reshape(K, F) + b``, ``a = f(z)`` (``Conv2D.forward``):
    im2col by a loop that pads by index arithmetic (no padded copy), the product into a reused array,
    bias and activation in one pass.  Returns ``(cols, z, a)``: ``(N*OH*OW, K)``, ``(N, OH, OW, F)`` x 2."""
    x = _images(layer, x)
    N, C = len(x), x.shape[3]
    (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
    OH, OW, F = layer.output_shape
    K = kh * kw * C
    cols = work(layer, "cols", (N * OH * OW, K), x.dtype)
    _conv_loops().im2col(x, kh, kw, sh, sw, layer.pads_h[0], layer.pads_w[0], cols.reshape(N, OH, OW, kh, kw, C))
    z = np.matmul(cols, layer.kernel.reshape(K, F), out=work(layer, "z", (N * OH * OW, F), x.dtype))
    fused = _fused(layer.activation)
    if fused is None:
        if layer.use_bias:
            z += layer.bias
        a = layer.activation.forward(z)
    else:
        # linear and relu write a over z: relu's backward needs only where z > 0, which is where a > 0
        a = z if fused in (Fused.LINEAR, Fused.RELU) else work(layer, "a", z.shape, z.dtype)
        if layer.use_bias:
            _check(layer.bias, (F,), z.dtype, f"{layer.name}: bias")
            _loops().bias_activation_forward(z, layer.bias, fused, a)
        elif a is not z or fused != Fused.LINEAR:
            _loops().activation_forward(z, fused, a)
    return cols, z.reshape(N, OH, OW, F), a.reshape(N, OH, OW, F)


def conv2d_input_gradient(layer, dz):
    """``dcols = dz @ W.reshape(K, F).T``, then ``dx = col2im(dcols)`` cropped to ``(N, H, W, C)``
    (``Conv2D.backward``), col2im by a loop that skips the padding.  ``dz: (N*OH*OW, F)``."""
    N, H, W, C = layer.cache[0].shape
    (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
    OH, OW, F = layer.output_shape
    K = kh * kw * C
    dcols = np.matmul(dz, layer.kernel.reshape(K, F).T, out=work(layer, "dcols", (N * OH * OW, K), dz.dtype))
    dx = work(layer, "dx", (N, H, W, C), dz.dtype)
    _conv_loops().col2im(dcols.reshape(N, OH, OW, kh, kw, C), sh, sw, layer.pads_h[0], layer.pads_w[0], dx)
    return dx


# ================================================================================= MaxPooling2D
def maxpool_forward(layer, x):
    """``a = max over each window``, ``k = the index of its first maximum`` (``MaxPooling2D.forward``),
    one pass without the windows' copy.  Returns ``(a, k)``, ``(N, OH, OW, C)`` each."""
    x = _images(layer, x)
    N, C = len(x), x.shape[3]
    (ph, pw), (sh, sw) = layer.pool_size, layer.strides
    OH, OW, _ = layer.output_shape
    a = work(layer, "a", (N, OH, OW, C), x.dtype)
    k = work(layer, "argmax", (N, OH, OW, C), np.int8 if ph * pw <= 127 else np.int32)
    _conv_loops().maxpool_forward(x, ph, pw, sh, sw, layer.pads_h[0], layer.pads_w[0], a, k)
    return a, k


def maxpool_backward(layer, da):
    """``dx[the argmax of each window] += da`` (``MaxPooling2D.backward``), zero elsewhere."""
    x_shape, k = layer.cache
    (ph, pw), (sh, sw) = layer.pool_size, layer.strides
    da = _check(np.ascontiguousarray(da), k.shape, da.dtype, f"{layer.name}: the output gradient")
    dx = work(layer, "dx", x_shape, da.dtype)
    _conv_loops().maxpool_backward(da, k, ph, pw, sh, sw, layer.pads_h[0], layer.pads_w[0], dx)
    return dx


# ======================================================================================= losses
def _targets_like(y, shape, what):
    """The targets as the loop reads them: C-contiguous rows of ``shape``, in their own float dtype
    (the loop computes with them as they are, as the NumPy expression does)."""
    y = np.ascontiguousarray(y)
    if y.dtype.kind != "f":
        y = y.astype(np.float64)
    return _check(y, shape, y.dtype, what)


def softmax_crossentropy(owner, y, z, p=None):
    """``p = softmax(z)``, ``L = mean(logsumexp(z) - y.z)`` and ``dz = (p - y) / N`` in one pass
    (``losses.softmax_crossentropy_from_logits`` and its gradient).  ``p``: the model's softmax output
    to write into (the values it already holds are written again), else a reused array.  Returns
    ``(L, dz)``."""
    z = _floats(z, "the logits")
    if z.ndim != 2:
        raise ValueError(f"the logits must have shape (samples, classes), got {z.shape}")
    y = _targets_like(y, z.shape, "the targets")
    p = work(owner, "loss_softmax", z.shape, z.dtype) if p is None else \
        _check(p, z.shape, z.dtype, "the softmax output")
    dz = work(owner, "loss_gradient", z.shape, z.dtype)
    return _loops().softmax_crossentropy(z, y, p, dz), dz


def crossentropy(owner, y, p, eps):
    """Categorical cross-entropy on probabilities and its gradient in one pass
    (``losses.categorical_crossentropy`` and ``categorical_crossentropy_gradient``).  Returns ``(L, dp)``."""
    p = _floats(p, "the predictions")
    if p.ndim != 2:
        raise ValueError(f"the predictions must have shape (samples, classes), got {p.shape}")
    y = _targets_like(y, p.shape, "the targets")
    dp = work(owner, "loss_gradient", p.shape, p.dtype)
    dt = p.dtype.type
    return _loops().crossentropy(p, y, dp, dt(eps), dt(1 - eps)), dp


def one_hot(owner, labels, num_classes, dtype):
    """``y_ij = [j == labels_i]`` (``losses.one_hot``) into a reused array."""
    y = work(owner, "loss_targets", (len(labels), num_classes), dtype)
    y[...] = 0
    y[np.arange(len(labels)), labels] = 1
    return y


# =================================================================================== optimizers
def _flat_views(opt, params, grads, state):
    """1-D views of every parameter, gradient and state slot (``state``: ``opt.state_of(params)``), for
    the loops (no copies), checked once: each gradient and slot has its parameter's shape and dtype, all
    C-contiguous, the parameters and slots writable.  Made again only when the arrays change."""
    slots = [state[slot] for slot in opt.slots]
    arrays = list(params) + list(grads) + [a for slot in slots for a in slot]
    kept = opt.__dict__.get("_flat")
    if kept is not None and len(kept[0]) == len(arrays) and all(a is b for a, b in zip(kept[0], arrays)):
        return kept[1]
    dtype = params[0].dtype if params else np.float32
    name = type(opt).__name__
    if len(grads) != len(params) or any(len(s) != len(params) for s in slots):
        raise ValueError(f"{name}: {len(params)} parameters, {len(grads)} gradients and state for "
                         f"{[len(s) for s in slots]}: the optimizer was built for other variables")
    for i, p in enumerate(params):
        _writable(_check(p, p.shape, dtype, f"{name}: parameter {i}"), f"{name}: parameter {i}")
        _check(grads[i], p.shape, dtype, f"{name}: the gradient of parameter {i}")
        for slot, arrays_of_slot in zip(opt.slots, slots):
            what = f"{name}: its {slot!r} state of parameter {i}"
            _writable(_check(arrays_of_slot[i], p.shape, dtype, what + " (an optimizer is built for the "
                             "variables it first updated)"), what)
    flat = lambda seq: tuple(a.reshape(-1) for a in seq)   # noqa: E731
    views = (flat(params), flat(grads), tuple(flat(s) for s in slots))
    opt.__dict__["_flat"] = (arrays, views)
    return views


def sgd_update(opt, params, grads, state, lr, momentum):
    """``SGD.update`` in one pass per parameter: ``w -= g * lr``, or with momentum
    ``v = v * mu - g * lr; w += v`` (Nesterov: ``w += v * mu - g * lr``)."""
    ws, gs, slots = _flat_views(opt, params, grads, state)
    _loops().sgd_update(ws, gs, slots[0] if slots else None, lr, momentum, opt.nesterov)


def adam_update(opt, params, grads, state, one_minus_beta_1, one_minus_beta_2, alpha, eps):
    """``Adam.update`` in one pass per parameter: ``m += (g - m) * (1 - beta_1)``,
    ``v += (g*g - v) * (1 - beta_2)``, ``w -= m * alpha / (sqrt(v) + eps)``."""
    ws, gs, (ms, vs) = _flat_views(opt, params, grads, state)
    _loops().adam_update(ws, gs, ms, vs, one_minus_beta_1, one_minus_beta_2, alpha, eps)


def rmsprop_update(opt, params, grads, state, rho, one_minus_rho, momentum, eps, lr):
    """``RMSprop.update`` in one pass per parameter (velocity, and the momentum and average-gradient
    slots where the optimizer has them)."""
    ws, gs, slots = _flat_views(opt, params, grads, state)
    slot = dict(zip(opt.slots, slots))
    _loops().rmsprop_update(ws, gs, slot["velocity"], slot.get("momentum"), slot.get("average_gradient"),
                            rho, one_minus_rho, momentum, eps, lr)


# ============================================================================ Add, Concatenate, graphs
def add_all(owner, name, xs):
    """``a = ((x_1 + x_2) + x_3) + ...`` (``Add.forward``; a graph's gradients where a tensor fans out),
    left to right as the plain lines add, into ``owner``'s reused array ``name``."""
    if any(x.shape != xs[0].shape or x.dtype != xs[0].dtype for x in xs):
        raise ValueError(f"{getattr(owner, 'name', 'add')}: arrays of shapes and dtypes "
                         f"{[(x.shape, x.dtype.name) for x in xs]} cannot be added element by element")
    if len(xs) == 1:
        return xs[0]
    a = np.add(xs[0], xs[1], out=work(owner, name, xs[0].shape, xs[0].dtype))
    for x in xs[2:]:
        np.add(a, x, out=a)
    return a


def concatenate(owner, name, xs, axis):
    """``np.concatenate(xs, axis)`` (``Concatenate.forward``) into ``owner``'s reused array ``name``."""
    shape = list(xs[0].shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return np.concatenate(xs, axis=axis, out=work(owner, name, tuple(shape), np.result_type(*xs)))


# ========================================================================================= fit
def take_rows(owner, name, x, idx):
    """``x[idx]`` (a shuffled mini-batch) gathered into ``owner``'s reused array ``name``; for several
    arrays (``data_adapter.Arrays``: a graph model's inputs or targets) the same rows of each."""
    if hasattr(x, "arrays"):
        return type(x)([take_rows(owner, f"{name}{k}", a, idx) for k, a in enumerate(x.arrays)])
    return np.take(x, idx, axis=0, out=work(owner, name, (len(idx),) + x.shape[1:], x.dtype))
