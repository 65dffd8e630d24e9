"""Optimizers: turn gradients into weight updates, with Keras 3's defaults and exact update rules.

An optimizer keeps its own state in plain sight, one slot per parameter, in the order of
``model.trainable_weights`` (``[W1, b1, W2, b2, ...]``).  ``apply(params, grads)`` updates every
parameter **in place** and advances ``iterations`` once per step (not once per tensor).

Keras stores ``learning_rate`` in a float32 variable and casts the Python-float hyperparameters
through float32 (``ops.cast(0.9, float64)`` is ``float64(float32(0.9))``).  We do the same, so a
float64 model takes the same steps as Keras to ~1e-15.  ``optimizer.learning_rate`` reads that
float32 value and may be set between steps (callbacks do, ``callbacks.py``); it may also be a
schedule (``schedules.py``), asked for the rate at ``iterations`` before every update.

Each optimizer's :meth:`update` is its rule, written out as a loop over the parameters.  On the
``'numba'`` backend it hands all parameters to the engine in one line (``engine/fast.py``), which
makes one pass over each, bit for bit the same arithmetic as the loop.  An update is all-or-nothing:
Ctrl-C during ``apply`` is delivered after the last parameter has moved, never between two of them.
"""
import math
import numbers
import warnings

import numpy as np

from . import backend, schedules
from .engine import fast
from .tape import Variable, as_array
from .utils import interrupts_deferred


def _number(opt, name, value, low=None, high=None, low_open=False, high_open=False):
    """A finite float hyperparameter within its bounds, or a ValueError naming it."""
    cls = type(opt).__name__
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{cls}: {name} must be a finite number, got {value!r}")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        interval = (("(" if low_open else "[") + f"{low}, " + (f"{high}" if high is not None else "inf")
                    + (")" if high_open or high is None else "]"))
        raise ValueError(f"{cls}: {name} must be in {interval}, got {value!r}")
    return value


def _through_float32(value, dtype):
    """A Python float as Keras sees it inside the update: rounded to float32, then cast to ``dtype``."""
    return np.dtype(dtype).type(np.float32(value))


class Optimizer:
    """What every optimizer shares: its hyperparameters (checked whenever one is set), the parameter
    arrays it was built for (``variables``) and their state (``state``), and :meth:`apply`.

    An optimizer belongs to the model it first stepped, as in Keras: :meth:`build` fixes the arrays it
    updates, and :meth:`apply` refuses any other array (a second model compiled with the same object
    gets a ``ValueError``, never the first model's moments).  ``BOUNDS`` names each hyperparameter's
    valid interval: ``opt.learning_rate = -1`` is refused as ``Adam(learning_rate=-1)`` is."""
    name = "optimizer"
    slots = ()
    BOUNDS = {}                  # (learning_rate: checked by its own setter, which also takes a schedule)

    def __init__(self, learning_rate):
        self.iterations = 0
        self.schedule = None     # a schedules.LearningRateSchedule, or None for a fixed rate
        self.learning_rate = learning_rate
        self.variables = []      # the parameter arrays this optimizer updates, in order; fixed by build()
        self.state = {}          # slot name -> list of arrays, one per variable; created by build()
        self.built = False

    def __setattr__(self, name, value):
        """Every hyperparameter named in ``BOUNDS`` is checked here, at construction and ever after; one
        that decides the state slots (``momentum``, ``centered``) may not change them after the first step."""
        if name in self.BOUNDS:
            value = _number(self, name, value, **self.BOUNDS[name])
        if name in ("momentum", "centered") and self.__dict__.get("built"):
            slots, old = tuple(self.slots), self.__dict__[name]
            object.__setattr__(self, name, value)
            needed = tuple(self.slots)
            if needed != slots:
                object.__setattr__(self, name, old)
                raise ValueError(f"{type(self).__name__}: {name}={value!r} needs the state slots {list(needed)}, "
                                 f"but the optimizer was built with {list(slots)}; create a new optimizer "
                                 f"with {name}={value!r}")
            return
        object.__setattr__(self, name, value)

    @property
    def learning_rate(self):
        """The rate of the next update as Keras keeps it, a float32: the number set, or the schedule's
        value at ``iterations``."""
        if self.schedule is not None:
            return np.float32(self.schedule(self.iterations))
        return np.float32(self._learning_rate)

    @learning_rate.setter
    def learning_rate(self, value):
        """A number > 0, checked (callbacks set it between epochs), or a schedule (only at construction)."""
        if isinstance(value, schedules.LearningRateSchedule):
            self.schedule, self._learning_rate = value, None
            return
        if self.schedule is not None:
            raise TypeError(f"{type(self).__name__}: this optimizer was created with a learning-rate schedule "
                            f"({self.schedule!r}); its learning rate follows the schedule and cannot be set")
        self._learning_rate = _number(self, "learning_rate", value, low=0, low_open=True)

    def build(self, params):
        """Remember the parameter arrays ``params`` and create their state slots (zeros shaped like each)."""
        self.iterations = 0
        self.variables = list(params)
        self.state = {slot: [np.zeros_like(p) for p in params] for slot in self.slots}
        self.built = True

    def state_of(self, params):
        """``{slot: [the state array of each of params]}``.  Each parameter must be one of the arrays
        this optimizer was built for; ``params`` may be fewer of them (a layer frozen since, with
        ``layer.trainable = False``)."""
        if len(params) == len(self.variables) and all(p is v for p, v in zip(params, self.variables)):
            return self.state                                  # the usual step: every variable, in order
        position = {id(v): i for i, v in enumerate(self.variables)}
        unknown = [i for i, p in enumerate(params) if id(p) not in position]
        if unknown:
            p = params[unknown[0]]
            raise ValueError(
                f"{type(self).__name__}: parameter {unknown[0]} (shape {getattr(p, 'shape', '?')}) is not one "
                f"of the {len(self.variables)} arrays this optimizer was built for: an optimizer can only "
                "update the variables it was originally built with (as in Keras), so one optimizer object "
                "cannot train two models. Give each model its own, e.g. compile(optimizer='adam') or a new "
                f"{type(self).__name__}(...).")
        rows = [position[id(p)] for p in params]
        return {slot: [arrays[i] for i in rows] for slot, arrays in self.state.items()}

    def apply(self, params, grads, names=None):
        """One step: update every parameter in place from its gradient (:meth:`update`);
        ``iterations += 1``.  A gradient None (a variable the loss does not depend on) leaves its
        parameter and state as they are, with Keras's warning (``names``: the variables', for it)."""
        if not self.built:
            self.build(params)
        if len(params) == 0 and len(grads) == 0:
            return                                             # nothing trainable: no step, as in Keras
        if len(grads) != len(params):
            raise ValueError(f"{type(self).__name__}.apply: {len(params)} parameters but {len(grads)} gradients")
        if any(g is None for g in grads):
            missing = [names[i] if names else f"parameter {i} {params[i].shape}"
                       for i, g in enumerate(grads) if g is None]
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the loss; they are "
                          "left as they are, as Keras leaves them", stacklevel=2)
            params, grads = [p for p, g in zip(params, grads) if g is not None], [g for g in grads if g is not None]
            if not params:
                self.iterations += 1
                return
        state = self.state_of(params)
        with interrupts_deferred():
            self.update(params, grads, state)
            self.iterations += 1

    def apply_gradients(self, grads_and_vars):
        """Keras's ``optimizer.apply_gradients(zip(grads, model.trainable_variables))``: one step of the
        same :meth:`update` that ``fit`` runs, on the Variables' own arrays (a layer's weights change in
        place).  The first call builds the optimizer for these variables (one state slot each, as Keras
        keys them); later calls may pass them in any order, or some of them.  Returns ``iterations``."""
        pairs = list(grads_and_vars)
        params, grads = [], []
        for g, v in pairs:
            if not isinstance(v, Variable):
                raise TypeError(f"apply_gradients takes (gradient, variable) pairs with tf.Variable variables "
                                f"(model.trainable_variables), got a {type(v).__name__}")
            params.append(v.array)
            grads.append(None if g is None else np.ascontiguousarray(as_array(g), dtype=v.dtype))
            if g is not None and grads[-1].shape != v.shape:
                raise ValueError(f"apply_gradients: the gradient of {v.path} has shape {grads[-1].shape}, the "
                                 f"variable {v.shape}")
        if not self.built:
            self.build(params)
        self.apply(params, grads, names=[v.path for _, v in pairs])
        return self.iterations

    def get_config(self):
        lr = self._learning_rate if self.schedule is None else {
            "class_name": type(self.schedule).__name__, "config": self.schedule.get_config()}
        return {"name": self.name, "learning_rate": lr}


class SGD(Optimizer):
    """Stochastic gradient descent, ``keras.optimizers.SGD(learning_rate=0.01, momentum=0.0, nesterov=False)``.

    Plain:     ``w -= lr * g``
    Momentum:  ``v = momentum * v - lr * g``;  ``w += v``
    Nesterov:  ``v = momentum * v - lr * g``;  ``w += momentum * v - lr * g``
    (``v`` starts at zero; no dampening.)  Why Nesterov's look-ahead takes this form:
    docs/derivations.md#sgd
    """
    name = "sgd"
    BOUNDS = {**Optimizer.BOUNDS, "momentum": dict(low=0, high=1)}

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__(learning_rate)
        self.momentum = momentum
        self.nesterov = bool(nesterov)

    @property
    def slots(self):
        return ("velocity",) if self.momentum != 0 else ()

    def update(self, params, grads, state):
        """``w -= lr * g`` for every parameter ``w`` and its gradient ``g`` (momentum: see the class).
        ``state``: each parameter's velocity (:meth:`Optimizer.state_of`)."""
        lr = _through_float32(self.learning_rate, params[0].dtype)
        mu = _through_float32(self.momentum, params[0].dtype)
        if backend.fast():
            return fast.sgd_update(self, params, grads, state, lr, mu)   # the loop below, one pass per parameter
        for i, (w, g) in enumerate(zip(params, grads)):
            if self.momentum == 0:
                w -= g * lr
                continue
            v = state["velocity"][i]
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
    Why a zero-started average needs correcting, the paper's ``m_hat``/``v_hat`` form, and why this one
    equals it (with epsilon / sqrt(1 - beta_2**t)): docs/derivations.md#adam
    """
    name = "adam"
    slots = ("m", "v")
    BOUNDS = {**Optimizer.BOUNDS, "beta_1": dict(low=0, high=1, high_open=True),
              "beta_2": dict(low=0, high=1, high_open=True), "epsilon": dict(low=0, low_open=True)}

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _alpha(self, dtype):
        """``lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)`` with ``t = iterations + 1``, cast as Keras casts."""
        dt, t = np.dtype(dtype).type, self.iterations + 1
        beta_1_power = _through_float32(self.beta_1, dtype) ** dt(t)
        beta_2_power = _through_float32(self.beta_2, dtype) ** dt(t)
        return _through_float32(self.learning_rate, dtype) * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)

    def update(self, params, grads, state):
        """The four lines of the class docstring for every parameter ``w``, its gradient ``g`` and its
        moments ``m``, ``v`` (``state``, :meth:`Optimizer.state_of`)."""
        dt = params[0].dtype.type
        alpha = dt(self._alpha(params[0].dtype))          # lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        one_minus_beta_1, one_minus_beta_2, eps = dt(1 - self.beta_1), dt(1 - self.beta_2), dt(self.epsilon)
        if backend.fast():                                # the loop below, in one pass per parameter
            return fast.adam_update(self, params, grads, state, one_minus_beta_1, one_minus_beta_2, alpha, eps)
        for w, g, m, v in zip(params, grads, state["m"], state["v"]):
            m += (g - m) * one_minus_beta_1               # m = beta_1 m + (1 - beta_1) g
            v += (g * g - v) * one_minus_beta_2           # v = beta_2 v + (1 - beta_2) g^2
            w -= m * alpha / (np.sqrt(v) + eps)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """RMSprop, ``keras.optimizers.RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
    centered=False)``; Keras's default optimizer (``compile()`` without one).

    Per parameter, as ``keras/src/optimizers/rmsprop.py`` computes it (all slots start at zero)::

        v = rho * v + (1 - rho) * g*g                     # running mean of g^2   ("velocity")
        centered:  a = rho * a + (1 - rho) * g            # running mean of g     ("average_gradient")
                   d = v - a*a + epsilon                  # an estimate of the variance of g
        else:      d = v + epsilon
        step = lr * g / sqrt(d)
        momentum > 0:  m = momentum * m + step;  w -= m   ("momentum")
        else:          w -= step

    Epsilon is inside the square root (``sqrt(v + eps)``), unlike Adam's ``sqrt(v) + eps``.  The
    constants are the Python floats cast straight to the parameter's dtype (Keras's ``ops.multiply``
    with a Python float, measured bit-exact in float64); only ``lr`` goes through float32, Keras's
    learning-rate variable.  Derivation: docs/derivations.md#rmsprop
    """
    name = "rmsprop"
    BOUNDS = {**Optimizer.BOUNDS, "rho": dict(low=0, high=1), "momentum": dict(low=0, high=1),
              "epsilon": dict(low=0, low_open=True)}

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
        super().__init__(learning_rate)
        self.rho, self.momentum, self.epsilon = rho, momentum, epsilon
        if not isinstance(centered, (bool, np.bool_)):
            raise ValueError(f"RMSprop: centered must be True or False, got {centered!r}")
        self.centered = bool(centered)

    @property
    def slots(self):
        return (("velocity",) + (("momentum",) if self.momentum > 0 else ())
                + (("average_gradient",) if self.centered else ()))

    def update(self, params, grads, state):
        """The rule of the class docstring for every parameter ``w`` and its gradient ``g`` (its slots:
        ``state``, :meth:`Optimizer.state_of`)."""
        dt = params[0].dtype.type
        lr = _through_float32(self.learning_rate, params[0].dtype)
        rho, one_minus_rho, mu, eps = dt(self.rho), dt(1 - self.rho), dt(self.momentum), dt(self.epsilon)
        if backend.fast():
            return fast.rmsprop_update(self, params, grads, state, rho, one_minus_rho, mu, eps, lr)   # the loop below
        for i, (w, g) in enumerate(zip(params, grads)):
            v = state["velocity"][i]
            v[...] = rho * v + one_minus_rho * (g * g)
            if self.centered:
                a = state["average_gradient"][i]
                a[...] = rho * a + one_minus_rho * g
                d = v - a * a + eps
            else:
                d = v + eps
            step = lr * g / np.sqrt(d)
            if self.momentum > 0:
                m = state["momentum"][i]
                m[...] = mu * m + step
                w -= m
            else:
                w -= step

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def get(identifier):
    """``'sgd'`` / ``'adam'`` / ``'rmsprop'`` (Keras's defaults) or an optimizer instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in OPTIMIZERS:
        return OPTIMIZERS[identifier.lower()]()
    raise ValueError(f"Unknown optimizer {identifier!r}; use 'sgd', 'adam', 'rmsprop' or an instance of "
                     "nnscratch.optimizers.SGD / Adam / RMSprop")


def from_config(config):
    config = dict(config)
    cls = OPTIMIZERS[config.pop("name")]
    lr = config.get("learning_rate")
    if isinstance(lr, dict):
        config["learning_rate"] = getattr(schedules, lr["class_name"])(**lr["config"])
    return cls(**config)
