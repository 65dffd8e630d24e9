"""Which implementation runs the training loop: ``'numpy'`` or ``'numba'``.

* ``'numpy'``: the lean loop (``engine.py``) with NumPy ufuncs writing into preallocated buffers
  (``out=``) and OpenBLAS for the matrix products: the same expressions as ``layers.py``,
  ``losses.py`` and ``optimizers.py``, without per-batch allocation.
* ``'numba'``: the same loop with the fused kernels of ``kernels.py`` for everything element-wise
  (bias + activation, dropout, activation backward + bias gradient, softmax + cross-entropy, the
  optimizer over all parameters in one pass).

Choose with ``nnscratch.set_backend('numba')`` or the environment variable
``NNSCRATCH_BACKEND=numpy|numba`` (read at import).  The matrix products use OpenBLAS on both
backends unless ``NNSCRATCH_MATMUL=numba`` (or ``set_backend('numba', matmul='numba')``) selects the
register-blocked Numba kernel; ``benchmarks/speed.py`` measures both.

The two backends agree to float rounding: after one epoch of the 3-layer model (dropout 0), weights
within ``BACKEND_RTOL``/``BACKEND_ATOL`` (float32) or 1e-9 (float64); see ``tests/test_backends.py``.
The readable per-layer path (``Sequential.train_step``) is unchanged by either choice.
"""
import contextlib
import os

BACKENDS = ("numpy", "numba")
MATMULS = ("blas", "numba")
# 'numpy' until benchmarks/speed.py has run on a quiet machine and shown 'numba' faster on the
# workshop's models (the one attempt ran at load average ~9 on 2 cores and measured nothing usable).
# The numpy lean loop is bit-for-bit the readable path; flip this after a clean benchmark.
# The default is the faster one on the workshop's models (benchmarks/speed.py, one run side by side:
# 3-layer model 2.44 / 1.65 / 1.42 s per epoch at batch 32 / 128 / 512 with 'numba', against
# 4.22 / 2.31 / 1.77 s with 'numpy'; benchmarks/results/speed.json).
DEFAULT = "numba"
BACKEND_RTOL, BACKEND_ATOL = 1e-4, 1e-5          # float32, weights after one epoch

_state = {"backend": None, "matmul": None}


def set_backend(name, matmul=None):
    """Select the backend (``'numpy'`` or ``'numba'``) and optionally the matmul (``'blas'``/``'numba'``)."""
    name = str(name).lower()
    if name not in BACKENDS:
        raise ValueError(f"set_backend: unknown backend {name!r}; choose one of {BACKENDS}")
    if matmul is not None and matmul not in MATMULS:
        raise ValueError(f"set_backend: unknown matmul {matmul!r}; choose one of {MATMULS}")
    if name == "numba":
        from . import kernels  # noqa: F401  (fail early if numba is missing)
    _state["backend"] = name
    if matmul is not None:
        _state["matmul"] = matmul


def get_backend():
    """The current backend name."""
    if _state["backend"] is None:
        _state["backend"] = os.environ.get("NNSCRATCH_BACKEND", DEFAULT).lower() or DEFAULT
        if _state["backend"] not in BACKENDS:
            raise ValueError(f"NNSCRATCH_BACKEND={_state['backend']!r}; choose one of {BACKENDS}")
    return _state["backend"]


def get_matmul():
    """``'blas'`` or ``'numba'``: what computes the matrix products on the numba backend."""
    if _state["matmul"] is None:
        _state["matmul"] = os.environ.get("NNSCRATCH_MATMUL", "blas").lower() or "blas"
        if _state["matmul"] not in MATMULS:
            raise ValueError(f"NNSCRATCH_MATMUL={_state['matmul']!r}; choose one of {MATMULS}")
    return _state["matmul"]


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
