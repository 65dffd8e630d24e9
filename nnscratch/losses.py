"""Categorical cross-entropy: the loss value and its gradient, in the two forms a model needs.

Notation: ``y (N, C)`` one-hot (or any rows of non-negative weights summing to 1) targets,
``p (N, C)`` the network's output, ``z (N, C)`` the pre-activation of a softmax output layer.
Every loss is the **mean over the batch** of per-sample losses (Keras's "sum over batch size"), so
every gradient carries a factor ``1/N``.

1. :func:`categorical_crossentropy` ``(y, p)`` is Keras's formula for ``from_logits=False``
   (``keras/src/backend/tensorflow/nn.py``)::

       q_i = p_i / sum_k p_ik                   # renormalise each row to sum to 1
       q_i = clip(q_i, eps, 1 - eps)            # eps = 1e-7, keeps log() finite
       L   = mean_i ( -sum_j y_ij * log q_ij )

   This is nnscratch's single definition of the loss, used in training *and* evaluation for any
   output layer except softmax.  Keras agrees with it while training the workshop's first model
   (Dense -> sigmoid -> Dropout).  Keras's ``evaluate`` of that model reports a different number: with
   Dropout inactive the sigmoid output reaches the loss directly and Keras silently swaps in the
   softmax cross-entropy of the pre-sigmoid ``z``.  nnscratch does not copy that swap;
   ``keras_reference`` shows both numbers side by side.

2. :func:`softmax_crossentropy_from_logits` ``(y, z)`` is the same loss when ``p = softmax(z)``,
   written in the numerically stable form ``L = mean_i ( logsumexp(z_i) - sum_j y_ij z_ij )``.  A model
   whose last layer is softmax uses it, with the famous fused gradient ``dL/dz = (softmax(z) - y) / N``
   (no division by tiny probabilities).  Keras does the same for a softmax output.  It equals form 1
   exactly except where form 1 would clip a probability below 1e-7.
"""
import numpy as np

EPSILON = 1e-7   # keras.config.epsilon()


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
    ``dL/dp_ik = (g_ik - sum_j g_ij q_ij) / s_i``  with ``g = dL/dq``.
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
    that sum to 1; the softmax Jacobian and the ``1/p`` of the logarithm cancel.
    """
    return (p - y) / y.shape[0]


def get(identifier):
    """Only categorical cross-entropy is implemented; a clear error names anything else."""
    if identifier in ("categorical_crossentropy", categorical_crossentropy):
        return "categorical_crossentropy"
    raise ValueError(f"Unknown loss {identifier!r}: nnscratch implements 'categorical_crossentropy' "
                     "(one-hot targets, see nnscratch.utils.to_categorical)")
