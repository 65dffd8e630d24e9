"""Numba kernels for ``conv.py``: each computes one NumPy expression of ``Conv2D``/``MaxPooling2D``.

Read ``conv.py`` first (the definitions and the im2col formulation); each method there calls its
kernel right beside the plain expression it replaces.  Conventions as in ``kernels.py``: kernels
write into arrays they are given, never allocate, ``cache=True``, and run serially on the calling
thread (no ``prange``: OpenBLAS owns the cores for the matrix products, see ``backend.py``).
Padding is handled by index arithmetic: no padded copy of the input is made.
"""
import numpy as np
from numba import njit

_opts = dict(cache=True, nogil=True, error_model="numpy")   # no fastmath: copies and maxima are exact


@njit(**_opts)
def im2col(x, kh, kw, sh, sw, pt, pl, cols):
    """``cols[n, r, c, i, j, ch] = xp[n, r*sh + i, c*sw + j, ch]`` (``conv.im2col``), where ``xp`` is ``x``
    padded with ``pt`` rows on top and ``pl`` columns on the left (and zeros wherever the field
    leaves ``x``).  ``x (N, H, W, C)``, ``cols (N, OH, OW, kh, kw, C)``."""
    N, H, W, C = x.shape
    OH, OW = cols.shape[1], cols.shape[2]
    for n in range(N):
        for r in range(OH):
            for c in range(OW):
                for i in range(kh):
                    h = r * sh + i - pt
                    for j in range(kw):
                        w = c * sw + j - pl
                        if 0 <= h < H and 0 <= w < W:
                            for ch in range(C):
                                cols[n, r, c, i, j, ch] = x[n, h, w, ch]
                        else:
                            for ch in range(C):
                                cols[n, r, c, i, j, ch] = 0


@njit(**_opts)
def col2im(dcols, sh, sw, pt, pl, dx):
    """``dx = 0``, then ``dx[n, r*sh + i - pt, c*sw + j - pl, ch] += dcols[n, r, c, i, j, ch]`` inside the
    image (``conv.col2im`` followed by the crop).  ``dcols (N, OH, OW, kh, kw, C)``, ``dx (N, H, W, C)``."""
    N, H, W, C = dx.shape
    _, OH, OW, kh, kw, _ = dcols.shape
    dx[...] = 0
    for n in range(N):
        for r in range(OH):
            for c in range(OW):
                for i in range(kh):
                    h = r * sh + i - pt
                    if h < 0 or h >= H:
                        continue
                    for j in range(kw):
                        w = c * sw + j - pl
                        if w < 0 or w >= W:
                            continue
                        for ch in range(C):
                            dx[n, h, w, ch] += dcols[n, r, c, i, j, ch]


@njit(**_opts)
def maxpool_forward(x, ph, pw, sh, sw, pt, pl, out, arg):
    """``out[n, r, c, ch] = max`` over the window and ``arg[n, r, c, ch] = i*pw + j`` of its first maximum
    (row-major; padded cells are ``-inf`` and never chosen), as ``MaxPooling2D.forward``.
    ``x (N, H, W, C)``, ``out`` and ``arg (N, OH, OW, C)``."""
    N, H, W, C = x.shape
    OH, OW = out.shape[1], out.shape[2]
    for n in range(N):
        for r in range(OH):
            for c in range(OW):
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
                            v = x[n, h, w, ch]
                            if v > out[n, r, c, ch]:          # strict: the first maximum wins ties
                                out[n, r, c, ch] = v
                                arg[n, r, c, ch] = k
                # a window of -inf only (impossible for the paddings Keras allows) keeps k = 0


@njit(**_opts)
def maxpool_backward(da, arg, pw, sh, sw, pt, pl, dx):
    """``dx = 0``, then ``dx[n, r*sh + i - pt, c*sw + j - pl, ch] += da[n, r, c, ch]`` with
    ``(i, j) = divmod(arg[n, r, c, ch], pw)`` (``MaxPooling2D.backward``).  ``da, arg (N, OH, OW, C)``,
    ``dx (N, H, W, C)``."""
    N, H, W, C = dx.shape
    OH, OW = da.shape[1], da.shape[2]
    dx[...] = 0
    for n in range(N):
        for r in range(OH):
            for c in range(OW):
                for ch in range(C):
                    k = arg[n, r, c, ch]
                    h, w = r * sh + k // pw - pt, c * sw + k % pw - pl
                    if 0 <= h < H and 0 <= w < W:
                        dx[n, h, w, ch] += da[n, r, c, ch]
