"""Numba loops: each computes one NumPy expression of a layer, loss or optimizer in one pass.

Read ``layers.py``, ``activations.py``, ``losses.py`` and ``optimizers.py`` first: they carry the
math.  Each method there hands its work to ``engine/fast.py`` in one line beside the plain
expression it replaces (``if backend.fast(): ...``), and ``fast.py`` calls a loop of this file after
checking every array the loop writes into.  ``set_backend('numpy')`` runs the plain expressions;
``tests/test_kernels.py`` checks every loop against its expression.

Conventions
-----------
* Loops write into arrays they are given (``out=``-style) and never allocate, so a layer can
  reuse the same work arrays for every batch (``engine/buffers.py``).  They check nothing:
  ``fast.py``, which calls them, checks shapes, dtypes and contiguity once per call.
* ``cache=True`` everywhere: the machine code is stored in ``__pycache__``; a new process loads it
  in milliseconds instead of compiling for seconds.  Numba does not notice when a loop *called by*
  another cached loop changes (``_adam_one`` inside ``adam_update``): after editing one, delete
  ``nnscratch/engine/__pycache__/*.nb*`` or the caller may run stale machine code.
* No ``fastmath``: each loop performs the operations its NumPy expression writes, in that order,
  each rounded once in the array's type, so the element-wise loops equal their expressions bit
  for bit, given the same ``exp`` and ``tanh`` (``tests/test_kernels.py``; sums over rows or
  columns run in another order than NumPy's).
  Each flag was measured and cost exactness: ``contract`` (FMA: one rounding where the expression
  has two) took the exp below from 0.999 to 1.01 ulp; ``reassoc`` regroups ``(x - k*C1) - k*C2``
  into ``x - k*(C1 + C2)``, which undoes its range reduction (4.5 ulp); ``fastmath=True`` also
  assumes no inf and no NaN (``exp(-z)`` overflowing for large negative ``z`` then turns sigmoid
  into NaN, and a NaN check can be compiled away).  Vectorisation needs none of them; FMA made the
  float32 sigmoid ~20% faster, a price paid for exactness.
* Constants take the type of the data: Numba types a literal ``1`` as int64, and int64 with float32
  as float64, so ``1 - a`` for a float32 ``a`` would run in float64 (half as many numbers per SIMD
  instruction, and rounded unlike NumPy's float32 ``1 - a``).  Loops write ``_as(1, a)``.
  The row sums of softmax and of the losses start from ``x * 0`` and so do accumulate in float64,
  as they did before this rule: no summation order can match NumPy's pairwise one, and float64 keeps
  them nearer the exact sum (``tests/test_kernels.py`` checks them to a tolerance, not bit for bit).
* Activations are named by :class:`~nnscratch.engine.Fused` (``Activation.fused``).
* Threads: none.  Every loop runs on the calling thread, between the matrix products that
  OpenBLAS runs on its own threads, so no second thread pool ever spins beside OpenBLAS's
  (``engine/threads.py``).  Vectorisation needs no threads: ``error_model="numpy"`` lets LLVM
  vectorise the loops.  At inference over many rows several threads call the same loop at once,
  each on its own rows and arrays (``engine/inference.py``): a loop touches only the arrays it is
  given, and ``nogil`` lets those calls run side by side.
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload
from numba.np.numpy_support import as_dtype

from . import Fused

# error_model="numpy": a division by zero gives inf/nan as in NumPy instead of raising, so Numba
# leaves out the per-element zero checks that would keep LLVM from vectorising the loops.
_opts = dict(cache=True, nogil=True, error_model="numpy")


# ================================================================================ activations
# ------------------------------------------------------------- exp in float32, vectorisable
# ``math.exp`` is a call into libm, one number at a time (4-6 ns each here), and a loop that calls it
# is never turned into SIMD instructions: sigmoid over predict's 10,000 x 512 pre-activations took
# 20-30 ms.  For float32 the classic recipe below is plain arithmetic, which LLVM vectorises (8
# numbers per AVX2 instruction; 6.4-7.4 ms for the same sigmoid, benchmarks/kernel_times.py), and
# is accurate to < 1 ulp on x <= 0 (tests/test_kernels.py; with FMA contraction it was 1.01 ulp).
# float64 keeps libm's exp: its exactness against Keras is checked to 1e-10.
@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose IEEE-754 bit pattern is the int32 ``bits`` (a reinterpretation, no conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


_f4 = np.float32


@njit(inline="always")
def _expf_nonpositive(x):
    """``exp(x)`` for a float32 ``x <= 0``, as Cephes' ``expf`` computes it.

    Write ``x = k*ln2 + r`` with ``k = round(x / ln2)`` and ``|r| <= ln2/2``; then
    ``exp(x) = 2**k * exp(r)``.  ``r`` is computed in two steps (``ln2 = C1 + C2``, ``C1`` with few
    bits so ``k*C1`` is exact), ``exp(r)`` by a degree-7 polynomial, and ``2**k`` by writing ``k`` into
    a float's exponent bits (``(k + 127) << 23``); as ``2**(k+64) * 2**-64`` so that results below
    float32's smallest normal number (x < -87.3) come out as the correctly rounded subnormals.
    """
    underflow = x < _f4(-103.972)                 # exp(x) < 2**-150: rounds to 0
    x = max(x, _f4(-103.972))
    k = np.floor(x * _f4(1.44269504) + _f4(0.5))
    r = (x - k * _f4(0.693359375)) - k * _f4(-2.12194440e-4)
    p = (((((_f4(1.9875691500e-4) * r + _f4(1.3981999507e-3)) * r + _f4(8.3334519073e-3)) * r
          + _f4(4.1665795894e-2)) * r + _f4(1.6666665459e-1)) * r + _f4(5.0000001201e-1)) * (r * r) + r + _f4(1)
    two_k_plus_64 = _float32_from_bits(np.int32((np.int32(k) + np.int32(64 + 127)) << np.int32(23)))
    return _f4(0) if underflow else p * two_k_plus_64 * _f4(5.421010862427522e-20)   # * 2**-64


def _exp_nonpositive(x):
    """``exp(x)`` for ``x <= 0``: :func:`_expf_nonpositive` for float32, libm's ``exp`` for float64."""
    return math.exp(x)


@overload(_exp_nonpositive, inline="always")
def _exp_nonpositive_by_type(x):
    if x == types.float32:
        return lambda x: _expf_nonpositive(x)
    return lambda x: math.exp(x)


def _as(value, like):
    """``value`` in the float type of ``like`` (see the note on constants above)."""
    return value


@overload(_as, inline="always")
def _as_typed(value, like):
    dtype = as_dtype(like).type
    return lambda value, like: dtype(value)


@njit(inline="always")
def _sigmoid(z):
    # activations.sigmoid: exp only sees -|z| <= 0, so it never overflows.  One division:
    # 1 / (1 + e) for z >= 0, e / (1 + e) below, as the NumPy expression computes each.
    e = _exp_nonpositive(-abs(z))
    one = _as(1, z)
    return (one if z >= 0 else e) / (one + e)


@njit(inline="always")
def _exp_shifted_row(zi, out):
    """``m = max(zi)``; ``out = exp(zi - m)``; returns ``(m, s = sum(out))``: the shared first half of a
    stable softmax (divide ``out`` by ``s``) and of ``logsumexp(zi) = m + log(s)``."""
    m = zi[0]
    for j in range(1, zi.size):
        m = max(m, zi[j])
    s = zi[0] * 0
    for j in range(zi.size):
        e = math.exp(zi[j] - m)
        out[j] = e
        s += e
    return m, s


@njit          # not inline="always": inlined into several loops of one kernel, Numba's IR inliner warns
def _activate(act, v):
    """``activation(v)`` for one element of an element-wise activation (linear, sigmoid, relu, tanh)."""
    if act == Fused.SIGMOID:
        return _sigmoid(v)
    if act == Fused.RELU:
        return max(v, _as(0, v))
    if act == Fused.TANH:
        return math.tanh(v)
    return v


@njit(inline="always")
def _activate_row(zi, act, ai):
    """``ai = activation(zi)`` for one row (softmax is row-wise).  ``ai`` may be ``zi`` for an
    element-wise activation: correct, though LLVM then runs the loop's scalar version."""
    if act == Fused.SOFTMAX:
        m, s = _exp_shifted_row(zi, ai)
        for j in range(zi.size):
            ai[j] /= s
    else:
        for j in range(zi.size):
            ai[j] = _activate(act, zi[j])


@njit(inline="always")
def _derivative_times(act, z, a, g):
    """``activation'(z) * g`` for one element (``activations.*_backward``; softmax is row-wise)."""
    one = _as(1, a)
    if act == Fused.SIGMOID:
        return g * a * (one - a)
    if act == Fused.RELU:
        return g if z > 0 else g * _as(0, g)
    if act == Fused.TANH:
        return g * (one - a * a)
    return g


@njit(**_opts)
def activation_forward(z, act, a):
    """``a = activation(z)``: ``Activation.forward`` (sigmoid ``1/(1+exp(-z))``, relu ``max(z, 0)``,
    tanh, softmax ``exp(z - max) / sum``).  ``z, a: (N, M)``; ``a`` may be ``z`` for an element-wise
    activation (a convolution without bias applies relu in place: correct, but LLVM then runs the
    loop's scalar version, see :func:`bias_activation_forward`)."""
    N, M = z.shape
    if act == Fused.SOFTMAX:
        for i in range(N):
            _activate_row(z[i], act, a[i])
        return
    for i in range(N):
        for j in range(M):
            a[i, j] = _activate(act, z[i, j])


@njit(**_opts)
def bias_activation_forward(z, b, act, a):
    """``z += b; a = activation(z)`` in one pass: the second half of ``Dense.forward``
    (``z = x @ W + b; a = activation(z)``) after the matrix product.  ``z, a: (N, M)``, ``b: (M,)``.

    ``a`` may be ``z`` itself (linear; relu in a convolution): then ``z = activation(z + b)``, in a
    loop of its own.  A loop that writes two arrays which turn out to be one runs LLVM's scalar
    fallback, 2-3x slower (and ``z = max(z, 0)`` alone becomes masked stores, slower still on AMD).
    """
    N, M = z.shape
    if act != Fused.SOFTMAX and z.ctypes.data == a.ctypes.data:
        for i in range(N):
            for j in range(M):
                z[i, j] = _activate(act, z[i, j] + b[j])
        return
    for i in range(N):
        zi = z[i]
        for j in range(M):
            zi[j] += b[j]
        _activate_row(zi, act, a[i])


@njit(**_opts)
def activation_backward(z, a, da, act, dz, db):
    """``dz = activation'(z) * da`` and, unless ``db`` is None, ``db = dz.sum(axis=0)``, in one pass.

    ``activations.*_backward``: sigmoid ``da*a*(1-a)``, relu ``da*(z>0)``, tanh ``da*(1-a*a)``,
    softmax ``a*(da - sum(da*a, axis=-1))``; the bias gradient is ``Dense.backward``'s
    ``db = dz.sum(axis=0)``.  ``z, a, da, dz: (N, M)``; ``db: (M,)`` or None.  ``dz`` may be ``da``.
    """
    N, M = da.shape
    if db is not None:
        for j in range(M):
            db[j] = 0
    if act == Fused.SOFTMAX:                        # softmax: each row needs its own sum first
        for i in range(N):
            g, ai = dz[i], a[i]
            s = da[i, 0] * 0
            for j in range(M):
                s += da[i, j] * ai[j]
            for j in range(M):
                g[j] = ai[j] * (da[i, j] - s)
                if db is not None:
                    db[j] += g[j]
        return
    for i in range(N):                              # element-wise: one pass, no per-row views
        for j in range(M):
            g = _derivative_times(act, z[i, j], a[i, j], da[i, j])
            dz[i, j] = g
            if db is not None:
                db[j] += g


# ==================================================================================== dropout
@njit(inline="always")
def _counter_uniform(key, i):
    """``random.counter_uniform``'s number for element ``i``: SplitMix64's finaliser applied to
    ``key + (i + 1) * golden``, top 24 bits, in [0, 1).  Each element is computed on its own, so the
    loop vectorises."""
    z = key + np.uint64(i + 1) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.float32(z >> np.uint64(40)) * np.float32(1.0 / 16777216.0)


@njit(**_opts)
def dropout_forward(x, key, rate, scale, mask, out):
    """``u = counter_uniform(key, x.size); mask = (u >= rate) * scale; out = x * mask`` in one pass:
    ``Dropout.forward`` with the same ``u`` as the NumPy expression (``counter_random.py``), computed in the
    loop instead of stored.  ``x, mask, out: (N, M)``; ``rate``: float32."""
    N, M = x.shape
    k = np.uint64(key)
    for i in range(N):
        for j in range(M):
            m = scale if _counter_uniform(k, i * M + j) >= rate else _as(0, scale)
            mask[i, j] = m
            out[i, j] = x[i, j] * m


@njit(**_opts)
def dropout_keep(x, keep, scale, mask, out):
    """``mask = keep * scale; out = x * mask`` for a given boolean ``keep`` (``Dropout.mask_source``)."""
    N, M = x.shape
    for i in range(N):
        for j in range(M):
            m = scale if keep[i, j] else _as(0, scale)
            mask[i, j] = m
            out[i, j] = x[i, j] * m


# ===================================================================================== losses
@njit(**_opts)
def softmax_crossentropy(z, y, p, dz):
    """Softmax head + cross-entropy, fused: returns the loss; fills ``p`` and ``dz``.

    ``p = softmax(z)``, ``L = mean_i(logsumexp(z_i) - y_i . z_i)``
    (``losses.softmax_crossentropy_from_logits``) and ``dz = (p - y) / N``
    (``losses.softmax_crossentropy_from_logits_gradient``): one pass over ``z`` instead of about
    eight.  ``z, y, p, dz: (N, C)``.
    """
    N, C = z.shape
    inv_n = 1 / N
    loss = 0.0
    for i in range(N):
        zi, pi = z[i], p[i]
        m, s = _exp_shifted_row(zi, pi)
        lse = m + math.log(s)
        for j in range(C):
            loss += y[i, j] * (lse - zi[j])
            pi[j] /= s
            dz[i, j] = (pi[j] - y[i, j]) * inv_n
    return loss * inv_n


@njit(**_opts)
def crossentropy(p, y, dp, lo, hi):
    """Categorical cross-entropy on probabilities, fused: returns the loss and fills ``dp = dL/dp``.

    ``losses.categorical_crossentropy`` (``q = p / s``, ``s = sum_k p_ik`` (1 for an all-zero row),
    ``q = clip(q, eps, 1 - eps)``, ``L = mean_i -sum_j y_ij log q_ij``) and
    ``losses.categorical_crossentropy_gradient`` (``g = -y / (N q)`` where the clip is inactive, else
    0; ``dp = (g - sum_j g_ij q_ij) / s``).  ``p, y, dp: (N, C)``; ``lo, hi``: ``eps`` and
    ``1 - eps`` in ``p``'s dtype, as NumPy rounds them.
    """
    N, C = p.shape
    loss = 0.0
    for i in range(N):
        pi = p[i]
        s = pi[0] * 0
        for j in range(C):
            s += pi[j]
        if not s > 0:
            s = s * 0 + 1
        gq = s * 0
        for j in range(C):
            q = pi[j] / s
            loss -= y[i, j] * math.log(min(max(q, lo), hi))
            g = -y[i, j] / (N * q) if (q >= lo and q <= hi) else q * 0
            dp[i, j] = g
            gq += g * q
        for j in range(C):
            dp[i, j] = (dp[i, j] - gq) / s
    return loss / N


# ================================================================================= optimizers
# Without fastmath LLVM performs exactly the float32 (or float64) operations NumPy performs, in the
# same order, so an update is bit for bit the one in optimizers.py (sqrt and division still
# vectorise, see error_model above).

@njit(**_opts)
def _adam_one(w, g, m, v, one_minus_beta_1, one_minus_beta_2, alpha, eps):
    for k in range(w.size):
        gk = g[k]
        mk = m[k] + (gk - m[k]) * one_minus_beta_1
        vk = v[k] + (gk * gk - v[k]) * one_minus_beta_2
        m[k] = mk
        v[k] = vk
        w[k] = w[k] - mk * alpha / (np.sqrt(vk) + eps)


@njit(**_opts)
def adam_update(ws, gs, ms, vs, one_minus_beta_1, one_minus_beta_2, alpha, eps):
    """One Adam step over all parameters (tuples of 1-D views), one pass each: ``Adam.update``'s
    ``m += (g - m) * (1 - beta_1); v += (g*g - v) * (1 - beta_2); w -= m * alpha / (sqrt(v) + eps)``.
    NumPy makes about 10 passes over each parameter (and allocates temporaries); this makes one."""
    for p in range(len(ws)):
        _adam_one(ws[p], gs[p], ms[p], vs[p], one_minus_beta_1, one_minus_beta_2, alpha, eps)


@njit(**_opts)
def _sgd_one(w, g, lr):
    for k in range(w.size):
        w[k] = w[k] - g[k] * lr


@njit(**_opts)
def _sgd_momentum_one(w, g, v, lr, momentum, nesterov):
    for k in range(w.size):
        vk = v[k] * momentum
        vk = vk - g[k] * lr
        v[k] = vk
        if nesterov:
            w[k] = w[k] + (vk * momentum - g[k] * lr)
        else:
            w[k] = w[k] + vk


@njit(**_opts)
def sgd_update(ws, gs, velocities, lr, momentum, nesterov):
    """One SGD step over all parameters (tuples of 1-D views; ``velocities`` None without momentum):
    ``SGD.update``'s ``w -= g * lr``, or ``v = v * mu - g * lr; w += v`` (Nesterov
    ``w += v * mu - g * lr``)."""
    for p in range(len(ws)):
        if velocities is None:
            _sgd_one(ws[p], gs[p], lr)
        else:
            _sgd_momentum_one(ws[p], gs[p], velocities[p], lr, momentum, nesterov)


@njit(**_opts)
def _rmsprop_one(w, g, v, m, a, rho, one_minus_rho, momentum, eps, lr):
    for k in range(w.size):
        gk = g[k]
        vk = rho * v[k] + one_minus_rho * (gk * gk)
        v[k] = vk
        if a is not None:                                      # centered
            ak = rho * a[k] + one_minus_rho * gk
            a[k] = ak
            d = vk - ak * ak + eps
        else:
            d = vk + eps
        step = lr * gk / np.sqrt(d)
        if m is not None:                                      # with momentum
            mk = momentum * m[k] + step
            m[k] = mk
            w[k] = w[k] - mk
        else:
            w[k] = w[k] - step


@njit(**_opts)
def rmsprop_update(ws, gs, vs, ms, avgs, rho, one_minus_rho, momentum, eps, lr):
    """One RMSprop step over all parameters (tuples of 1-D views), one pass each: ``RMSprop.update``'s
    ``v = rho*v + (1-rho)*g*g``; centered ``a = rho*a + (1-rho)*g``, ``d = v - a*a + eps``, else
    ``d = v + eps``; ``step = lr*g / sqrt(d)``; ``m = momentum*m + step; w -= m`` or ``w -= step``.
    ``ms`` is None without momentum, ``avgs`` None unless centered."""
    for p in range(len(ws)):             # one condition per `if`: Numba drops the branches a None rules out
        if ms is None:
            if avgs is None:
                _rmsprop_one(ws[p], gs[p], vs[p], None, None, rho, one_minus_rho, momentum, eps, lr)
            else:
                _rmsprop_one(ws[p], gs[p], vs[p], None, avgs[p], rho, one_minus_rho, momentum, eps, lr)
        else:
            if avgs is None:
                _rmsprop_one(ws[p], gs[p], vs[p], ms[p], None, rho, one_minus_rho, momentum, eps, lr)
            else:
                _rmsprop_one(ws[p], gs[p], vs[p], ms[p], avgs[p], rho, one_minus_rho, momentum, eps, lr)
