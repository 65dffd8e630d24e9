"""Reliability, second round (issue 27): the habits Keras users bring (an optimizer object reused,
``layer.trainable = False``, the same layer twice, threads, Ctrl-C in the CLI, ...) end in Keras's
behaviour or in a clear error, never in a crash, a lost model or a silently wrong answer."""
import numpy as np
import pytest

import nnscratch
from nnscratch import backend, optimizers
from nnscratch import layers as L

BACKENDS = ["numpy", "numba"]


def dense_model(units=(16, 3), inputs=8, optimizer="adam", seed=1):
    m = nnscratch.Sequential([L.Dense(units[0], input_shape=(inputs,), activation="relu", seed=seed)]
                             + [L.Dense(u, seed=seed + i + 1) for i, u in enumerate(units[1:-1])]
                             + [L.Dense(units[-1], activation="softmax", seed=seed + 9)], seed=seed)
    m.compile(loss="categorical_crossentropy", optimizer=optimizer)
    return m


def xy(n=48, inputs=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, inputs)), np.eye(classes)[rng.integers(0, classes, n)]


# ------------------------------------------------------------- 1. one optimizer, two models
@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("second", [(16, 3), (4, 3), (64, 32, 3)], ids=["equal", "smaller", "larger"])
def test_an_optimizer_built_for_one_model_refuses_another(name, second):
    """Keras: 'This optimizer can only be called for the variables it was originally built with'.
    Before: the Numba update wrote past its arrays (larger shapes: a crash), trained on slices of the
    first model's Adam state (smaller), or carried its moments and step count (equal shapes)."""
    x, y = xy()
    with backend.use(name):
        opt = optimizers.Adam()
        first = dense_model(optimizer=opt)
        first.fit(x, y, epochs=1, batch_size=16, verbose=0)
        state = [a.copy() for slot in opt.state.values() for a in slot]
        other = dense_model(units=second, optimizer=opt, seed=7)
        before = other.get_weights()
        with pytest.raises(ValueError, match="only update the variables it was originally built with"):
            other.fit(x, y, epochs=1, batch_size=16, verbose=0)
        assert all(np.array_equal(a, b) for a, b in zip(before, other.get_weights()))     # untouched
        assert all(np.array_equal(a, b) for a, b in zip(state, [a for s in opt.state.values() for a in s]))
        assert opt.iterations == 3
        first.fit(x, y, epochs=1, batch_size=16, verbose=0)                               # still its own
        assert opt.iterations == 6


@pytest.mark.parametrize("name", BACKENDS)
def test_apply_refuses_gradients_that_do_not_match(name):
    """The kernels never run on arrays of other shapes: the numba backend's check names the gradient."""
    params = [np.ones((3, 2), np.float32), np.zeros(2, np.float32)]
    with backend.use(name):
        opt = optimizers.Adam()
        opt.apply(params, [np.ones((3, 2), np.float32), np.ones(2, np.float32)])
        with pytest.raises(ValueError, match="2 parameters but 1 gradients"):
            opt.apply(params, [np.ones((3, 2), np.float32)])
        if name == "numba":
            with pytest.raises(ValueError, match="the gradient of parameter 1"):
                opt.apply(params, [np.ones((3, 2), np.float32), np.ones(5, np.float32)])


# ------------------------------------------------------------- 8. hyperparameters set later
@pytest.mark.parametrize("make,attr,bad", [
    (optimizers.SGD, "learning_rate", -1), (optimizers.Adam, "learning_rate", 0),
    (optimizers.Adam, "learning_rate", float("nan")), (optimizers.Adam, "beta_1", 1.0),
    (optimizers.RMSprop, "rho", 1.5), (optimizers.SGD, "momentum", -0.1), (optimizers.Adam, "epsilon", "1e-7"),
])
def test_hyperparameters_set_after_construction_are_checked(make, attr, bad):
    """``opt.learning_rate = -1`` used to be accepted, and training then climbed the loss."""
    opt = make()
    before = getattr(opt, attr)
    with pytest.raises(ValueError, match=attr):
        setattr(opt, attr, bad)
    assert getattr(opt, attr) == before
    setattr(opt, attr, 0.5)                                   # a valid value is taken
    assert getattr(opt, attr) == 0.5


def test_momentum_cannot_add_a_state_slot_after_the_first_step():
    params, grads = [np.ones(3)], [np.ones(3)]
    opt = optimizers.SGD(0.1)
    opt.momentum = 0.9                                         # before the first step: fine
    opt.apply(params, grads)
    assert list(opt.state) == ["velocity"]
    with pytest.raises(ValueError, match="create a new optimizer"):
        opt.momentum = 0.0
    assert opt.momentum == 0.9
    opt.momentum = 0.5                                         # the same slots: fine


# ------------------------------------------------------------- the engine's boundary checks
def test_the_engine_refuses_images_of_another_size_than_the_layer_was_built_for():
    """The Conv2D and MaxPooling2D loops size their outputs from the built shape: before, a larger image
    passed straight into ``layer.forward`` was silently computed on its top-left corner."""
    from nnscratch.conv import Conv2D, MaxPooling2D
    with backend.use("numba"):
        for layer in (Conv2D(2, 3, seed=0), MaxPooling2D()):
            layer.build((8, 8, 1), "float32")
            layer.forward(np.zeros((2, 8, 8, 1), np.float32))
            with pytest.raises(ValueError, match="built for samples of shape"):
                layer.forward(np.zeros((2, 10, 10, 1), np.float32))
            with pytest.raises(ValueError, match="float32 or float64"):
                layer.forward(np.zeros((2, 8, 8, 1), np.int64))


def test_the_fused_losses_refuse_what_is_not_a_batch_of_rows():
    from nnscratch.engine import fast
    with pytest.raises(ValueError, match=r"\(samples, classes\)"):
        fast.softmax_crossentropy(None, np.zeros((2, 3, 4)), np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="float32 or float64"):
        fast.crossentropy(None, np.eye(3), np.eye(3, dtype=np.int64), 1e-7)
