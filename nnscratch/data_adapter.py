"""The data plumbing of ``fit``/``evaluate``: mini-batches, the validation split, sample and class
weights, as Keras's data adapters prepare them (``keras/src/trainers/data_adapters/``).  Nothing
here computes anything a learner needs to read for the math: ``training.py`` calls it to get its
batches, and every batch is then one ``train_step``.
"""
import numbers

import numpy as np

from . import checks, symbolic


class Arrays:
    """Several arrays with one row per sample, cut into batches together: a graph model's several inputs
    (or targets, or outputs).  ``a[rows]`` takes the same rows of each, ``a[rows] = values`` writes each,
    ``len(a)`` counts the samples, and iterating gives the arrays (the first input's, the second's, ...)."""

    def __init__(self, arrays):
        self.arrays = list(arrays)

    def __getitem__(self, rows):
        return Arrays([a[rows] for a in self.arrays])

    def __setitem__(self, rows, values):
        for a, v in zip(self.arrays, values):
            a[rows] = v

    def __len__(self):
        return len(self.arrays[0])

    def __iter__(self):
        return iter(self.arrays)

    def __repr__(self):
        return f"Arrays({', '.join(f'{a.shape} {a.dtype}' for a in self.arrays)})"


def empty_outputs(model, n):
    """The array ``predict`` fills, ``(N,) + one output's shape``; for a graph model with several outputs one
    array per output (:class:`Arrays`)."""
    shapes = getattr(model, "output_sample_shapes", None)
    if shapes is None:
        return np.empty((n,) + tuple(model.output_shape), dtype=model.dtype)
    arrays = [np.empty((n,) + tuple(shape), dtype=model.dtype) for shape in shapes]
    return arrays[0] if len(arrays) == 1 else Arrays(arrays)


def predictions(model, out):
    """``predict``'s answer: the array, or a graph model's outputs in the structure it was made with (a list,
    a dict), as Keras returns them."""
    return symbolic.pack(model.output, out.arrays) if isinstance(out, Arrays) else out


def copied(p):
    """A copy of a batch's outputs (a list of arrays for several), safe from the next batch's work arrays."""
    return [np.array(a, copy=True) for a in p] if isinstance(p, list) else np.array(p, copy=True)


def batch_slices(n, batch_size):
    """Row slices ``[0:b], [b:2b], ...`` over ``n`` rows, ``b = batch_size`` (the last may be shorter)."""
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def unpack(data, what):
    """``(x, y)`` or ``(x, y, sample_weight)`` -> ``(x, y, sample_weight or None)``."""
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError(f"{what} must be a tuple (x_val, y_val) or (x_val, y_val, val_sample_weight), got "
                         f"{type(data).__name__}" + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else ""))
    return data[0], data[1], (data[2] if len(data) == 3 else None)


def train_validation_split(x, y, sample_weight, validation_split):
    """Keras's ``validation_split``: the *last* fraction of the samples (before any shuffling) becomes
    ``(x_val, y_val, w_val)``; returns ``((x, y, w), (x_val, y_val, w_val))``."""
    n_train = int(len(x) * (1 - validation_split))
    if n_train == 0 or n_train == len(x):
        raise ValueError(f"fit: validation_split={validation_split} leaves no training or no validation "
                         f"samples out of {len(x)}")
    cut = lambda a: (None, None) if a is None else (a[:n_train], a[n_train:])   # noqa: E731
    (x, xv), (y, yv), (w, wv) = cut(x), cut(y), cut(sample_weight)
    return (x, y, w), (xv, yv, wv)


def class_weights(y, class_weight, dtype):
    """Keras's ``class_weight`` as sample weights (``data_adapter_utils.class_weight_to_sample_weights``):
    ``w_i = class_weight.get(class of sample i, 1.0)``, the class of a sample being its label, the argmax
    of its one-hot row, or (one output unit) its rounded target."""
    if not isinstance(class_weight, dict):
        raise ValueError(f"fit: class_weight must be a dict mapping class indices to weights, got "
                         f"{type(class_weight).__name__}")
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Integral) or not isinstance(value, numbers.Real):
            raise ValueError(f"fit: class_weight must map integer class indices to numbers, got {key!r}: {value!r}")
    if y.ndim > 1:
        y = np.argmax(y, axis=-1) if y.shape[-1] != 1 else y[:, 0]
    classes = np.round(y).astype(np.int64)
    weights = np.ones(len(classes), dtype=dtype)
    for key, value in class_weight.items():
        weights[classes == key] = value
    return weights


def sample_weights(model, y, sample_weight, class_weight, what):
    """The per-sample weights ``(N,)`` for ``y`` (``sample_weight``, or ``class_weight`` turned into
    them), or None.  Keras refuses both at once."""
    if sample_weight is not None and class_weight is not None:
        raise ValueError(f"{what}: sample_weight and class_weight cannot be given at the same time (as in Keras); "
                         "multiply the class weights into the sample weights instead")
    if class_weight is not None:
        if isinstance(y, Arrays):
            raise ValueError(f"{what}: class_weight is only supported for models with a single output (as in "
                             "Keras); give sample_weight instead")
        return class_weights(y, class_weight, model.dtype)
    return checks.sample_weights(sample_weight, len(y), model.dtype, what)


def within_batches(n, batch_size, rng):
    """Keras 3's ``shuffle='batch'``: the rows of each batch in a random order, the batches in order
    (row ``i`` sorts by its batch number plus a random fraction)."""
    return np.argsort(np.arange(n) // batch_size + rng.random(n), kind="stable")


class Epochs:
    """The batches of each epoch, as Keras's ``EpochIterator`` gives them: a new order per epoch when
    ``shuffle`` (``'batch'``: only within each batch); with ``steps_per_epoch`` an epoch is that many batches and the next epoch goes on
    where the last one stopped (a new pass, newly shuffled, once the data is used up)."""

    def __init__(self, n, batch_size, shuffle, rng, steps_per_epoch=None):
        self.n, self.batch_size, self.shuffle, self.rng = n, batch_size, shuffle, rng
        self.slices = batch_slices(n, batch_size)
        self.steps_per_epoch = steps_per_epoch
        self.steps = steps_per_epoch or len(self.slices)
        self._pending = []                    # batches of the current pass not used yet

    def _new_pass(self):
        order = None                                   # shuffle=False: the rows in their order
        if self.shuffle:
            order = (self.rng.permutation(self.n) if self.shuffle is True
                     else within_batches(self.n, self.batch_size, self.rng))
        return [rows if order is None else order[rows] for rows in self.slices]

    def epoch(self):
        """The row indices (a slice, or shuffled indices) of each batch of the next epoch."""
        if self.steps_per_epoch is None:
            return self._new_pass()
        if not self._pending:
            self._pending = self._new_pass()
        batches, self._pending = self._pending[:self.steps], self._pending[self.steps:]
        return batches
