"""Which code computes each step: the plain NumPy expressions, or the engine's fused loops.

Every layer, loss and optimizer has one method a learner reads (``Dense.forward``, ``Adam.update``,
...).  Inside it, the plain NumPy expression and, in one line beside it, the call into the engine
(``nnscratch/engine/fast.py``) that computes the same thing in one pass over memory::

    if backend.fast():
        z, a = fast.dense_forward(self, x)
    else:
        z = x @ self.kernel + self.bias
        a = self.activation.forward(z)

* ``'numpy'``: the plain NumPy expressions run.  Read and step through these.
* ``'numba'`` (the default): the engine runs where a method has a fast path; everything else (the
  matrix products, which BLAS does best) is the same on both backends.

Choose with ``nnscratch.set_backend('numpy')`` (or ``with nnscratch.backend.use('numpy'):``) or the
environment variable ``NNSCRATCH_BACKEND=numpy|numba`` (read on first use).
"""
import contextlib
import os

BACKENDS = ("numpy", "numba")
DEFAULT = "numba"

_state = {"backend": None}


def set_backend(name):
    """Select ``'numpy'`` (the plain expressions) or ``'numba'`` (the engine's fused loops)."""
    name = str(name).lower()
    if name not in BACKENDS:
        raise ValueError(f"set_backend: unknown backend {name!r}; choose one of {BACKENDS}")
    if name == "numba":
        from .engine import loops  # noqa: F401  (fail early if numba is missing)
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
    """True when the methods should hand their work to the engine (the ``'numba'`` backend)."""
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
