"""Cross-entropy losses: the formulas, and the Keras loss objects that choose between them.

Notation: ``y (N, C)`` one-hot (or any rows of non-negative weights summing to 1) targets,
``labels (N,)`` integer class indices (the sparse losses), ``p (N, C)`` the network's output,
``z (N, C)`` logits (the input of a softmax).  Every loss is the **mean over the batch** of
per-sample losses (Keras's "sum over batch size"), so every gradient carries a factor ``1/N``.

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

The loss objects
----------------
:class:`CategoricalCrossentropy` and :class:`SparseCategoricalCrossentropy` are Keras's classes: give
them to ``compile`` (or the names ``'categorical_crossentropy'``, ``'sparse_categorical_crossentropy'``),
or call them, ``loss_fn(y_true, y_pred)``, for the batch's loss as a 0-d :class:`~nnscratch.tensor.Tensor`
(``.numpy()`` works; it is NumPy underneath).  A model trains through their
:meth:`Loss.value_and_gradient` and :meth:`Loss.logits_value_and_gradient`, where the engine's fused
pass (``engine/fast.py``) sits in one line beside each plain formula.
"""
import warnings

import numpy as np

from . import activations, backend, checks, tape
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


def categorical_crossentropy(y, p):
    """``L = mean_i -sum_j y_ij log clip(p_ij / sum_k p_ik, eps, 1-eps)``.  ``y, p: (N, C) -> scalar``."""
    q = p / _row_sums(p)
    q = np.clip(q, EPSILON, 1 - EPSILON)
    return -np.sum(y * np.log(q)) / y.shape[0]


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


def softmax_crossentropy_from_logits(y, z):
    """``L = mean_i ( logsumexp(z_i) - sum_j y_ij z_ij )``, the cross-entropy of ``softmax(z)``.

    ``logsumexp(z_i) = m_i + log sum_k exp(z_ik - m_i)`` with ``m_i = max_k z_ik`` (no overflow).
    ``y, z: (N, C) -> scalar``.  (Targets are assumed to sum to 1 per row, as one-hot rows do.)
    """
    m = z.max(axis=-1, keepdims=True)
    logsumexp = m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))
    return np.sum(y * (logsumexp - z)) / y.shape[0]


def softmax_crossentropy_from_logits_gradient(y, p):
    """The fused gradient ``dL/dz = (p - y) / N`` with ``p = softmax(z)``: ``(N, C)``.

    Derivation: ``dL_i/dz_ij = softmax(z_i)_j * sum_k y_ik - y_ij = p_ij - y_ij`` for rows of ``y``
    that sum to 1; the softmax Jacobian and the ``1/p`` of the logarithm cancel.  Every step, with
    the one that uses ``sum_j y_ij = 1``: docs/derivations.md#softmax-cross-entropy
    """
    return (p - y) / y.shape[0]


def sparse_categorical_crossentropy(labels, p):
    """``L = mean_i ( log sum_k c_ik - log c_i,labels_i )`` with ``c = clip(p, eps, 1 - eps)``.

    Keras's sparse ``from_logits=False``: ``log(c)`` fed to ``sparse_softmax_cross_entropy_with_logits``,
    i.e. ``logsumexp(log c_i) - log c_i,labels_i``.  ``labels: (N,)`` integers, ``p: (N, C) -> scalar``.
    """
    labels = np.asarray(labels).astype(np.int64, copy=False)       # as Keras casts them
    c = np.clip(p, EPSILON, 1 - EPSILON)
    rows = np.arange(len(labels))
    return np.sum(np.log(np.sum(c, axis=-1)) - np.log(c[rows, labels])) / len(labels)


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
    """A Keras loss object: ``loss_fn(y_true, y_pred)`` and the two methods a model trains with.

    ``from_logits``: ``y_pred`` holds logits ``z`` (the output of a layer without softmax) rather than
    probabilities.  ``dtype``: the dtype ``loss_fn(...)`` computes in (default Keras's ``floatx()``,
    float32 unless ``keras.backend.set_floatx``); a model's training computes in the model's own dtype.
    Only Keras's reduction ``'sum_over_batch_size'`` (the batch mean) is implemented.
    """
    name = "loss"
    sparse = False        # True: targets are integer class indices (N,), else rows (N, C)

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name=None, dtype=None):
        if not isinstance(from_logits, (bool, np.bool_)):
            raise ValueError(f"{type(self).__name__}: from_logits must be True or False, got {from_logits!r}")
        if reduction != "sum_over_batch_size":
            raise ValueError(f"{type(self).__name__}: reduction={reduction!r} is not implemented in nnscratch; "
                             "it computes Keras's default 'sum_over_batch_size' (the mean over the batch)")
        self.from_logits = bool(from_logits)
        self.reduction = reduction
        if name is not None:
            self.name = str(name)
        self.dtype = np.dtype(dtype or tape.floatx())
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"{type(self).__name__}: dtype must be 'float32' or 'float64', got {dtype!r}")

    # --------------------------------------------------------------------- called by the user
    def __call__(self, y_true, y_pred):
        """The batch's mean loss as a 0-d :class:`~nnscratch.tape.Tensor` (``.numpy()`` gives a NumPy
        scalar): :meth:`compute` in ``self.dtype``."""
        return self.compute(y_true, y_pred)

    def compute(self, y_true, y_pred, dtype=None):
        """The batch's mean loss as a 0-d Tensor, computed in ``dtype`` (default ``self.dtype``; a model
        trains in its own).  As Keras's ``Loss.__call__``, both arguments are first converted to it
        (float32 by default).  The output of a Keras softmax (a softmax layer, ``keras.ops.softmax``)
        remembers its input, and the loss computes from that input with the fused form, as Keras's does.

        On a ``GradientTape`` the call is ONE node of the tape whose vector-Jacobian product is this
        loss's own gradient (:meth:`value_and_gradient`: ``dL/dp``, or ``dL/dz`` from the logits), as a
        layer's is its own backward: ``d(input) = g * dL/d(input)``."""
        logits = getattr(y_pred, "_keras_logits", None)
        if logits is not None and self.from_logits:
            warn_if_softmax_output(self, "softmax")
        pred = y_pred if logits is None else logits
        dtype = np.dtype(dtype or self.dtype)
        p = np.asarray(pred)
        if p.dtype == object or not (np.issubdtype(p.dtype, np.number) or p.dtype == bool):
            raise ValueError(f"{self.name}: y_pred must hold numbers, got an array of {p.dtype}")
        if p.ndim != 2:
            raise ValueError(f"{self.name}: y_pred must have shape (samples, classes), got {p.shape}")
        p = np.ascontiguousarray(p, dtype=dtype)
        y = checks.targets(self, y_true, len(p), p.shape[-1], dtype, self.name)
        if not tape.is_recorded(pred):
            value = self.value(y, p) if logits is None else self.logits_value_and_gradient(y, p)[0]
            return Tensor(np.asarray(value, dtype=dtype))
        value, grad = self.value_and_gradient(y, p) if logits is None else self.logits_value_and_gradient(y, p)
        return tape.record(Tensor(np.asarray(value, dtype=dtype)), (pred,),
                           lambda g: ((g * grad).astype(pred.dtype),))

    # --------------------------------------------------------------------- used in training
    def rows(self, y, num_classes, dtype, owner=None):
        """The targets as rows ``(N, C)`` (one-hot for integer labels), for the fused form 2."""
        return y

    def value(self, y, pred):
        """``L``: the plain formula (see the module docstring), no gradient."""
        if self.from_logits:
            return softmax_crossentropy_from_logits(self.rows(y, pred.shape[-1], pred.dtype), pred)
        return self.probability_value(y, pred)

    def value_and_gradient(self, y, pred, owner=None):
        """``(L, dL/d pred)`` for the model's output ``pred (N, C)``: form 2 with ``z = pred`` if
        ``from_logits``, else the probability formula.  ``owner``: the output layer, whose work arrays
        the fast path writes into (valid until the next call); None: new arrays."""
        if self.from_logits:
            return self.logits_value_and_gradient(y, pred, None, owner)
        return self.probability_value_and_gradient(y, pred, owner)

    def logits_value_and_gradient(self, y, z, p=None, owner=None):
        """Form 2 on logits ``z (N, C)``: ``L = mean(logsumexp(z) - y.z)`` and ``dL/dz = (p - y) / N``
        with ``p = softmax(z)``.  ``p``: the model's ``softmax(z)`` where it has one (a softmax output
        layer's output; the fast path writes the same values into it again), else None."""
        y = self.rows(y, z.shape[-1], z.dtype, owner)
        if backend.fast():
            return fast.softmax_crossentropy(owner, y, z, p)      # p = softmax(z), L and dz in one pass
        if p is None:
            from .activations import softmax
            p = softmax(z)
        return softmax_crossentropy_from_logits(y, z), softmax_crossentropy_from_logits_gradient(y, p)

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
            raise ValueError("CategoricalCrossentropy: label_smoothing and axis other than -1 are not "
                             "implemented in nnscratch; use label_smoothing=0, axis=-1")
        super().__init__(from_logits, reduction, name, dtype)

    def probability_value(self, y, p):
        return categorical_crossentropy(y, p)

    def probability_value_and_gradient(self, y, p, owner=None):
        """Form 1: ``L`` and ``dL/dp``."""
        if backend.fast():
            return fast.crossentropy(owner, y, p, EPSILON)      # the line below, in one pass
        return categorical_crossentropy(y, p), categorical_crossentropy_gradient(y, p)

    def classes(self, y):
        """The class index of each target row: ``argmax_j y_ij``, ``(N,)`` (Keras's categorical accuracy)."""
        return y.argmax(axis=-1)


class SparseCategoricalCrossentropy(Loss):
    """``keras.losses.SparseCategoricalCrossentropy(from_logits=False)``: targets are integer class
    indices ``labels (N,)`` (or ``(N, 1)``), as ``mnist.load_data()`` returns them.
    ``from_logits=False``: form 3 on probabilities; ``from_logits=True``: form 2 on logits with
    ``y = one_hot(labels)``.  See the module docstring."""
    name = "sparse_categorical_crossentropy"
    sparse = True

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        if ignore_class is not None:
            raise ValueError("SparseCategoricalCrossentropy: ignore_class is not implemented in nnscratch; "
                             "use ignore_class=None")
        super().__init__(from_logits, reduction, name, dtype)

    def rows(self, labels, num_classes, dtype, owner=None):
        """``one_hot(labels) : (N,) -> (N, C)``, the rows form 2 takes."""
        labels = np.asarray(labels).astype(np.int64, copy=False)
        if backend.fast():
            return fast.one_hot(owner, labels, num_classes, dtype)   # the line below, into a reused array
        return one_hot(labels, num_classes, dtype)

    def probability_value(self, labels, p):
        return sparse_categorical_crossentropy(labels, p)

    def probability_value_and_gradient(self, labels, p, owner=None):
        """Form 3: ``L`` and ``dL/dp`` (plain NumPy on both backends)."""
        return sparse_categorical_crossentropy(labels, p), sparse_categorical_crossentropy_gradient(labels, p)

    def classes(self, labels):
        """The labels themselves (Keras's sparse categorical accuracy compares them with argmax(p))."""
        return labels


class LossFunctionWrapper(Loss):
    """A loss function of your own, ``fn(y_true, y_pred)``, written with nnscratch's operations
    (``tf.reduce_mean``, ``tf.square``, ...), as ``compile(loss=fn)`` takes it: the loss is the mean of
    what ``fn`` returns (Keras's ``'sum_over_batch_size'``), and its gradient ``dL/dp`` comes from the
    tape.  The targets are passed as they are (any numbers, one row per sample)."""
    sparse = None

    def __init__(self, fn, name=None, dtype=None):
        super().__init__(name=name or getattr(fn, "__name__", "loss"), dtype=dtype)
        self.fn = fn

    def compute(self, y_true, y_pred, dtype=None):
        """``mean(fn(y_true, y_pred))``, operation by operation on the tape (in ``y_pred``'s dtype)."""
        return reduce_mean(self.fn(y_true, y_pred))

    def value(self, y, p):
        return self(Tensor(y), Tensor(p)).numpy()

    def value_and_gradient(self, y, p, owner=None):
        """``L`` and ``dL/dp``, from a tape that watches ``p``."""
        p = Tensor(p)
        with GradientTape() as tape:
            tape.watch(p)
            loss = self(Tensor(y), p)
        grad = tape.gradient(loss, p)
        return loss.numpy(), (np.zeros(p.shape, p.dtype) if grad is None else grad.numpy())

    def logits_value_and_gradient(self, y, z, p=None, owner=None):
        """A softmax output layer: ``fn`` sees its output ``p``, and the model continues backward from
        the softmax's input with ``dL/dz = softmax_backward(dL/dp)``."""
        p = activations.softmax(z) if p is None else p
        loss, dp = self.value_and_gradient(y, p)
        return loss, activations.softmax_backward(z, p, dp)

    def classes(self, y):
        """For ``'accuracy'``: the class of each target row (``argmax``), or the labels themselves."""
        return y.argmax(axis=-1) if y.ndim == 2 else y

    def get_config(self):
        return {"name": self.name, "fn": self.fn}

    def __repr__(self):
        return f"LossFunctionWrapper({self.name})"


LOSSES = {"categorical_crossentropy": CategoricalCrossentropy,
          "sparse_categorical_crossentropy": SparseCategoricalCrossentropy}
_FUNCTIONS = {categorical_crossentropy: "categorical_crossentropy",
              sparse_categorical_crossentropy: "sparse_categorical_crossentropy",
              _per_sample_categorical: "categorical_crossentropy",
              _per_sample_sparse: "sparse_categorical_crossentropy"}


def get(identifier):
    """A new loss object for a Keras name (``'categorical_crossentropy'``, ``'sparse_categorical_crossentropy'``,
    or the class names), for one of Keras's loss functions (``tf.keras.losses.categorical_crossentropy``:
    its class, fused and fast), for :func:`serialize`'s dict, or a :class:`LossFunctionWrapper` for a
    function of your own; a loss object is returned as it is."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict) and set(identifier) == {"class_name", "config"}:
        cls = {c.__name__: c for c in LOSSES.values()}.get(identifier["class_name"])
        config = identifier["config"]
        if cls is not None and isinstance(config, dict) and set(config) <= {"from_logits"}:
            return cls(**config)
    try:
        if identifier in _FUNCTIONS:
            identifier = _FUNCTIONS[identifier]
    except TypeError:                          # unhashable: a list, a dict, ...
        pass
    if isinstance(identifier, str):
        by_class = {c.__name__: c for c in LOSSES.values()}
        cls = LOSSES.get(identifier) or by_class.get(identifier)
        if cls is not None:
            return cls()
    if callable(identifier) and not isinstance(identifier, type):
        return LossFunctionWrapper(identifier)
    raise ValueError(f"Unknown loss {identifier!r}: nnscratch implements 'categorical_crossentropy' "
                     "(one-hot targets, see nnscratch.utils.to_categorical) and "
                     "'sparse_categorical_crossentropy' (integer labels), also as the classes "
                     "CategoricalCrossentropy and SparseCategoricalCrossentropy(from_logits=...), "
                     "or a function of your own, fn(y_true, y_pred), written with nnscratch's operations")


def serialize(loss):
    """What a model file stores: the Keras name for a default-configured loss
    (``'categorical_crossentropy'``), else ``{"class_name": ..., "config": {"from_logits": ...}}``.
    A loss function of your own is Python code, which a model file does not store."""
    if isinstance(loss, LossFunctionWrapper):
        raise ValueError(f"save: the model is compiled with a loss function of your own ({loss.name}), which a "
                         "model file cannot store; compile it with a built-in loss before saving, or keep "
                         "the weights with model.get_weights()")
    if not loss.from_logits:
        return loss.name if loss.name in LOSSES and isinstance(loss, LOSSES[loss.name]) else type(loss).__name__
    return {"class_name": type(loss).__name__, "config": {"from_logits": loss.from_logits}}


def warn_if_softmax_output(loss, layer_name):
    """Keras's warning (``_get_logits``) when ``from_logits=True`` meets a softmax output layer: the
    loss then uses the softmax's input ``z``, as it would with ``from_logits=False``."""
    if loss.from_logits:
        warnings.warn(f"{loss.name} received from_logits=True, but the model's output comes from a softmax "
                      f"({layer_name}) and thus does not represent logits; as Keras does, the loss uses "
                      "the softmax's input instead. Was this intended?", stacklevel=3)
