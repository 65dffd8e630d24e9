"""Small helpers a workshop needs around a model: one-hot labels, seeding, accuracy, confusion matrix.

Names and semantics follow ``keras.utils`` where Keras has the same function.
"""
import contextlib
import signal
import threading

import numpy as np

# ---------------------------------------------------------------------------------------------
# Seeding.  Every random choice in nnscratch (initial weights, dropout masks, shuffling) draws from
# a ``numpy.random.Generator``.  A layer or model given ``seed=n`` owns ``default_rng(n)``; one given
# no seed asks this module's global generator for a fresh seed.  ``set_random_seed(n)`` resets that
# global generator, so the same script run twice gives the same numbers bit for bit, as
# ``keras.utils.set_random_seed`` does.  We never touch NumPy's legacy global ``np.random.seed``.
# ---------------------------------------------------------------------------------------------
_global_rng = np.random.default_rng()


def set_random_seed(seed):
    """Make every later random choice in nnscratch repeatable (like ``keras.utils.set_random_seed``)."""
    global _global_rng
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed expects a non-negative integer, got {seed!r}")
    _global_rng = np.random.default_rng(int(seed))


def make_rng(seed=None):
    """A ``numpy.random.Generator``: from ``seed`` if given, else seeded from the global generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        seed = int(_global_rng.integers(0, 2**63 - 1))
    return np.random.default_rng(seed)


def to_categorical(y, num_classes=None, dtype="float64"):
    """One-hot encode integer class labels, as ``keras.utils.to_categorical``.

    Returns float64 like Keras 3 (Keras 2 returned float32; pass ``dtype='float32'`` for that).
    ``y``: integer labels of any shape (N,) or (N, 1); ``num_classes`` defaults to ``max(y) + 1``.
    Returns ``(N, num_classes)`` with a 1 at column ``y[i]`` of row ``i``.  A trailing axis of size 1
    is dropped first, as Keras does.
    """
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise ValueError(f"to_categorical: labels must be integer class indices, got an array of {y.dtype}; "
                         "number the classes first, e.g. classes, y = np.unique(y, return_inverse=True)")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError("to_categorical: labels must be whole numbers (class indices), "
                             f"got values like {y.ravel()[:5]}")
        y = y.astype(np.int64)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    y = y.astype(np.int64, copy=False)
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: labels must be >= 0, found {y.min()}")
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and y.max() >= num_classes:
        raise ValueError(f"to_categorical: label {y.max()} does not fit num_classes={num_classes}; "
                         "labels must lie in 0 .. num_classes-1")
    flat = y.ravel()
    out = np.zeros((flat.size, num_classes), dtype=dtype)
    out[np.arange(flat.size), flat] = 1
    return out.reshape(y.shape + (num_classes,))


def _class_indices(y):
    """Labels as class indices: one-hot / probability rows (N, C) -> argmax, integer labels as given."""
    y = np.asarray(y)
    return np.argmax(y, axis=-1) if y.ndim == 2 else y.astype(np.int64, copy=False)


def accuracy(y_true, y_pred):
    """Fraction of rows where the predicted class equals the true class.

    Either argument may be class indices (N,) or one-hot / probability rows (N, C), reduced with
    argmax (Keras's categorical accuracy: ``argmax(y) == argmax(p)``).
    """
    t, p = _class_indices(y_true), _class_indices(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"accuracy: y_true has {t.shape[0]} samples but y_pred has {p.shape[0]}")
    return float(np.mean(t == p)) if t.size else float("nan")


def confusion_matrix(y_true, y_pred, num_classes=None):
    """Counts ``cm[i, j]`` = number of samples of true class ``i`` predicted as class ``j``.

    Rows are true classes, columns predicted classes (scikit-learn's layout).  Inputs as in
    :func:`accuracy`.
    """
    t, p = _class_indices(y_true), _class_indices(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"confusion_matrix: y_true has {t.shape[0]} samples but y_pred has {p.shape[0]}")
    if num_classes is None:
        num_classes = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (t, p), 1)
    return cm


@contextlib.contextmanager
def interrupts_deferred():
    """Hold back Ctrl-C (SIGINT) while the block runs and deliver it when the block ends.

    The optimizer updates the parameters one after another; an interrupt between two of them would
    leave a model half a step ahead (and ``save`` would write it).  Only the main thread receives
    signals, so elsewhere, or inside another such block, this does nothing.
    """
    if _deferring or threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(frame))
    _set_deferring(True)
    try:
        yield
    finally:
        _set_deferring(False)
        signal.signal(signal.SIGINT, previous)
        if received:
            if callable(previous):
                previous(signal.SIGINT, received[0])
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt


_deferring = False


def _set_deferring(value):
    global _deferring
    _deferring = value
