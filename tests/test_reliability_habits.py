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
    report = gradcheck.check_model(model, x, y, backend=name)
    assert report.passed and report.backend == name, report
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


@pytest.mark.parametrize("bad", ["no", "yes", 1, None])
def test_shuffle_takes_keras_values_only(bad):
    """``shuffle='no'`` used to mean a full shuffle (a non-empty string is true)."""
    x, y = xy()
    m = dense_model()
    with pytest.raises(ValueError, match="shuffle must be True, False or 'batch'"):
        m.fit(x, y, shuffle=bad, verbose=0)


def test_shuffle_batch_shuffles_within_each_batch_as_keras_3():
    """Keras 3 (``array_data_adapter``: ``tf.random.shuffle`` of each batch's indices): each batch holds
    the same rows as without shuffling, in another order.  Before: a full shuffle."""
    from nnscratch.training import within_batches
    rng = np.random.default_rng(0)
    order = within_batches(70, 16, rng)
    assert sorted(order) == list(range(70))
    for start in range(0, 70, 16):
        part = order[start:start + 16]
        assert sorted(part) == list(range(start, min(start + 16, 70)))
    assert not np.array_equal(order, np.arange(70))
    x, y = xy(64)
    seen = []
    m = dense_model()
    original = m.train_step
    m.train_step = lambda xb, yb, *weights: (seen.append(xb.copy()), original(xb, yb, *weights))[1]
    m.fit(x, y, batch_size=16, epochs=1, shuffle="batch", verbose=0)
    for b, xb in enumerate(seen):
        rows = x[16 * b:16 * (b + 1)].astype(np.float32)
        assert sorted(map(tuple, xb)) == sorted(map(tuple, rows))
    assert not all(np.array_equal(xb, x[16 * b:16 * (b + 1)].astype(np.float32)) for b, xb in enumerate(seen))


@pytest.mark.parametrize("bad", [lambda x, y: (x,), lambda x, y: x, lambda x, y: [x]])
def test_validation_data_must_be_a_pair(bad):
    """``validation_data=(x,)`` used to end in 'features_and_targets() missing 1 required positional
    argument'."""
    x, y = xy()
    with pytest.raises(ValueError, match=r"validation_data must be a tuple \(x_val, y_val\)"):
        dense_model().fit(x, y, validation_data=bad(x, y), verbose=0)


def test_ragged_inputs_get_a_clear_error():
    """``fit([[1, 2], [3]], ...)`` used to end in NumPy's 'inhomogeneous shape' error."""
    m = nnscratch.Sequential([L.Dense(2, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="fit: x is ragged: its samples have different lengths"):
        m.fit([[1, 2], [3]], [0, 1], verbose=0)
    with pytest.raises(ValueError, match="y is ragged"):
        m.fit([[1, 2], [3, 4]], [[0], [1, 0]], verbose=0)


def test_channels_first_images_get_a_hint():
    """nnscratch, like Keras's default, is channels-last; a (N, C, H, W) batch used to get a shape error
    with no word about the layout."""
    from nnscratch.conv import Conv2D
    x = np.zeros((2, 1, 28, 28))
    built = nnscratch.Sequential([Conv2D(4, 3, input_shape=(28, 28, 1))])
    with pytest.raises(ValueError, match=r"channels-first.*x\.transpose\(0, 2, 3, 1\)"):
        built.predict(x, verbose=0)
    unbuilt = nnscratch.Sequential([Conv2D(4, 3)])
    with pytest.raises(ValueError, match=r"larger than the 1x28 input.*channels-last.*x\.transpose\(0, 2, 3, 1\)"):
        unbuilt.predict(x, verbose=0)


def test_to_categorical_refuses_strings():
    """``to_categorical(['a', 'b'], 2)`` used to end in a ufunc TypeError."""
    from nnscratch.utils import to_categorical
    with pytest.raises(ValueError, match="integer class indices, got an array of <U1.*np.unique"):
        to_categorical(["a", "b"], 2)
    np.testing.assert_array_equal(to_categorical([1.0, 0.0], 2), [[0, 1], [1, 0]])


def test_knn_refuses_continuous_labels_as_scikit_learn_does():
    """Float labels such as 0.5 used to be accepted as classes; scikit-learn refuses them (whole-number
    floats it keeps as classes, as here)."""
    from sklearn.neighbors import KNeighborsClassifier as SkKNN
    from nnscratch.neighbors import KNeighborsClassifier
    X = np.eye(4)
    for y in ([0.5, 1, 0, 1], np.array([0, 1, 2.25, 1], np.float32)):
        with pytest.raises(ValueError) as ours:
            KNeighborsClassifier(1).fit(X, y)
        with pytest.raises(ValueError) as theirs:
            SkKNN(1).fit(X, y)
        assert str(ours.value) == str(theirs.value)
    whole = [0.0, 1.0, 2.0, 1.0]
    np.testing.assert_array_equal(KNeighborsClassifier(1).fit(X, whole).classes_, SkKNN(1).fit(X, whole).classes_)


# ------------------------------------------------------------- 4. threads sharing one model
@pytest.mark.parametrize("call", ["predict", "model(x)", "evaluate"])
def test_predict_from_several_threads_on_one_model(call):
    """A web demo or a notebook with threads calls one model at once: every call must get its own
    answer.  Before (numba backend): up to 0.11 off, ~100 rows per thread of another class."""
    import threading
    rng = np.random.default_rng(0)
    m = nnscratch.Sequential([L.Dense(256, input_shape=(100,), activation="relu", seed=1),
                              L.Dense(64, activation="sigmoid", seed=2), L.Dense(10, activation="softmax", seed=3)])
    m.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    inputs = [rng.random((1500, 100)).astype(np.float32) for _ in range(4)]
    targets = [np.eye(10)[rng.integers(0, 10, 1500)] for _ in range(4)]
    run = {"predict": lambda i: m.predict(inputs[i], batch_size=32, verbose=0),
           "model(x)": lambda i: m(inputs[i]),
           "evaluate": lambda i: np.array(m.evaluate(inputs[i], targets[i], batch_size=32, verbose=0))}[call]
    with backend.use("numba"):
        expected = [np.array(run(i)) for i in range(4)]
        results, errors = {}, []
        start = threading.Barrier(4)

        def worker(i):
            try:
                start.wait()
                results[i] = [np.array(run(i)) for _ in range(3)]
            except Exception as e:                      # noqa: BLE001 (reported below)
                errors.append(e)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors
    for i in range(4):
        for got in results[i]:
            np.testing.assert_allclose(got, expected[i], rtol=0, atol=2e-6)


# ------------------------------------------------------------- 3. Ctrl-C in `nnscratch train`
@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGINT") or __import__("os").name != "posix",
                    reason="needs POSIX signals")
def test_ctrl_c_in_train_saves_what_was_trained_and_exits_130(tmp_path, mnist_data):
    """Before: a raw KeyboardInterrupt traceback, nothing saved, no accuracy printed.  Now: the run stops
    between two steps, saves the model and says so, prints the test accuracy, exits with status 130."""
    import os
    import signal
    import subprocess
    import sys
    import time
    target = tmp_path / "m.npz"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (os.getcwd(), os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.Popen([sys.executable, "-m", "nnscratch", "train", "--model", "1layer", "--epochs", "200",
                             "--batch-size", "32", "--verbose", "2", "--save", str(target)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = []
        for line in proc.stdout:                         # wait until the second epoch runs
            lines.append(line)
            if line.startswith("Epoch 2/200"):
                break
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    out = "".join(lines) + out
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err, err
    assert "Interrupted (Ctrl-C) after" in out and f"Saved to {target} (the partly trained model)" in out
    accuracy = float(out.split("Test accuracy: ")[1].split()[0])
    model = nnscratch.load_model(target)
    steps = int(out.split("Interrupted (Ctrl-C) after ")[1].split()[0])
    assert model.optimizer.iterations == steps > 1875           # one epoch of 60,000 / 32 and more
    assert "(1 of 200 epochs finished)" in out
    _, _, Xt, Yt, _, _ = mnist_data
    assert model.evaluate(Xt, Yt, verbose=0)[1] == pytest.approx(accuracy, abs=1e-4)


# ------------------------------------------------------------- polish: the progress bar in a log
def test_progress_bar_without_a_terminal_writes_one_line_per_epoch(capsys):
    """Output to a log file or CI used to collect every redraw of the bar, joined by carriage returns.
    (ipykernel imported, as another test or a library may import it, does not make a log a notebook.)"""
    import importlib.util
    import re
    if importlib.util.find_spec("ipykernel"):
        import ipykernel.iostream  # noqa: F401
    x, y = xy(320)
    m = dense_model()
    m.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    m.fit(x, y, epochs=3, batch_size=4, validation_split=0.25, verbose=1)
    m.evaluate(x, y, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out
    bar = r"\d+/\d+ ━{20} \d+s \d+[mu]s/step"
    assert re.fullmatch("".join(rf"Epoch {e}/3\n60/60 ━{{20}} \d+s \d+[mu]s/step - accuracy: \d\.\d{{4}} - "
                                rf"loss: \d\.\d{{4}} - val_accuracy: \d\.\d{{4}} - val_loss: \d\.\d{{4}}\n"
                                for e in (1, 2, 3))
                        + rf"{bar} - accuracy: \d\.\d{{4}} - loss: \d\.\d{{4}}\n", out), out


def test_progress_bar_on_a_terminal_still_moves():
    import io
    from nnscratch.progress import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    screen = Terminal()
    bar = ProgressBar(50, verbose=1, file=screen)
    for _ in range(50):
        bar.update(1)
    bar.close({"loss": 0.5})
    assert "\r" in screen.getvalue() and "50/50" in screen.getvalue() and "loss: 0.5000" in screen.getvalue()


# ------------------------------------------------------------- polish: the Part II figures
def test_part2_figures_have_distinct_titles_and_labels_that_do_not_overlap():
    """Before: the accuracy chart's x-labels ran into each other ('noise grey 0.2, noise 0.1' over its
    neighbour) and one panel of the variant grid was titled 'inverted inverted'."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from nnscratch.workshop import part2
    tests = part2.variants(np.random.default_rng(0).random((2, 28, 28)))
    titles = part2.variant_titles(tests)
    assert len(set(titles)) == len(titles) and not any(t.split()[0] == t.split()[-1] != "original" for t in titles)
    assert titles[-1] == "inverted (1 - x)"
    rows = [{"kind": k, "strength": s, "dense": 0.5, "cnn": 0.6, "dense, augmented": 0.7, "cnn, augmented": 0.8}
            for k, s, _ in tests]
    fig = part2.accuracy_figure(rows)
    renderer = FigureCanvasAgg(fig).get_renderer()
    ax = fig.axes[0]
    boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels()]
    assert len(boxes) == len(rows)
    for left, right in zip(boxes, boxes[1:]):
        assert left.x1 < right.x0, (left, right)                 # each label ends before the next begins
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.y0 >= ax.get_window_extent(renderer).y1 - 1    # above the bars, not over them


def test_overlapping_inference_calls_give_openblas_its_threads_back():
    """Two threads' row-split calls overlapping in time: each used to save and restore OpenBLAS's
    thread count on its own, so the later one restored the other's 'one thread' and left OpenBLAS on
    one thread for the rest of the process (every later fit slower, silently)."""
    import threading
    import time
    from nnscratch.engine import threads as policy
    before = policy.blas_threads()
    if before == 1:
        pytest.skip("OpenBLAS runs on one thread here: nothing to give back")

    def call(delay):
        time.sleep(delay)
        policy.split([lambda: time.sleep(0.2), lambda: time.sleep(0.2)])
    workers = [threading.Thread(target=call, args=(d,)) for d in (0.0, 0.1)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert policy.blas_threads() == before
