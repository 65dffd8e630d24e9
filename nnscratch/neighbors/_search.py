"""The neighbour search: per query row, the k nearest training rows, exactly as scikit-learn finds them.

(A little over 400 lines: the two search objects share the selection kernels and belong together.)

One small object per metric keeps what it precomputes from the training rows ``Y (n, d)`` and
answers ``search.chunk(X, lo, hi, k, on_y, vals, inds)``: the k nearest of the queries
``X[lo:hi]``, ascending, written into rows lo:hi of ``vals (n_q, k)`` / ``inds (n_q, k)``.
``kneighbors`` runs the chunks on a pool of threads, one chunk per thread at a time, each with
single-threaded BLAS (scikit-learn's own 'parallel_on_X' strategy).  A row whose k+1 smallest
values contain a tie is finished by ``_sklearn_order`` (scikit-learn's heap and sort, replayed).

EuclideanSearch (p=2): screen in float32, then exact float64 on the few candidates
    a_i = f32(s x_i) @ W,  b_j = f32(s y_j) @ W    W (d, m) float32: top m=64 principal directions of Y
                                                   (W = I when d <= 128); s a power of two with
                                                   max_j ||s y_j|| in [0.5, 1) (no overflow)
    H = [-2 a, 1] @ [b, f32 ||b||^2]^T = ||b_j||^2 - 2 a_i.b_j        one float32 GEMM per chunk
  Bounds: ||a_i - b_j||^2 >= H_ij + ||a_i||^2 - E_i (float32 GEMM error) and
  ||a_i - b_j|| <= sigma s ||x_i - y_j|| + eps_i (sigma = ||W||_2, eps_i: rounding of a and b), so
  every j with ||x_i - y_j||^2 <= theta has  H_ij <= thr_i = (sigma s sqrt(theta) + eps_i)^2 - ||a_i||^2 + E_i.
  Per row: probes = the k+1 smallest H_ij; theta = the largest of their exact values + 2 tol_i;
  candidates = {j : H_ij <= thr_i}, recomputed as max(0, (||x||^2 - 2 x.y) + ||y||^2) in float64
  (within tol_i / 4 of scikit-learn's BLAS value); the k+1 smallest are kept.  A screen that is
  not finite (float32 overflow) makes every j a candidate: slower, never wrong.

ManhattanSearch (p=1): d(x, y) = sum_f |x_f - y_f|, a Numba kernel with scikit-learn's
arithmetic (difference in the input dtype, float64 sum in feature order, rounded to float32 for
float32 input), so every value is exact and equal values are ties for the replay.
"""
import math
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from ._sklearn_order import (SK_CHUNK, blas_sqnorms, replay_argkmin, sklearn_n_threads,
                             sklearn_sqeuclidean_rows)

_U32 = 2.0 ** -24        # unit roundoff of float32
_U64 = 2.0 ** -53        # unit roundoff of float64
_TINY32 = 2.0 ** -140    # generous absolute error of float32 underflow (smallest subnormal 2^-149)
_DBL_SAFE = np.finfo(np.float64).max / 16
_FLT_MAX = float(np.finfo(np.float32).max)
RANK = 64                # screening dimension m when d > 2 * RANK
REPLAY_BYTES = 2**22      # tied rows replayed per BLAS pass: max(16, 4 MiB / (8 n_train)), <= 256


def gamma(n, u):
    """Higham's gamma_n = n u / (1 - n u): bound on the relative error of an n-term dot product."""
    return n * u / (1.0 - n * u)


# ------------------------------------------------------------------------------------------------
# Numba kernels (nogil: the thread pool runs them in parallel)
# ------------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def row_sqnorms(X, out):
    """out[i] = sum_f X[i, f]^2 in float64."""
    for i in range(X.shape[0]):
        s = 0.0
        for f in range(X.shape[1]):
            t = np.float64(X[i, f])
            s += t * t
        out[i] = s


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _dot64(x, y):
    """x.y in float64 (any summation order: |error| <= gamma_d sum_f |x_f y_f|)."""
    s = 0.0
    for f in range(x.shape[0]):
        s += np.float64(x[f]) * np.float64(y[f])
    return s


@numba.njit(cache=True, nogil=True)
def _insert_sorted(bv, bi, cnt, cap, v, j):
    """Insert (v, j) into the ascending buffer bv[:cnt] of capacity cap; return the new count."""
    if cnt == cap:
        if not v < bv[cap - 1]:
            return cnt
        pos = cap - 1
    else:
        pos = cnt
        cnt += 1
    while pos > 0 and bv[pos - 1] > v:
        bv[pos] = bv[pos - 1]
        bi[pos] = bi[pos - 1]
        pos -= 1
    bv[pos] = v
    bi[pos] = j
    return cnt


@numba.njit(cache=True, nogil=True)
def flag_ties(bv, cnt, tol):
    """True when two of the cnt smallest values are closer than tol (equal, for tol == 0).

    With tol > 0 (the GEMM arithmetic) also True when the smallest value is below 1e4 * tol: there
    the squared distance is mostly cancellation error, reproducible only with scikit-learn's BLAS.
    """
    if tol > 0 and cnt > 0 and bv[0] <= 1e4 * tol:
        return True
    for a in range(1, cnt):
        if bv[a] - bv[a - 1] <= tol:
            return True
    return False


@numba.njit(cache=True, nogil=True)
def smallest_rows(H, cap, finite, probes):
    """probes[i] = indices of the cap smallest H[i, j] (one pass, an insertion buffer), for the
    rows with finite[i] (the rows the float32 GEMM cannot overflow).

    Replaces ``np.argpartition(H, cap - 1, axis=1)[:, :cap]`` without its (rows x n) index matrix;
    a test asserts they pick the same values.
    """
    R, n = H.shape
    buf = np.empty(cap)
    for i in range(R):
        if not finite[i]:
            continue
        cnt = 0
        for j in range(cap):
            cnt = _insert_sorted(buf, probes[i], cnt, cap, np.float64(H[i, j]), j)
        for j in range(cap, n):
            v = np.float64(H[i, j])
            if v < buf[cap - 1]:
                _insert_sorted(buf, probes[i], cnt, cap, v, j)


@numba.njit(cache=True, nogil=True)
def select_euclidean(H, probes, finite, Xc, Y, xn, yn, tol, asq, E, eps, sigma_s, out_v, out_i, flags):
    """Exact k+1 smallest squared distances among the screening candidates, per query row.

    theta = max over the probes of the exact value + 2 tol; thr = (sigma s sqrt(theta) + eps)^2
    - ||a||^2 + E (+ its own float64 rounding); candidates H[i, j] <= thr (all j if not finite).
    Exact value: max(0, (||x||^2 + (-2 x.y)) + ||y||^2).  flags[i]: a tie within tol among the k+1.
    """
    R, n = H.shape
    cap = out_v.shape[1]
    for i in range(R):
        x = Xc[i]
        every = not finite[i]
        thr = 0.0
        if not every:
            top = 0.0
            for a in range(probes.shape[1]):
                j = probes[i, a]
                top = max(top, max(0.0, (xn[i] + (-2.0 * _dot64(x, Y[j]))) + yn[j]))
            t = sigma_s * math.sqrt(top + 2.0 * tol[i]) + eps[i]
            thr = t * t - asq[i] + E[i]
            thr += 4 * 2.0 ** -53 * (t * t + asq[i])
            every = not (thr - thr == 0.0)
        cnt = 0
        for j in range(n):
            if every or H[i, j] <= thr:
                v = max(0.0, (xn[i] + (-2.0 * _dot64(x, Y[j]))) + yn[j])
                cnt = _insert_sorted(out_v[i], out_i[i], cnt, cap, v, j)
        flags[i] = flag_ties(out_v[i], cnt, tol[i])


@numba.njit(cache=True, nogil=True)
def manhattan_pair(x, y, round32):
    """scikit-learn's Manhattan value for one pair: sum_f |x_f - y_f| (the readable reference).

    The difference in the input dtype, the sum in float64 in feature order; for float32 input the
    result is rounded to float32 (scikit-learn's float32 ``dist`` returns that type).
    """
    d = 0.0
    for f in range(x.shape[0]):
        d += abs(np.float64(x[f] - y[f]))
    if round32:
        d = np.float64(np.float32(d))
    return d


@numba.njit(cache=True, nogil=True)
def manhattan_chunk(XcT, Y, round32, out):
    """out[r, j] = sum_f |XcT[f, r] - Y[j, f]|, float64 sum in f order (== ``manhattan_pair``).

    Replaces ``np.abs(Xc[:, None, :] - Y[None, :, :]).sum(-1)`` (which sums pairwise, not in
    scikit-learn's order).  Vectorised over 32 queries at a time (a fixed trip count, so LLVM
    vectorises it): each lane keeps its own sequential sum, so nothing is reassociated.
    """
    K, R = XcT.shape
    n = Y.shape[0]
    RT = 32
    for r0 in range(0, R - R % RT, RT):
        for j in range(n):
            acc = np.zeros(RT)
            for f in range(K):
                yv = Y[j, f]
                xs = XcT[f, r0:r0 + RT]
                for r in range(RT):
                    acc[r] += abs(np.float64(xs[r] - yv))
            for r in range(RT):
                out[r0 + r, j] = np.float64(np.float32(acc[r])) if round32 else acc[r]
    for r in range(R - R % RT, R):                    # the last R % 32 queries, one by one
        for j in range(n):
            out[r, j] = manhattan_pair(XcT[:, r], Y[j], round32)


@numba.njit(cache=True, nogil=True)
def select_exact(V, probes, use_probes, out_v, out_i, flags):
    """The k+1 smallest of each exact row V[i] (one pass, or among ``probes`` from argpartition),
    ascending; flags[i]: two equal values among them."""
    R, n = V.shape
    cap = out_v.shape[1]
    for i in range(R):
        cnt = 0
        if use_probes:
            for a in range(cap):
                j = probes[i, a]
                cnt = _insert_sorted(out_v[i], out_i[i], cnt, cap, V[i, j], j)
        else:
            for j in range(n):
                v = V[i, j]
                if cnt < cap or v < out_v[i, cap - 1]:
                    cnt = _insert_sorted(out_v[i], out_i[i], cnt, cap, v, j)
        flags[i] = flag_ties(out_v[i], cnt, 0.0)


# ------------------------------------------------------------------------------------------------
# One search object per metric
# ------------------------------------------------------------------------------------------------
def _check_magnitude(sq, what):
    if not np.all(sq <= _DBL_SAFE):
        raise ValueError(f"{what} has values too large for distances in float64 (a squared norm or "
                         "sum of |x| overflows); rescale the data, e.g. divide by its largest value")


def principal_directions(Y, m, scale, max_rows=4096):
    """W (d, m) float32: the top-m eigenvectors of the covariance of (a strided sample of) s Y.

    Only the screen's sharpness depends on W; its correctness holds for any W (sigma = ||W||_2)."""
    from scipy.linalg import eigh
    Z = (Y[:: -(-Y.shape[0] // max_rows)] * scale).astype(np.float32)
    Z -= Z.mean(axis=0)
    d = Z.shape[1]
    _, vecs = eigh((Z.T @ Z).astype(np.float64), subset_by_index=[d - m, d - 1])   # ascending
    return np.ascontiguousarray(vecs[:, ::-1], dtype=np.float32)


class EuclideanSearch:
    """p=2: values are squared distances ||x - y||^2; see the module docstring for the screen."""

    def __init__(self, Y, selection="scan"):
        from threadpoolctl import threadpool_limits
        with threadpool_limits(1, "blas"):    # small LAPACK calls: threads only cost here
            self._fit(Y, selection)

    def _fit(self, Y, selection):
        n, d = Y.shape
        self.Y, self.selection = Y, selection
        self.yn = np.empty(n)
        row_sqnorms(Y, self.yn)
        _check_magnitude(self.yn, "X")
        self.ymax2 = float(self.yn.max())
        self.scale = 2.0 ** -math.frexp(math.sqrt(self.ymax2))[1] if self.ymax2 > 0 else 1.0
        if d > 2 * RANK:
            self.W = principal_directions(Y, RANK, self.scale)
            W64 = self.W.astype(np.float64)
            self.sigma = float(np.linalg.norm(W64, 2)) * (1 + 1e-10)
            self.rho = _U32 * self.sigma + 1.01 * gamma(d, _U32) * float(np.linalg.norm(W64))
        else:
            self.W, self.sigma, self.rho = None, 1.0, _U32
        self.tiny = 2 * (self.sigma * math.sqrt(d) + d * math.sqrt(RANK)) * _TINY32   # underflow
        m = d if self.W is None else RANK
        self.b_aug = np.empty((n, m + 1), dtype=np.float32)          # [b, ||b||^2]
        self._project(Y, self.b_aug)
        b64 = self.b_aug[:, :m].astype(np.float64)
        bsq = np.einsum("ij,ij->i", b64, b64)
        self.b_aug[:, m] = bsq
        self.B = math.sqrt(float(bsq.max()))
        self.m = m
        self._y_blas = None

    def _project(self, X, out, block=4096):
        """out[:, :m] = f32(f32(s x) @ W) (f32(s x) without W), ``block`` rows at a time.

        Error: ||out_i - s W^T x_i|| <= rho ||s x_i|| + tiny, rho = u sigma + 1.01 gamma_d ||W||_F
        (float32 rounding of s x, then the float32 product), or u without W."""
        m = out.shape[1] - 1
        for i in range(0, X.shape[0], block):
            Xs = (X[i:i + block] * self.scale).astype(np.float32)
            out[i:i + block, :m] = Xs if self.W is None else Xs @ self.W

    def nbytes(self):
        return self.yn.nbytes + self.b_aug.nbytes + (0 if self.W is None else self.W.nbytes)

    def chunk(self, X, lo, hi, k, on_y, vals, inds):
        """Queries X[lo:hi]: project, one float32 GEMM, probes, exact candidates, tie replay.

        E_i = gamma_{m+1} (2 ||a_i|| B + B^2) + 2 u B^2 (+ float64 and underflow slack), B = max ||b_j||;
        eps_i = rho (||s x_i|| + max ||s y_j||) + 2 tiny (``_project``, for a_i and for b_j).
        """
        Xc, Y, m = X[lo:hi], self.Y, self.m
        r, n = Xc.shape[0], Y.shape[0]
        cap = min(k + 1, n)
        xn = np.empty(r)
        row_sqnorms(Xc, xn)
        _check_magnitude(xn, "X")
        xa = np.empty((r, m + 1), dtype=np.float32)                  # [-2 a, 1]
        self._project(Xc, xa)
        a64 = xa[:, :m].astype(np.float64)
        asq = np.einsum("ij,ij->i", a64, a64)
        del a64
        xa[:, :m] *= -2
        xa[:, m] = 1.0
        # every partial sum of the GEMM is <= (1 + 1e-3) (B^2 + 2 ||a_i|| B), B = max ||b_j||:
        # below float32's largest value (and 2 a_i too), the row of H is finite
        ga = np.sqrt(asq)
        finite = (np.maximum(self.B ** 2 + 2 * ga * self.B, 2 * ga) * 1.001 < _FLT_MAX)
        with np.errstate(over="ignore", invalid="ignore"):
            H = xa @ self.b_aug.T                                     # ||b||^2 - 2 a.b, float32
        del xa
        probes = np.zeros((r, cap), dtype=np.int64)                  # unused where not finite
        if self.selection == "argpartition":
            probes[finite] = np.argpartition(H[finite], cap - 1, axis=1)[:, :cap]
        else:
            smallest_rows(H, cap, finite, probes)
        s, d = self.scale, Y.shape[1]
        E = (gamma(m + 1, _U32) * (2 * ga * self.B + self.B ** 2) + 2 * _U32 * self.B ** 2
             + 4 * gamma(m + 2, _U64) * asq + (m + 2) * _TINY32)
        eps = self.rho * s * (np.sqrt(xn) + math.sqrt(self.ymax2)) + 2 * self.tiny
        tol = 8 * gamma(d + 2, _U64) * (xn + self.ymax2)              # |ours - BLAS's| < tol / 4
        fv, fi = np.empty((r, cap)), np.empty((r, cap), dtype=np.int64)
        flags = np.empty(r, dtype=np.bool_)
        select_euclidean(H, probes, finite, Xc, Y, xn, self.yn, tol, asq, E, eps,
                         self.sigma * s, fv, fi, flags)
        del H
        vals[lo:hi], inds[lo:hi] = fv[:, :k], fi[:, :k]
        flagged = lo + np.flatnonzero(flags)       # ties: replay scikit-learn on whole rows
        if len(flagged):
            if self._y_blas is None:
                self._y_blas = blas_sqnorms(Y)     # the same values from any thread
            n_threads = sklearn_n_threads()
            batch = max(16, min(SK_CHUNK, REPLAY_BYTES // (8 * n)))
            for tile in np.unique(flagged // SK_CHUNK):
                ids = flagged[flagged // SK_CHUNK == tile]
                for b in range(0, len(ids), batch):
                    rows = sklearn_sqeuclidean_rows(X, ids[b:b + batch], Y, self._y_blas)
                    for i, row in zip(ids[b:b + batch], rows):
                        replay_argkmin(row, k, on_y, n_threads, vals[i], inds[i])


class ManhattanSearch:
    """p=1: values are sum_f |x_f - y_f| in scikit-learn's arithmetic (exact, so ties are exact)."""

    def __init__(self, Y, selection="scan"):
        self.Y, self.selection = Y, selection
        _check_magnitude(np.abs(Y).sum(axis=1, dtype=np.float64), "X")
        self.round32 = Y.dtype == np.float32

    def nbytes(self):
        return 0

    def chunk(self, X, lo, hi, k, on_y, vals, inds):
        """Queries X[lo:hi]: every exact value (n_train per query), the k+1 smallest, tie replay."""
        Xc, Y = X[lo:hi], self.Y
        _check_magnitude(np.abs(Xc).sum(axis=1, dtype=np.float64), "X")
        r, n = Xc.shape[0], Y.shape[0]
        cap = min(k + 1, n)
        V = np.empty((r, n))
        manhattan_chunk(np.ascontiguousarray(Xc.T), Y, self.round32, V)
        fv, fi = np.empty((r, cap)), np.empty((r, cap), dtype=np.int64)
        flags = np.empty(r, dtype=np.bool_)
        if self.selection == "argpartition":
            part = np.ascontiguousarray(np.argpartition(V, cap - 1, axis=1)[:, :cap])
            select_exact(V, part, True, fv, fi, flags)
            del part
        else:
            select_exact(V, fi, False, fv, fi, flags)
        vals[lo:hi], inds[lo:hi] = fv[:, :k], fi[:, :k]
        n_threads = sklearn_n_threads()
        for i in np.flatnonzero(flags):
            replay_argkmin(V[i], k, on_y, n_threads, vals[lo + i], inds[lo + i])


SEARCHES = {2: EuclideanSearch, 1: ManhattanSearch}


# ------------------------------------------------------------------------------------------------
# Chunks and threads: the one place that decides parallelism
# ------------------------------------------------------------------------------------------------
ROWS_PER_CHUNK = 64      # queries per chunk by default (a float32 H chunk of 64 x 60,000 = 15 MB)


def plan(n_queries, n_train, n_threads, working_memory_mib, chunk_rows=None):
    """(rows per chunk, threads): chunk_rows, else the largest count <= ROWS_PER_CHUNK with
    threads * rows * n_train * 16 bytes <= working_memory, and no more threads than chunks."""
    if chunk_rows is None:
        budget = int(working_memory_mib * 2**20 // (16 * n_train * n_threads))
        chunk_rows = min(ROWS_PER_CHUNK, -(-n_queries // n_threads), budget)
    R = int(max(1, min(chunk_rows, n_queries)))
    return R, int(max(1, min(n_threads, -(-n_queries // R))))


def kneighbors(search, X, k, on_y, rows, n_threads):
    """(values (n_q, k) ascending, indices (n_q, k)): ``search.chunk`` over chunks of ``rows``
    queries on ``n_threads`` threads; BLAS held to one thread meanwhile (set and restored here)."""
    from threadpoolctl import threadpool_limits
    nq = X.shape[0]
    vals, inds = np.empty((nq, k)), np.empty((nq, k), dtype=np.intp)
    starts = range(0, nq, rows)
    work = lambda lo: search.chunk(X, lo, min(lo + rows, nq), k, on_y, vals, inds)  # noqa: E731
    with threadpool_limits(1, "blas"):
        if n_threads == 1:
            for lo in starts:
                work(lo)
        else:
            with ThreadPoolExecutor(n_threads) as pool:
                list(pool.map(work, starts))
    return vals, inds
