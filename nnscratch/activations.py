"""Activation functions, each a forward ``a = f(z)`` and a backward ``dz = f'(z) * da`` side by side.

Shapes: ``z``, ``a``, ``da`` and ``dz`` are all ``(N, M)``: N samples (rows, as in Keras), M units.
``backward(z, a, da)`` receives both the input ``z`` and the output ``a`` of the forward pass so each
derivative can use whichever form is cheapest and most stable (sigmoid' = a(1-a) needs only ``a``).

The names are Keras's: ``'sigmoid'``, ``'softmax'``, ``'relu'``, ``'tanh'``, ``'linear'``.
"""
import numpy as np

from .engine import Fused


class Activation:
    """A named pair of functions; see the module docstring for the contract.  ``fused`` names the
    engine's loop that computes the same two functions in one pass (:class:`~nnscratch.engine.Fused`);
    an activation you write yourself has none (``fused=None``) and always runs its own functions."""

    def __init__(self, name, forward, backward, fused=None):
        self.name = name
        self.forward = forward
        self.backward = backward
        self.fused = None if fused is None else Fused(fused)

    def __repr__(self):
        return f"<activation {self.name}>"


# --- sigmoid: a = 1 / (1 + exp(-z)) ------------------------------------------------------------
def sigmoid(z):
    """``a = 1 / (1 + exp(-z))``, computed without overflow warnings.

    For z >= 0 use ``1 / (1 + exp(-z))``; for z < 0 the algebraically equal ``exp(z) / (1 + exp(z))``,
    so ``exp`` only ever sees a non-positive argument.
    """
    e = np.exp(-np.abs(z))                      # in (0, 1], never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def sigmoid_backward(z, a, da):
    """``dz = da * a * (1 - a)``  (sigmoid'(z) = a (1 - a); docs/derivations.md#sigmoid)."""
    return da * a * (1 - a)


# --- softmax over the last axis: a_ij = exp(z_ij) / sum_k exp(z_ik) ---------------------------
def softmax(z):
    """``a_ij = exp(z_ij - max_k z_ik) / sum_k exp(z_ik - max_k z_ik)``: shifting by the row maximum
    changes nothing mathematically and keeps ``exp`` from overflowing."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_backward(z, a, da):
    """Full Jacobian-vector product, row by row: ``dz_i = a_i * (da_i - sum_k da_ik a_ik)``.

    (The softmax Jacobian is ``diag(a) - a a^T``; multiplying it by ``da`` gives the line above.
    When softmax feeds categorical cross-entropy the model uses the fused shortcut
    ``dz = (a - y) / N`` instead; see ``losses.py``.)  Derivation: docs/derivations.md#softmax-jacobian
    """
    return a * (da - np.sum(da * a, axis=-1, keepdims=True))


# --- relu: a = max(z, 0) ---------------------------------------------------------------------------
def relu(z):
    """``a = max(z, 0)``."""
    return np.maximum(z, 0)


def relu_backward(z, a, da):
    """``dz = da * [z > 0]`` (the derivative at exactly 0 is taken as 0, as TensorFlow does;
    docs/derivations.md#relu)."""
    return da * (z > 0)


# --- tanh -----------------------------------------------------------------------------------------
def tanh(z):
    """``a = tanh(z)``."""
    return np.tanh(z)


def tanh_backward(z, a, da):
    """``dz = da * (1 - a^2)`` (tanh' = 1 - tanh^2; docs/derivations.md#tanh)."""
    return da * (1 - a * a)


# --- linear (identity) ----------------------------------------------------------------------------
def linear(z):
    """``a = z``."""
    return z


def linear_backward(z, a, da):
    """``dz = da``."""
    return da


ACTIVATIONS = {
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_backward, Fused.SIGMOID),
    "softmax": Activation("softmax", softmax, softmax_backward, Fused.SOFTMAX),
    "relu": Activation("relu", relu, relu_backward, Fused.RELU),
    "tanh": Activation("tanh", tanh, tanh_backward, Fused.TANH),
    "linear": Activation("linear", linear, linear_backward, Fused.LINEAR),
}


def get(identifier):
    """Look up an activation by Keras name (or one of nnscratch's activation functions on tensors,
    ``tf.nn.relu``, ``tf.keras.activations.sigmoid``); ``None`` means linear, as in Keras."""
    if identifier is None:
        return ACTIVATIONS["linear"]
    if isinstance(identifier, Activation):
        return identifier
    if callable(identifier) and getattr(identifier, "__module__", "").startswith("nnscratch."):
        identifier = {"keras_softmax": "softmax"}.get(identifier.__name__, identifier.__name__)
    if isinstance(identifier, str) and identifier in ACTIVATIONS:
        return ACTIVATIONS[identifier]
    raise ValueError(f"Unknown activation {identifier!r}; nnscratch implements "
                     f"{', '.join(repr(k) for k in ACTIVATIONS)}")
