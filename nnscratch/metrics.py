"""Metrics: running statistics over an epoch, as Keras keeps them (``keras.metrics``).

A metric is a small state machine (``keras/src/metrics/metric.py``)::

    m.reset_state()                               every state variable back to zero (each epoch starts so)
    m.update_state(y_true, y_pred, sample_weight) fold one batch into the state
    m.result()                                    the value so far, from the state alone

Most metrics are a **weighted mean** of one number per sample (``Mean``, and ``MeanMetricWrapper``
around a function ``f(y_true, y_pred) -> (N,)``)::

    total += sum_i w_i v_i          count += sum_i w_i   (w_i = 1 without sample weights)
    result = total / count          (0 while count is 0)

so ``accuracy`` after three batches is the fraction right over all their samples, not the mean of
three batch fractions.  ``fit`` logs the loss the same way: a ``Mean`` named ``'loss'`` updated with
each batch's loss weighted by the batch size.  The state is float32 (Keras's ``floatx()``; a metric
that ``compile`` creates takes the model's dtype) and is added to in that precision, as Keras's
variables are.

The per-sample functions, each ``(N, C) -> (N,)`` of 0.0 / 1.0 or errors (Keras's, in
``keras/src/metrics/accuracy_metrics.py``, ``regression_metrics.py``, ``confusion_metrics.py``)::

    accuracy                     [y_i == p_i]                              (element-wise)
    binary_accuracy              [y_ij == (p_ij > threshold)]  mean over j
    categorical_accuracy         [argmax y_i == argmax p_i]                (one-hot targets)
    sparse_categorical_accuracy  [y_i == argmax p_i]                       (integer labels)
    top_k_categorical_accuracy   [the true class is among the k largest p_i]  (ties count as in)
    mean_squared_error, mean_absolute_error   (elementwise_losses.py's functions)

``RootMeanSquaredError`` is the square root of the mean of ``(p - y)^2``; ``Precision`` is
``TP / (TP + FP)`` and ``Recall`` ``TP / (TP + FN)``, counted over every element with
``prediction > threshold`` (0.5) as positive.

Write your own by subclassing :class:`Metric` (create the state with ``add_variable``/``add_weight``,
change it with ``assign``/``assign_add``), as the Keras guides do.
"""
import re

import numpy as np

from . import checks, elementwise_losses

_name_counts = {}


def _auto_name(cls_name):
    """``Precision`` -> ``'precision'``, then ``'precision_1'``, ... (Keras's ``auto_name``)."""
    base = re.sub(r"(?<!^)(?=[A-Z])", "_", cls_name).lower()
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


class MetricVariable(np.ndarray):
    """A metric's state: a NumPy array that the metric changes in place (``assign``, ``assign_add``,
    ``assign_sub``), as a Keras variable; ``.numpy()`` reads it."""

    def numpy(self):
        array = self.view(np.ndarray)
        return array[()] if array.ndim == 0 else array

    def assign(self, value):
        self[...] = value
        return self

    def assign_add(self, value):
        self[...] = self + np.asarray(value, dtype=self.dtype)
        return self

    def assign_sub(self, value):
        self[...] = self - np.asarray(value, dtype=self.dtype)
        return self


class Metric:
    """Base class of every metric: ``update_state``, ``result``, ``reset_state`` (see the module
    docstring).  ``name``: the key in ``fit``'s logs and ``history.history``; ``dtype``: of the state
    (default ``'float32'``)."""

    def __init__(self, name=None, dtype=None):
        self.name = name or _auto_name(type(self).__name__)
        self.dtype = np.dtype(dtype or "float32")
        self._variables = []

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
        """A state array of ``shape`` (``initializer``: ``'zeros'``, ``'ones'`` or a number), zeroed by
        :meth:`reset_state`."""
        if isinstance(shape, (int, np.integer)):
            shape = (int(shape),)
        fill = {None: 0.0, "zeros": 0.0, "ones": 1.0}.get(initializer, initializer)
        if not isinstance(fill, (int, float, np.number)) or isinstance(fill, bool):
            raise checks.NotImplementedInNnscratch(f"{self.name}: add_variable(initializer={initializer!r}) "
                                                   "is not implemented in nnscratch; use 'zeros', 'ones' "
                                                   "or a number")
        variable = np.full(tuple(shape), fill, dtype=np.dtype(dtype or self.dtype)).view(MetricVariable)
        self._variables.append(variable)
        return variable

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None):
        """Keras's older name for :meth:`add_variable`."""
        return self.add_variable(shape, initializer, dtype, name=name)

    @property
    def variables(self):
        return list(self._variables)

    def reset_state(self):
        for v in self._variables:
            v.assign(0)

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define update_state")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must define result")

    def __call__(self, *args, **kwargs):
        """``update_state(...)`` then ``result()``, as Keras."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype.name}

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _same_rank(x1, x2, expand_rank_1=True):
    """Keras's ``squeeze_or_expand_to_same_rank``: when the ranks differ by one and the longer has a
    trailing axis of 1, expand a rank-1 partner (or squeeze that axis)."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    if x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


class Sum(Metric):
    """``total += sum_i w_i v_i``; ``result = total``."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_variable((), "zeros", name="total")

    def update_state(self, values, sample_weight=None):
        values = np.asarray(values, dtype=self.dtype)
        if sample_weight is not None:
            values, w = _same_rank(values, np.asarray(sample_weight, dtype=self.dtype))
            values = values * np.broadcast_to(w, values.shape)
        self.total.assign_add(np.sum(values))

    def result(self):
        return self.total.copy()


class Mean(Metric):
    """The weighted mean of the values seen: ``total += sum_i w_i v_i``, ``count += sum_i w_i``,
    ``result = total / count`` (values of more than one axis are first averaged per sample)."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_variable((), "zeros", name="total")
        self.count = self.add_variable((), "zeros", name="count")

    def update_state(self, values, sample_weight=None):
        values = np.asarray(values, dtype=self.dtype)
        if values.ndim == 0 and isinstance(sample_weight, int):      # fit's loss: one number, the batch size
            w = self.dtype.type(sample_weight)                  # (the lines below, without their arrays)
            self.total.assign_add(values * w)
            self.count.assign_add(w)
            return
        w = None
        if sample_weight is not None:
            values, w = _same_rank(values, np.asarray(sample_weight, dtype=self.dtype))
            if values.ndim > w.ndim:                           # average what the weights do not cover
                values = values.mean(axis=tuple(range(w.ndim, values.ndim)))
            w = np.broadcast_to(w, values.shape)
            values = values * w                                # w_i v_i
            if w.ndim > 1:
                w = w.mean(axis=tuple(range(1, w.ndim)))
        if values.ndim > 1:
            values = values.mean(axis=tuple(range(1, values.ndim)))
        self.total.assign_add(np.sum(values))                  # total += sum_i w_i v_i
        count = np.sum(w) if w is not None else (values.shape[0] if values.ndim else 1)
        self.count.assign_add(count)                           # count += sum_i w_i

    def result(self):
        """``total / count``, 0 before any sample (Keras's ``divide_no_nan``)."""
        return (self.total / self.count if self.count != 0 else np.zeros((), self.dtype)).view(np.ndarray)


class MeanMetricWrapper(Mean):
    """The weighted mean of ``fn(y_true, y_pred, **kwargs)``, one value per sample."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name or getattr(fn, "__name__", None) or "mean_metric_wrapper", dtype)
        self._fn, self._fn_kwargs = fn, kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)


# =========================================================================== per-sample functions
def _targets_like(y_true, y_pred):
    p = np.asarray(y_pred)
    y = np.asarray(y_true)
    if y.ndim == p.ndim - 1 and p.shape[-1] == 1:
        y = y[..., None]
    elif p.ndim == y.ndim - 1 and y.shape[-1] == 1:
        y = y[..., 0]
    return y, p


def accuracy(y_true, y_pred):
    """``[y == p]`` element-wise, as 0.0 / 1.0 (``keras.metrics.Accuracy``: exact equality)."""
    y, p = _targets_like(y_true, y_pred)
    return (y.astype(p.dtype) == p).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """``[y_ij == (p_ij > threshold)]``, the mean over ``j``: ``(N, C) -> (N,)``."""
    y, p = _targets_like(y_true, y_pred)
    hits = (y == (p > threshold).astype(y.dtype)).astype(np.float32)
    return hits.mean(axis=-1) if hits.ndim > 1 else hits


def categorical_accuracy(y_true, y_pred):
    """``[argmax_j y_ij == argmax_j p_ij] : (N, C) -> (N,)`` (the first of equal maxima, as TensorFlow)."""
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    """``[y_i == argmax_j p_ij] : (N,), (N, C) -> (N,)``."""
    y = np.asarray(y_true)
    y = y[..., 0] if y.ndim == np.ndim(y_pred) and y.shape[-1] == 1 else y
    return (y.astype(np.float64) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def _in_top_k(labels, p, k):
    """``[p_i,labels_i is among the k largest of p_i]``; ties at the boundary count as in (TensorFlow's
    ``in_top_k``): fewer than ``k`` entries are strictly larger."""
    p = np.asarray(p)
    target = p[np.arange(len(p)), labels]
    return (np.sum(p > target[:, None], axis=-1) < k) & np.isfinite(target)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """``[argmax y_i among the k largest p_i] : (N, C) -> (N,)``."""
    return _in_top_k(np.argmax(y_true, axis=-1), y_pred, k).astype(np.float32)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """``[y_i among the k largest p_i] : (N,), (N, C) -> (N,)``."""
    y = np.asarray(y_true).reshape(len(y_pred)).astype(np.int64)
    return _in_top_k(y, y_pred, k).astype(np.float32)


# ====================================================================================== the classes
class _Wrapper(MeanMetricWrapper):
    """A ``MeanMetricWrapper`` around one of the functions above; ``direction`` tells EarlyStopping
    and ModelCheckpoint (``mode='auto'``) whether larger is better."""
    direction = "up"
    fn = None

    def __init__(self, name=None, dtype=None, **kwargs):
        super().__init__(type(self).fn, name or self.default_name, dtype, **kwargs)


class Accuracy(_Wrapper):
    default_name, fn = "accuracy", staticmethod(accuracy)


class BinaryAccuracy(_Wrapper):
    default_name, fn = "binary_accuracy", staticmethod(binary_accuracy)

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(name, dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(_Wrapper):
    default_name, fn = "categorical_accuracy", staticmethod(categorical_accuracy)


class SparseCategoricalAccuracy(_Wrapper):
    default_name, fn = "sparse_categorical_accuracy", staticmethod(sparse_categorical_accuracy)


class TopKCategoricalAccuracy(_Wrapper):
    default_name, fn = "top_k_categorical_accuracy", staticmethod(top_k_categorical_accuracy)

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(name, dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(_Wrapper):
    default_name, fn = "sparse_top_k_categorical_accuracy", staticmethod(sparse_top_k_categorical_accuracy)

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(name, dtype, k=k)
        self.k = k


class MeanSquaredError(_Wrapper):
    direction, default_name, fn = "down", "mean_squared_error", staticmethod(elementwise_losses.mean_squared_error)


class MeanAbsoluteError(_Wrapper):
    direction, default_name, fn = "down", "mean_absolute_error", staticmethod(elementwise_losses.mean_absolute_error)


class BinaryCrossentropy(_Wrapper):
    """The mean binary cross-entropy of the outputs (``elementwise_losses.binary_crossentropy``)."""
    direction, default_name, fn = "down", "binary_crossentropy", staticmethod(elementwise_losses.binary_crossentropy)

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(name, dtype, from_logits=from_logits, label_smoothing=label_smoothing)
        self.from_logits, self.label_smoothing = from_logits, label_smoothing


class RootMeanSquaredError(Mean):
    """``sqrt(mean of (p - y)^2)`` over every sample seen (each sample's squares averaged first)."""
    direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name, dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y, p = _targets_like(np.asarray(y_true, dtype=self.dtype), np.asarray(y_pred, dtype=self.dtype))
        return super().update_state(np.square(p - y), sample_weight)

    def result(self):
        return np.sqrt(super().result())


class _Confusion(Metric):
    """True positives and false positives (or negatives), counted per threshold over every element:
    an element is predicted positive where ``p > threshold``, truly positive where ``y`` is non-zero.
    ``top_k``: only each row's k largest predictions may be positive; ``class_id``: one column only."""
    direction = "up"
    other = None                     # 'false_positives' (Precision) or 'false_negatives' (Recall)

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name, dtype)
        default = 0.5 if top_k is None else -1e10                  # Keras's NEG_INF with top_k
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        self.thresholds = list(np.atleast_1d(default if thresholds is None else thresholds).astype(float))
        if thresholds is not None and any(not 0 <= t <= 1 for t in self.thresholds):
            raise ValueError(f"{type(self).__name__}: threshold values must be in [0, 1], got {thresholds!r}")
        self.true_positives = self.add_variable((len(self.thresholds),), "zeros", name="true_positives")
        self.others = self.add_variable((len(self.thresholds),), "zeros", name=self.other)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y, p = _targets_like(np.asarray(y_true, dtype=self.dtype), np.asarray(y_pred, dtype=self.dtype))
        if self.top_k is not None:                                 # all but the k largest -> -1e10
            kth = -np.sort(-p, axis=-1)[..., self.top_k - 1:self.top_k]
            p = np.where(p >= kth, p, self.dtype.type(-1e10))
        if self.class_id is not None:
            y, p = y[..., self.class_id], p[..., self.class_id]
        w = 1 if sample_weight is None else np.broadcast_to(
            np.asarray(sample_weight, dtype=self.dtype).reshape((-1,) + (1,) * (p.ndim - 1)), p.shape)
        truth = (y != 0).ravel()
        weights = np.broadcast_to(w, p.shape).ravel()
        for i, t in enumerate(self.thresholds):
            predicted = (p > self.dtype.type(t)).ravel()
            self.true_positives[i] += np.sum(weights * (truth & predicted), dtype=self.dtype)
            counted = (~truth & predicted) if self.other == "false_positives" else (truth & ~predicted)
            self.others[i] += np.sum(weights * counted, dtype=self.dtype)

    def result(self):
        """``TP / (TP + other)`` (0 where nothing was counted); a scalar for one threshold."""
        denominator = self.true_positives + self.others
        value = np.where(denominator > 0, self.true_positives / np.where(denominator > 0, denominator, 1), 0)
        value = value.astype(self.dtype).view(np.ndarray)
        return value[0] if len(self.thresholds) == 1 else value


class Precision(_Confusion):
    """``TP / (TP + FP)``: of the elements predicted positive, the fraction truly positive."""
    other = "false_positives"


class Recall(_Confusion):
    """``TP / (TP + FN)``: of the truly positive elements, the fraction predicted positive."""
    other = "false_negatives"


METRICS = {cls.__name__: cls for cls in (
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError, RootMeanSquaredError, Precision,
    Recall, BinaryCrossentropy, Mean, Sum)}
_ALIASES = {"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
            "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy}
_ALIASES.update({re.sub(r"(?<!^)(?=[A-Z])", "_", n).lower(): cls for n, cls in METRICS.items()})


def get(identifier, y_true=None, y_pred=None, dtype=None):
    """A metric object for a Keras identifier, named as Keras names it (the string itself for a string,
    the metric's ``name`` for an object, the function's name for a function); a new one of ``dtype``.

    ``'accuracy'``/``'acc'`` choose by the data, as Keras's ``compile`` does: ``BinaryAccuracy`` for one
    output unit, ``SparseCategoricalAccuracy`` for integer labels, else ``CategoricalAccuracy``."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        p_shape, y_shape = np.shape(y_pred), np.shape(y_true)
        if p_shape[-1] == 1:
            return BinaryAccuracy(name=identifier, dtype=dtype)
        if len(y_shape) < len(p_shape) or (y_shape[-1] == 1 and p_shape[-1] > 1):
            return SparseCategoricalAccuracy(name=identifier, dtype=dtype)
        return CategoricalAccuracy(name=identifier, dtype=dtype)
    if isinstance(identifier, str):
        cls = METRICS.get(identifier) or _ALIASES.get(identifier)
        if cls is None:
            raise checks.NotImplementedInNnscratch(
                f"the metric {identifier!r} is not implemented in nnscratch; it has 'accuracy', "
                f"{', '.join(repr(n) for n in sorted(_ALIASES))} and a function or Metric of your own")
        metric = cls(dtype=dtype)
        metric.name = identifier
        return metric
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier(dtype=dtype)
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None), dtype=dtype)
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "MetricVariable", "get", "accuracy", "binary_accuracy",
           "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy",
           "sparse_top_k_categorical_accuracy"] + list(METRICS)
