"""``tf.data``: ``Dataset.from_tensor_slices(...).shuffle(n, seed=...).batch(b)``, iterated as the
TensorFlow tutorials iterate it::

    train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(10000).batch(32)
    for images, labels in train_ds:          # each a Tensor: (32, 28, 28, 1) and (32,)
        train_step(images, labels)

A dataset is a recipe, not a copy: each ``for`` loop over it runs the recipe again (a new shuffle
each time, as ``reshuffle_each_iteration=True``).  Elements are the rows of the arrays given, in the
structure given (a tuple stays a tuple, a dict a dict).  Before ``map`` (or ``batch``), the pipeline
works on row numbers only and ``batch`` gathers each batch's rows in one step (no Python loop over
samples); ``map`` before ``batch`` calls its function once per element, as TensorFlow does.

``shuffle(buffer_size)`` is TensorFlow's buffered shuffle: it keeps a buffer of the next
``buffer_size`` elements and emits a random one of them each time, so an element can only come out
early by up to ``buffer_size`` places (a buffer as large as the dataset gives a uniform permutation).
The random numbers are nnscratch's (``seed=``, or ``tf.random.set_seed``), not TensorFlow's.

``keras.utils.PyDataset`` (:class:`PyDataset`) is here too: a dataset written as a class that makes
batch ``i`` when asked.  ``fit``, ``evaluate`` and ``predict`` take either kind (``batch_sources.py``).
"""
import itertools
import warnings

import numpy as np

from . import utils
from .errors import NotImplementedInNnscratch, message, missing_attribute
from .tape import Tensor, _flatten, _pack, as_array


def _buffered_order(n, buffer_size, rng):
    """The order in which TensorFlow's ``shuffle(buffer_size)`` emits ``n`` elements: fill a buffer with
    the first ``buffer_size``, then each time emit a random element of the buffer and put the next
    input element in its place.  A loop over positions (row numbers only), once per pass."""
    if buffer_size >= n:
        return rng.permutation(n)
    picks = rng.random(n)                                   # one uniform number per emitted element
    buffer, order, following = list(range(buffer_size)), np.empty(n, np.int64), buffer_size
    for k in range(n):
        j = int(picks[k] * len(buffer))
        order[k] = buffer[j]
        if following < n:
            buffer[j] = following
            following += 1
        else:                                               # the input is used up: the buffer shrinks
            buffer[j] = buffer[-1]
            buffer.pop()
    return order


class Dataset:
    """A pipeline of elements (``tf.data.Dataset``).  Make one with :meth:`from_tensor_slices`; each
    method returns a new dataset; ``for element in dataset`` runs it."""

    def __init__(self, structure, rows, steps=()):
        self._structure = structure          # the arrays, in the user's structure
        self._rows = rows                    # how many elements (rows) the arrays hold
        self._steps = steps                  # ("shuffle", size, generator or seed), ("batch", b, drop), ...

    @staticmethod
    def from_tensor_slices(tensors):
        """Elements are the rows of ``tensors`` (an array, or a tuple / list / dict of arrays with the same
        number of rows): ``from_tensor_slices((x, y))`` gives ``(x[i], y[i])`` for each ``i``."""
        arrays = [as_array(t) for t in _flatten(tensors)]
        if not arrays or any(a.ndim == 0 for a in arrays):
            raise ValueError("from_tensor_slices: give arrays with a first axis to slice, e.g. (x_train, y_train)")
        rows = {len(a) for a in arrays}
        if len(rows) != 1:
            raise ValueError(f"from_tensor_slices: the arrays have different numbers of rows "
                             f"{[len(a) for a in arrays]}; every element takes one row of each")
        structure = _pack(tuple(tensors) if isinstance(tensors, list) else tensors, iter(arrays))
        return Dataset(structure, rows.pop())

    def _then(self, *step):
        return Dataset(self._structure, self._rows, self._steps + (step,))

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True):
        """Shuffle with a buffer of ``buffer_size`` elements (see the module docstring).  ``seed``: the same
        orders in every run; ``reshuffle_each_iteration=False``: the same order in every pass."""
        buffer_size = int(buffer_size)
        if buffer_size < 1:
            raise ValueError(f"shuffle: buffer_size must be a positive integer, got {buffer_size}")
        seed = int(utils.make_rng().integers(2**63)) if seed is None else int(seed)
        # reshuffle: one generator for every pass, each a new order; else each pass starts it afresh
        rng = np.random.default_rng(seed) if reshuffle_each_iteration else seed
        return self._then("shuffle", buffer_size, rng)

    def batch(self, batch_size, drop_remainder=False):
        """Group ``batch_size`` consecutive elements into one (arrays with a new first axis); the last
        batch may be smaller unless ``drop_remainder``."""
        batch_size = int(batch_size)
        if batch_size < 1:
            raise ValueError(f"batch: batch_size must be a positive integer, got {batch_size}")
        return self._then("batch", batch_size, bool(drop_remainder))

    def map(self, map_func, num_parallel_calls=None, deterministic=None):
        """Apply ``map_func`` to every element (a tuple element is passed as separate arguments)."""
        return self._then("map", map_func)

    def take(self, count):
        """The first ``count`` elements (all, for -1)."""
        return self._then("take", int(count))

    def skip(self, count):
        """All but the first ``count`` elements."""
        return self._then("skip", int(count))

    def repeat(self, count=None):
        """The elements ``count`` times over (forever for None or -1)."""
        return self._then("repeat", None if count is None or count < 0 else int(count))

    def prefetch(self, buffer_size):
        """Returns the dataset unchanged: nnscratch runs each step when asked, there is nothing to overlap."""
        return self

    def cache(self, filename=""):
        """Returns the dataset unchanged: its elements are computed from arrays already in memory."""
        return self

    # -------------------------------------------------------------------------------- running it
    def __iter__(self):
        return self._run(self._steps)

    def as_numpy_iterator(self):
        """The elements as NumPy arrays instead of Tensors."""
        return (_pack(e, (np.asarray(t) for t in _flatten(e))) for e in self)

    def _rows_of(self, steps):
        """The row numbers this pass takes, in order, for ``steps`` that only pick and order rows
        (shuffle, take, skip, repeat); None where another step comes first."""
        order = np.arange(self._rows)
        for kind, *args in steps:
            if kind == "shuffle":
                size, rng = args
                generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
                order = order[_buffered_order(len(order), size, generator)]
            elif kind == "take":
                order = order if args[0] < 0 else order[:args[0]]
            elif kind == "skip":
                order = order[args[0]:]
            elif kind == "repeat" and args[0] is not None:
                order = np.tile(order, args[0])
            else:
                return None
        return order

    def _element(self, rows):
        """The element (or batch, for an array of rows) at ``rows``, as Tensors in the user's structure."""
        return _pack(self._structure, (Tensor(a[rows]) for a in _flatten(self._structure)))

    def _run(self, steps):
        """Pick the rows with the steps that only pick and order them, then run the rest."""
        split = next((i for i, step in enumerate(steps) if step[0] in ("batch", "map") or step == ("repeat", None)),
                     len(steps))
        rest = steps[split:]
        if rest and rest[0] == ("repeat", None):            # forever: pass after pass, each a new order
            rows = itertools.chain.from_iterable(self._rows_of(steps[:split]) for _ in itertools.count())
            rest = rest[1:]
        else:
            rows = iter(self._rows_of(steps[:split]))
        if rest and rest[0][0] == "batch":                  # batches of row numbers, each gathered at once
            b, drop = rest[0][1:]
            chunks = (c for c in _chunks(rows, b) if len(c) == b or not drop)
            return _apply(rest[1:], (self._element(c) for c in chunks))
        return _apply(rest, (self._element(i) for i in rows))

    def __len__(self):
        n = length(self)
        if n is None:
            raise TypeError("The dataset is infinite (it repeats forever): it has no len()")
        return n

    def cardinality(self):
        """The number of elements of a pass, as TensorFlow counts them: -1 (``tf.data.INFINITE_CARDINALITY``)
        for a dataset that repeats forever."""
        n = length(self)
        return Tensor(np.int64(-1 if n is None else n))

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        raise NotImplementedInNnscratch(message(f"tf.data.Dataset.{name}", [
            "from_tensor_slices", "shuffle", "batch", "map", "take", "skip", "repeat", "prefetch", "cache",
            "as_numpy_iterator", "cardinality"]))


class PyDataset:
    """``keras.utils.PyDataset`` (also ``keras.utils.Sequence``): a dataset you write as a class, batch by
    batch, as Keras's guides do::

        class ExamplePyDataset(keras.utils.PyDataset):
            def __init__(self, x, y, batch_size, **kwargs):
                super().__init__(**kwargs)                 # workers, use_multiprocessing, max_queue_size
                self.x, self.y, self.batch_size = x, y, batch_size

            def __len__(self):                             # the number of batches
                return int(np.ceil(len(self.x) / float(self.batch_size)))

            def __getitem__(self, idx):                    # batch idx: (x, y) or (x, y, sample_weight)
                rows = slice(idx * self.batch_size, (idx + 1) * self.batch_size)
                return self.x[rows], self.y[rows]

    ``fit``, ``evaluate`` and ``predict`` take it as ``x`` (``batch_sources.py``); ``fit`` calls
    ``on_epoch_begin`` and ``on_epoch_end`` around each epoch, as Keras does, and with ``shuffle`` (its
    default) asks for the batches in a new order each epoch.  A ``num_batches`` property returning None
    makes an endless dataset (give ``steps_per_epoch``).  ``workers``, ``use_multiprocessing`` and
    ``max_queue_size`` are accepted and kept as Keras's, but nnscratch computes the batches one after the
    other in its own process: a batch is asked for when the step needs it."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers, self._use_multiprocessing, self._max_queue_size = workers, use_multiprocessing, max_queue_size

    def _warn_if_super_not_called(self):
        """Keras's warning for a subclass whose ``__init__`` forgot ``super().__init__(**kwargs)``."""
        missing = [name for name in ("_workers", "_use_multiprocessing", "_max_queue_size") if not hasattr(self, name)]
        if missing:
            self._workers = getattr(self, "_workers", 1)
            self._use_multiprocessing = getattr(self, "_use_multiprocessing", False)
            self._max_queue_size = getattr(self, "_max_queue_size", 10)
            warnings.warn("Your `PyDataset` class should call `super().__init__(**kwargs)` in its constructor. "
                          "`**kwargs` can include `workers`, `use_multiprocessing`, `max_queue_size`. Do not pass "
                          "these arguments to `fit()`, as they will be ignored.", stacklevel=3)

    @property
    def workers(self):
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self):
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = value

    @property
    def max_queue_size(self):
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __getitem__(self, index):
        """Batch number ``index``: ``(x, y)``, ``(x, y, sample_weight)`` or ``(x,)``; written by a subclass."""
        raise NotImplementedError(f"{type(self).__name__}: a PyDataset defines __getitem__(self, idx), which "
                                  "returns batch number idx")

    def __iter__(self):
        """The batches in order, ``self[0], self[1], ...`` (endlessly when the number is not known)."""
        try:
            n = self.num_batches
        except NotImplementedError:
            n = None
        return (self[i] for i in (itertools.count() if n is None else range(n)))

    @property
    def num_batches(self):
        """The number of batches (``len(self)``), or None for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError("You need to implement the `num_batches` property:\n\n"
                                  "@property\ndef num_batches(self):\n  return ...")

    def on_epoch_begin(self):
        """Called at the start of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch."""


def length(dataset):
    """How many elements one pass over ``dataset`` gives (TensorFlow's cardinality), or None for a dataset
    that repeats forever; step by step, without running it."""
    n = dataset._rows
    for kind, *args in dataset._steps:
        if kind == "batch":
            n = None if n is None else (n // args[0] if args[1] else -(-n // args[0]))
        elif kind == "take" and args[0] >= 0:
            n = args[0] if n is None else min(n, args[0])
        elif kind == "skip":
            n = None if n is None else max(n - args[0], 0)
        elif kind == "repeat":
            n = (None if n else 0) if args[0] is None else (None if n is None else n * args[0])
    return n


def batched(dataset):
    """Whether ``dataset`` groups its elements with ``batch`` (else each element is one row of its arrays)."""
    return any(kind == "batch" for kind, *_ in dataset._steps)


def _chunks(rows, size):
    """Consecutive arrays of ``size`` row numbers from the iterator ``rows`` (the last may be shorter)."""
    while True:
        chunk = np.fromiter(itertools.islice(rows, size), np.int64)
        if not len(chunk):
            return
        yield chunk


def _apply(steps, elements):
    """Run the remaining ``steps`` on a stream of elements, one element at a time."""
    for kind, *args in steps:
        if kind == "map":
            elements = _mapped(elements, args[0])
        elif kind == "batch":
            elements = _batches(elements, *args)
        elif kind == "take":
            elements = itertools.islice(elements, args[0] if args[0] >= 0 else None)
        elif kind == "skip":
            elements = itertools.islice(elements, args[0], None)
        elif kind == "shuffle":
            raise ValueError("shuffle after map or batch is not implemented in nnscratch; shuffle first")
        elif kind == "repeat":
            raise ValueError("repeat after map or batch is not implemented in nnscratch; repeat first")
    return elements


def _mapped(elements, fn):
    """``fn`` on each element (a tuple's parts as separate arguments, as TensorFlow calls it)."""
    for e in elements:
        yield fn(*e) if isinstance(e, tuple) else fn(e)


def _batches(elements, size, drop_remainder):
    """Stack every ``size`` consecutive elements into one."""
    chunk = []
    for e in elements:
        chunk.append(e)
        if len(chunk) == size:
            yield _stack(chunk)
            chunk = []
    if chunk and not drop_remainder:
        yield _stack(chunk)


def _stack(chunk):
    leaves = [_flatten(e) for e in chunk]
    return _pack(chunk[0], (Tensor(np.stack([np.asarray(l[i]) for l in leaves])) for i in range(len(leaves[0]))))


__getattr__ = missing_attribute("tf.data", ["Dataset"])
