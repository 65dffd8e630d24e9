"""Inference split by rows over the cores: the fast path of ``predict``, ``evaluate`` and ``model(x)``.

Read ``training.py`` first: each of those methods runs a plain loop over batches, ``forward`` on
each (dropout off; ``model(x)``: one ``forward`` over all rows), and on the numba backend hands the
same work here in one line.  Here the batches are dealt out in contiguous runs to several threads
(``threads.split``; one per core, each with at least ``threads.MIN_ROWS_PER_THREAD`` rows).  The
first run goes through the model itself; each other through a *replica* (:func:`replicas`: the
same layers' ``forward``, the same weight arrays, its own ``cache`` and work arrays), so threads
never share a work array.  The results come back in batch order.  Rows are independent at
inference, so any split gives the same numbers up to rounding (BLAS may group a row's sums
differently for another number of rows, as another batch size does).

``model(x)`` goes over its rows in pieces of at most :data:`CHUNK_ROWS` per ``forward`` call, so the
work arrays the layers keep are a piece's size, not all rows' (``docs/speed.md#inference-split``).

Calls from several threads on one model (a web demo, a notebook with threads): the first call in
flight runs on the model itself (and its kept replicas), as a single thread would; a call that finds
the model busy gets replicas of its own with fresh work arrays, so no two calls ever write into the
same array.  A single thread pays one uncontended lock per call.
"""
import copy
import threading
import weakref

from .. import data_adapter
from . import threads as thread_policy

CHUNK_ROWS = 1024


def threads(model, n_rows):
    """Threads for inference over ``n_rows`` rows: ``threads.inference_threads``, if the model can
    be replicated; else 1."""
    return thread_policy.inference_threads(n_rows) if replicable(model) else 1


def map_batches(model, batches, each, progress=lambda steps: None, n_threads=None):
    """``[each(m, rows) for rows in batches]`` with ``m`` the model or one of its replicas, the batches
    split over ``n_threads`` threads (default :func:`threads`); results in batch order.  ``progress(1)``
    after each batch (one thread at a time: it may draw a bar)."""
    if n_threads is None:
        n_threads = threads(model, sum(_len(rows) for rows in batches))
    n_threads = max(1, min(n_threads, len(batches)))
    k = len(batches)
    runs = [batches[k * t // n_threads:k * (t + 1) // n_threads] for t in range(n_threads)]
    bar_lock = threading.Lock()

    def run(m, run_batches):
        results = []
        for rows in run_batches:
            results.append(each(m, rows))
            with bar_lock:
                progress(1)
        return results

    lock = _busy(model)
    owner = lock.acquire(blocking=not replicable(model))      # a model that cannot be replicated waits
    try:
        if owner:                                             # the usual case: the model is ours alone
            copies = [model] + replicas(model, n_threads - 1)
        else:                                                 # another thread is running it: our own copies
            copies = [_replica(model, {}) for _ in range(n_threads)]
        per_run = thread_policy.split([lambda m=m, r=r: run(m, r) for m, r in zip(copies, runs)])
    finally:
        if owner:
            lock.release()
    return [result for results in per_run for result in results]


_locks = weakref.WeakKeyDictionary()            # model -> the lock its inference calls take
_locks_lock = threading.Lock()


def _busy(model):
    """The lock held by the inference call running on ``model`` itself (kept beside the model, not in
    it, so the model still deep-copies)."""
    with _locks_lock:
        lock = _locks.get(model)
        if lock is None:
            lock = _locks[model] = threading.Lock()
        return lock


def forward_all(model, x, batches, progress=lambda steps: None, n_threads=None):
    """``forward(x[rows])`` for every slice ``rows`` in ``batches``, dropout off, into one new array
    ``(N,) + output_shape`` (one per output for several: ``data_adapter.empty_outputs``): the fast path
    of ``predict``."""
    out = data_adapter.empty_outputs(model, len(x))

    def fill(m, rows):
        out[rows] = m.forward(x[rows], training=False)

    map_batches(model, batches, fill, progress, n_threads)
    return out


def direct_call(model, x):
    """``model(x)`` at inference: ``forward`` over all of ``x`` in pieces of at most :data:`CHUNK_ROWS`
    rows, dealt out to the cores; a new array."""
    n = len(x)
    n_threads = threads(model, n)
    rows = pieces(n, n_threads)
    batches = [slice(i, min(i + rows, n)) for i in range(0, n, rows)]
    return forward_all(model, x, batches, n_threads=n_threads)


def pieces(n_rows, n_threads):
    """Rows per ``forward`` call when ``model(x)`` goes over ``n_rows`` rows on ``n_threads`` threads:
    each thread's share cut into equal pieces of at most :data:`CHUNK_ROWS` rows."""
    share = -(-int(n_rows) // n_threads)
    count = -(-share // CHUNK_ROWS)
    return -(-share // count)


def replicable(model):
    """The model is one of nnscratch's own (not a model you subclassed: its ``call`` is yours) and so
    is every layer, whose per-call state is ``cache`` and its work arrays alone (a layer of your own
    may keep more: it runs on one thread)."""
    return type(model).__module__.startswith("nnscratch.") and all(
        type(layer).__module__.startswith("nnscratch.") and (replicable(layer) if _is_model(layer) else True)
        for layer in model.layers)


def replicas(model, count):
    """``count`` replicas of ``model`` for the row threads; their work arrays are kept from call to call
    (in ``model._replica_work``), so a replica allocates only when shapes change."""
    kept = model.__dict__.setdefault("_replica_work", [])
    while len(kept) < count:
        kept.append({})
    return [_replica(model, arrays) for arrays in kept[:count]]


def call_replica(layer):
    """A replica of ``layer`` with work arrays of its own, made for one call of ``layer(x)``
    (``layers.Layer.__call__``): what that call returns, and what its backward reads later on a tape,
    is that call's alone, however often the layer is called again."""
    return _replica(layer, {})


def _replica(layer, arrays):
    """A shallow copy of ``layer`` (a layer or a nested model) for another thread: the same weight
    arrays and settings, but its own ``cache`` and work arrays, taken from ``arrays`` (one dict per
    layer).  Made afresh for every call, so it always sees the layer as it is now."""
    replica = copy.copy(layer)
    if _is_model(layer):
        replica.layers = [_replica(inner, arrays) for inner in layer.layers]
    else:
        replica.cache = None
        replica._work = arrays.setdefault(id(layer), {})
    return replica


def _is_model(layer):
    return isinstance(getattr(layer, "layers", None), list)


def _len(rows):
    return rows.stop - rows.start
