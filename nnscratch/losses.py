"""Cross-entropy losses: the formulas, and the Keras loss objects that choose between them.

Notation: ``y (N, C)`` one-hot (or any rows of non-negative weights summing to 1) targets,
``labels (N,)`` integer class indices (the sparse losses), ``p (N, C)`` the network's output,
``z (N, C)`` logits (the input of a softmax).  Every loss is the **mean over the batch** of
per-sample losses ``L_i`` (Keras's "sum over batch size"), so every gradient carries a factor ``1/N``.
With sample weights ``w (N,)`` (``fit(sample_weight=...)``, ``class_weight``) Keras divides by the
batch size still: ``L = sum_i w_i L_i / N``, and row ``i`` of the gradient is multiplied by ``w_i``
(:meth:`Loss.weighted`).  The regression and binary losses (``MeanSquaredError``,
``MeanAbsoluteError``, ``BinaryCrossentropy``) live in ``elementwise_losses.py``.

The formulas (``keras/src/backend/tensorflow/nn.py`` in Keras 3)
------------------------------------------------------------------
1. :func:`categorical_crossentropy` ``(y, p)``, Keras's ``from_logits=False``::

       q_i = p_i / sum_k p_ik                   # renormalise each row to sum to 1
       q_i = clip(q_i, eps, 1 - eps)            # eps = 1e-7, keeps log() finite
       L   = mean_i ( -sum_j y_ij * log q_ij )

2. :func:`softmax_crossentropy_from_logits` ``(y, z)``, the fused log-softmax form used for
   ``from_logits=True`` and for every softmax output layer:
   ``L = mean_i ( logsumexp(z_i) - sum_j y_ij z_ij )``, with the famous gradient
   ``dL/dz = (softmax(z) - y) / N`` (no division by tiny probabilities).

3. :func:`sparse_categorical_crossentropy` ``(labels, p)``, Keras's sparse ``from_logits=False``.  It
   clips *before* renormalising (form 1 renormalises first)::

       c_i = clip(p_i, eps, 1 - eps)
       L   = mean_i ( log sum_k c_ik - log c_i,labels_i )

   The sparse ``from_logits=True`` loss is form 2 with ``y = one_hot(labels)``:
   ``logsumexp(z_i) - z_i,labels_i``.

Which formula a model trains on (``Sequential.loss_and_gradient``)
-------------------------------------------------------------------
* Softmax output layer (``Dense(activation='softmax')``, ``Activation('softmax')``, ``Softmax()``):
  form 2 on the softmax's input ``z``, for every loss here and both values of ``from_logits``.  That
  is Keras's shortcut: its softmax tags its output with the logits (``_keras_logits``) and the loss
  uses them (with ``from_logits=True`` Keras also warns that the output is not logits; so do we).
  Form 1 equals form 2 there except where form 1 would clip a probability below 1e-7.
* Any other output layer: ``from_logits=True`` is form 2 on the output itself; ``from_logits=False``
  is form 1 (categorical) or form 3 (sparse).
* Keras also applies the shortcut to a *sigmoid* output that reaches the loss directly (the
  workshop's first model at ``evaluate``); nnscratch does not copy that swap, and ``keras_reference``
  shows both numbers side by side.

The loss objects (Keras's classes, :class:`CategoricalCrossentropy` and
:class:`SparseCategoricalCrossentropy`) train a model through :meth:`Loss.value_and_gradient` and
:meth:`Loss.logits_value_and_gradient`, where the engine's fused pass sits in one line beside each formula.
"""
import warnings

import numpy as np

from . import activations, backend, checks, registry, tape
from .engine import fast
from .ops import reduce_mean
from .loss_functions import categorical_crossentropy as _per_sample_categorical
from .loss_functions import sparse_categorical_crossentropy as _per_sample_sparse
from .tape import EPSILON, GradientTape, Tensor   # noqa: F401  (EPSILON = 1e-7: keras.config.epsilon())


# ============================================================================ the formulas
def _row_sums(p):
    """``s_i = sum_k p_ik``, with an all-zero row (possible when dropout follows the output layer and
    drops every unit) treated as ``s_i = 1``: its ``q`` is then 0, clipped to eps, giving the finite
    loss ``-log(1e-7) = 16.1`` and zero gradient.  (Keras computes 0/0 = NaN there.)"""
    s = p.sum(axis=-1, keepdims=True)
    return np.where(s > 0, s, 1).astype(p.dtype, copy=False)


def categorical_crossentropy_per_sample(y, p):
    """``L_i = -sum_j y_ij log clip(p_ij / sum_k p_ik, eps, 1-eps)``.  ``y, p: (N, C) -> (N,)``."""
    q = p / _row_sums(p)
    q = np.clip(q, EPSILON, 1 - EPSILON)
    return -np.sum(y * np.log(q), axis=-1)


def categorical_crossentropy(y, p):
    """``L = mean_i L_i`` of :func:`categorical_crossentropy_per_sample`.  ``y, p: (N, C) -> scalar``."""
    return np.sum(categorical_crossentropy_per_sample(y, p)) / y.shape[0]


def categorical_crossentropy_gradient(y, p):
    """``dL/dp : (N, C)`` for :func:`categorical_crossentropy`.

    With ``s_i = sum_k p_ik`` and ``q = p / s``:
    ``dL/dq_ij = -y_ij / (N q_ij)`` where ``eps <= q_ij <= 1 - eps`` and 0 where the clip is active
    (a clipped value does not move with p; TensorFlow passes the gradient at the bounds themselves);
    then through the renormalisation, ``dq_ij/dp_ik = (delta_jk - q_ij) / s_i``, so
    ``dL/dp_ik = (g_ik - sum_j g_ij q_ij) / s_i``  with ``g = dL/dq``
    (docs/derivations.md#categorical-cross-entropy).
    """
    s = _row_sums(p)
    q = p / s
    inside = (q >= EPSILON) & (q <= 1 - EPSILON)
    g = np.where(inside, -y / (y.shape[0] * np.where(inside, q, 1)), 0).astype(p.dtype, copy=False)
    return (g - np.sum(g * q, axis=-1, keepdims=True)) / s


def softmax_crossentropy_from_logits_per_sample(y, z):
    """``L_i = logsumexp(z_i) - sum_j y_ij z_ij``, the cross-entropy of ``softmax(z_i)``.

    ``logsumexp(z_i) = m_i + log sum_k exp(z_ik - m_i)`` with ``m_i = max_k z_ik`` (no overflow).
    ``y, z: (N, C) -> (N,)``.  (Targets are assumed to sum to 1 per row, as one-hot rows do.)
    """
    m = z.max(axis=-1, keepdims=True)
    logsumexp = m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))
    return np.sum(y * (logsumexp - z), axis=-1)


def softmax_crossentropy_from_logits(y, z):
    """``L = mean_i L_i`` of :func:`softmax_crossentropy_from_logits_per_sample`.  ``y, z: (N, C) -> scalar``."""
    return np.sum(softmax_crossentropy_from_logits_per_sample(y, z)) / y.shape[0]


def softmax_crossentropy_from_logits_gradient(y, p):
    """The fused gradient ``dL/dz = (p - y) / N`` with ``p = softmax(z)``: ``(N, C)``.

    Derivation: ``dL_i/dz_ij = softmax(z_i)_j * sum_k y_ik - y_ij = p_ij - y_ij`` for rows of ``y``
    that sum to 1; the softmax Jacobian and the ``1/p`` of the logarithm cancel.  Every step, with
    the one that uses ``sum_j y_ij = 1``: docs/derivations.md#softmax-cross-entropy
    """
    return (p - y) / y.shape[0]


def sparse_categorical_crossentropy_per_sample(labels, p):
    """``L_i = log sum_k c_ik - log c_i,labels_i`` with ``c = clip(p, eps, 1 - eps)``.

    Keras's sparse ``from_logits=False``: ``log(c)`` fed to ``sparse_softmax_cross_entropy_with_logits``,
    i.e. ``logsumexp(log c_i) - log c_i,labels_i``.  ``labels: (N,)`` integers, ``p: (N, C) -> (N,)``.
    """
    labels = np.asarray(labels).astype(np.int64, copy=False)       # as Keras casts them
    c = np.clip(p, EPSILON, 1 - EPSILON)
    rows = np.arange(len(labels))
    return np.log(np.sum(c, axis=-1)) - np.log(c[rows, labels])


def sparse_categorical_crossentropy(labels, p):
    """``L = mean_i L_i`` of :func:`sparse_categorical_crossentropy_per_sample`.  ``-> scalar``."""
    return np.sum(sparse_categorical_crossentropy_per_sample(labels, p)) / len(labels)


def sparse_categorical_crossentropy_gradient(labels, p):
    """``dL/dp : (N, C)`` for :func:`sparse_categorical_crossentropy`.

    ``dL/dc_ik = (1 / sum_j c_ij - [k = labels_i] / c_ik) / N``, times 0 where the clip is active
    (``p_ik`` outside ``[eps, 1 - eps]``), as TensorFlow differentiates ``clip``.
    """
    labels = np.asarray(labels).astype(np.int64, copy=False)
    c = np.clip(p, EPSILON, 1 - EPSILON)
    rows = np.arange(len(labels))
    g = np.broadcast_to(1 / np.sum(c, axis=-1, keepdims=True), c.shape).copy()
    g[rows, labels] -= 1 / c[rows, labels]
    g *= (p >= EPSILON) & (p <= 1 - EPSILON)
    return (g / len(labels)).astype(p.dtype, copy=False)


def one_hot(labels, num_classes, dtype):
    """``y_ij = [j == labels_i]``: ``(N,) -> (N, C)``."""
    labels = np.asarray(labels).astype(np.int64, copy=False)
    y = np.zeros((len(labels), num_classes), dtype)
    y[np.arange(len(labels)), labels] = 1
    return y


# ============================================================================ the loss objects
class Loss:
    """A Keras loss object: ``loss_fn(y_true, y_pred, sample_weight=None)``, the per-sample losses
    :meth:`call` (Keras's name), and the two methods a model trains with.

    ``from_logits``: ``y_pred`` holds logits ``z`` rather than probabilities.  ``dtype``: what
    ``loss_fn(...)`` computes in (Keras's ``floatx()``); a model trains in its own dtype.  Only the
    reduction ``'sum_over_batch_size'`` (``sum_i w_i L_i / N``) is implemented.  A subclass names its
    ``targets`` (``'rows'``, ``'labels'``, ``'values'``) and the output activation whose input it
    ``fuses`` with, as Keras does (``'softmax'`` for the cross-entropies)."""
    name = "loss"
    sparse = False        # True: targets are integer class indices (N,), else rows (N, C)
    targets = "rows"      # what checks.targets makes of y: 'rows', 'labels' or 'values'
    fuses = "softmax"     # the output activation whose input z this loss takes (Keras's shortcut), or None

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name=None, dtype=None):
        if not isinstance(from_logits, (bool, np.bool_)):
            raise ValueError(f"{type(self).__name__}: from_logits must be True or False, got {from_logits!r}")
        if reduction != "sum_over_batch_size":
            raise checks.NotImplementedInNnscratch(
                f"{type(self).__name__}: reduction={reduction!r} is not implemented in nnscratch; it "
                "computes Keras's default 'sum_over_batch_size' (the mean over the batch)")
        self.from_logits = bool(from_logits)
        self.reduction = reduction
        if name is not None:
            self.name = str(name)
        self.dtype = np.dtype(dtype or tape.floatx())
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"{type(self).__name__}: dtype must be 'float32' or 'float64', got {dtype!r}")

    # --------------------------------------------------------------------- called by the user
    def __call__(self, y_true, y_pred, sample_weight=None):
        """The batch's loss ``sum_i w_i L_i / N`` (``w = 1`` without weights), a 0-d Tensor in ``self.dtype``."""
        return self.compute(y_true, y_pred, sample_weight=sample_weight)

    def compute(self, y_true, y_pred, dtype=None, sample_weight=None):
        """The loss in ``dtype`` (a model trains in its own), as Keras's ``Loss.__call__``.  A Keras
        softmax's output remembers its input, and the loss uses that with the fused form, as Keras's
        does.  On a ``GradientTape``: ONE node, this loss's own gradient its VJP."""
        logits = getattr(y_pred, "_keras_logits", None)
        if logits is not None and self.from_logits:
            warn_if_softmax_output(self, "softmax")
        pred = y_pred if logits is None else logits
        dtype = np.dtype(dtype or self.dtype)
        p = np.asarray(pred)
        if p.dtype == object or not (np.issubdtype(p.dtype, np.number) or p.dtype == bool):
            raise ValueError(f"{self.name}: y_pred must hold numbers, got an array of {p.dtype}")
        if p.ndim != 2:
            raise ValueError(f"{self.name}: y_pred must have shape (samples, outputs), got {p.shape}")
        p = np.ascontiguousarray(p, dtype=dtype)
        y = checks.targets(self, y_true, len(p), p.shape[-1], dtype, self.name)
        w = checks.sample_weights(sample_weight, len(p), dtype, self.name)
        if not tape.is_recorded(pred):
            if logits is None:
                samples = self.call(y, p)                                # L_i : (N,)
                value = np.sum(samples if w is None else w * samples) / dtype.type(len(p))
            else:
                value = self.logits_value_and_gradient(y, p, sample_weight=w)[0]
            return Tensor(np.asarray(value, dtype=dtype))
        value, grad = (self.value_and_gradient(y, p, sample_weight=w) if logits is None
                       else self.logits_value_and_gradient(y, p, sample_weight=w))
        return tape.record(Tensor(np.asarray(value, dtype=dtype)), (pred,),
                           lambda g: ((g * grad).astype(pred.dtype),))

    def call(self, y, pred):
        """The per-sample losses ``L_i : (N,)`` (Keras's ``Loss.call``): form 2 if ``from_logits``, else 1 or 3."""
        if self.from_logits:
            return self.logits_per_sample(y, pred)
        return self.probability_per_sample(y, pred)

    # --------------------------------------------------------------------- used in training
    def rows(self, y, num_classes, dtype, owner=None):
        """The targets as rows ``(N, C)`` (one-hot for integer labels), for the fused form 2."""
        return y

    def value(self, y, pred):
        return np.sum(self.call(y, pred)) / len(pred)                 # L: the mean of call(), no gradient

    def value_and_gradient(self, y, pred, owner=None, sample_weight=None):
        """``(L, dL/d pred)`` for the model's output ``pred (N, C)``: form 2 with ``z = pred`` if
        ``from_logits``, else the probability formula; weighted by ``sample_weight (N,)`` if given.
        ``owner``: the output layer, whose work arrays the fast path writes into (valid until the
        next call); None: new arrays."""
        if self.from_logits:
            return self.logits_value_and_gradient(y, pred, None, owner, sample_weight)
        value, grad = self.probability_value_and_gradient(y, pred, owner)
        return self.weighted(value, grad, lambda: self.probability_per_sample(y, pred), sample_weight)

    def logits_value_and_gradient(self, y, z, p=None, owner=None, sample_weight=None):
        """Form 2 on logits ``z (N, C)``: ``L = mean(logsumexp(z) - y.z)`` and ``dL/dz = (p - y) / N``
        with ``p = softmax(z)``.  ``p``: the model's ``softmax(z)`` where it has one (a softmax output
        layer's output; the fast path writes the same values into it again), else None."""
        y = self.rows(y, z.shape[-1], z.dtype, owner)
        if backend.fast():
            value, grad = fast.softmax_crossentropy(owner, y, z, p)      # p = softmax(z), L and dz in one pass
        else:
            p = activations.softmax(z) if p is None else p
            value = softmax_crossentropy_from_logits(y, z)
            grad = softmax_crossentropy_from_logits_gradient(y, p)
        return self.weighted(value, grad, lambda: softmax_crossentropy_from_logits_per_sample(y, z), sample_weight)

    def logits_per_sample(self, y, z):                                 # form 2's L_i : (N,)
        return softmax_crossentropy_from_logits_per_sample(self.rows(y, z.shape[-1], z.dtype), z)

    @staticmethod
    def weighted(value, grad, per_sample, sample_weight):
        """Keras's reduction with sample weights ``w (N,)``: ``L = sum_i w_i L_i / N`` (``per_sample()``
        gives ``L_i``), and row ``i`` of the gradient (which carries the ``1/N`` already) times ``w_i``.
        Without weights: ``(value, grad)`` unchanged."""
        if sample_weight is None:
            return value, grad
        w = sample_weight.astype(grad.dtype, copy=False)
        value = np.sum(w * per_sample()) / grad.dtype.type(len(w))    # sum_i w_i L_i / N
        return value, grad * w.reshape((-1,) + (1,) * (grad.ndim - 1))   # dL/dpred_i * w_i : (N, C)

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}

    def __eq__(self, other):
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __hash__(self):
        return hash((type(self).__name__, self.name, self.from_logits))

    def __repr__(self):
        return f"{type(self).__name__}(from_logits={self.from_logits})"


class CategoricalCrossentropy(Loss):
    """``keras.losses.CategoricalCrossentropy(from_logits=False)``: targets are rows ``y (N, C)``
    (one-hot, e.g. from ``to_categorical``).  ``from_logits=False``: form 1 on probabilities;
    ``from_logits=True``: form 2 on logits.  See the module docstring."""
    name = "categorical_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        if label_smoothing != 0 or axis != -1:
            raise checks.NotImplementedInNnscratch(
                "CategoricalCrossentropy: label_smoothing and axis other than -1 are not implemented in "
                "nnscratch; use label_smoothing=0, axis=-1")
        super().__init__(from_logits, reduction, name, dtype)

    def probability_per_sample(self, y, p):
        return categorical_crossentropy_per_sample(y, p)

    def probability_value_and_gradient(self, y, p, owner=None):
        """Form 1: ``L`` and ``dL/dp``."""
        if backend.fast():
            return fast.crossentropy(owner, y, p, EPSILON)      # the line below, in one pass
        return categorical_crossentropy(y, p), categorical_crossentropy_gradient(y, p)


class SparseCategoricalCrossentropy(Loss):
    """``keras.losses.SparseCategoricalCrossentropy(from_logits=False)``: targets are integer class
    indices ``labels (N,)`` (or ``(N, 1)``), as ``mnist.load_data()`` returns them.
    ``from_logits=False``: form 3 on probabilities; ``from_logits=True``: form 2 on logits with
    ``y = one_hot(labels)``.  See the module docstring."""
    name = "sparse_categorical_crossentropy"
    sparse = True
    targets = "labels"

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        if ignore_class is not None:
            raise checks.NotImplementedInNnscratch(
                "SparseCategoricalCrossentropy: ignore_class is not implemented in nnscratch; use "
                "ignore_class=None")
        super().__init__(from_logits, reduction, name, dtype)

    def rows(self, labels, num_classes, dtype, owner=None):
        """``one_hot(labels) : (N,) -> (N, C)``, the rows form 2 takes."""
        labels = np.asarray(labels).astype(np.int64, copy=False)
        if backend.fast():
            return fast.one_hot(owner, labels, num_classes, dtype)   # the line below, into a reused array
        return one_hot(labels, num_classes, dtype)

    def probability_per_sample(self, labels, p):
        return sparse_categorical_crossentropy_per_sample(labels, p)

    def probability_value_and_gradient(self, labels, p, owner=None):
        """Form 3: ``L`` and ``dL/dp`` (plain NumPy on both backends)."""
        return sparse_categorical_crossentropy(labels, p), sparse_categorical_crossentropy_gradient(labels, p)


class LossFunctionWrapper(Loss):
    """A loss function of your own, ``fn(y_true, y_pred)``, written with nnscratch's operations
    (``tf.reduce_mean``, ``tf.square``, ...), as ``compile(loss=fn)`` takes it: the loss is the mean of
    what ``fn`` returns (Keras's ``'sum_over_batch_size'``), and its gradient ``dL/dp`` comes from the
    tape.  The targets are passed as they are (any numbers, one row per sample)."""
    sparse = None

    def __init__(self, fn, name=None, dtype=None):
        super().__init__(name=name or getattr(fn, "__name__", "loss"), dtype=dtype)
        self.fn = fn

    def compute(self, y_true, y_pred, dtype=None, sample_weight=None):
        """``mean(fn(y_true, y_pred))`` (times the sample weights first), operation by operation on the
        tape (in ``y_pred``'s dtype)."""
        values = self.fn(y_true, y_pred)
        if sample_weight is not None:
            values = values * Tensor(np.asarray(sample_weight, dtype=np.asarray(values).dtype))
        return reduce_mean(values)

    def value(self, y, p):
        return self(Tensor(y), Tensor(p)).numpy()

    def value_and_gradient(self, y, p, owner=None, sample_weight=None):
        """``L`` and ``dL/dp``, from a tape that watches ``p``."""
        p = Tensor(p)
        with GradientTape() as tape:
            tape.watch(p)
            loss = self(Tensor(y), p, sample_weight)
        grad = tape.gradient(loss, p)
        return loss.numpy(), (np.zeros(p.shape, p.dtype) if grad is None else grad.numpy())

    def logits_value_and_gradient(self, y, z, p=None, owner=None, sample_weight=None):
        """A softmax output layer: ``fn`` sees its output ``p``, and the model continues backward from
        the softmax's input with ``dL/dz = softmax_backward(dL/dp)``."""
        p = activations.softmax(z) if p is None else p
        loss, dp = self.value_and_gradient(y, p, sample_weight=sample_weight)
        return loss, activations.softmax_backward(z, p, dp)

    def get_config(self):
        return {"name": self.name, "fn": self.fn}

    def __repr__(self):
        return f"LossFunctionWrapper({self.name})"


# Every loss a name may choose (compile(loss='mse'), a model file): the cross-entropies here, the
# others registered by their own rooms (elementwise_losses.py) through registry.py.
registry.register(CategoricalCrossentropy, SparseCategoricalCrossentropy, kind="loss")
for _cls, _functions in ((CategoricalCrossentropy, (categorical_crossentropy, _per_sample_categorical)),
                         (SparseCategoricalCrossentropy, (sparse_categorical_crossentropy, _per_sample_sparse))):
    registry.alias(_cls.name, _cls, kind="loss")
    for _function in _functions:                  # ours (the batch mean) and Keras's (per sample)
        registry.register_function(_function, _cls, kind="loss")


def get(identifier):
    """A new loss object for a Keras name (``'categorical_crossentropy'``, ``'mse'``, the class names, ...),
    for a loss function (``losses.categorical_crossentropy``, ``elementwise_losses.mean_squared_error``),
    or for :func:`serialize`'s dict; a loss object is returned as it is."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict) and set(identifier) == {"class_name", "config"}:
        cls = registry.get(identifier["class_name"], "loss")
        config = identifier["config"]
        if cls is not None and isinstance(config, dict) and set(config) <= {"from_logits", "label_smoothing"}:
            return cls(**config)
    cls = registry.get(identifier, "loss") or registry.for_function(identifier, "loss")
    if cls is not None:
        return cls()
    if callable(identifier) and not isinstance(identifier, type):
        return LossFunctionWrapper(identifier)
    raise ValueError(f"Unknown loss {identifier!r}: nnscratch implements {', '.join(registry.names('loss'))}, "
                     "or a function of your own, fn(y_true, y_pred), written with nnscratch's operations")


def serialize(loss):
    """What a model file stores: the Keras name for a default-configured loss
    (``'categorical_crossentropy'``), else ``{"class_name": ..., "config": {"from_logits": ...}}``.
    A loss function of your own is Python code, which a model file does not store."""
    if isinstance(loss, LossFunctionWrapper):
        raise ValueError(f"save: the model is compiled with a loss function of your own ({loss.name}), which a "
                         "model file cannot store; compile it with a built-in loss before saving, or keep "
                         "the weights with model.get_weights()")
    config = {k: v for k, v in loss.get_config().items() if k != "name"}
    if config == {k: v for k, v in type(loss)().get_config().items() if k != "name"}:
        return loss.name if registry.get(loss.name, "loss") is type(loss) else type(loss).__name__
    return {"class_name": type(loss).__name__, "config": config}


def warn_if_logits_output(loss, layer_name):
    """Keras's warning (``_get_logits``) when ``from_logits=True`` meets the output activation the loss
    fuses with (a softmax for the cross-entropies, a sigmoid for the binary one): the loss then uses
    that activation's input ``z``, as it would with ``from_logits=False``."""
    if loss.from_logits:
        warnings.warn(f"{loss.name} received from_logits=True, but the model's output comes from a {loss.fuses} "
                      f"({layer_name}) and thus does not represent logits; as Keras does, the loss uses "
                      f"the {loss.fuses}'s input instead. Was this intended?", stacklevel=3)


warn_if_softmax_output = warn_if_logits_output
