"""k-nearest neighbours from scratch, with scikit-learn's interface and scikit-learn's tie-breaking.

Rows are samples: ``X`` is ``(n_samples, n_features)``.  Images must be flattened first
(``x.reshape(len(x), -1)``); the workshop scales MNIST to ``float32`` in [0, 1] (``x / 255``).

The classifier
--------------
For a query ``x`` and training rows ``y_j`` with labels ``c_j``, the k nearest neighbours
``N_k(x)`` are the k indices with the smallest distance

    p=2 (Euclidean):  d(x, y) = ||x - y||_2,   computed through
                      ||x - y||^2 = ||x||^2 - 2 x.y + ||y||^2      (one BLAS GEMM per chunk)
    p=1 (Manhattan):  d(x, y) = sum_f |x_f - y_f|                  (a Numba kernel)

and the class scores are

    uniform:   s_c(x) = #{ j in N_k(x) : c_j = c }
    distance:  s_c(x) = sum_{ j in N_k(x), c_j = c } 1 / d(x, y_j)
               (if some d(x, y_j) == 0, those neighbours get weight 1 and all others 0)

``predict_proba`` returns ``s_c / sum_c s_c``; ``predict`` returns the class with the largest
score, the smallest class label on a tie.

Exactly scikit-learn's answers (``KNeighborsClassifier(algorithm='brute')``, scikit-learn 1.3-1.9)
---------------------------------------------------------------------------------------------------
Distances that are equal (duplicate points, symmetric configurations, float32 rounding) make
"the k nearest" ambiguous.  scikit-learn resolves them by the way its Cython reduction
(``sklearn.metrics._pairwise_distances_reduction.ArgKmin``) runs: a fixed-size max-heap per
query receives the training points in index order and rejects a value equal to its current
maximum; the heap is then sorted with an introsort (insertion sort for k <= 15).  With 'auto'
strategy and fewer than 4*256*n_threads queries it splits the training set over OpenMP threads,
keeps one heap per thread and merges them thread by thread.  We reproduce this:

* Fast path (almost every row): find the k+1 smallest distances.  If they are all different,
  the heap's answer is simply the k smallest in increasing order -- no history matters.
* Tie path (rows whose k+1 smallest values contain an equality): recompute the whole distance
  row with scikit-learn's own arithmetic and replay its heap (`_replay_argkmin`), including the
  per-thread heaps and their merge order, then its sort (`_simultaneous_sort`).

scikit-learn uses two arithmetics and two heap orders, and so do we:

1. p=2: ``max(0, (||x||^2 + (-2 x.y)) + ||y||^2)`` in float64 (float32 input is upcast), norms
   by BLAS ``ddot``, ``x.y`` by BLAS ``dgemm`` on 256 x 256 tiles; distances ``sqrt`` of it (for
   float32 input rounded to float32 before and after the sqrt).  The tie path calls the same
   SciPy BLAS on the same tiles (bit-identical); the fast path uses a float64 dot product that
   can differ from it in the last bits, so a row whose k+1 smallest values are closer than a
   rigorous error bound, or whose nearest value is near 0 (all cancellation), takes the tie path.
2. p=1: ``sum_f |x_f - y_f|`` with the difference in the input dtype, the sum in float64 in
   feature order, rounded to the input dtype (float32 for float32 input, so ties are common);
   our Numba kernel computes exactly that, so ties are detected exactly.
3. Heap order: ``kneighbors``, distance weights and every p=2 vote use the 'auto' strategy; the
   p=1 uniform vote of a C-contiguous query of the training dtype uses scikit-learn's
   ``ArgKminClassMode``, always in training order ('parallel_on_X').

Score ties: uniform ``predict`` is ``argmax`` of the counts (first = smallest class); distance
``predict`` replays ``sklearn.utils.extmath.weighted_mode`` (per class, a float64 row sum of the
weights, strict ``>`` -> smallest class); distance ``predict_proba`` adds the weights neighbour by
neighbour, in distance order, as scikit-learn does, then divides by the row sum.

Speed: Euclidean screening in float32
-------------------------------------
The exact float64 GEMM over 10,000 x 60,000 x 784 is what makes scikit-learn take ~9 s.  We run the
GEMM in float32 on augmented matrices,  H = [-2 X_c, 1] @ [Y, ||y||^2]^T = ||y||^2 - 2 X_c Y^T
(``||x||^2`` is constant per row and does not change the ranking), take the (k+1)-th smallest
``H`` per row (``np.argpartition``, or an equivalent one-pass Numba scan that is the default
because argpartition's int64 index matrix costs time and memory), and keep as candidates every ``j`` with
``H_ij <= H_(k+1) + 2 E_i``, where ``E_i`` bounds the float32 error
(``E_i = 2 gamma_{K+8} ||x_i|| max_j ||y_j|| + 16 u (||x_i||^2 + max_j ||y_j||^2)``,
``u = 2^-24``, ``gamma_n = n u / (1 - n u)``).  Every point whose exact distance is at most the
exact (k+1)-th smallest is a candidate, so recomputing only the candidates in float64 gives the
exact answer.

Memory bound (stated, and measured by tests/test_neighbors.py)
--------------------------------------------------------------
Queries are processed ``chunk_rows`` at a time.  Besides the stored training data and the
outputs (``n_queries x k`` distances and indices, 16 bytes each), ``kneighbors``/``predict``
allocate at most

    chunk_rows * n_train * 16 bytes  +  chunk_rows * (n_features + 1) * 12 bytes  +  n_train * 160 bytes
    + 256 * (2 * n_features + 256) * 8 bytes (the BLAS replay tiles) + 1 MiB of small buffers

(p=2: a float32 ``H`` chunk (4 B) and argpartition's int64 indices (8 B); p=1: a float64 distance
chunk (8 B) and the int64 indices (8 B); n_train * 160: up to 16 replayed rows and the BLAS norms).  ``chunk_rows`` defaults to the largest value that keeps
``chunk_rows * n_train * 16`` under ``working_memory`` MiB (256 MiB: 279 rows for MNIST's 60,000
training images), never the 4.8 GB of a full 10,000 x 60,000 float64 matrix.
``memory_bound(n_queries)`` returns the bound in bytes.
"""
import math
import os
import time

import numba
import numpy as np

__all__ = ["KNeighborsClassifier", "NotFittedError", "knn_report"]

_SK_CHUNK = 256          # scikit-learn's ``pairwise_dist_chunk_size`` (tile size of its reduction)
_DBL_MAX = np.finfo(np.float64).max
_U32 = 2.0 ** -24        # unit roundoff of float32
_U64 = 2.0 ** -53        # unit roundoff of float64
_FIXED_OVERHEAD = 2**20
_REPLAY_BATCH = 16      # rows replayed per BLAS pass (memory: 16 * n_train * 8 bytes)


class NotFittedError(ValueError, AttributeError):
    """Raised when ``predict``/``kneighbors`` is called before ``fit`` (as scikit-learn does)."""


def _gamma(n, u):
    """Higham's gamma_n = n u / (1 - n u): bound on the relative error of an n-term dot product."""
    return n * u / (1.0 - n * u)


def _sklearn_n_threads():
    """The thread count scikit-learn's OpenMP reduction uses (``_openmp_effective_n_threads``).

    It only matters for the order in which ``ArgKmin`` meets tied points when it splits the
    training set over threads.  OpenMP's default is ``OMP_NUM_THREADS`` or the usable CPUs.
    """
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    if env.isdigit() and int(env) > 0:
        return min(int(env), cpus)
    return cpus


def _parallel_on_y(n_queries, n_train, n_threads):
    """scikit-learn's 'auto' strategy: split the training set over threads or split the queries."""
    if n_train < n_queries:
        return False
    return not (4 * _SK_CHUNK * n_threads < n_queries)


# ------------------------------------------------------------------------------------------------
# scikit-learn's heap and sort, line for line (sklearn/utils/_heap.pyx, sklearn/utils/_sorting.pyx)
# ------------------------------------------------------------------------------------------------
@numba.njit(cache=True)
def _heap_push(values, indices, size, val, val_idx):
    """Push (val, val_idx) on a fixed-size max-heap; a value >= the maximum is rejected."""
    if val >= values[0]:
        return
    values[0] = val
    indices[0] = val_idx
    cur = 0
    while True:
        left = 2 * cur + 1
        right = left + 1
        if left >= size:
            break
        elif right >= size:
            if values[left] > val:
                swap = left
            else:
                break
        elif values[left] >= values[right]:
            if val < values[left]:
                swap = left
            else:
                break
        else:
            if val < values[right]:
                swap = right
            else:
                break
        values[cur] = values[swap]
        indices[cur] = indices[swap]
        cur = swap
    values[cur] = val
    indices[cur] = val_idx


@numba.njit(cache=True)
def _swap(v, ind, i, j):
    v[i], v[j] = v[j], v[i]
    ind[i], ind[j] = ind[j], ind[i]


@numba.njit(cache=True)
def _insertion_sort(v, ind, o, n):
    for i in range(1, n):
        tv = v[o + i]
        ti = ind[o + i]
        j = i
        while j > 0 and v[o + j - 1] > tv:
            v[o + j] = v[o + j - 1]
            ind[o + j] = ind[o + j - 1]
            j -= 1
        v[o + j] = tv
        ind[o + j] = ti


@numba.njit(cache=True)
def _heapsort(v, ind, o, n):
    start = (n - 2) // 2
    end = n
    while True:
        _sift_down(v, ind, o, start, end)
        if start == 0:
            break
        start -= 1
    end = n - 1
    while end > 0:
        _swap(v, ind, o, o + end)
        _sift_down(v, ind, o, 0, end)
        end -= 1


@numba.njit(cache=True)
def _sift_down(v, ind, o, start, end):
    root = start
    while True:
        child = root * 2 + 1
        maxind = root
        if child < end and v[o + maxind] < v[o + child]:
            maxind = child
        if child + 1 < end and v[o + maxind] < v[o + child + 1]:
            maxind = child + 1
        if maxind == root:
            break
        _swap(v, ind, o + root, o + maxind)
        root = maxind


@numba.njit(cache=True)
def _simultaneous_sort(v, ind, n):
    """scikit-learn's ``simultaneous_sort`` (introsort, 2-way partition, median of 3).

    Not stable: the order of equal values depends on their positions in the heap array, which is
    why we replay the heap.  For n <= 15 it is a plain insertion sort.  The recursion on the left
    part is an explicit stack here; the parts are disjoint, so the result is the same.
    """
    if n == 0:
        return
    stack = np.empty((2 * 64 + 8, 3), dtype=np.int64)
    top = 0
    stack[0, 0] = 0
    stack[0, 1] = n
    stack[0, 2] = 2 * int(math.log2(n))
    top = 1
    while top > 0:
        top -= 1
        o = stack[top, 0]
        m = stack[top, 1]
        maxd = stack[top, 2]
        done = False
        while m > 15:
            if maxd <= 0:
                _heapsort(v, ind, o, m)
                done = True
                break
            maxd -= 1
            # inplace_median3
            piv = m // 2
            if v[o] > v[o + m - 1]:
                _swap(v, ind, o, o + m - 1)
            if v[o + m - 1] > v[o + piv]:
                _swap(v, ind, o + m - 1, o + piv)
                if v[o] > v[o + m - 1]:
                    _swap(v, ind, o, o + m - 1)
            pivot = v[o + m - 1]
            i = 1
            j = m - 2
            while True:
                while i <= j and v[o + i] < pivot:
                    i += 1
                while i <= j and v[o + j] > pivot:
                    j -= 1
                if i >= j:
                    break
                _swap(v, ind, o + i, o + j)
                i += 1
                j -= 1
            _swap(v, ind, o + i, o + m - 1)
            stack[top, 0] = o
            stack[top, 1] = i
            stack[top, 2] = maxd
            top += 1
            o = o + i + 1
            m = m - (i + 1)
        if not done:
            _insertion_sort(v, ind, o, m)


@numba.njit(cache=True)
def _replay_argkmin(row, k, on_y, n_threads, out_v, out_i):
    """Replay scikit-learn's ``ArgKmin`` on one full distance row; write the sorted k neighbours.

    ``row[j]``: the value scikit-learn compares for training point j.  ``on_y`` False: one heap
    receives j = 0, 1, ... in order ('parallel_on_X').  ``on_y`` True ('parallel_on_Y'): the
    256-point tiles are split statically (OpenMP, contiguous) over min(n_tiles, n_threads)
    threads, each with its own heap, and the thread heaps are pushed into the main heap
    thread after thread, in heap-array order.
    """
    n = row.shape[0]
    for a in range(k):
        out_v[a] = _DBL_MAX
        out_i[a] = 0
    if not on_y:
        for j in range(n):
            _heap_push(out_v, out_i, k, row[j], j)
    else:
        n_tiles = (n + _SK_CHUNK - 1) // _SK_CHUNK
        T = min(n_tiles, n_threads)
        hv = np.empty(k)
        hi = np.empty(k, dtype=np.int64)
        for t in range(T):
            q = n_tiles // T
            r = n_tiles % T
            if t < r:
                q += 1
                s = q * t
            else:
                s = q * t + r
            for a in range(k):
                hv[a] = _DBL_MAX
                hi[a] = -1
            for j in range(s * _SK_CHUNK, min((s + q) * _SK_CHUNK, n)):
                _heap_push(hv, hi, k, row[j], j)
            for a in range(k):
                _heap_push(out_v, out_i, k, hv[a], hi[a])
    _simultaneous_sort(out_v, out_i, k)


# ------------------------------------------------------------------------------------------------
# Distance kernels
# ------------------------------------------------------------------------------------------------
@numba.njit(cache=True)
def _manhattan_pair(x, y, round32):
    """scikit-learn's Manhattan value for one pair: sum_f |x_f - y_f| (the readable reference).

    The difference is taken in the input dtype, the sum in float64, sequentially in f; for float32
    input the result is rounded to float32 (scikit-learn's float32 ``dist`` returns that type).
    """
    d = 0.0
    for f in range(x.shape[0]):
        d += abs(np.float64(x[f] - y[f]))
    if round32:
        d = np.float64(np.float32(d))
    return d


@numba.njit(parallel=True, cache=True)
def _manhattan_chunk(XcT, Y, round32, out):
    """out[r, j] = sum_f |XcT[f, r] - Y[j, f]|, float64 sum in f order (== ``_manhattan_pair``).

    Replaces ``np.abs(Xc[:, None, :] - Y[None, :, :]).sum(-1)`` (which would sum pairwise, not in
    scikit-learn's order).  Vectorised over 32 queries at a time (each lane keeps its own
    sequential sum, so no reassociation), parallel over blocks of training points.
    """
    K, R = XcT.shape
    n = Y.shape[0]
    RT = 32
    JB = 128
    n_rt = (R + RT - 1) // RT
    n_jb = (n + JB - 1) // JB
    for task in numba.prange(n_rt * n_jb):
        rt = task // n_jb
        jb = task % n_jb
        r0 = rt * RT
        r1 = min(R, r0 + RT)
        acc = np.empty(RT)
        for j in range(jb * JB, min(n, (jb + 1) * JB)):
            for r in range(RT):
                acc[r] = 0.0
            for f in range(K):
                yv = Y[j, f]
                for r in range(r1 - r0):
                    acc[r] += abs(np.float64(XcT[f, r0 + r] - yv))
            for r in range(r1 - r0):
                if round32:
                    out[r0 + r, j] = np.float64(np.float32(acc[r]))
                else:
                    out[r0 + r, j] = acc[r]


@numba.njit(cache=True)
def _row_sqnorms(X, out):
    """out[i] = sum_f X[i, f]^2 in float64 (accurate; not bit-identical to BLAS ddot)."""
    for i in range(X.shape[0]):
        s = 0.0
        for f in range(X.shape[1]):
            t = np.float64(X[i, f])
            s += t * t
        out[i] = s


@numba.njit(cache=True)
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


@numba.njit(cache=True)
def _flag_ties(bv, cnt, tol):
    """True when two of the cnt smallest values are closer than tol (equal, for tol == 0).

    With tol > 0 (the GEMM arithmetic) also True when the smallest value is below 1e4 * tol: there
    the squared distance is mostly cancellation error, so its exact bits (and 1/d weights) are
    only reproducible with scikit-learn's own BLAS calls.
    """
    if tol > 0 and cnt > 0 and bv[0] <= 1e4 * tol:
        return True
    for a in range(1, cnt):
        if bv[a] - bv[a - 1] <= tol:
            return True
    return False


@numba.njit(cache=True)
def _kth_smallest_rows(H, cap, out):
    """out[i] = the cap-th smallest value of row H[i] (cap = k+1): one pass, an insertion buffer.

    Replaces ``np.take_along_axis(H, np.argpartition(H, cap - 1, axis=1)[:, cap - 1:cap], 1)``
    (no (rows x n_train) int64 index array, and ~20x faster here); a test asserts they agree.
    """
    R, n = H.shape
    buf = np.empty(cap)
    bi = np.empty(cap, dtype=np.int64)
    for i in range(R):
        cnt = 0
        for j in range(n):
            v = np.float64(H[i, j])
            if cnt < cap or v < buf[cap - 1]:
                cnt = _insert_sorted(buf, bi, cnt, cap, v, j)
        out[i] = buf[cnt - 1]


@numba.njit(cache=True)
def _select_euclidean(H, thr, Xc, Y, xn, yn, tol, out_v, out_i, flags):
    """Exact k+1 smallest among the screening candidates, per query row of the chunk.

    A candidate is j with H[i, j] <= thr[i].  Its value is recomputed in float64 with the GEMM
    identity max(0, (||x||^2 + (-2 x.y)) + ||y||^2), x.y a sequential float64 dot product (within
    tol/2 of scikit-learn's BLAS value).  The k+1 smallest go to out_v/out_i (ascending);
    flags[i] marks a row with two of them closer than tol[i].
    """
    R, n = H.shape
    cap = out_v.shape[1]
    for i in range(R):
        cnt = 0
        t = thr[i]
        x = Xc[i]
        for j in range(n):
            if H[i, j] <= t:
                y = Y[j]
                s = 0.0
                for f in range(x.shape[0]):
                    s += np.float64(x[f]) * np.float64(y[f])
                v = max(0.0, (xn[i] + (-2.0 * s)) + yn[j])
                cnt = _insert_sorted(out_v[i], out_i[i], cnt, cap, v, j)
        flags[i] = _flag_ties(out_v[i], cnt, tol[i])


@numba.njit(cache=True)
def _select_exact_scan(V, out_v, out_i, flags):
    """The k+1 smallest of each exact row V[i] (one pass, insertion buffer); flag equal values.

    Replaces ``np.argpartition(V, k, axis=1)[:, :k+1]`` followed by ``_select_exact``.
    """
    R, n = V.shape
    cap = out_v.shape[1]
    for i in range(R):
        cnt = 0
        for j in range(n):
            v = V[i, j]
            if cnt < cap or v < out_v[i, cap - 1]:
                cnt = _insert_sorted(out_v[i], out_i[i], cnt, cap, v, j)
        flags[i] = _flag_ties(out_v[i], cnt, 0.0)


@numba.njit(cache=True)
def _select_exact(V, part, out_v, out_i, flags):
    """Sort the argpartition picks part[i] of exact rows V[i]; flag rows with equal values."""
    R = V.shape[0]
    cap = part.shape[1]
    for i in range(R):
        cnt = 0
        for a in range(cap):
            j = part[i, a]
            cnt = _insert_sorted(out_v[i], out_i[i], cnt, cap, V[i, j], j)
        flags[i] = _flag_ties(out_v[i], cnt, 0.0)


# ------------------------------------------------------------------------------------------------
# The classifier
# ------------------------------------------------------------------------------------------------
class KNeighborsClassifier:
    """k-nearest-neighbour vote, brute force, with scikit-learn's API and identical answers.

    Parameters
    ----------
    n_neighbors : int, default 5 -- k.
    weights : 'uniform' | 'distance' -- vote weights (see the module docstring for the formulas).
    p : 2 | 1 -- Euclidean (GEMM identity, float32 screening + float64 recomputation) or
        Manhattan (Numba kernel, float64 sums).
    chunk_rows : int or None -- queries per chunk; None derives it from ``working_memory``.
    working_memory : float, MiB, default 256 -- budget for ``chunk_rows * n_train * 16`` bytes.
    selection : 'scan' | 'argpartition' -- how the (k+1)-th smallest value per row is found: a
        one-pass Numba insertion buffer (default, faster, no index matrix) or ``np.argpartition``
        (the reference); both give identical results.

    Attributes after ``fit``: ``classes_`` (sorted labels), ``n_features_in_``,
    ``n_samples_fit_``, ``fit_time_`` (s), ``model_size_bytes`` (stored training data);
    after each ``kneighbors``/``predict``/``predict_proba``: ``predict_time_`` (s).
    """

    def __init__(self, n_neighbors=5, weights="uniform", p=2, chunk_rows=None, working_memory=256,
                 selection="scan"):
        self.selection = selection
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.p = p
        self.chunk_rows = chunk_rows
        self.working_memory = working_memory

    # -- checks ----------------------------------------------------------------------------------
    def _check_params(self):
        k = self.n_neighbors
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"n_neighbors must be a positive integer, got {k!r}")
        if self.weights not in ("uniform", "distance"):
            raise ValueError(f"weights must be 'uniform' or 'distance', got {self.weights!r}")
        if self.selection not in ("scan", "argpartition"):
            raise ValueError(f"selection must be 'scan' or 'argpartition', got {self.selection!r}")
        if self.p not in (1, 2):
            raise ValueError(f"p must be 1 (Manhattan) or 2 (Euclidean), got {self.p!r}")
        if self.chunk_rows is not None and (not isinstance(self.chunk_rows, (int, np.integer))
                                            or self.chunk_rows < 1):
            raise ValueError(f"chunk_rows must be a positive integer or None, got {self.chunk_rows!r}")

    @staticmethod
    def _as_matrix(X, what, dtype=None):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"{what} must be 2-D (n_samples, n_features), got shape {X.shape}"
                             + ("; flatten images first: X.reshape(len(X), -1)" if X.ndim > 2 else ""))
        if X.shape[0] == 0:
            raise ValueError(f"{what} is empty: it has 0 samples")
        if X.shape[1] == 0:
            raise ValueError(f"{what} has 0 features")
        if dtype is None:
            dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise ValueError(f"{what} must be numeric, got dtype {X.dtype}")
        X = np.ascontiguousarray(X, dtype=dtype)
        if not np.isfinite(X).all():
            raise ValueError(f"{what} contains NaN or infinity; kNN distances need finite values")
        return X

    def _check_fitted(self):
        if not hasattr(self, "_Y"):
            raise NotFittedError("This KNeighborsClassifier is not fitted yet: call fit(X, y) first")

    # -- fit -------------------------------------------------------------------------------------
    def fit(self, X, y):
        """Store the training data (brute force has nothing else to learn).

        X: (n_train, n_features), float32 kept as float32, anything else as float64;
        y: (n_train,) class labels, any sortable type.  Also stores the float32 screening matrix
        [Y, ||y||^2] (p=2) and the row norms.  Returns self.
        """
        t0 = time.perf_counter()
        self._check_params()
        X = self._as_matrix(X, "X")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D class labels (multi-output is not supported), got shape {y.shape}")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} samples but y has {y.shape[0]}")
        self.classes_, self._y = np.unique(y, return_inverse=True)
        self._y = self._y.astype(np.intp)
        self._Y = X
        self._round32 = X.dtype == np.float32
        self.n_features_in_ = X.shape[1]
        self.n_samples_fit_ = X.shape[0]
        self._yn = np.empty(X.shape[0])
        _row_sqnorms(X, self._yn)
        self._yn_blas = None  # exact BLAS ddot norms, computed on the first tie replay
        if self.p == 2:
            aug = np.empty((X.shape[0], X.shape[1] + 1), dtype=np.float32)
            aug[:, :-1] = X
            aug[:, -1] = self._yn
            self._Yaug = aug
        else:
            self._Yaug = None
        self.fit_time_ = time.perf_counter() - t0
        return self

    @property
    def model_size_bytes(self):
        """Bytes the fitted model keeps: training rows, labels, norms, screening matrix."""
        self._check_fitted()
        arrs = [self._Y, self._y, self._yn, self._Yaug]
        return int(sum(a.nbytes for a in arrs if a is not None))

    def _chunk_rows(self, n_queries):
        if self.chunk_rows is not None:
            return int(min(self.chunk_rows, n_queries))
        per_row = 16 * self.n_samples_fit_
        return int(max(1, min(n_queries, (self.working_memory * 2**20) // per_row)))

    def memory_bound(self, n_queries):
        """Upper bound (bytes) of what kneighbors/predict allocate besides the fitted data.

        chunk_rows * n_train * 16 + chunk_rows * (n_features + 1) * 12 + n_train * 160
        + n_queries * (k + 1) * 16 (neighbour outputs) + n_queries * n_classes * 24 (scores)
        + 256 * (2 * n_features + 256) * 8 (BLAS replay tiles) + 1 MiB.
        """
        self._check_fitted()
        R = self._chunk_rows(n_queries)
        n, d, k = self.n_samples_fit_, self.n_features_in_, self.n_neighbors
        return int(R * n * 16 + R * (d + 1) * 12 + n * 160
                   + n_queries * (k + 1) * 16 + n_queries * len(self.classes_) * 24
                   + _SK_CHUNK * (2 * d + _SK_CHUNK) * 8 + _FIXED_OVERHEAD)

    def _check_query(self, X, k):
        self._check_fitted()
        X = self._as_matrix(X, "X", dtype=self._Y.dtype)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but this classifier was fitted with "
                             f"{self.n_features_in_} features")
        if k > self.n_samples_fit_:
            raise ValueError(f"n_neighbors={k} is larger than the training set "
                             f"({self.n_samples_fit_} samples); need n_neighbors <= n_samples_fit")
        return X

    # -- the neighbour search ----------------------------------------------------------------------
    def _search(self, X, k, arithmetic):
        """k nearest per query row: (values (n_q, k) ascending, indices (n_q, k)).

        arithmetic 'kneighbors' -> scikit-learn's kneighbors: squared Euclidean by the GEMM
                   identity (p=2) or Manhattan (p=1), heap order of the 'auto' strategy;
                   'vote' -> its uniform vote (``ArgKminClassMode``, p=1 only): Manhattan values,
                   heap in training order ('parallel_on_X').
        """
        nq, n = X.shape[0], self.n_samples_fit_
        n_threads = _sklearn_n_threads()
        on_y = arithmetic != "vote" and _parallel_on_y(nq, n, n_threads)
        cap = min(k + 1, n)
        vals = np.empty((nq, k))
        inds = np.empty((nq, k), dtype=np.intp)
        R = self._chunk_rows(nq)
        Y = self._Y
        bv = np.empty((R, cap))
        bi = np.empty((R, cap), dtype=np.int64)
        flags = np.empty(R, dtype=np.bool_)
        if self.p == 2:
            ymax2 = float(self._yn.max())
            K = self.n_features_in_
            g = _gamma(K + 8, _U32)
            xn = np.empty(R)
        for s in range(0, nq, R):
            Xc = X[s:s + R]
            r = Xc.shape[0]
            fv, fi, ff = bv[:r], bi[:r], flags[:r]
            if self.p == 2:
                _row_sqnorms(Xc, xn)
                xa = np.empty((r, self.n_features_in_ + 1), dtype=np.float32)
                np.multiply(Xc, -2, out=xa[:, :-1], casting="unsafe")
                xa[:, -1] = 1.0
                H = xa @ self._Yaug.T                                  # ||y||^2 - 2 x.y, float32
                del xa
                if self.selection == "argpartition":
                    part = np.argpartition(H, cap - 1, axis=1)        # (k+1)-th smallest at cap-1
                    h_k1 = H[np.arange(r), part[:, cap - 1]].astype(np.float64)
                    del part
                else:
                    h_k1 = np.empty(r)
                    _kth_smallest_rows(H, cap, h_k1)
                xr = xn[:r]
                E = 2 * g * np.sqrt(xr * ymax2) + 16 * _U32 * (xr + ymax2)
                tol = 8 * _gamma(K + 2, _U64) * (xr + ymax2)          # |ours - BLAS's| < tol / 2
                thr = h_k1 + 2 * E + 2 * tol
                _select_euclidean(H, thr, Xc, Y, xr, self._yn, tol, fv, fi, ff)
                del H
            else:
                V = np.empty((r, n))
                numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)   # all cores (training may hold it to 1)
                _manhattan_chunk(np.ascontiguousarray(Xc.T), Y, self._round32, V)
                if self.selection == "argpartition":
                    part = np.argpartition(V, cap - 1, axis=1)[:, :cap]
                    _select_exact(V, np.ascontiguousarray(part), fv, fi, ff)
                    del part
                else:
                    _select_exact_scan(V, fv, fi, ff)
            vals[s:s + r] = fv[:, :k]
            inds[s:s + r] = fi[:, :k]
            flagged = s + np.flatnonzero(ff)    # tie path: replay scikit-learn on whole rows
            if self.p == 2:
                # scikit-learn's 256-query tiles; its BLAS values for up to 16 rows per pass
                for tile in np.unique(flagged // _SK_CHUNK):
                    ids = flagged[flagged // _SK_CHUNK == tile]
                    for b in range(0, len(ids), _REPLAY_BATCH):
                        rows = self._blas_sqeuclidean_rows(X, ids[b:b + _REPLAY_BATCH])
                        for i, row in zip(ids[b:b + _REPLAY_BATCH], rows):
                            _replay_argkmin(row, k, on_y, n_threads, vals[i], inds[i])
                        del rows
            else:
                for i in flagged:
                    _replay_argkmin(V[i - s], k, on_y, n_threads, vals[i], inds[i])
            if self.p == 1:
                del V
        return vals, inds

    def _blas_sqeuclidean_rows(self, X, ids):
        """scikit-learn's kneighbors values for queries ``ids`` (one 256-tile), bit for bit.

        max(0, (xn_i + dgemm(-2, X_c, Y_t)) + yn_j): X_c the 256-query tile holding the ids, Y_t
        the 256-point training tiles, norms by ddot, float32 data upcast to float64 first -- the
        same SciPy BLAS calls on the same tiles as scikit-learn's EuclideanArgKmin.
        Returns (len(ids), n_train).
        """
        from scipy.linalg.blas import ddot, dgemm
        from threadpoolctl import threadpool_limits
        Y = self._Y
        with threadpool_limits(1, "blas"):                     # as scikit-learn's reduction does
            if self._yn_blas is None:
                self._yn_blas = np.empty(Y.shape[0])
                for j in range(Y.shape[0]):
                    yj = Y[j].astype(np.float64)
                    self._yn_blas[j] = ddot(yj, yj)
            c0 = (ids[0] // _SK_CHUNK) * _SK_CHUNK
            Xc = X[c0:c0 + _SK_CHUNK].astype(np.float64)
            cols = np.asarray(ids) - c0
            xn = np.array([ddot(Xc[c], Xc[c]) for c in cols])
            out = np.empty((len(cols), Y.shape[0]))
            for t in range(0, Y.shape[0], _SK_CHUNK):
                Yt = Y[t:t + _SK_CHUNK].astype(np.float64)
                mid = dgemm(-2.0, Yt.T, Xc.T, trans_a=1)          # (n_t, m) = -2 Yt Xc^T
                out[:, t:t + Yt.shape[0]] = mid[:, cols].T
        out += xn[:, None]                                         # (xn + mid) first, then + yn
        out += self._yn_blas
        return np.maximum(out, 0.0, out=out)

    # -- public API --------------------------------------------------------------------------------
    def kneighbors(self, X, n_neighbors=None, return_distance=True):
        """Distances (n_q, k) ascending and indices (n_q, k) of the k nearest training rows.

        Distances are ||x - y||_2 = sqrt(max(0, ||x||^2 - 2 x.y + ||y||^2)) for p=2 and
        sum_f |x_f - y_f| for p=1.  Equal distances are ordered as scikit-learn orders them.
        """
        t0 = time.perf_counter()
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"n_neighbors must be a positive integer, got {k!r}")
        X = self._check_query(X, k)
        vals, inds = self._search(X, k, "kneighbors")
        self.predict_time_ = time.perf_counter() - t0
        if not return_distance:
            return inds
        if self.p == 2 and self._round32:
            # scikit-learn's float32 _rdist_to_dist: float32(sqrt(float32(squared distance)))
            vals = np.sqrt(vals.astype(np.float32).astype(np.float64)).astype(np.float32).astype(np.float64)
        elif self.p == 2:
            vals = np.sqrt(vals)
        return vals, inds

    def _uniform_scores(self, X):
        """Counts s_c = #neighbours of class c (float64).

        scikit-learn counts the neighbours ``kneighbors`` returns, except for p=1 with a query
        that is a C-contiguous ndarray of the training dtype: then ``ArgKminClassMode`` counts
        them with its heap in training order.  The two can differ on tied distances, so we take
        the same branch.  (p=2 never uses ArgKminClassMode: 'euclidean' is excluded from it.)
        """
        class_mode = (self.p == 1 and isinstance(X, np.ndarray) and X.flags.c_contiguous
                      and X.dtype == self._Y.dtype)
        X = self._check_query(X, self.n_neighbors)
        _, inds = self._search(X, self.n_neighbors, "vote" if class_mode else "kneighbors")
        scores = np.zeros((X.shape[0], len(self.classes_)))
        lab = self._y[inds]
        rows = np.arange(X.shape[0])
        for a in range(self.n_neighbors):
            scores[rows, lab[:, a]] += 1.0
        return scores

    def _distance_weights(self, X):
        """w = 1/d per neighbour; a row with a zero distance gets w = [d == 0] (scikit-learn's rule)."""
        dist, inds = self.kneighbors(X)
        with np.errstate(divide="ignore"):
            w = 1.0 / dist
        inf_mask = np.isinf(w)
        inf_row = np.any(inf_mask, axis=1)
        w[inf_row] = inf_mask[inf_row]
        return w, self._y[inds]

    def predict_proba(self, X):
        """(n_q, n_classes) probabilities s_c / sum_c s_c, columns in ``classes_`` order."""
        t0 = time.perf_counter()
        if self.weights == "uniform":
            scores = self._uniform_scores(X)
            scores /= scores.sum(axis=1, keepdims=True)
        else:
            w, lab = self._distance_weights(X)
            scores = np.zeros((w.shape[0], len(self.classes_)))
            rows = np.arange(w.shape[0])
            for a in range(w.shape[1]):               # neighbour by neighbour, as scikit-learn
                scores[rows, lab[:, a]] += w[:, a]
            scores /= scores.sum(axis=1)[:, np.newaxis]
        self.predict_time_ = time.perf_counter() - t0
        return scores

    def predict(self, X):
        """Class with the largest score s_c; a tie goes to the smallest class label."""
        t0 = time.perf_counter()
        if self.weights == "uniform":
            scores = self._uniform_scores(X)          # counts: argmax needs no normalising
        else:
            # sklearn.utils.extmath.weighted_mode: per class, np.sum over a row of w-or-0.
            w, lab = self._distance_weights(X)
            scores = np.stack([np.where(lab == c, w, 0.0).sum(axis=1)
                               for c in range(len(self.classes_))], axis=1)
        pred = self.classes_[np.argmax(scores, axis=1)]
        self.predict_time_ = time.perf_counter() - t0
        return pred

    def score(self, X, y):
        """Mean accuracy of ``predict(X)`` against y."""
        y = np.asarray(y)
        pred = self.predict(X)
        if y.shape != pred.shape:
            raise ValueError(f"y has shape {y.shape} but X gives {pred.shape} predictions")
        return float(np.mean(pred == y))

    def get_params(self, deep=True):
        return {"n_neighbors": self.n_neighbors, "weights": self.weights, "p": self.p,
                "chunk_rows": self.chunk_rows, "working_memory": self.working_memory,
                "selection": self.selection}

    def __repr__(self):
        return (f"KNeighborsClassifier(n_neighbors={self.n_neighbors}, weights={self.weights!r}, "
                f"p={self.p})")


def knn_report(clf):
    """What the workshop's comparison table needs: fit time, last predict time, model size."""
    return {"fit_time_s": clf.fit_time_, "predict_time_s": getattr(clf, "predict_time_", None),
            "model_size_bytes": clf.model_size_bytes}
