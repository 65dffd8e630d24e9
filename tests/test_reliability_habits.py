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


# ------------------------------------------------------------- 5. layer.trainable = False
def _frozen_pair(dtype="float64"):
    """An nnscratch model whose first Dense is frozen, and its Keras twin (the same weights, frozen too)."""
    import keras_reference as kr
    nn = nnscratch.Sequential([L.Dense(6, input_shape=(8,), activation="relu", seed=1), L.Dense(5, seed=2),
                               L.Activation("tanh"), L.Dense(3, activation="softmax", seed=3)], dtype=dtype)
    nn.layers[0].trainable = False
    nn.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return nn, kr.keras_twin(nn, loss="keras")


def test_a_frozen_layer_trains_as_in_keras():
    """Keras: a frozen layer's weights do not move, stay in ``model.weights``/``get_weights`` in their
    place, leave ``trainable_weights``, and the optimizer keeps state for the trainable ones only.
    Before: the frozen layer trained."""
    nn, km = _frozen_pair()
    x, y = xy(64)
    frozen = [w.copy() for w in nn.layers[0].weights]
    assert [w.shape for w in nn.trainable_weights] == [tuple(w.shape) for w in km.trainable_weights]
    assert [w.shape for w in nn.non_trainable_weights] == [tuple(w.shape) for w in km.non_trainable_weights]
    nn.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    import keras_reference as kr
    with kr.keras_floatx("float64"):                          # else Keras rounds the data to float32
        km.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(frozen, nn.layers[0].weights))
    ours, theirs = nn.get_weights(), km.get_weights()
    assert len(ours) == len(theirs) == 6
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    assert not np.allclose(ours[2], _frozen_pair()[0].get_weights()[2])          # the others did train
    assert [s.shape for s in nn.optimizer.state["m"]] == [w.shape for w in nn.trainable_weights]
    keras_slots = [v for v in km.optimizer.variables if "momentum" in v.path or "velocity" in v.path]
    assert len(keras_slots) == sum(len(s) for s in nn.optimizer.state.values()) == 8


def test_summary_counts_a_frozen_layer_as_non_trainable_as_keras_does():
    import re
    nn, km = _frozen_pair("float32")
    ours, theirs = [], []
    nn.summary(print_fn=ours.append)
    km.summary(print_fn=lambda s, **kw: theirs.append(s))

    def counts(text):
        return [re.search(rf"{kind} params: ([\d,]+) \(([\d.]+ \w+)\)", text).groups()
                for kind in ("Total", "Trainable", "Non-trainable")]
    assert counts("\n".join(ours)) == counts("\n".join(theirs))
    assert counts("\n".join(ours))[2][0] == "54"


@pytest.mark.parametrize("name", BACKENDS)
def test_freezing_after_the_optimizer_is_built_and_saving_the_frozen_model(tmp_path, name):
    """Freezing later uses the optimizer's state of the remaining variables (as Keras); the file keeps
    the flag, every weight and the optimizer's state of exactly its variables; the loaded model trains
    on identically."""
    x, y = xy(64)
    with backend.use(name):
        m = dense_model(units=(16, 8, 3))
        m.fit(x, y, epochs=1, batch_size=16, verbose=0)
        m.layers[1].trainable = False
        kept = [w.copy() for w in m.layers[1].weights]
        m.fit(x, y, epochs=1, batch_size=16, verbose=0)
        assert all(np.array_equal(a, b) for a, b in zip(kept, m.layers[1].weights))
        m.save(tmp_path / "m.npz")
        back = nnscratch.load_model(tmp_path / "m.npz")
        assert [layer.trainable for layer in back.layers] == [True, False, True]
        assert back.optimizer.iterations == m.optimizer.iterations == 8
        for model in (m, back):
            model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
        for a, b in zip(m.get_weights(), back.get_weights()):
            np.testing.assert_array_equal(a, b)
        m.layers[1].trainable = True                  # unfreezing is fine: the optimizer was built for it
        m.fit(x, y, epochs=1, batch_size=16, verbose=0)
        assert not all(np.array_equal(a, b) for a, b in zip(kept, m.layers[1].weights))


@pytest.mark.parametrize("name", BACKENDS)
def test_frozen_before_the_first_step_saves_and_loads(tmp_path, name):
    x, y = xy(64)
    with backend.use(name):
        m = dense_model(units=(16, 8, 3))
        m.layers[0].trainable = False
        m.fit(x, y, epochs=1, batch_size=16, verbose=0)
        assert len(m.optimizer.variables) == 4
        m.save(tmp_path / "m.npz")
        back = nnscratch.load_model(tmp_path / "m.npz")
        assert [w.shape for w in back.optimizer.variables] == [(16, 8), (8,), (8, 3), (3,)]
        for model in (m, back):
            model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
        for a, b in zip(m.get_weights(), back.get_weights()):
            np.testing.assert_array_equal(a, b)
        m.layers[0].trainable = True                  # Keras too refuses a variable it was not built with
        with pytest.raises(ValueError, match="originally built with"):
            m.fit(x, y, epochs=1, verbose=0)


def test_model_trainable_false_freezes_every_layer():
    x, y = xy()
    m = dense_model()
    before = m.get_weights()
    m.trainable = False
    assert not any(layer.trainable for layer in m.layers) and m.trainable_weights == []
    m.fit(x, y, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))
    with pytest.raises(ValueError, match="trainable must be True or False"):
        m.layers[0].trainable = "no"


# ------------------------------------------------------------- 6. the same layer twice
def test_the_same_layer_twice_is_refused_at_add():
    """Before: accepted, and trained with wrong gradients (one cache for two uses; gradient check
    relative error ~0.6)."""
    shared = L.Dense(8, seed=1)
    with pytest.raises(ValueError, match="already in .* used only once .*functional API"):
        nnscratch.Sequential([L.Dense(8, input_shape=(8,)), shared, shared])
    inner = nnscratch.Sequential([shared])
    with pytest.raises(ValueError, match="already in"):
        nnscratch.Sequential([L.Dense(8, input_shape=(8,)), inner, shared])
    with pytest.raises(ValueError, match="already in"):
        nnscratch.Sequential([L.Dense(8, input_shape=(8,)), inner, inner])
    one, two = nnscratch.Sequential([shared]), nnscratch.Sequential([shared])   # two models may share it
    assert one.layers[0] is two.layers[0]


# ------------------------------------------------------------- 7. gradient check of nested models
@pytest.mark.parametrize("name", BACKENDS)
def test_gradcheck_of_a_nested_sequential_with_dropout(name):
    """Before: FAIL (relative error 0.7-0.96) for a correct model: the nested model's weights were paired
    with other gradients, and its Dropout drew a new mask for every evaluation."""
    from nnscratch import gradcheck
    inner = nnscratch.Sequential([L.Dense(5, activation="tanh", seed=2), L.Dropout(0.3, seed=3),
                                  L.Dense(4, seed=4)], dtype="float64")
    model = nnscratch.Sequential([L.Dense(6, input_shape=(7,), activation="sigmoid", seed=1), inner,
                                  L.Activation("softmax")], dtype="float64")
    x, y = xy(5, inputs=7, classes=4)
    with backend.use(name):
        report = gradcheck.check_model(model, x, y)
    assert report.passed, report
    assert [r["name"] for r in report.rows] == [
        f"{model.layers[0].name}/kernel", f"{model.layers[0].name}/bias",
        f"{inner.name}/{inner.layers[0].name}/kernel", f"{inner.name}/{inner.layers[0].name}/bias",
        f"{inner.name}/{inner.layers[2].name}/kernel", f"{inner.name}/{inner.layers[2].name}/bias", "input"]


# ------------------------------------------------------------- 2. models built by fit, saved
def _built_by_fit(kind):
    from nnscratch.conv import Conv2D, MaxPooling2D
    rng = np.random.default_rng(0)
    if kind == "flatten":                      # the TensorFlow quickstart: Flatten() first, no input_shape
        layers = [L.Flatten(), L.Dense(12, activation="relu", seed=1), L.Dense(10, seed=2)]
        x = rng.random((40, 28, 28))
    else:                                      # a convnet without input_shape
        layers = [Conv2D(4, 3, activation="relu", seed=1), MaxPooling2D(), L.Flatten(),
                  L.Dense(10, seed=2)]
        x = rng.random((40, 12, 12, 1))
    m = nnscratch.Sequential(layers)
    m.compile(optimizer="adam", loss=nnscratch.losses.SparseCategoricalCrossentropy(from_logits=True))
    m.fit(x, rng.integers(0, 10, 40), epochs=1, batch_size=8, verbose=0)
    return m, x


@pytest.mark.parametrize("kind", ["flatten", "convnet"])
def test_a_model_built_by_fit_saves_and_loads(tmp_path, kind):
    """Before: saved without error and never loaded again ('weight_0 declares (784, 10) but the
    architecture needs (28, 10)'; a convnet's input shape saved as [1])."""
    m, x = _built_by_fit(kind)
    m.save(tmp_path / "m.npz")
    back = nnscratch.load_model(tmp_path / "m.npz")
    assert back.sample_shape == m.sample_shape == x.shape[1:]
    np.testing.assert_array_equal(back.predict(x, verbose=0), m.predict(x, verbose=0))
    assert back.optimizer.iterations == m.optimizer.iterations == 5


# ------------------------------------------------------------- 9, 10. smaller Keras habits
def test_build_takes_keras_batch_axis_form():
    """``model.build((None, 784))``, Keras's idiom, used to raise a TypeError about NoneType."""
    m = nnscratch.Sequential([L.Dense(4), L.Dense(2)])
    m.build((None, 784))
    assert m.sample_shape == (784,) and m.count_params() == 784 * 4 + 4 + 4 * 2 + 2
    with pytest.raises(ValueError, match="input_shape must be one sample's shape"):
        nnscratch.Sequential([L.Dense(4)]).build((None, None))


def test_from_logits_with_a_softmax_head_warns_also_when_fit_builds_the_model():
    """Keras warns whenever the loss meets a softmax; nnscratch warned only if the model was already
    built at ``compile``."""
    x, y = xy()
    m = nnscratch.Sequential([L.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss=nnscratch.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.warns(UserWarning, match="from_logits=True, but the model's output comes from a softmax"):
        m.fit(x, y.argmax(1), epochs=1, verbose=0)
