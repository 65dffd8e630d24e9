"""scikit-learn's order for equal distances: its heap, its sort and its thread split, replayed.

Equal distances (duplicate points, symmetric configurations, float32 rounding) make "the k
nearest" ambiguous.  scikit-learn (``KNeighborsClassifier(algorithm='brute')``, 1.3-1.9) resolves
them by the way its Cython reduction ``sklearn.metrics._pairwise_distances_reduction.ArgKmin``
runs, and to give identical answers we run the same steps on the rows where it matters:

* a fixed-size max-heap per query receives the training points in index order and rejects a value
  equal to its current maximum (``sklearn/utils/_heap.pyx``), so among equal values the earlier
  index wins -- unless the heap was split over threads;
* 'auto' strategy: with at least as many training points as queries and fewer than
  4 * 256 * n_threads queries, scikit-learn splits the training set over OpenMP threads
  ('parallel_on_Y'): 256-point tiles assigned statically, one heap per thread, the thread heaps
  pushed into the main heap thread after thread, in heap-array order;
* the heap is then sorted by ``simultaneous_sort`` (introsort; insertion sort for k <= 15), which
  is not stable: the order of equal values depends on their positions in the heap array.

The search (``_search.py``) finds the k+1 smallest values of a row; when they are all different
the heap's answer is simply the k smallest in increasing order and none of this matters.  Rows
whose k+1 smallest contain an equality (or a near-equality the float arithmetic cannot decide)
are replayed here on the whole distance row, computed with scikit-learn's own arithmetic
(``sklearn_sqeuclidean_rows`` for p=2: the same SciPy BLAS calls on the same 256 x 256 tiles).
"""
import math
import os

import numba
import numpy as np

SK_CHUNK = 256           # scikit-learn's ``pairwise_dist_chunk_size`` (tile size of its reduction)
_DBL_MAX = np.finfo(np.float64).max


def sklearn_n_threads():
    """The thread count scikit-learn's OpenMP reduction uses (``_openmp_effective_n_threads``).

    OpenMP's default is ``OMP_NUM_THREADS`` or the usable CPUs.  It decides the order in which
    ``ArgKmin`` meets tied points when it splits the training set over threads.
    """
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    cpus = usable_cpus()
    if env.isdigit() and int(env) > 0:
        return min(int(env), cpus)
    return cpus


def usable_cpus():
    """CPUs this process may run on (the affinity mask), else ``os.cpu_count()``."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def parallel_on_y(n_queries, n_train, n_threads):
    """scikit-learn's 'auto' strategy: split the training set over threads (True) or the queries."""
    if n_train < n_queries:
        return False
    return not (4 * SK_CHUNK * n_threads < n_queries)


# ------------------------------------------------------------------------------------------------
# scikit-learn's heap and sort, line for line (sklearn/utils/_heap.pyx, sklearn/utils/_sorting.pyx)
# ------------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True)
def _swap(v, ind, i, j):
    v[i], v[j] = v[j], v[i]
    ind[i], ind[j] = ind[j], ind[i]


@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True)
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


@numba.njit(cache=True, nogil=True)
def replay_argkmin(row, k, on_y, n_threads, out_v, out_i):
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
        n_tiles = (n + SK_CHUNK - 1) // SK_CHUNK
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
            for j in range(s * SK_CHUNK, min((s + q) * SK_CHUNK, n)):
                _heap_push(hv, hi, k, row[j], j)
            for a in range(k):
                _heap_push(out_v, out_i, k, hv[a], hi[a])
    _simultaneous_sort(out_v, out_i, k)




def sklearn_sqeuclidean_rows(X, ids, Y, y_sqnorms):
    """scikit-learn's squared-Euclidean values for queries ``ids`` (one 256-query tile), bit for bit.

    max(0, (xn_i + dgemm(-2, X_c, Y_t)) + yn_j): X_c the 256-query tile of X holding the ids, Y_t
    the 256-point training tiles, norms by BLAS ddot (``y_sqnorms``: ``blas_sqnorms(Y)``), float32
    data upcast to float64 first -- the SciPy BLAS calls of scikit-learn's EuclideanArgKmin, on the
    same tiles.  The caller holds BLAS to one thread, as scikit-learn's reduction does.
    Returns (len(ids), n_train).
    """
    from scipy.linalg.blas import ddot, dgemm
    c0 = (ids[0] // SK_CHUNK) * SK_CHUNK
    Xc = X[c0:c0 + SK_CHUNK].astype(np.float64)
    cols = np.asarray(ids) - c0
    xn = np.array([ddot(Xc[c], Xc[c]) for c in cols])
    out = np.empty((len(cols), Y.shape[0]))
    for t in range(0, Y.shape[0], SK_CHUNK):
        Yt = Y[t:t + SK_CHUNK].astype(np.float64)
        mid = dgemm(-2.0, Yt.T, Xc.T, trans_a=1)          # (n_t, m) = -2 Yt Xc^T
        out[:, t:t + Yt.shape[0]] = mid[:, cols].T
        del Yt, mid                                            # before the next tile's (memory bound)
    out += xn[:, None]                                         # (xn + mid) first, then + yn
    out += y_sqnorms
    return np.maximum(out, 0.0, out=out)


def blas_sqnorms(Y):
    """||y_j||^2 by BLAS ddot on float64 rows, as scikit-learn computes them."""
    from scipy.linalg.blas import ddot
    out = np.empty(Y.shape[0])
    for j in range(Y.shape[0]):
        yj = Y[j].astype(np.float64)
        out[j] = ddot(yj, yj)
    return out
