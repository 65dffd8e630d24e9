"""Which code computes each step, and on how many threads.  The one place for both decisions.

Backend
-------
Every layer, loss and optimizer has one method a learner reads (``Dense.forward``, ``Adam.apply``,
...).  Inside it, the plain NumPy expression and, right beside it, the call to a fused Numba kernel
(``kernels.py``) that computes the same thing in one pass over memory:

* ``'numpy'``: the plain NumPy expressions run.  Read and step through these.
* ``'numba'`` (the default): the Numba kernels run where a method has one; everything else (the
  matrix products, which BLAS does best) is the same on both backends.

Choose with ``nnscratch.set_backend('numpy')`` (or ``with nnscratch.backend.use('numpy'):``) or the
environment variable ``NNSCRATCH_BACKEND=numpy|numba`` (read on first use).

Threads
-------
One pool owns the cores at a time.  Two thread pools can live in one process: OpenBLAS's (matrix
products) and Numba's (``prange`` loops, OpenMP).  Both spin for a while after a parallel region,
waiting for the next one, and two pools spinning on the same cores slow each other down many times
over (this is what made whole epochs 3-4x slower at random).  The policy:

* matrix products: OpenBLAS, with all its threads (its own choice, by size);
* every other kernel of training and inference (activations, dropout, loss, optimizers, im2col,
  pooling): serial, on the calling thread (``kernels.py``, ``conv_kernels.py``), so no second pool
  ever wakes beside OpenBLAS's;
* work that runs alone, with no product around it, may run on threads of its own: kNN's searches
  deal query chunks out to a pool sized as scikit-learn's, BLAS on one thread
  (``neighbors/_search.py``); a parallel Numba function would ask for threads with
  :func:`numba_threads` (none does today);
* inference over many rows (``predict``, ``model(x)``, ``evaluate``; :func:`split_rows`): the rows
  are cut into one contiguous run per core, and each run goes through the whole network on its own
  thread, with OpenBLAS on one thread for the duration.  Then every core does products *and*
  kernels, and no pool is left spinning: OpenBLAS's workers are not woken, and the row threads
  sleep on a queue between calls.  ``model(x)`` takes each run in pieces of at most
  :data:`CHUNK_ROWS` rows, so the work arrays stay a piece's size.  (Training cannot do this: each
  step needs the weights of the step before.)

Why, measured on the 2-core machine (``python benchmarks/threads.py``: 3 passes, each ratio's range
over them; ``benchmarks/results/threads-2core.json``, 2026-12-03 19:39; in brackets the run of 18:02
the same day):

* the products of training and of ``predict`` on 2 threads against 1: 0.48-0.60x the time at batch
  128 and 512 and in ``predict`` (0.39-0.79x); at batch 32 0.55-1.13x, each of batch 32's products
  but ``dz2 @ W2.T`` above 1x in one pass of the three (at 18:02 only ``x.T @ dz2``, 1.14x in one
  pass; 1.11x and 1.32x in earlier runs).  No product is reliably faster on one thread, so OpenBLAS
  keeps its own choice;
* a kernel split over two threads right after a product: ``predict``'s sigmoid over 10,000 x 512
  takes 1.01-1.02x the serial time (1.01-1.03x), because OpenBLAS's second thread is still spinning
  on the other core; smaller kernels 0.86-1.38x (0.96-1.42x).  With OpenBLAS asleep the same splits
  take 0.52-1.00x (0.61-0.96x): that is the most a second pool could win, and it would first have
  to put OpenBLAS to sleep;
* Adam over 669,706 parameters split in two halves: 0.63-0.85x the serial time with OpenBLAS asleep
  (0.60-0.62x; 0.61-1.42x, 0.71-0.94x and 0.89-1.03x in earlier runs), but 1.46-1.50x right after a
  product, which is where a training step runs it (a one-off timing, noted in ``docs/speed.md``);
* inference split over rows, against one pass with OpenBLAS on both cores and the kernels serial:
  the 3-layer model on 10,000 images, ``model(x)`` 0.90-0.97x the time (0.94-0.98x), ``predict``
  (batches of 32) 0.74-0.86x (0.69-0.81x), ``evaluate`` 0.73-0.85x (0.72-0.79x); on 4,096 rows
  ``model(x)`` 1.02-1.05x (0.92-0.98x), ``predict`` 0.84-0.94x (0.73-0.85x).  Small calls lose
  (512-1,024 rows: up to 1.8x the time), hence :data:`MIN_ROWS_PER_THREAD`;
* ``model(x)`` in pieces of at most :data:`CHUNK_ROWS` rows per thread against one piece: level in
  time, 16 MB of work arrays kept after 60,000 rows instead of 473 MB;
* the other single pool, Numba's running the products (in shares, OpenBLAS on one thread in each) and
  Adam (``python benchmarks/one_pool.py``, 2026-12-03 21:45): the products and Adam of a step in
  0.78-0.90x the time at batch 32, 0.81-0.95x at 128, 0.98-1.01x at 512; Numba's pool beside
  OpenBLAS's instead, 1.7-6.4x.  Not taken: it needs NumPy's private CBLAS symbol and Numba's
  OpenMP layer, and would replace the ``np.matmul`` a learner reads (``docs/speed.md``).

On a machine with many cores the trade changes (more memory bandwidth, more idle cores beside the
products); the 16-core figures in ``docs/speed.md`` are the open question.
"""
import contextlib
import functools
import os
import threading

BACKENDS = ("numpy", "numba")
DEFAULT = "numba"

_state = {"backend": None}


def set_backend(name):
    """Select ``'numpy'`` (the plain expressions) or ``'numba'`` (the fused kernels)."""
    name = str(name).lower()
    if name not in BACKENDS:
        raise ValueError(f"set_backend: unknown backend {name!r}; choose one of {BACKENDS}")
    if name == "numba":
        from . import kernels  # noqa: F401  (fail early if numba is missing)
    _state["backend"] = name


def get_backend():
    """The current backend name."""
    if _state["backend"] is None:
        name = os.environ.get("NNSCRATCH_BACKEND", DEFAULT).lower() or DEFAULT
        if name not in BACKENDS:
            raise ValueError(f"NNSCRATCH_BACKEND={name!r}; choose one of {BACKENDS}")
        _state["backend"] = name
    return _state["backend"]


def fast():
    """True when the methods should call their Numba kernel (the ``'numba'`` backend)."""
    return (_state["backend"] or get_backend()) == "numba"


@contextlib.contextmanager
def use(name):
    """``with backend.use('numpy'): ...``: a backend for the duration of the block."""
    old = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(old)


@contextlib.contextmanager
def numba_threads(n):
    """Run the block with Numba's pool at ``n`` threads (capped at what Numba started with), then
    restore the previous number."""
    import numba
    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(old)


# ------------------------------------------------------------------ inference over many rows
# Rows each thread must get before a call is split (benchmarks/threads.py, point 5, on 2 cores, the
# runs of 2026-12-03 18:02 and 19:39 together: split over 2 threads / one pass, model(x) and predict:
# 512 rows 1.12-1.83x, 1,024 rows 0.96-1.80x, 2,048 rows 0.81-1.26x, 4,096 rows 0.73-1.05x).
MIN_ROWS_PER_THREAD = 2048


def inference_threads(n_rows):
    """How many threads an inference pass over ``n_rows`` rows is split over: one per BLAS thread (the
    cores this process uses; ``OPENBLAS_NUM_THREADS=1`` keeps it to one), each with at least
    ``MIN_ROWS_PER_THREAD`` rows.  Always 1 on the numpy backend: the plain code stays plain."""
    if not fast():
        return 1
    return max(1, min(_blas_threads(), int(n_rows) // MIN_ROWS_PER_THREAD))


# Rows per forward call when model(x) goes over many rows at once on the numba backend.  What it buys
# is memory: the work arrays a model keeps after model(x) on 60,000 images are 16 MB instead of 473 MB
# (benchmarks/threads.py, point 6).  Time is level within this machine's noise: 2 cores, 10,000
# images, pieces / one piece per thread, each ratio's range over the passes of three runs of the script
# on 2026-12-03: 0.93-1.03x split over the cores, 0.93-1.10x on one thread.
CHUNK_ROWS = 1024


def direct_call_rows(n_rows, threads):
    """Rows per ``forward`` call when ``model(x)`` goes over ``n_rows`` rows on ``threads`` threads.

    On the numba backend each thread's share is cut into equal pieces of at most :data:`CHUNK_ROWS`
    rows.  The work arrays each layer keeps for the next call are then a piece's size (a 1,024 x 512
    float32 activation is 2 MB; 60,000 rows in one piece would keep 123 MB per activation).  Time
    is level either way on 2 cores.  On the numpy backend all rows go through one call: the plain
    code stays plain."""
    share = -(-int(n_rows) // threads)
    if not fast():
        return share
    pieces = -(-share // CHUNK_ROWS)
    return -(-share // pieces)


def split_rows(tasks):
    """Run ``tasks`` (functions of no arguments) side by side, one thread each, the first on the
    calling thread, with OpenBLAS on one thread meanwhile; return their results in order.  An
    exception in any task is raised here, after all of them have finished."""
    if len(tasks) == 1:
        return [tasks[0]()]
    from concurrent.futures import wait
    pool = _row_pool(len(tasks) - 1)
    with _blas().limit(limits=1):
        futures = [pool.submit(task) for task in tasks[1:]]
        try:
            first = tasks[0]()
        finally:
            wait(futures)            # no thread may still be writing when this returns or raises
    return [first] + [f.result() for f in futures]


@functools.lru_cache(maxsize=None)
def _blas():
    """threadpoolctl's handle on the BLAS libraries loaded when first asked (NumPy's OpenBLAS), kept:
    finding them again takes ~1.4 ms.  (kNN's searches, which also call SciPy's LAPACK, possibly
    loaded later, use ``threadpool_limits``, which looks again every time.)"""
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController().select(user_api="blas")


def _blas_threads():
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
