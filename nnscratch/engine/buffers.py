"""Work arrays: what the fast paths write into instead of allocating a new array for every batch.

Each belongs to an *owner* (a layer, a model, an optimizer) and has a name (``"z"``, ``"dx"``, ...).
It is kept in the owner's ``_work`` dict and made again only when the shape or dtype a call needs
changes (a new batch size, the last partial batch).  An output of a fast path is therefore valid
until the owner's next call, as the layer contract says; ``model(x)`` and ``predict`` copy what they
return.  Threads never share an owner's work arrays: the row threads of ``inference.py`` run replicas
of the layers, each with a ``_work`` dict of its own.
"""
import numpy as np


def work(owner, name, shape, dtype):
    """``owner``'s work array ``name`` of ``shape`` and ``dtype`` (uninitialised), kept for the next
    call.  ``owner=None``: a new array every time (a loss object called outside a model)."""
    if owner is None:
        return np.empty(shape, dtype)
    arrays = owner.__dict__.get("_work")
    if arrays is None:
        arrays = owner.__dict__["_work"] = {}
    array = arrays.get(name)
    if array is None or array.shape != shape or array.dtype != dtype:
        array = arrays[name] = np.empty(shape, dtype)
    return array


def kept_bytes(owner):
    """Bytes of work arrays ``owner`` keeps now (tests and ``benchmarks/threads.py``)."""
    return sum(a.nbytes for a in owner.__dict__.get("_work", {}).values())
