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
Two thread pools can live in one process: OpenBLAS's (matrix products) and Numba's (``prange``
loops, OpenMP).  Both spin for a while after a parallel region, and two pools spinning on the same
cores slow each other down many times over.  The policy:

* training and inference: OpenBLAS owns the cores for the matrix products; every Numba kernel of
  the training path is serial (``kernels.py``), so Numba's pool is never woken;
* work that is parallel in Numba alone (the kNN distance kernels) asks for its threads with
  :func:`numba_threads`, which sets them and restores the previous number afterwards.
"""
import contextlib
import os

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

