"""Optimizer steps against values computed by hand with Python floats (Keras's rules, see optimizers.py)."""
import math

import numpy as np
import pytest

from nnscratch.optimizers import SGD, Adam, get

F32 = lambda v: float(np.float32(v))     # Keras rounds hyperparameters through float32


def run(opt, w0, grads, dtype="float64"):
    w = np.array([w0], dtype=dtype)
    g = np.zeros(1, dtype=dtype)
    trajectory = []
    for gi in grads:
        g[0] = gi
        opt.apply([w], [g])
        trajectory.append(float(w[0]))
    return trajectory


GRADS = [0.5, -1.25, 2.0, 0.1, -0.3]


def test_plain_sgd():
    lr = F32(0.1)
    expected, w = [], 1.0
    for g in GRADS:
        w -= lr * g
        expected.append(w)
    assert run(SGD(0.1), 1.0, GRADS) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_and_nesterov(nesterov):
    lr, mu = F32(0.05), F32(0.9)
    expected, w, v = [], 2.0, 0.0
    for g in GRADS:
        v = mu * v - lr * g
        w = w + (mu * v - lr * g if nesterov else v)
        expected.append(w)
    got = run(SGD(0.05, momentum=0.9, nesterov=nesterov), 2.0, GRADS)
    assert got == pytest.approx(expected, abs=1e-14)
    if nesterov:   # nesterov really differs from plain momentum
        assert got != pytest.approx(run(SGD(0.05, momentum=0.9), 2.0, GRADS), abs=1e-6)


def test_adam_several_steps_match_keras_formula():
    lr, b1, b2, eps = F32(0.001), F32(0.9), F32(0.999), 1e-7
    expected, w, m, v = [], 0.3, 0.0, 0.0
    for t, g in enumerate(GRADS, start=1):
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        m += (g - m) * (1 - 0.9)
        v += (g * g - v) * (1 - 0.999)
        w -= m * alpha / (math.sqrt(v) + eps)
        expected.append(w)
    opt = Adam()
    assert run(opt, 0.3, GRADS) == pytest.approx(expected, abs=1e-14)
    assert opt.iterations == len(GRADS)


def test_adam_first_step_moves_by_about_lr():
    """With bias correction the first Adam step is ~lr * sign(g), whatever the gradient's size."""
    for g in (0.1, 1.0, 1e3):
        assert run(Adam(0.01), 0.0, [g])[0] == pytest.approx(-0.01, rel=1e-4)


def test_adam_float32_state_and_shared_step_counter():
    opt = Adam()
    params = [np.ones((3, 2), np.float32), np.zeros(2, np.float32)]
    grads = [np.full((3, 2), 0.5, np.float32), np.full(2, -0.5, np.float32)]
    for _ in range(3):
        opt.apply(params, grads)
    assert opt.iterations == 3                       # once per step, not once per tensor
    assert all(a.dtype == np.float32 for slot in opt.state.values() for a in slot)
    assert params[0].dtype == np.float32 and np.all(params[0] < 1) and np.all(params[1] > 0)


def test_get_by_name_and_errors():
    assert isinstance(get("adam"), Adam) and isinstance(get("SGD"), SGD)
    assert get("sgd").learning_rate == 0.01 and get("adam").learning_rate == 0.001
    with pytest.raises(ValueError, match="Unknown optimizer"):
        get("adagrad")
    with pytest.raises(ValueError, match="learning_rate"):
        Adam(learning_rate=-1)


def test_learning_rate_converts_to_a_numpy_array_without_numpy_2_s_deprecation_warning():
    """``float(np.array(model.optimizer.learning_rate))`` (the guides' callbacks read it so) under NumPy 2:
    no DeprecationWarning about ``__array__``'s ``copy`` argument, for a number and for a schedule."""
    import warnings

    from nnscratch import schedules
    for opt in (Adam(learning_rate=0.01), SGD(learning_rate=schedules.ExponentialDecay(0.1, 10, 0.5))):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert float(np.array(opt.learning_rate)) == pytest.approx(float(opt.learning_rate))
            assert np.array(opt.learning_rate, dtype=np.float64, copy=True).dtype == np.float64
