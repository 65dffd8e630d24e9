"""Learning-rate schedules (``keras.optimizers.schedules``): the learning rate as a function of the step.

Give one to an optimizer as its ``learning_rate``; before each update the optimizer asks it for the
rate at its current step ``t = optimizer.iterations`` (0 for the first update), as Keras does::

    ExponentialDecay        lr(t) = lr0 * rate ** (t / steps)             (staircase: floor(t / steps))
    InverseTimeDecay        lr(t) = lr0 / (1 + rate * t / steps)          (staircase: floor(t / steps))
    PiecewiseConstantDecay  lr(t) = values[i] for boundaries[i-1] < t <= boundaries[i]
    CosineDecay             lr(t) = lr0 * ((1 - alpha) * (1 + cos(pi * min(t, steps) / steps)) / 2 + alpha)
                            (with warmup_steps > 0: a straight line from lr0 to warmup_target first,
                            then the cosine from warmup_target)

Keras computes them in float32 (``keras/src/optimizers/schedules/learning_rate_schedule.py``), and so
do we: every value below is a NumPy float32 operation, so the rates agree with Keras's to the last
bit or two (TensorFlow's float32 ``pow`` and ``cos`` may round differently from NumPy's).
"""
import math

import numpy as np

f32 = np.float32


class LearningRateSchedule:
    """A function of the step: ``schedule(step) -> learning rate`` (a float32)."""

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        return dict(self.__dict__)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


def _positive(cls, decay_steps):
    if decay_steps <= 0:
        raise ValueError(f"{cls}: decay_steps must be > 0, got {decay_steps!r}")


class ExponentialDecay(LearningRateSchedule):
    """``lr0 * decay_rate ** (step / decay_steps)``; with ``staircase`` the exponent is floored, so the
    rate drops in steps every ``decay_steps`` updates."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        _positive("ExponentialDecay", decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    def __call__(self, step):
        p = f32(step) / f32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return f32(self.initial_learning_rate) * f32(self.decay_rate) ** p


class InverseTimeDecay(LearningRateSchedule):
    """``lr0 / (1 + decay_rate * step / decay_steps)`` (``staircase``: the quotient floored)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        _positive("InverseTimeDecay", decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    def __call__(self, step):
        p = f32(step) / f32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return f32(self.initial_learning_rate) / (f32(1) + f32(self.decay_rate) * p)


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` for ``boundaries[i-1] < step <=
    boundaries[i]``, ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError("PiecewiseConstantDecay: the length of boundaries should be 1 less than the "
                             f"length of values, got boundaries={boundaries!r} and values={values!r}")
        self.boundaries, self.values, self.name = list(boundaries), list(values), name

    def __call__(self, step):
        i = int(np.searchsorted(self.boundaries, step, side="left"))    # the first boundary >= step
        return f32(self.values[i])


class CosineDecay(LearningRateSchedule):
    """Half a cosine from ``lr0`` down to ``alpha * lr0`` over ``decay_steps``, then flat; optionally
    after a linear warmup from ``lr0`` to ``warmup_target`` over ``warmup_steps``."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        _positive("CosineDecay", decay_steps)
        self.initial_learning_rate, self.decay_steps, self.alpha = initial_learning_rate, decay_steps, alpha
        self.name, self.warmup_target, self.warmup_steps = name, warmup_target, warmup_steps

    def _decay(self, step, decay_from):
        completed = step / f32(self.decay_steps)
        cosine = f32(0.5) * (f32(1) + np.cos(f32(math.pi) * completed))
        return decay_from * ((f32(1) - f32(self.alpha)) * cosine + f32(self.alpha))

    def __call__(self, step):
        lr0, step = f32(self.initial_learning_rate), f32(step)
        if self.warmup_target is None:
            return self._decay(min(step, f32(self.decay_steps)), lr0)
        target, warmup = f32(self.warmup_target), f32(self.warmup_steps)
        step = min(step, f32(self.decay_steps) + warmup)
        if step < warmup:
            return (target - lr0) * (step / warmup) + lr0
        return self._decay(step - warmup, target)


__all__ = ["LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay", "CosineDecay"]
