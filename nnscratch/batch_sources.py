"""Where the batches of ``fit``, ``evaluate`` and ``predict`` come from: arrays, or a dataset.

``training.py``'s loops read ``for x, y, w in data.epoch():`` whatever the data is.  Two sources give
batches that way, as Keras's data adapters and its ``EpochIterator`` do
(``keras/src/trainers/data_adapters/``, ``keras/src/trainers/epoch_iterator.py``):

* :class:`ArrayBatches`: NumPy arrays, checked once; each batch is a slice of their rows (or shuffled
  rows, gathered into a reused array on the fast path).  Any batch can be cut at any time, so
  ``evaluate`` and ``predict`` may split the batches over the cores (``engine/inference.py``).
* :class:`DatasetBatches`: a ``tf.data.Dataset`` or a ``keras.utils.PyDataset`` (``data.py``), which
  makes its batches itself, in order: each is checked as it comes, with the checks arrays get.

Keras's rules for a dataset, kept here: its batches are ``(x, y)`` or ``(x, y, sample_weight)``, so
``y`` and ``sample_weight`` may not be given beside it; ``batch_size`` is ignored (the dataset has
made its batches); ``shuffle`` is ignored for a ``tf.data.Dataset`` (with Keras's warning: shuffle
the dataset itself) and shuffles the order of a ``PyDataset``'s batches; ``validation_split`` is
refused (a dataset cannot be cut by rows: make a validation dataset).  Each epoch runs the dataset
afresh, unless ``steps_per_epoch`` is given: then an epoch is that many batches and the next one goes
on where it stopped; a pass that runs out first ends the epoch early with Keras's warning "Your input
ran out of data", and the next epoch starts a new pass.
"""
import itertools
import warnings

import numpy as np

from . import backend, checks, data_adapter
from .data import Dataset, PyDataset, batched, length
from .engine import fast

RAN_OUT = ("Your input ran out of data; interrupting training. Make sure that your dataset or generator can "
           "generate at least `steps_per_epoch * epochs` batches. You may need to use the `.repeat()` "
           "function when building your dataset.")

_positive_or_none = lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v > 0)  # noqa: E731


def is_dataset(x):
    """A ``tf.data.Dataset`` or a ``keras.utils.PyDataset``: data that makes its own batches."""
    return isinstance(x, (Dataset, PyDataset))


class ArrayBatches:
    """Batches of the rows of arrays checked once: ``x (N, ...)``, ``y`` and the sample weights ``w (N,)``
    (None where not given).  In ``fit`` (``training=True``) the batches come in
    :class:`data_adapter.Epochs`' order (shuffled, ``steps_per_epoch``); for ``evaluate`` and ``predict``
    they are ``slices``, in order, which the fast path deals out to the cores."""

    def __init__(self, model, x, y=None, w=None, batch_size=32, steps=None, shuffle=False, training=False):
        self.model, self.x, self.y, self.w = model, x, y, w
        self.epochs = data_adapter.Epochs(len(x), batch_size, shuffle, model.rng, steps) if training else None
        self.slices = None if training else data_adapter.batch_slices(len(x), batch_size)[:steps]
        self.num_batches = self.epochs.steps if training else len(self.slices)   # the progress bar's target

    def reset(self):
        """Nothing to start afresh: every epoch cuts its batches from the same arrays."""

    def take(self, rows):
        """The batch at ``rows`` (a slice, or row numbers): ``(x[rows], y[rows], w[rows])``."""
        return self.x[rows], None if self.y is None else self.y[rows], None if self.w is None else self.w[rows]

    def epoch(self):
        """One epoch's batches, ``(x, y, w)`` each."""
        for rows in self.slices if self.epochs is None else self.epochs.epoch():
            if backend.fast() and not isinstance(rows, slice):       # shuffled rows, into reused arrays
                yield (fast.take_rows(self.model, "x", self.x, rows), fast.take_rows(self.model, "y", self.y, rows),
                       None if self.w is None else self.w[rows])
            else:
                yield self.take(rows)


class DatasetBatches:
    """The batches a dataset makes, each checked as arrays are (``checks.py``), walked as Keras's
    ``EpochIterator`` walks them (the module docstring).  ``steps``: batches per epoch (None: one
    pass).  ``targets``: False for ``predict``, which takes ``x`` from each batch and leaves the rest.
    ``class_weight`` turns each batch's targets into sample weights, as for arrays.  A ``PyDataset``'s
    ``on_epoch_begin``/``on_epoch_end`` run where Keras runs them: ``reset`` ends an epoch, and each
    epoch walked to its end begins and ends one."""
    slices = None                        # made one after the other: nothing to split over the cores

    def __init__(self, model, dataset, what, steps=None, shuffle=False, class_weight=None, targets=True):
        self.model, self.dataset, self.what = model, dataset, what
        self.steps, self.class_weight, self.targets = steps, class_weight, targets
        if isinstance(dataset, PyDataset):      # read as Keras reads it (a warning if super().__init__ was skipped)
            self.workers = dataset.workers     # kept, not used: nnscratch makes the batches one after the other
        self.length = length(dataset) if isinstance(dataset, Dataset) else dataset.num_batches   # None: endless
        if self.length == 0:
            raise ValueError(f"{what}: the dataset is empty (it gives no batches)")
        self.shuffle = bool(shuffle) and isinstance(dataset, PyDataset) and self.length is not None
        self.num_batches = steps or self.length          # the progress bar's target (None: unknown)
        self._pass, self._seen = None, 0                 # the pass in progress and how many batches it gave

    def reset(self):
        """Start afresh with a new pass (Keras's ``EpochIterator.reset``: ``fit`` before its first epoch,
        ``evaluate`` every time)."""
        self._pass, self._seen = None, 0
        self._epoch_hook("on_epoch_end")

    def epoch(self):
        """One epoch's batches, ``(x, y, w)`` each, checked."""
        self._epoch_hook("on_epoch_begin")
        if self._pass is None or self.steps is None:
            self._pass, self._seen = self._new_pass(), 0
        steps = self.steps or self.length                                 # None: an endless dataset
        for step in itertools.count() if steps is None else range(steps):
            if self.length is not None and self._seen >= self.length:     # the pass is used up
                if self.steps:
                    warnings.warn(RAN_OUT, stacklevel=2)
                break
            self._seen += 1
            yield self._checked(next(self._pass), step)
        if self.length is not None and self._seen >= self.length:
            self._pass = None                                             # the next epoch starts a new pass
        self._epoch_hook("on_epoch_end")

    def _epoch_hook(self, hook):
        if isinstance(self.dataset, PyDataset):
            getattr(self.dataset, hook)()

    def _new_pass(self):
        """The dataset's elements, once through: a tf.data pipeline run again, or a PyDataset's batches by
        number (in a new order each pass when shuffled)."""
        if isinstance(self.dataset, Dataset):
            return self.dataset.as_numpy_iterator()
        return (self.dataset[int(i)] for i in self._order())

    def _order(self):
        if self.length is None:
            return itertools.count()
        return self.model.rng.permutation(self.length) if self.shuffle else range(self.length)

    def _checked(self, element, step):
        """One element as ``(x, y, w)`` arrays, checked as ``fit`` checks arrays (shapes, dtypes, labels)."""
        what = f"{self.what} (batch {step} of the {type(self.dataset).__name__})"
        x, y, w = unpack(element, self.dataset)
        if not self.targets:
            return checks.features(self.model, x, what), None, None
        if y is None:
            raise ValueError(f"{what}: the batch holds inputs only, but training and evaluating need targets: "
                             "make the dataset's batches (x, y) or (x, y, sample_weight)")
        try:
            x, y = checks.features_and_targets(self.model, x, y, what)
        except ValueError as e:
            if isinstance(self.dataset, Dataset) and not batched(self.dataset):
                raise ValueError(f"{e} (The dataset has no .batch(): each of its elements is one sample. "
                                 "Batch it, e.g. dataset.batch(32).)") from None
            raise
        return x, y, data_adapter.sample_weights(self.model, y, w, self.class_weight, what)


def unpack(element, dataset):
    """A batch as Keras's data adapters read it: ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` (a list
    counts as a tuple); any other element of a tf.data.Dataset is ``x`` alone, a PyDataset's array too."""
    if isinstance(element, list):
        element = tuple(element)
    if isinstance(dataset, PyDataset) and not isinstance(element, (tuple, dict, np.ndarray)):
        raise ValueError("PyDataset.__getitem__() must return a tuple or a dict. If a tuple, it must be ordered "
                         "either (input,) or (inputs, targets) or (inputs, targets, sample_weights). "
                         f"Received: {str(element)[:100]}... of type {type(element)}")
    if not isinstance(element, tuple):
        return element, None, None
    if len(element) not in (1, 2, 3):
        raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, "
                         f"found a tuple of {len(element)}")
    return element + (None,) * (3 - len(element))


def _refuse_beside(dataset, what, **given):
    """Keras's error for ``y`` or ``sample_weight`` given beside a dataset (they belong in its batches)."""
    kind = "tf.data.Dataset" if isinstance(dataset, Dataset) else "PyDataset"
    for name, value in given.items():
        if value is not None:
            inside = "the targets" if name == "y" else "the sample weights"
            raise ValueError(f"{what}: when providing `x` as a {kind}, `{name}` should not be passed. Instead, "
                             f"{inside} should be included as part of the {kind} (as in Keras): its batches "
                             "are (x, y) or (x, y, sample_weight)")


# ====================================================================== the arguments of fit, evaluate, predict
def for_fit(model, x, y, batch_size, shuffle, sample_weight, class_weight, validation_split, validation_data,
            steps_per_epoch, validation_steps, validation_batch_size):
    """``fit``'s data checked (Keras's rules, the module docstring) as ``(train, validation)`` batch
    sources; ``validation`` is None without validation data."""
    batch_size = checks.positive_int(batch_size, "fit: batch_size", default=32)
    shuffle = checks.shuffle(shuffle, "fit")
    validation_split = checks.fraction(validation_split, "fit: validation_split")
    checks.refuse_unimplemented("fit", {"steps_per_epoch": steps_per_epoch, "validation_steps": validation_steps,
                                        "validation_batch_size": validation_batch_size},
                                {k: _positive_or_none for k in ("steps_per_epoch", "validation_steps",
                                                                "validation_batch_size")})
    if is_dataset(x):
        _refuse_beside(x, "fit", y=y, sample_weight=sample_weight)
        if validation_split and validation_data is None:
            raise ValueError(f"fit: validation_split is only supported for tensors or NumPy arrays (as in Keras), "
                             f"not for a {type(x).__name__}, whose samples cannot be picked by row: make a "
                             "validation dataset of its own and pass it as validation_data")
        if shuffle and isinstance(x, Dataset):
            warnings.warn("`shuffle=True` was passed, but will be ignored since the data `x` was provided as a "
                          "tf.data.Dataset. The Dataset is expected to already be shuffled (via "
                          "`.shuffle(buffer_size)`).", stacklevel=3)
        elif shuffle and x.num_batches is None:
            warnings.warn("`shuffle=True` was passed, but will be ignored since the data `x` was provided as an "
                          "infinite PyDataset. The PyDataset is expected to already be shuffled.", stacklevel=3)
        train = DatasetBatches(model, x, "fit", steps_per_epoch, shuffle, class_weight)
    else:
        x, y = checks.features_and_targets(model, x, y, "fit")
        w = data_adapter.sample_weights(model, y, sample_weight, class_weight, "fit")
        if validation_data is None and validation_split > 0:
            (x, y, w), validation_data = data_adapter.train_validation_split(x, y, w, validation_split)
        train = ArrayBatches(model, x, y, w, batch_size, steps_per_epoch, shuffle, training=True)
    train.reset()                        # as Keras's fit, once before the first epoch
    if validation_data is None:
        return train, None
    if is_dataset(validation_data):
        return train, DatasetBatches(model, validation_data, "fit (validation_data)", validation_steps)
    vx, vy, vw = data_adapter.unpack(checks.validation_pair(validation_data, "fit"), "fit: validation_data")
    return train, for_evaluate(model, vx, vy, validation_batch_size or batch_size, vw, validation_steps,
                               "fit (validation_data)")


def for_evaluate(model, x, y, batch_size, sample_weight, steps, what="evaluate"):
    """``evaluate``'s data checked, as a batch source started afresh; ``x`` may be one already (``fit``'s
    validation data, made once)."""
    checks.refuse_unimplemented(what, {"steps": steps}, {"steps": _positive_or_none})
    if isinstance(x, (ArrayBatches, DatasetBatches)):
        source = x
    elif is_dataset(x):
        _refuse_beside(x, what, y=y, sample_weight=sample_weight)
        source = DatasetBatches(model, x, what, steps)
    else:
        batch_size = checks.positive_int(batch_size, f"{what}: batch_size", default=32)
        x, y = checks.features_and_targets(model, x, y, what)
        source = ArrayBatches(model, x, y, checks.sample_weights(sample_weight, len(x), model.dtype, what),
                              batch_size, steps)
    source.reset()
    return source


def for_predict(model, x, batch_size, steps):
    """``predict``'s inputs checked, as a batch source (a dataset's targets, if it has them, are left)."""
    checks.refuse_unimplemented("predict", {"steps": steps}, {"steps": _positive_or_none})
    if is_dataset(x):
        return DatasetBatches(model, x, "predict", steps, targets=False)
    batch_size = checks.positive_int(batch_size, "predict: batch_size", default=32)
    x = checks.features(model, x, "predict")
    return ArrayBatches(model, x[:steps * batch_size] if steps else x, batch_size=batch_size)


def joined(outputs):
    """``predict``'s batches of outputs (arrays, or lists of arrays for several outputs) as one array per
    output, rows in order (``data_adapter.predictions`` gives them their structure)."""
    if not outputs:
        raise ValueError("predict: the data gave no batches, so there is nothing to predict")
    if isinstance(outputs[0], list):
        return data_adapter.Arrays([np.concatenate(parts) for parts in zip(*outputs)])
    return np.concatenate(outputs)
