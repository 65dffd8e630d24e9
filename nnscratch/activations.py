"""Activation functions, each a forward ``a = f(z)`` and a backward ``dz = f'(z) * da`` side by side.

Shapes: ``z``, ``a``, ``da`` and ``dz`` are all ``(N, M)``: N samples (rows, as in Keras), M units.
``backward(z, a, da)`` receives both the input ``z`` and the output ``a`` of the forward pass so each
derivative can use whichever form is cheapest and most stable (sigmoid' = a(1-a) needs only ``a``).

The names are Keras's: ``'sigmoid'``, ``'softmax'``, ``'relu'``, ``'tanh'``, ``'linear'``.
"""
import enum

import numpy as np


class Activation:
    """A named pair of functions; see the module docstring for the contract.  ``code`` names the
    activation to the Numba kernels (:class:`Code`), which compute the same functions in one pass; an
    activation without a code (one you write yourself) always runs its own two functions."""

    def __init__(self, name, forward, backward, code=None):
        self.name = name
        self.forward = forward
        self.backward = backward
        self.code = None if code is None else int(code)

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
    """``dz = da * a * (1 - a)``  (sigmoid'(z) = a (1 - a))."""
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
    ``dz = (a - y) / N`` instead; see ``losses.py``.)
    """
    return a * (da - np.sum(da * a, axis=-1, keepdims=True))


# --- relu: a = max(z, 0) ---------------------------------------------------------------------------
def relu(z):
    """``a = max(z, 0)``."""
    return np.maximum(z, 0)


def relu_backward(z, a, da):
    """``dz = da * [z > 0]`` (the derivative at exactly 0 is taken as 0, as TensorFlow does)."""
    return da * (z > 0)


# --- tanh -----------------------------------------------------------------------------------------
def tanh(z):
    """``a = tanh(z)``."""
    return np.tanh(z)


def tanh_backward(z, a, da):
    """``dz = da * (1 - a^2)``."""
    return da * (1 - a * a)


# --- linear (identity) ----------------------------------------------------------------------------
def linear(z):
    """``a = z``."""
    return z


def linear_backward(z, a, da):
    """``dz = da``."""
    return da


class Code(enum.IntEnum):
    """How the Numba kernels (``kernels.py``) name each activation."""
    LINEAR = 0
    SIGMOID = 1
    RELU = 2
    TANH = 3
    SOFTMAX = 4


ACTIVATIONS = {
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_backward, Code.SIGMOID),
    "softmax": Activation("softmax", softmax, softmax_backward, Code.SOFTMAX),
    "relu": Activation("relu", relu, relu_backward, Code.RELU),
    "tanh": Activation("tanh", tanh, tanh_backward, Code.TANH),
    "linear": Activation("linear", linear, linear_backward, Code.LINEAR),
}


def get(identifier):
    """Look up an activation by Keras name; ``None`` means linear, as in Keras."""
    if identifier is None:
        return ACTIVATIONS["linear"]
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str) and identifier in ACTIVATIONS:
        return ACTIVATIONS[identifier]
    raise ValueError(f"Unknown activation {identifier!r}; nnscratch implements "
                     f"{', '.join(repr(k) for k in ACTIVATIONS)}")
