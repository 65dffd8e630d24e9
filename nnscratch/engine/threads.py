"""The thread policy: one pool owns the cores at a time.

Two thread pools can live in one process: OpenBLAS's (matrix products) and Numba's (``prange``
loops, OpenMP).  Both spin for a while after a parallel region, waiting for the next one, and two
pools spinning on the same cores slow each other down many times over (this is what once made whole
epochs 3-4x slower at random).  So:

* matrix products: OpenBLAS, with all its threads (its own choice, by size);
* every other loop of training and inference (activations, dropout, loss, optimizers, im2col,
  pooling): serial, on the calling thread (``loops.py``, ``conv_loops.py``), so no second pool ever
  wakes beside OpenBLAS's;
* work that runs alone, with no product around it, may run on threads of its own: kNN's searches
  deal query chunks out to a pool sized as scikit-learn's, BLAS on one thread
  (``neighbors/_search.py``);
* inference over many rows (``predict``, ``model(x)``, ``evaluate``; ``inference.py``): the rows are
  cut into one contiguous run per core, and each run goes through the whole network on its own
  thread (:func:`split`), with OpenBLAS on one thread meanwhile.  Then every core does products
  *and* loops, and no pool is left spinning.  (Training cannot do this: each step needs the
  weights of the step before.)

The measurements behind each choice: ``docs/speed.md#threads``.
"""
import contextlib
import functools
import os
import threading

# Rows each thread must get before an inference call is split: smaller calls lose (docs/speed.md#inference-split).
MIN_ROWS_PER_THREAD = 2048


def inference_threads(n_rows):
    """How many threads an inference pass over ``n_rows`` rows is split over: one per BLAS thread (the
    cores this process uses; ``OPENBLAS_NUM_THREADS=1`` keeps it to one), each with at least
    :data:`MIN_ROWS_PER_THREAD` rows."""
    return max(1, min(blas_threads(), int(n_rows) // MIN_ROWS_PER_THREAD))


def split(tasks):
    """Run ``tasks`` (functions of no arguments) side by side, one thread each, the first on the
    calling thread, with OpenBLAS on one thread meanwhile; return their results in order.  An
    exception in any task is raised here, after all of them have finished."""
    if len(tasks) == 1:
        return [tasks[0]()]
    from concurrent.futures import wait
    pool = _row_pool(len(tasks) - 1)
    with _blas_on_one_thread():
        futures = [pool.submit(task) for task in tasks[1:]]
        try:
            first = tasks[0]()
        finally:
            wait(futures)            # no thread may still be writing when this returns or raises
    return [first] + [f.result() for f in futures]


_one_thread = {"users": 0, "limiter": None, "lock": threading.Lock()}


@contextlib.contextmanager
def _blas_on_one_thread():
    """OpenBLAS on one thread while the block runs, for every :func:`split` in flight at once: the
    first to enter sets the limit, the last to leave restores the threads.  (Each with a limit of its
    own, two overlapping calls from two threads would restore each other's setting: the later one
    would leave OpenBLAS on one thread for the rest of the process.)"""
    with _one_thread["lock"]:
        if _one_thread["users"] == 0:
            _one_thread["limiter"] = _blas().limit(limits=1).__enter__()
        _one_thread["users"] += 1
    try:
        yield
    finally:
        with _one_thread["lock"]:
            _one_thread["users"] -= 1
            if _one_thread["users"] == 0:
                _one_thread["limiter"].__exit__(None, None, None)
                _one_thread["limiter"] = None


@functools.lru_cache(maxsize=None)
def _blas():
    """threadpoolctl's handle on the BLAS libraries loaded when first asked (NumPy's OpenBLAS), kept:
    finding them again takes ~1.4 ms.  (kNN's searches, which also call SciPy's LAPACK, possibly
    loaded later, use ``threadpool_limits``, which looks again every time.)"""
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController().select(user_api="blas")


def blas_threads():
    """The threads OpenBLAS uses now (1 inside :func:`split`)."""
    return max([lib["num_threads"] for lib in _blas().info()] or [1])


_pool = {"executor": None, "workers": 0, "pid": None, "lock": threading.Lock()}


def _row_pool(workers):
    """A pool of at least ``workers`` threads, kept for the process (they sleep between calls).  A
    child made by ``fork`` has none of its parent's threads, so it makes its own pool."""
    from concurrent.futures import ThreadPoolExecutor
    with _pool["lock"]:
        if _pool["workers"] < workers or _pool["pid"] != os.getpid():
            _pool["executor"] = ThreadPoolExecutor(workers, thread_name_prefix="nnscratch-rows")
            _pool["workers"], _pool["pid"] = workers, os.getpid()
        return _pool["executor"]
