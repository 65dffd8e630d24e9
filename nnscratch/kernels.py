"""Numba kernels for the hot paths of training, each beside the NumPy expression it replaces.

Read ``layers.py``, ``activations.py``, ``losses.py`` and ``optimizers.py`` first: they carry the
math.  Every kernel here computes one of their expressions (named in its docstring) with fewer
passes over memory, no temporary arrays and no Python overhead.  ``tests/test_kernels.py`` checks each
kernel against its NumPy expression.

Conventions
-----------
* Kernels write into arrays they are given (``out=``-style); they never allocate per call, so a
  training loop can reuse the same buffers for every batch.
* 2-D arguments must be C-contiguous (the wrappers and the engine guarantee it).  This keeps the
  number of compiled type signatures small: float32 and float64, one layout.
* ``cache=True`` everywhere: the machine code is stored in ``__pycache__`` and the first call in a
  new process costs a cache load (milliseconds) instead of a compile (seconds).
* ``FASTMATH`` is the flag set that lets LLVM reorder sums and use FMA and fast reciprocals but
  *keeps infinities*: ``fastmath=True`` would also assume no inf, and ``exp(-z)`` overflowing to
  inf for large negative ``z`` then turns sigmoid into NaN (measured on this machine).
* Activation codes (``ACT_CODES``): 0 linear, 1 sigmoid, 2 relu, 3 tanh, 4 softmax (row-wise).
* Threads: the matrix product and the optimizer update are parallel (``prange``).  The other
  element-wise kernels are serial: they are small, and a serial kernel never wakes a second thread
  pool (see ``engine.py`` for which pool runs what).
"""
import math

import numba
import numpy as np
from numba import njit, prange

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
ACT_CODES = {"linear": 0, "sigmoid": 1, "relu": 2, "tanh": 3, "softmax": 4}

_fast = dict(cache=True, fastmath=FASTMATH, nogil=True)
_exact = dict(cache=True, nogil=True)          # no fastmath: bit-for-bit the NumPy arithmetic
# The optimizer kernels loop with ``prange``: Numba then proves the arrays independent and LLVM
# vectorises sqrt and division (measured: 0.1-0.2 ms for Adam over 669,706 float32 parameters
# against 1.6 ms for the same loop with ``range``, which stays scalar), still bit for bit.
_exact_parallel = dict(cache=True, nogil=True, parallel=True)


# ================================================================================== matrix product
# Register blocking.  A naive triple loop loads two numbers per multiply-add.  The 4x4 micro-kernel
# below keeps 16 running sums in registers and, per step of k, loads 4 numbers of A and 4 of B for
# 16 multiply-adds.  Both operands are read along rows (contiguous in memory), so B enters
# transposed: out = A @ Bt.T.  LLVM vectorises the k loop (the 'reassoc' flag lets it split each sum
# into SIMD lanes), giving 16 vector accumulators.
#
# Cache blocking.  Columns of ``out`` are taken in panels of 64 (64 rows of Bt, 64*K numbers: fits in
# L2 for the K of this model); every block of 4 rows of A is run against one panel before the next,
# so the panel is read from L2, not from memory.  The parallel loop runs over (panel, row block).

_PANEL = 16          # blocks of 4 columns per panel (64 columns)


@njit(parallel=True, **_fast)
def gemm_abt(a, bt, out):
    """``out = a @ bt.T``: ``a (M, K)``, ``bt (N, K)``, ``out (M, N)``, all C-contiguous.

    Replaces ``np.matmul(a, bt.T, out=out)``.  Parallel over (64-column panel, 4-row block).
    """
    M, K = a.shape
    N = bt.shape[0]
    mb, nb = M // 4, N // 4
    npanels = (nb + _PANEL - 1) // _PANEL
    zero = np.zeros(1, a.dtype)[0]
    for t in prange(npanels * mb):
        i = (t % mb) * 4
        jp = t // mb
        a0, a1, a2, a3 = a[i], a[i + 1], a[i + 2], a[i + 3]
        for jb in range(jp * _PANEL, min((jp + 1) * _PANEL, nb)):
            j = jb * 4
            b0, b1, b2, b3 = bt[j], bt[j + 1], bt[j + 2], bt[j + 3]
            c00 = c01 = c02 = c03 = zero
            c10 = c11 = c12 = c13 = zero
            c20 = c21 = c22 = c23 = zero
            c30 = c31 = c32 = c33 = zero
            for k in range(K):
                x0, x1, x2, x3 = a0[k], a1[k], a2[k], a3[k]
                y0, y1, y2, y3 = b0[k], b1[k], b2[k], b3[k]
                c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3
                c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3
                c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3
                c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3
            out[i, j], out[i, j + 1], out[i, j + 2], out[i, j + 3] = c00, c01, c02, c03
            out[i + 1, j], out[i + 1, j + 1], out[i + 1, j + 2], out[i + 1, j + 3] = c10, c11, c12, c13
            out[i + 2, j], out[i + 2, j + 1], out[i + 2, j + 2], out[i + 2, j + 3] = c20, c21, c22, c23
            out[i + 3, j], out[i + 3, j + 1], out[i + 3, j + 2], out[i + 3, j + 3] = c30, c31, c32, c33
    # Edges: rows below the last full block of 4 (all columns), then the remaining columns of the
    # full row blocks.  Plain dot products; at most 3 rows / 3 columns.
    for i in prange(mb * 4, M):
        for j in range(N):
            s = zero
            for k in range(K):
                s += a[i, k] * bt[j, k]
            out[i, j] = s
    for i in prange(mb * 4):
        for j in range(nb * 4, N):
            s = zero
            for k in range(K):
                s += a[i, k] * bt[j, k]
            out[i, j] = s


@njit(**_fast)
def transpose_into(src, dst):
    """``dst[...] = src.T`` in 32x32 tiles (both C-contiguous).  Replaces ``np.copyto(dst, src.T)``.

    Tiling keeps both the rows read and the rows written in cache.
    """
    R, C = src.shape
    for i0 in range(0, R, 32):
        for j0 in range(0, C, 32):
            for i in range(i0, min(i0 + 32, R)):
                for j in range(j0, min(j0 + 32, C)):
                    dst[j, i] = src[i, j]


def _c(x):
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def matmul(a, b, out=None, a_buf=None, bt_buf=None):
    """``out = a @ b`` for 2-D float arrays of one dtype, any layout (views, transposes, strides).

    Replaces ``np.matmul(a, b, out=out)``.  The kernel wants ``a`` and ``b.T`` C-contiguous:
    ``b.T`` already is when ``b`` is a transposed view of a C array (``W.T`` in ``dx = dz @ W.T``);
    otherwise ``b`` is packed into ``bt_buf`` (``(N, K)``), and a non-contiguous ``a`` (``x.T`` in
    ``dW = x.T @ dz``) into ``a_buf`` (``(M, K)``).  Without buffers the packing allocates.
    """
    if a.dtype != b.dtype:
        raise TypeError(f"matmul: dtypes differ ({a.dtype}, {b.dtype})")
    M, K = a.shape
    if b.shape[0] != K:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align")
    N = b.shape[1]
    if out is None:
        out = np.empty((M, N), a.dtype)
    if not a.flags.c_contiguous:
        if a_buf is None:
            a_buf = np.empty((M, K), a.dtype)
        if a.T.flags.c_contiguous:
            transpose_into(a.T, a_buf)
        else:
            a_buf[...] = a
        a = a_buf
    bt = b.T
    if not bt.flags.c_contiguous:
        if bt_buf is None:
            bt_buf = np.empty((N, K), b.dtype)
        if b.flags.c_contiguous:
            transpose_into(b, bt_buf)
        else:
            bt_buf[...] = bt
        bt = bt_buf
    if K == 0:
        out[...] = 0
    elif M and N:
        gemm_abt(a, bt, out)
    return out


# ================================================================================== element-wise
@njit(**_fast)
def _sigmoid(z):
    # activations.sigmoid: exp only sees -|z| <= 0, so it never overflows.
    e = math.exp(-abs(z))
    return 1 / (1 + e) if z >= 0 else e / (1 + e)


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


@njit(**_fast)
def bias_act(z, b, code, a):
    """``z += b; a[...] = activation(z)`` in one pass.  ``z, a: (N, M)``, ``b: (M,)``.

    Replaces ``z = x @ W + b; a = activation.forward(z)`` after the product (``Dense.forward``).
    ``a`` may be ``z`` itself for the linear activation.  Softmax (code 4) is row-wise:
    ``a_ij = exp(z_ij - max_k z_ik) / sum_k exp(z_ik - max_k z_ik)``.
    """
    N, M = z.shape
    for i in range(N):
        zi, ai = z[i], a[i]
        for j in range(M):
            zi[j] += b[j]
        if code == 0:
            for j in range(M):
                ai[j] = zi[j]
        elif code == 1:
            for j in range(M):
                ai[j] = _sigmoid(zi[j])
        elif code == 2:
            for j in range(M):
                ai[j] = max(zi[j], 0)
        elif code == 3:
            for j in range(M):
                ai[j] = math.tanh(zi[j])
        else:
            m, s = _exp_shifted_row(zi, ai)
            for j in range(M):
                ai[j] /= s


@njit(**_fast)
def act_backward(z, a, da, mask, code, dz, db):
    """``dz = activation'(z) * (da * mask)`` and ``db = dz.sum(axis=0)``, in one pass.

    Replaces ``Dropout.backward`` (``da * mask``; pass ``mask`` of shape ``(0, 0)`` for none), then
    ``activation.backward(z, a, da)`` (sigmoid ``da*a*(1-a)``, relu ``da*(z>0)``, tanh
    ``da*(1-a*a)``, softmax ``a*(da - sum(da*a, axis=-1))``), then the bias gradient of
    ``Dense.backward_from_z`` (``np.sum(dz, axis=0, out=db)``, same row-by-row order).
    ``z, a, da, dz: (N, M)``; ``db: (M,)``.  ``dz`` may be ``da``.
    """
    N, M = da.shape
    masked = mask.shape[0] > 0
    for j in range(M):
        db[j] = 0
    for i in range(N):
        g = dz[i]
        for j in range(M):
            g[j] = da[i, j] * mask[i, j] if masked else da[i, j]
        if code == 1:
            for j in range(M):
                g[j] = g[j] * a[i, j] * (1 - a[i, j])
        elif code == 2:
            for j in range(M):
                g[j] = g[j] if z[i, j] > 0 else g[j] * 0
        elif code == 3:
            for j in range(M):
                g[j] = g[j] * (1 - a[i, j] * a[i, j])
        elif code == 4:
            s = g[0] * 0
            for j in range(M):
                s += g[j] * a[i, j]
            for j in range(M):
                g[j] = a[i, j] * (g[j] - s)
        for j in range(M):
            db[j] += g[j]


@njit(inline="always")
def _uniform24(seed, i):
    """A uniform number in [0, 1) with 24 random bits, for element ``i`` of a stream ``seed``.

    SplitMix64 used as a counter-based generator: ``z = seed + (i + 1) * golden``, then its
    finaliser (two multiply-xorshift rounds) scrambles ``z``.  Each element is computed on its own,
    so the loop vectorises (a per-element call to a sequential generator cannot).
    """
    z = seed + np.uint64(i + 1) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.float32(z >> np.uint64(40)) * np.float32(1.0 / 16777216.0)


@njit(cache=True, fastmath=FASTMATH, nogil=True, parallel=True)
def dropout_forward(x, rate, scale, seed, mask, out):
    """``keep = U >= rate``; ``mask = keep * scale``; ``out = x * mask``, in one pass.

    Replaces ``Dropout.forward`` in training: ``keep = rng.random(x.shape) >= rate;
    mask = keep * (1 / (1 - rate)); a = x * mask``.  ``U`` comes from a counter-based generator
    (:func:`_uniform24`) keyed by ``seed``, which the engine draws from the layer's ``numpy``
    Generator on every call: the masks are reproducible, but differ from the NumPy backend's.
    ``x, mask, out: (N, M)``; ``out`` may be ``x``.
    """
    N, M = x.shape
    key = np.uint64(seed) * np.uint64(0xD1B54A32D192ED03)
    r = np.float32(rate)
    for i in prange(N):
        for j in range(M):
            m = scale if _uniform24(key, i * M + j) >= r else scale * 0
            mask[i, j] = m
            out[i, j] = x[i, j] * m


@njit(**_fast)
def apply_keep(x, keep, scale, mask, out):
    """``mask = keep * scale``; ``out = x * mask`` for a given boolean ``keep`` (``Dropout.mask_source``)."""
    N, M = x.shape
    for i in range(N):
        for j in range(M):
            m = scale if keep[i, j] else scale * 0
            mask[i, j] = m
            out[i, j] = x[i, j] * m


@njit(**_fast)
def softmax_xent(z, y, p, dz):
    """Softmax head + cross-entropy, fused: returns ``(loss, n_correct)``; fills ``p`` and ``dz``.

    Replaces ``p = activations.softmax(z)``,
    ``L = losses.softmax_crossentropy_from_logits(y, z)`` (``mean_i(logsumexp(z_i) - y_i . z_i)``),
    ``dz = losses.softmax_crossentropy_from_logits_gradient(y, p)`` (``(p - y) / N``) and the
    accuracy count ``sum(p.argmax(1) == y.argmax(1))``: one pass over ``z`` instead of about eight.
    ``z, y, p, dz: (N, C)``; ``dz`` may be ``p``.  (``z`` already holds the bias.)
    """
    N, C = z.shape
    inv_n = 1 / N
    loss = 0.0
    correct = 0
    for i in range(N):
        zi, pi = z[i], p[i]
        m, s = _exp_shifted_row(zi, pi)
        lse = m + math.log(s)
        yz = 0.0
        ym, ay = y[i, 0], 0
        for j in range(C):
            yz += y[i, j] * (lse - zi[j])
            if y[i, j] > ym:
                ym, ay = y[i, j], j
        loss += yz
        am = 0
        for j in range(C):
            pi[j] /= s
            dz[i, j] = (pi[j] - y[i, j]) * inv_n
            if pi[j] > pi[am]:
                am = j
        correct += am == ay
    return loss * inv_n, correct


@njit(**_fast)
def xent(p, y, dp):
    """Categorical cross-entropy on probabilities (any output layer but softmax), fused:
    returns ``(loss, n_correct)`` and fills ``dp = dL/dp``.

    Replaces ``losses.categorical_crossentropy(y, p)`` (``q = p / s``, ``s = sum_k p_ik`` (1 for an
    all-zero row), ``q = clip(q, eps, 1 - eps)``, ``L = mean_i -sum_j y_ij log q_ij``),
    ``losses.categorical_crossentropy_gradient(y, p)`` (``g = -y / (N q)`` where the clip is inactive,
    else 0; ``dp = (g - sum_j g_ij q_ij) / s``) and the accuracy count.  ``p, y, dp: (N, C)``.
    """
    eps = 1e-7
    N, C = p.shape
    loss = 0.0
    correct = 0
    for i in range(N):
        pi = p[i]
        s = pi[0] * 0
        am = 0
        for j in range(C):
            s += pi[j]
            if pi[j] > pi[am]:
                am = j
        if not s > 0:
            s = s * 0 + 1
        ay = 0
        for j in range(C):
            if y[i, j] > y[i, ay]:
                ay = j
        correct += am == ay
        gq = s * 0
        for j in range(C):
            q = pi[j] / s
            qc = min(max(q, eps), 1 - eps)
            loss -= y[i, j] * math.log(qc)
            g = -y[i, j] / (N * q) if (q >= eps and q <= 1 - eps) else q * 0
            dp[i, j] = g
            gq += g * q
        for j in range(C):
            dp[i, j] = (dp[i, j] - gq) / s
    return loss / N, correct


# ================================================================================== optimizers
# No fastmath here: without 'contract' (FMA) and 'arcp' (reciprocals) LLVM performs exactly the
# float32 (or float64) operations NumPy performs, in the same order, so the update is bit-for-bit
# the one in optimizers.py (and therefore Keras's).

@njit(**_exact_parallel)
def _adam_one(w, g, m, v, one_minus_b1, one_minus_b2, alpha, eps):
    for k in prange(w.size):
        gk = g[k]
        mk = m[k] + (gk - m[k]) * one_minus_b1
        vk = v[k] + (gk * gk - v[k]) * one_minus_b2
        m[k] = mk
        v[k] = vk
        w[k] = w[k] - mk * alpha / (np.sqrt(vk) + eps)


@njit(**_exact)
def adam_update(ws, gs, ms, vs, one_minus_b1, one_minus_b2, alpha, eps):
    """One Adam step over *all* parameters in one pass each (``ws, gs, ms, vs``: tuples of 1-D views).

    Replaces, for every parameter (``optimizers.Adam._update``)::

        m += (g - m) * (1 - beta_1)
        v += (g*g - v) * (1 - beta_2)
        w -= m * alpha / (sqrt(v) + epsilon)

    with the scalars already cast as Keras casts them (the caller computes ``alpha``).
    NumPy makes about 10 passes over each parameter (and allocates temporaries); this makes one.
    """
    for p in range(len(ws)):
        _adam_one(ws[p], gs[p], ms[p], vs[p], one_minus_b1, one_minus_b2, alpha, eps)


@njit(**_exact_parallel)
def _sgd_one(w, g, lr):
    for k in prange(w.size):
        w[k] = w[k] - g[k] * lr


@njit(**_exact_parallel)
def _sgd_momentum_one(w, g, v, lr, momentum, nesterov):
    for k in prange(w.size):
        vk = v[k] * momentum
        vk = vk - g[k] * lr
        v[k] = vk
        if nesterov:
            w[k] = w[k] + (vk * momentum - g[k] * lr)
        else:
            w[k] = w[k] + vk


@njit(**_exact)
def sgd_update(ws, gs, vels, lr, momentum, nesterov):
    """One SGD step over all parameters (tuples of 1-D views); ``vels`` is empty without momentum.

    Replaces ``optimizers.SGD._update``: ``w -= g * lr``, or with momentum ``v = v * mu - g * lr``
    (computed as ``v *= mu; v -= g * lr``) and ``w += v`` (Nesterov: ``w += v * mu - g * lr``).
    """
    for p in range(len(ws)):
        if len(vels) == 0:
            _sgd_one(ws[p], gs[p], lr)
        else:
            _sgd_momentum_one(ws[p], gs[p], vels[p], lr, momentum, nesterov)


@njit(**_fast)
def take_rows(x, idx, out):
    """``out[...] = x[idx]`` (rows, a mini-batch).  Replaces ``np.take(x, idx, axis=0, out=out)``."""
    for r in range(idx.size):
        src, dst = x[idx[r]], out[r]
        for j in range(src.size):
            dst[j] = src[j]


@njit(**_fast)
def argmax_rows_equal(p, labels):
    """``sum(p.argmax(axis=1) == labels)``: the accuracy count for predictions."""
    N, C = p.shape
    c = 0
    for i in range(N):
        am = 0
        for j in range(1, C):
            if p[i, j] > p[i, am]:
                am = j
        c += am == labels[i]
    return c


def set_num_threads(n):
    """Threads used by the parallel matrix product (Numba's pool)."""
    numba.set_num_threads(n)

