"""Numba loops for ``conv.py``: each computes one NumPy expression of ``Conv2D``/``MaxPooling2D``.

Read ``conv.py`` first (the definitions and the im2col formulation); each method there hands its work
to ``engine/fast.py`` in one line beside the plain expression it replaces.  Conventions as in
``loops.py``: loops write into arrays they are given, never allocate, ``cache=True``, and run serially
on the calling thread (no ``prange``: OpenBLAS owns the cores for the matrix products, see
``threads.py``).  Padding is handled by index arithmetic: no padded copy of the input is made.

Speed: the innermost loop of every kernel runs over the channel axis, contiguous in memory
(channels-last), with no branch inside it, so LLVM turns it into SIMD instructions; comparisons
become selects (``v if v > m else m``) rather than ``if`` statements around stores.  (A direct
convolution without im2col was measured and removed: ``docs/speed.md#direct-convolution``.)
"""
import numpy as np
from numba import njit

from .loops import _opts


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
