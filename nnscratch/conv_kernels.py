"""Numba kernels for ``conv.py``: each computes one NumPy expression of ``Conv2D``/``MaxPooling2D``.

Read ``conv.py`` first (the definitions and the im2col formulation); each method there calls its
kernel right beside the plain expression it replaces.  Conventions as in ``kernels.py``: kernels
write into arrays they are given, never allocate, ``cache=True``, and run serially on the calling
thread (no ``prange``: OpenBLAS owns the cores for the matrix products, see ``backend.py``).
Padding is handled by index arithmetic: no padded copy of the input is made.

Speed: the innermost loop of every kernel runs over the channel axis, contiguous in memory
(channels-last), with no branch inside it, so LLVM turns it into SIMD instructions; comparisons
become selects (``v if v > m else m``) rather than ``if`` statements around stores.  The direct
convolution (:func:`conv_direct_forward`, :func:`conv_direct_backward`) serves layers whose
``K = kh*kw*C`` is small (the first layer of an MNIST convnet: ``K = 9``): there im2col + GEMM moves
``K`` times the input through memory for a product BLAS does poorly, and the fused loops win.
After editing a kernel here or the ``_activate_row`` / ``_derivative_times`` it calls, delete
``nnscratch/__pycache__/*.nb*`` (see ``kernels.py``).
"""
import numpy as np
from numba import njit

from .kernels import _activate_row, _derivative_times, _opts


@njit(**_opts)
def im2col(x, kh, kw, sh, sw, pt, pl, cols):
    """``cols[n, r, c, i, j, ch] = xp[n, r*sh + i, c*sw + j, ch]`` (``conv.im2col``), where ``xp`` is ``x``
    padded with ``pt`` rows on top and ``pl`` columns on the left (and zeros wherever the field
    leaves ``x``).  ``x (N, H, W, C)``, ``cols (N, OH, OW, kh, kw, C)``.

    For a fixed field row ``i`` the ``kw*C`` numbers ``cols[n, r, c, i, :, :]`` are one contiguous run
    of ``x`` (pixels ``c*sw - pl ... + kw`` of image row ``h``, all channels), so each is one plain copy
    loop; only runs that touch the padding go pixel by pixel (2x faster than a loop per pixel
    and channel when ``C = 1``, the MNIST convnet's first layer)."""
    N, H, W, C = x.shape
    OH, OW = cols.shape[1], cols.shape[2]
    L = kw * C
    rows = x.reshape(N, H, W * C)
    runs = cols.reshape(N, OH, OW, kh, L)
    for n in range(N):
        for r in range(OH):
            for c in range(OW):
                w0 = c * sw - pl
                for i in range(kh):
                    h = r * sh + i - pt
                    dst = runs[n, r, c, i]
                    if h < 0 or h >= H:
                        for t in range(L):
                            dst[t] = 0
                    elif 0 <= w0 and w0 + kw <= W:
                        src = rows[n, h, w0 * C:w0 * C + L]
                        for t in range(L):
                            dst[t] = src[t]
                    else:
                        for j in range(kw):
                            w = w0 + j
                            for ch in range(C):
                                dst[j * C + ch] = x[n, h, w, ch] if 0 <= w < W else 0


@njit(**_opts)
def col2im(dcols, sh, sw, pt, pl, dx):
    """``dx = 0``, then ``dx[n, r*sh + i - pt, c*sw + j - pl, ch] += dcols[n, r, c, i, j, ch]`` inside the
    image (``conv.col2im`` followed by the crop).  ``dcols (N, OH, OW, kh, kw, C)``, ``dx (N, H, W, C)``.
    The adjoint of :func:`im2col`, by the same contiguous runs (and in the same order, so every sum
    of overlapping fields is added up in the order of the loop per pixel)."""
    N, H, W, C = dx.shape
    _, OH, OW, kh, kw, _ = dcols.shape
    L = kw * C
    rows = dx.reshape(N, H, W * C)
    runs = dcols.reshape(N, OH, OW, kh, L)
    dx[...] = 0
    for n in range(N):
        for r in range(OH):
            for c in range(OW):
                w0 = c * sw - pl
                for i in range(kh):
                    h = r * sh + i - pt
                    if h < 0 or h >= H:
                        continue
                    src = runs[n, r, c, i]
                    if 0 <= w0 and w0 + kw <= W:
                        dst = rows[n, h, w0 * C:w0 * C + L]
                        for t in range(L):
                            dst[t] += src[t]
                    else:
                        for j in range(kw):
                            w = w0 + j
                            if 0 <= w < W:
                                for ch in range(C):
                                    dx[n, h, w, ch] += src[j * C + ch]


@njit(**_opts)
def maxpool_forward(x, ph, pw, sh, sw, pt, pl, out, arg):
    """``out[n, r, c, ch] = max`` over the window and ``arg[n, r, c, ch] = i*pw + j`` of its first maximum
    (row-major; padded cells are ``-inf`` and never chosen), as ``MaxPooling2D.forward``.
    ``x (N, H, W, C)``, ``out (N, OH, OW, C)``, ``arg (N, OH, OW, C)`` of any integer type that holds
    ``ph*pw - 1`` (int8 for windows up to 127 cells: a quarter of the memory traffic of int32)."""
    N, H, W, C = x.shape
    OH, OW = out.shape[1], out.shape[2]
    for n in range(N):
        for r in range(OH):
            for c in range(OW):
                h, w = r * sh - pt, c * sw - pl
                if ph == 2 and pw == 2 and 0 <= h and h + 1 < H and 0 <= w and w + 1 < W:
                    # the usual 2x2 window, inside the image: its four cells held in registers,
                    # compared with selects, one store each: LLVM vectorises over the channels
                    for ch in range(C):
                        m, k = x[n, h, w, ch], 0
                        v = x[n, h, w + 1, ch]
                        k = 1 if v > m else k             # strict: the first maximum wins ties
                        m = v if v > m else m
                        v = x[n, h + 1, w, ch]
                        k = 2 if v > m else k
                        m = v if v > m else m
                        v = x[n, h + 1, w + 1, ch]
                        k = 3 if v > m else k
                        m = v if v > m else m
                        out[n, r, c, ch] = m
                        arg[n, r, c, ch] = k
                    continue
                for ch in range(C):
                    out[n, r, c, ch] = -np.inf
                    arg[n, r, c, ch] = 0
                for i in range(ph):
                    h = r * sh + i - pt
                    if h < 0 or h >= H:
                        continue
                    for j in range(pw):
                        w = c * sw + j - pl
                        if w < 0 or w >= W:
                            continue
                        k = i * pw + j
                        for ch in range(C):
                            v, m = x[n, h, w, ch], out[n, r, c, ch]
                            better = v > m                    # strict: the first maximum wins ties
                            out[n, r, c, ch] = v if better else m
                            arg[n, r, c, ch] = k if better else arg[n, r, c, ch]
                # a window of -inf only (impossible for the paddings Keras allows) keeps k = 0


@njit(**_opts)
def maxpool_backward(da, arg, ph, pw, sh, sw, pt, pl, dx):
    """``dx = 0``, then ``dx[n, r*sh + i - pt, c*sw + j - pl, ch] += da[n, r, c, ch]`` with
    ``(i, j) = divmod(arg[n, r, c, ch], pw)`` (``MaxPooling2D.backward``).  ``da, arg (N, OH, OW, C)``,
    ``dx (N, H, W, C)``.

    Windows that tile the input (``strides == pool_size``, Keras's default) cover each cell of ``dx``
    at most once: each covered cell is written once, ``da`` where it was the argmax and 0 elsewhere,
    and only the uncovered rows and columns at the bottom/right are zeroed; one pass over ``dx``.
    Overlapping windows zero ``dx`` first and add.
    """
    N, H, W, C = dx.shape
    OH, OW = da.shape[1], da.shape[2]
    if sh == ph and sw == pw:
        hend, wend = min(H, OH * sh - pt), min(W, OW * sw - pl)   # rows/columns [0, end) are covered
        for n in range(N):
            for r in range(OH):
                for i in range(ph):
                    h = r * sh + i - pt
                    if h < 0 or h >= H:
                        continue
                    for c in range(OW):
                        for j in range(pw):
                            w = c * sw + j - pl
                            if w < 0 or w >= W:
                                continue
                            k = i * pw + j
                            for ch in range(C):
                                g = da[n, r, c, ch]
                                dx[n, h, w, ch] = g if arg[n, r, c, ch] == k else 0
                    for w in range(max(wend, 0), W):
                        for ch in range(C):
                            dx[n, h, w, ch] = 0
            for h in range(max(hend, 0), H):
                for w in range(W):
                    for ch in range(C):
                        dx[n, h, w, ch] = 0
        return
    dx[...] = 0
    for n in range(N):
        for r in range(OH):
            for c in range(OW):
                for ch in range(C):
                    k = arg[n, r, c, ch]
                    h, w = r * sh + k // pw - pt, c * sw + k % pw - pl
                    if 0 <= h < H and 0 <= w < W:
                        dx[n, h, w, ch] += da[n, r, c, ch]


# ============================================================ direct convolution (small K = kh*kw*C)
@njit(**_opts)
def conv_direct_forward(x, w, b, act, sh, sw, pt, pl, z, a):
    """``z[n, r, c, :] = b + sum_{i, j, ch} xp[n, r*sh + i, c*sw + j, ch] * w[i, j, ch, :]`` and
    ``a = activation(z)``, one output pixel at a time (``Conv2D.forward`` without im2col; the
    definition ``conv.conv_forward_naive`` with the filter axis innermost).  ``x (N, H, W, C)``,
    ``w (kh, kw, C, F)``, ``b (F,)`` or ``(0,)`` (no bias), ``z`` and ``a (N, OH, OW, F)``; ``a`` may be
    ``z`` itself (linear and relu).  Cells of ``xp`` outside ``x`` are the zero padding: skipped."""
    N, H, W, C = x.shape
    kh, kw, _, F = w.shape
    OH, OW = z.shape[1], z.shape[2]
    with_bias = b.size > 0
    for n in range(N):
        for r in range(OH):
            for c in range(OW):
                zz = z[n, r, c]
                for f in range(F):
                    zz[f] = b[f] if with_bias else 0
                for i in range(kh):
                    h = r * sh + i - pt
                    if h < 0 or h >= H:
                        continue
                    for j in range(kw):
                        col = c * sw + j - pl
                        if col < 0 or col >= W:
                            continue
                        for ch in range(C):
                            xv = x[n, h, col, ch]
                            for f in range(F):
                                zz[f] += xv * w[i, j, ch, f]
                _activate_row(zz, act, a[n, r, c])


@njit(**_opts)
def conv_direct_backward(x, z, a, da, act, sh, sw, pt, pl, dw, db, dz, work):
    """``dz = activation'(z) * da``; ``dW[i, j, ch, :] = sum_{n, r, c} xp[n, r*sh + i, c*sw + j, ch] * dz[n, r, c, :]``;
    ``db = sum_{n, r, c} dz[n, r, c, :]``: ``Conv2D.backward``'s ``cols.T @ dz`` and ``dz.sum`` in one
    pass over ``da`` without im2col and without writing ``dz`` (unless ``dz`` has entries: the layer
    then also needs ``dx``).  ``x (N, H, W, C)``, ``z, a, da (N, OH, OW, F)``, ``dw (kh, kw, C, F)``,
    ``db (F,)`` or ``(0,)``, ``dz (N, OH, OW, F)`` or ``(0, 0, 0, 0)``.  Activation codes 0-3.

    ``work (kh*kw*C + 2, F)``: row 0 holds one pixel's ``dz``; the other rows one image's partial
    sums of ``dW`` and ``db``, added to the totals image by image (sums of ~700 terms, not ~90,000,
    so float32 rounding stays at the level of a blocked BLAS product)."""
    N, H, W, C = x.shape
    kh, kw, _, F = dw.shape
    OH, OW = da.shape[1], da.shape[2]
    K = kh * kw * C
    with_db, with_dz = db.size > 0, dz.size > 0
    g = work[0]
    dwn = work[1:K + 1]
    dbn = work[K + 1]
    dw2 = dw.reshape(K, F)
    dw2[...] = 0
    if with_db:
        db[...] = 0
    for n in range(N):
        work[1:, :] = 0
        for r in range(OH):
            for c in range(OW):
                for f in range(F):
                    gf = _derivative_times(act, z[n, r, c, f], a[n, r, c, f], da[n, r, c, f])
                    g[f] = gf
                    dbn[f] += gf
                if with_dz:
                    for f in range(F):
                        dz[n, r, c, f] = g[f]
                for i in range(kh):
                    h = r * sh + i - pt
                    if h < 0 or h >= H:
                        continue
                    for j in range(kw):
                        col = c * sw + j - pl
                        if col < 0 or col >= W:
                            continue
                        for ch in range(C):
                            xv = x[n, h, col, ch]
                            t = (i * kw + j) * C + ch
                            for f in range(F):
                                dwn[t, f] += xv * g[f]
        for t in range(K):
            for f in range(F):
                dw2[t, f] += dwn[t, f]
        if with_db:
            for f in range(F):
                db[f] += dbn[f]
