"""No silent wrong answers, no torn state: bad arguments raise a ValueError that names the problem,
an interrupted or diverged fit leaves a consistent model and keeps its history."""
import signal

import numpy as np
import pytest

import nnscratch
from nnscratch import backend, optimizers
from nnscratch import layers as L


def model(opt="adam", dtype="float32"):
    m = nnscratch.Sequential([L.Dense(16, input_shape=(8,), seed=1), L.Activation("sigmoid"),
                              L.Dropout(0.2, seed=2), L.Dense(3, seed=3), L.Activation("softmax")],
                             dtype=dtype, seed=4)
    m.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
    return m


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.random((40, 8)), np.eye(3)[rng.integers(0, 3, 40)]


# ------------------------------------------------------------------ arguments that used to slip through
@pytest.mark.parametrize("bad", [-1, 0, 2.7, "16", True, None.__class__])
def test_evaluate_and_predict_refuse_bad_batch_sizes(data, bad):
    x, y = data
    m = model()
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        m.evaluate(x, y, batch_size=bad, verbose=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        m.predict(x, batch_size=bad, verbose=0)


@pytest.mark.parametrize("kw", [{"epochs": -1}, {"epochs": 0}, {"epochs": 1.5}, {"batch_size": 2.7},
                                {"batch_size": "16"}, {"batch_size": True}, {"batch_size": -3},
                                {"validation_split": 1.0}, {"validation_split": float("nan")},
                                {"verbose": 3}])
def test_fit_refuses_bad_arguments_before_training(data, kw):
    x, y = data
    m = model()
    before = m.get_weights()
    with pytest.raises(ValueError, match=next(iter(kw))):
        m.fit(x, y, **kw)
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))


@pytest.mark.parametrize("make,match", [
    (lambda: optimizers.Adam(beta_1=1.0), "beta_1 must be in"),
    (lambda: optimizers.Adam(beta_2=1.5), "beta_2 must be in"),
    (lambda: optimizers.Adam(epsilon=-1), "epsilon must be in"),
    (lambda: optimizers.Adam(epsilon=0), "epsilon must be in"),
    (lambda: optimizers.SGD(learning_rate=float("inf")), "learning_rate must be a finite number"),
    (lambda: optimizers.SGD(learning_rate=float("nan")), "learning_rate must be a finite number"),
    (lambda: optimizers.SGD(learning_rate=-0.1), "learning_rate must be in"),
    (lambda: optimizers.SGD(momentum=1.5), "momentum must be in"),
    (lambda: optimizers.Adam(learning_rate="0.1"), "learning_rate must be a finite number"),
])
def test_optimizer_hyperparameters_are_checked(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ------------------------------------------------------------------------------- torn or lost state
@pytest.mark.parametrize("name", ["numpy", "numba"])
def test_ctrl_c_during_an_update_is_delivered_after_it(monkeypatch, data, name):
    """SIGINT arrives in the middle of the optimizer's update (numpy backend: after the loop has updated
    the first parameter; numba: as the update starts): the update still completes for every parameter
    and slot (all-or-nothing), then KeyboardInterrupt is raised."""
    x, y = data

    class InterruptAfterFirst(list):
        """The optimizer's list of first moments: Ctrl-C once the update's loop has taken the first one
        (the first time it is walked: the checks below walk it again)."""
        fired = False

        def __iter__(self):
            for i, item in enumerate(list.__iter__(self)):
                if i == 1 and not self.fired:
                    self.fired = True
                    signal.raise_signal(signal.SIGINT)
                yield item

    with backend.use(name):
        m = model()
        m.fit(x, y, batch_size=8, epochs=1, verbose=0)
        reference = model()
        reference.fit(x, y, batch_size=8, epochs=1, verbose=0)
        original = optimizers.Adam._alpha

        def interrupted(self, dtype):
            signal.raise_signal(signal.SIGINT)        # Ctrl-C as the fused update starts
            return original(self, dtype)
        if name == "numba":
            monkeypatch.setattr(optimizers.Adam, "_alpha", interrupted)
        else:
            m.optimizer.state["m"] = InterruptAfterFirst(m.optimizer.state["m"])
        xb, yb = x[:8].astype(np.float32), y[:8].astype(np.float32)
        with pytest.raises(KeyboardInterrupt):
            m.train_on_batch(xb, yb)
        monkeypatch.setattr(optimizers.Adam, "_alpha", original)
        reference.train_on_batch(xb, yb)
    assert m.optimizer.iterations == reference.optimizer.iterations
    for a, b in zip(m.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    for slot in ("m", "v"):
        for a, b in zip(m.optimizer.state[slot], reference.optimizer.state[slot]):
            np.testing.assert_array_equal(a, b)


def test_history_survives_an_interrupted_fit(monkeypatch, data):
    x, y = data
    m = model()
    calls = {"n": 0}
    original = nnscratch.Sequential.train_step

    def step(self, xb, yb, *weights):
        calls["n"] += 1
        if calls["n"] == 12:                      # in the third epoch (5 steps an epoch)
            raise KeyboardInterrupt
        return original(self, xb, yb, *weights)
    monkeypatch.setattr(nnscratch.Sequential, "train_step", step)
    with pytest.raises(KeyboardInterrupt):
        m.fit(x, y, batch_size=8, epochs=5, verbose=0)
    assert m.history.epoch == [0, 1] and len(m.history.history["loss"]) == 2


def test_nan_loss_stops_before_the_update_and_keeps_history(data):
    x, y = data
    m = model()
    m.fit(x, y, batch_size=8, epochs=1, verbose=0)
    # Finite weights whose logits overflow: each column sum of 16 sigmoid outputs times 3e38 is past
    # float32's largest number, +inf in one column and -inf in the next, and softmax([inf, -inf, .])
    # is NaN.  (A single product that overflows is not enough: with FMA, BLAS adds the exact product
    # to an infinite sum and gets inf, not inf - inf = NaN, on AVX-512 hosts.)
    m.layers[3].kernel[:, 0], m.layers[3].kernel[:, 1] = 3e38, -3e38
    before = m.get_weights()
    with pytest.raises(FloatingPointError, match="left at their values before this step"):
        m.fit(x, y, batch_size=40, epochs=1, verbose=0, shuffle=False)
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))
    assert m.history is not None and m.history.epoch == []


def test_nan_message_says_when_the_weights_were_already_broken(data):
    """An earlier update that diverged leaves NaN in the weights (set here by hand, as a runaway
    step would); the next loss is NaN and the message must not claim the weights are fine."""
    x, y = data
    m = model()
    m.fit(x, y, batch_size=8, epochs=1, verbose=0)
    m.layers[0].kernel[0, :] = np.nan
    with pytest.raises(FloatingPointError, match=r"already held NaN or infinite values before this step \(weight arrays \[0\]\)"):
        m.fit(x, y, batch_size=8, epochs=1, verbose=0)
