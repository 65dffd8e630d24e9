"""Optimizers: turn gradients into weight updates, with Keras 3's defaults and exact update rules.

An optimizer keeps its own state in plain sight, one slot per parameter, in the order of
``model.trainable_weights`` (``[W1, b1, W2, b2, ...]``).  ``apply(params, grads)`` updates every
parameter **in place** and advances ``iterations`` once per step (not once per tensor).

Keras stores ``learning_rate`` in a float32 variable and casts the Python-float hyperparameters
through float32 (``ops.cast(0.9, float64)`` is ``float64(float32(0.9))``).  We do the same, so a
float64 model takes the same steps as Keras to ~1e-15; see ``../shared/docs/keras-numerics.md``.
"""
import numpy as np


def _through_float32(value, dtype):
    """A Python float as Keras sees it inside the update: rounded to float32, then cast to ``dtype``."""
    return np.dtype(dtype).type(np.float32(value))


class Optimizer:
    name = "optimizer"

    def __init__(self, learning_rate):
        if not learning_rate > 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be positive, got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self.iterations = 0
        self.state = {}          # name -> list of arrays, one per parameter; created by build()
        self.built = False

    def build(self, params):
        """Create the state slots (zeros shaped like each parameter)."""
        self.iterations = 0
        self.state = {slot: [np.zeros_like(p) for p in params] for slot in self.slots}
        self.built = True

    def apply(self, params, grads):
        """One step: update every parameter in place from its gradient; ``iterations += 1``."""
        if not self.built:
            self.build(params)
        self._update(params, grads)
        self.iterations += 1

    def get_config(self):
        return {"name": self.name, "learning_rate": self.learning_rate}


class SGD(Optimizer):
    """Stochastic gradient descent, ``keras.optimizers.SGD(learning_rate=0.01, momentum=0.0, nesterov=False)``.

    Plain:     ``w -= lr * g``
    Momentum:  ``v = momentum * v - lr * g``;  ``w += v``
    Nesterov:  ``v = momentum * v - lr * g``;  ``w += momentum * v - lr * g``
    (``v`` starts at zero; no dampening.)
    """
    name = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__(learning_rate)
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be in [0, 1], got {momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.slots = ("velocity",) if self.momentum != 0 else ()

    def _update(self, params, grads):
        for i, (w, g) in enumerate(zip(params, grads)):
            lr = _through_float32(self.learning_rate, w.dtype)
            if self.momentum == 0:
                w -= g * lr
                continue
            mu = _through_float32(self.momentum, w.dtype)
            v = self.state["velocity"][i]
            v *= mu
            v -= g * lr                           # v = mu * v - lr * g
            if self.nesterov:
                w += v * mu - g * lr              # w += mu * v - lr * g
            else:
                w += v

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam, ``keras.optimizers.Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)``.

    With ``t = iterations + 1`` (the same t for every parameter in a step)::

        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)     # bias corrections folded into lr
        m += (g - m) * (1 - beta_1)                              # m = beta_1 m + (1 - beta_1) g
        v += (g*g - v) * (1 - beta_2)                            # v = beta_2 v + (1 - beta_2) g^2
        w -= m * alpha / (sqrt(v) + epsilon)

    As in Keras (``keras/src/optimizers/adam.py``), epsilon is added to the *uncorrected* ``sqrt(v)``;
    the original paper adds it to the corrected one, which differs slightly in the first steps.
    """
    name = "adam"
    slots = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _update(self, params, grads):
        t = self.iterations + 1
        for i, (w, g) in enumerate(zip(params, grads)):
            dt = w.dtype.type
            lr = _through_float32(self.learning_rate, w.dtype)
            beta_1_power = _through_float32(self.beta_1, w.dtype) ** dt(t)
            beta_2_power = _through_float32(self.beta_2, w.dtype) ** dt(t)
            alpha = lr * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
            m, v = self.state["m"][i], self.state["v"][i]
            m += (g - m) * dt(1 - self.beta_1)
            v += (g * g - v) * dt(1 - self.beta_2)
            w -= m * alpha / (np.sqrt(v) + dt(self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get(identifier):
    """``'sgd'`` / ``'adam'`` (Keras's defaults) or an optimizer instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in OPTIMIZERS:
        return OPTIMIZERS[identifier.lower()]()
    raise ValueError(f"Unknown optimizer {identifier!r}; use 'sgd', 'adam' or an instance of "
                     "nnscratch.optimizers.SGD / Adam")


def from_config(config):
    config = dict(config)
    cls = OPTIMIZERS[config.pop("name")]
    return cls(**config)
