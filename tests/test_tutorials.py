"""The two MNIST programs students arrive with run on nnscratch, and the pieces they need.

* ``tutorials/quickstart_beginner.py``: TensorFlow 2's beginner quickstart, ``import nnscratch as tf``.
* ``tutorials/mnist_mlp.py``: Keras's classic ``examples/mnist_mlp.py``, imports pointed at nnscratch.keras.

Both run verbatim apart from the import line; here on MNIST subsets for 1 epoch
(``tutorials.runner``: the epoch count replaced, one line inserted that keeps the first images).
``benchmarks/accuracy.py`` runs them on the full data with their own epoch counts.
"""
import math
import re
import warnings

import numpy as np
import pytest

import nnscratch
from nnscratch import Sequential, backend, layers as L, losses, nn, optimizers
from nnscratch.tensor import Tensor
from tutorials.runner import run_tutorial, source


def _mnist_or_skip():
    from nnscratch.datasets import mnist
    try:
        mnist.load_data()
    except (ValueError, OSError) as e:
        pytest.skip(f"no MNIST copy: {e}")


# ------------------------------------------------------------------------------ the two tutorials
def test_quickstart_runs_verbatim(capsys):
    """TensorFlow's beginner quickstart, 4000 training images, 1 epoch."""
    _mnist_or_skip()
    nnscratch.set_random_seed(0)
    ns = run_tutorial("quickstart_beginner.py", epochs=1, subset=(4000, 1000))
    out = capsys.readouterr().out
    model, loss_fn = ns["model"], ns["loss_fn"]
    # the inputs: x / 255.0 is float64 (as in TensorFlow), the model float32
    assert ns["x_train"].dtype == np.float64 and model.dtype == np.float32
    # predictions = model(x_train[:1]).numpy(): plain NumPy logits of the untrained model
    p = ns["predictions"]
    assert type(p) is np.ndarray and p.dtype == np.float32 and p.shape == (1, 10)
    # loss_fn(y_train[:1], predictions).numpy() = -log softmax(predictions)[label]
    untrained = loss_fn(ns["y_train"][:1], p).numpy()
    assert isinstance(untrained, np.float32)
    z = p[0].astype(np.float64)
    expected = math.log(np.sum(np.exp(z - z.max()))) + z.max() - z[ns["y_train"][0]]
    assert untrained == pytest.approx(expected, rel=1e-6)
    assert 0.5 < untrained < 5          # near ln 10 = 2.3 for an untrained 10-class model
    # compile kept the loss object; fit/evaluate took the uint8 labels; evaluate(verbose=2) printed its line
    assert model.loss is loss_fn and model.compiled_loss.sparse
    assert re.search(r"32/32 - \d+s - \d+[mu]s/step - accuracy: 0\.\d{4} - loss: \d\.\d{4}", out)
    loss, acc = model.evaluate(ns["x_test"], ns["y_test"], verbose=0)
    assert acc > 0.8 and loss < 0.8
    # probability_model = Sequential([model, Softmax()]): probabilities of the same model
    probs = ns["probability_model"](ns["x_test"][:5])
    assert probs.shape == (5, 10) and isinstance(probs, Tensor)
    np.testing.assert_allclose(probs.numpy().sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(probs, nn.softmax(model(ns["x_test"][:5])).numpy(), rtol=1e-6, atol=1e-7)
    assert ns["probability_model"].layers[0] is model


def test_mnist_mlp_runs_verbatim(capsys):
    """Keras's mnist_mlp.py (784-512-512-10, relu, dropout 0.2, RMSprop), 6000 images, 1 epoch."""
    _mnist_or_skip()
    nnscratch.set_random_seed(0)
    ns = run_tutorial("mnist_mlp.py", epochs=1, subset=(6000, 1000))
    out = capsys.readouterr().out
    model = ns["model"]
    assert "6000 train samples" in out and "1000 test samples" in out
    assert "Total params: 669,706" in out
    assert isinstance(model.optimizer, optimizers.RMSprop) and model.optimizer.iterations == 47
    assert set(ns["history"].history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    loss, acc = ns["score"]
    assert f"Test accuracy: {acc}" in out
    assert acc > 0.75 and loss < 1.0           # chance: 0.1 and ln 10 = 2.3
    assert acc == ns["history"].history["val_accuracy"][-1]


def test_training_with_callbacks_runs_on_nnscratch_as_on_tensorflow(capsys, monkeypatch):
    """tutorials/training_with_callbacks.py (metrics and losses as objects, a Metric subclass, class and
    sample weights, callbacks of your own, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, CSVLogger,
    a schedule), 4,000 training images: run with ``import nnscratch as tf`` and with real TensorFlow,
    it prints the same log keys, checkpoints and learning rates, and the same test accuracy within
    one point."""
    _mnist_or_skip()
    import tensorflow
    monkeypatch.setattr(tensorflow.keras.datasets.mnist, "load_data", nnscratch.datasets.mnist.load_data)
    out = {}
    for framework in ("nnscratch", "tensorflow"):
        ns = run_tutorial("training_with_callbacks.py", subset=(4000, 2000), framework=framework)
        out[framework] = (capsys.readouterr().out.splitlines(), ns)
    lines = {f: [l for l in text if "log keys" in l or l.startswith(("history keys", "predictions shape", "Epoch 0",
                                                                    "Epoch 1:", "Epoch 2:", "learning rate after"))]
             for f, (text, _) in out.items()}
    assert lines["nnscratch"] == lines["tensorflow"] and len(lines["nnscratch"]) == 12
    acc = {f: float(ns["score"][1]) for f, (_, ns) in out.items()}
    assert abs(acc["nnscratch"] - acc["tensorflow"]) <= 0.01 and acc["nnscratch"] > 0.8
    assert isinstance(out["nnscratch"][1]["model"].optimizer.schedule, nnscratch.schedules.ExponentialDecay)


def test_the_functional_api_guide_runs_on_nnscratch_as_on_tensorflow(capsys, monkeypatch, tmp_path):
    """tutorials/functional_api.py, the MNIST example of Keras's guide "The Functional API" (a graph of
    layers, its summary, fit with a validation split, evaluate, save and load as .keras), 20,000 training
    images, the guide's 2 epochs: run with ``import nnscratch as tf`` and with real TensorFlow, the same
    summary and history keys, and test accuracy within one point; the model loaded back from
    my_model.keras scores what the trained one scored."""
    _mnist_or_skip()
    import keras
    import tensorflow
    monkeypatch.setattr(tensorflow.keras.datasets.mnist, "load_data", nnscratch.datasets.mnist.load_data)
    monkeypatch.chdir(tmp_path)
    out = {}
    for framework in ("nnscratch", "tensorflow"):
        nnscratch.set_random_seed(0)
        keras.utils.set_random_seed(0)
        nnscratch.keras.backend.clear_session()         # the automatic layer names count from "dense" again
        keras.backend.clear_session()
        ns = run_tutorial("functional_api.py", subset=(20000, 5000), framework=framework)
        out[framework] = (capsys.readouterr().out, ns)

    def summary(text):
        start = text.index('Model: "mnist_model"')
        return text[start:text.index("Non-trainable params", start)]
    assert summary(out["nnscratch"][0]) == summary(out["tensorflow"][0])
    assert "Total params: 55,050 (215.04 KB)" in out["nnscratch"][0]
    ours, theirs = out["nnscratch"][1], out["tensorflow"][1]
    assert list(ours["history"].history) == list(theirs["history"].history)
    acc = {f: float(ns["test_scores"][1]) for f, (_, ns) in out.items()}
    assert abs(acc["nnscratch"] - acc["tensorflow"]) <= 0.01 and acc["nnscratch"] > 0.85
    loaded = ours["model"]                      # keras.models.load_model("my_model.keras")
    assert type(loaded).__name__ == "Functional" and isinstance(loaded.compiled_loss, losses.SparseCategoricalCrossentropy)
    assert loaded.evaluate(ours["x_test"], ours["y_test"], verbose=0) == pytest.approx(ours["test_scores"], rel=1e-6)


def _unbarred(line):
    """``line`` without the progress bar Keras's predict prints in front of a callback's next line."""
    return re.sub(r"^.*/step(?=\.\.\.)", "", line)


def _guide_lines(text):
    """What a guide prints, the parts that do not depend on the random numbers: each line with its
    numbers blanked (and their padding), without progress bars, blank lines and the ``Epoch i/n`` headers
    (in Keras's output to a pipe some headers share a line with a progress bar and go with it)."""
    lines = [re.sub(r" +", " ", re.sub(r"\d+(\.\d+)?(e-?\d+)?", "#", _unbarred(l))) for l in text.splitlines()]
    return [l for l in lines if l.strip() and not any(bar in l for bar in ("━", "=====", "\x08", "\r"))
            and l != "Epoch #/#"]


def test_the_training_and_evaluation_guide_runs_on_nnscratch_as_on_tensorflow(capsys, monkeypatch, tmp_path):
    """tutorials/training_and_evaluation.py, the MNIST code of Keras's guide "Training & evaluation with
    the built-in methods" (a graph model compiled with objects and with strings, a loss function, a
    Loss and a Metric subclass written with keras.ops, validation_split, tf.data Datasets with
    steps_per_epoch and validation_steps, PyDataset, class and sample weights (also as a Dataset's
    third element), EarlyStopping, ModelCheckpoint with save_best_only and with save_freq, load_model
    of the newest checkpoint, a schedule, TensorBoard), 4,000 training images: run with ``import
    nnscratch as tf`` and with real TensorFlow (each in its own folder), it prints the same lines
    (numbers aside), warns the same warnings about datasets (shuffle=True ignored by the five fits on
    a Dataset; the data running out in each of the 3 epochs of steps_per_epoch=100 over 63 batches),
    gives the same history keys and metrics_names, writes the same checkpoint names, and its test
    accuracy is TensorFlow's within one point.  (2,000 of its 10,000 validation images.)"""
    _mnist_or_skip()
    import keras
    import tensorflow
    monkeypatch.setattr(tensorflow.keras.datasets.mnist, "load_data", nnscratch.datasets.mnist.load_data)
    out, warned = {}, {}
    for framework in ("nnscratch", "tensorflow"):
        (tmp_path / framework).mkdir()
        monkeypatch.chdir(tmp_path / framework)          # its checkpoints: mymodel_{epoch}.keras, ./ckpt/
        nnscratch.set_random_seed(0)
        keras.utils.set_random_seed(0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ns = run_tutorial("training_and_evaluation.py", subset=(4000, 5000, 2000), framework=framework)
        files = sorted(p.name for p in (tmp_path / framework).glob("mymodel_*.keras"))
        out[framework] = (_guide_lines(capsys.readouterr().out), ns, files, len(list((tmp_path / framework / "ckpt").iterdir())))
        warned[framework] = [sum(text in str(w.message) for w in caught)
                             for text in ("`shuffle=True` was passed", "Your input ran out of data")]
    assert warned["nnscratch"] == warned["tensorflow"] == [5, 3]
    ours, theirs = out["nnscratch"], out["tensorflow"]
    assert "Evaluate" in ours[0] and len(ours[1]["result"]) == len(theirs[1]["result"]) == 2
    early = [l for l in ours[0] if "early stopping" in l]   # the epoch EarlyStopping stops at depends on the weights
    assert [l for l in ours[0] if l not in early] == [l for l in theirs[0] if "early stopping" not in l]
    assert len(early) == 1 and "Creating a new model" in ours[0] and "test loss, test acc: [#, #]" in ours[0]
    assert list(ours[1]["history"].history) == list(theirs[1]["history"].history) == [
        "loss", "sparse_categorical_accuracy", "val_loss", "val_sparse_categorical_accuracy"]
    assert ours[2] == theirs[2] == ["mymodel_1.keras", "mymodel_2.keras"] and ours[3] == theirs[3] == 1
    acc = {f: float(o[1]["results"][1]) for f, o in out.items()}
    assert abs(acc["nnscratch"] - acc["tensorflow"]) <= 0.01 and acc["nnscratch"] > 0.8
    last = ours[1]["model"]              # the model of the last fit: a CategoricalTruePositives run before it
    assert type(last).__name__ == "Functional" and isinstance(ours[1]["lr_schedule"], nnscratch.schedules.ExponentialDecay)


def test_the_custom_callbacks_guide_runs_on_nnscratch_as_on_tensorflow(capsys, monkeypatch):
    """tutorials/custom_callbacks.py, Keras's guide "Writing your own callbacks" whole, on its 1,000 MNIST
    images: with ``import nnscratch as tf`` and with real TensorFlow, every hook of fit (with a
    validation split), evaluate and predict is called in the same order with the same log keys, the
    loss-printing callback prints at the same batches, the learning-rate schedule of your own prints
    the same 15 learning rates (float32's 0.10000000149011612 ..., a new float's 0.05 on the epoch it
    is set) and its last fit's loss is TensorFlow's within 10%."""
    _mnist_or_skip()
    import keras
    import tensorflow
    monkeypatch.setattr(tensorflow.keras.datasets.mnist, "load_data", nnscratch.datasets.mnist.load_data)
    out = {}
    for framework in ("nnscratch", "tensorflow"):
        nnscratch.set_random_seed(0)
        keras.utils.set_random_seed(0)
        ns = run_tutorial("custom_callbacks.py", framework=framework)
        text = capsys.readouterr().out
        out[framework] = (text.splitlines(), _guide_lines(text), ns)
    hooks = {f: [_unbarred(l) for l in o[0] if "log keys" in l] for f, o in out.items()}
    assert hooks["nnscratch"] == hooks["tensorflow"] and len(hooks["nnscratch"]) == 58
    assert "...Predicting: end of batch 7; got log keys: ['outputs']" in hooks["nnscratch"]
    rates = {f: [l for l in o[0] if "Learning rate is" in l] for f, o in out.items()}
    assert rates["nnscratch"] == rates["tensorflow"] and len(rates["nnscratch"]) == 15
    assert "Epoch 3: Learning rate is 0.05." in rates["nnscratch"]
    # the early-stopping fit ends at an epoch that depends on the weights: compare up to it, and after it
    cut = {f: o[1].index("Epoch #: early stopping") for f, o in out.items()}
    assert out["nnscratch"][1][:35] == out["tensorflow"][1][:35]
    assert out["nnscratch"][1][cut["nnscratch"]:] == out["tensorflow"][1][cut["tensorflow"]:]
    last = {f: o[2]["model"].evaluate(o[2]["x_test"], o[2]["y_test"], verbose=0)[0] for f, o in out.items()}
    assert last["nnscratch"] == pytest.approx(last["tensorflow"], rel=0.1)


def test_tutorial_edits_are_only_the_announced_ones():
    """The runner changes the epoch count and inserts one subset line, nothing else."""
    for name, epochs_line in (("quickstart_beginner.py", "model.fit(x_train, y_train, epochs=5)"),
                              ("mnist_mlp.py", "epochs = 20")):
        original = source(name).splitlines()
        edited = source(name, epochs=1, subset=(10, 5)).splitlines()
        assert len(edited) == len(original) + 1
        changed = [(a, b) for a, b in zip(original, [l for l in edited if not l.startswith("x_train, y_train, x_test")])
                   if a != b]
        assert changed == [(epochs_line, epochs_line.replace("5" if "fit" in epochs_line else "20", "1"))]


# ------------------------------------------------------------------ .numpy(), tf.nn.softmax, casting
def test_tensor_answers_numpy_as_tensorflow_s_does():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = Tensor(a)
    assert type(t.numpy()) is np.ndarray and t.shape == (2, 3) and t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), a)
    assert not np.shares_memory(t.numpy(), a)                     # a copy, as tf's .numpy() gives
    assert np.asarray(t) is a                                     # NumPy's functions read it without a copy
    scalar = Tensor(np.float32(2.5)).numpy()
    assert type(scalar) is np.float32 and scalar == 2.5           # tf's .numpy() of a scalar
    assert float(Tensor(np.float64(1.5))) == 1.5 and f"{Tensor(np.float32(2.5)):.2f}" == "2.50"


def test_tf_nn_softmax():
    z = np.array([[1.0, 2.0, 1.0], [1000.0, 0.0, -1000.0]], dtype=np.float64)
    a = nn.softmax(z)
    assert a.dtype == np.float64 and isinstance(a, Tensor)
    np.testing.assert_allclose(a.numpy()[0], [0.21194156, 0.57611688, 0.21194156], rtol=1e-7)
    np.testing.assert_array_equal(a.numpy()[1], [1, 0, 0])         # no overflow
    assert nnscratch.nn.softmax([1.0, 2.0]).dtype == np.float32    # a list converts to float32, as in tf
    cols = nn.softmax(z[:, :2], axis=0).numpy()
    np.testing.assert_allclose(cols.sum(axis=0), 1)
    with pytest.raises(ValueError, match="floating point"):
        nn.softmax(np.array([1, 2, 3]))


def test_model_call_casts_float64_inputs_as_keras_does():
    """``x / 255.0`` (float64) into a float32 model: rounded to float32 first, then the float32 forward."""
    m = Sequential([L.Flatten(input_shape=(4, 3)), L.Dense(5, activation="relu", seed=1), L.Dense(3, seed=2)])
    x = np.random.default_rng(0).integers(0, 256, (7, 4, 3)) / 255.0
    out = m(x)
    assert out.dtype == np.float32 and isinstance(out, Tensor) and type(out.numpy()) is np.ndarray
    np.testing.assert_array_equal(out, m(x.astype(np.float32)))
    assert type(m.predict(x, verbose=0)) is np.ndarray                # Keras's predict returns NumPy
    np.testing.assert_array_equal(m.predict(x, verbose=0), out)
    assert not np.array_equal(out, (x.reshape(7, -1) @ m.layers[1].kernel.astype(np.float64)).astype(np.float32))


# -------------------------------------------------------------------------------- nested Sequential
def _logits_model(dtype="float64", seed=0):
    return Sequential([L.Flatten(input_shape=(3, 4)), L.Dense(6, activation="tanh", seed=seed),
                       L.Dense(5, seed=seed + 1)], dtype=dtype)


def test_nested_sequential_shares_weights_and_layers():
    inner = _logits_model()
    outer = Sequential([inner, L.Softmax()], dtype="float64")
    assert outer.built and outer.sample_shape == (3, 4) and outer.output_dim == 5
    assert all(a is b for a, b in zip(outer.trainable_weights, inner.trainable_weights))
    x = np.random.default_rng(1).normal(size=(8, 3, 4))
    np.testing.assert_allclose(outer(x), nn.softmax(inner(x)), rtol=1e-14)
    inner.layers[1].bias[:] = 0.5                       # a change to the inner model shows in the outer
    np.testing.assert_allclose(outer(x), nn.softmax(inner(x)), rtol=1e-14)
    text = []
    outer.summary(print_fn=text.append)
    assert f"{inner.name} (Sequential)" in text[0] and f"{inner.count_params():,}" in text[0]


def test_nested_sequential_trains_like_the_flat_model():
    """Gradients through a nested model equal those of the same layers in one flat model (softmax head:
    the fused form reaches inside the nested model)."""
    x = np.random.default_rng(2).normal(size=(9, 3, 4))
    y = np.random.default_rng(3).integers(0, 5, 9)
    inner = _logits_model(seed=4)
    nested = Sequential([inner, L.Softmax()], dtype="float64")
    flat = Sequential([L.Flatten(input_shape=(3, 4)), L.Dense(6, activation="tanh"), L.Dense(5), L.Softmax()],
                      dtype="float64")
    flat.set_weights(nested.get_weights())
    for backend_name in ("numpy", "numba"):
        with backend.use(backend_name):
            for m in (nested, flat):
                m.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
            ln, _, gn = nested.compute_gradients(x, y)
            gn = [g.copy() for g in gn]
            lf, _, gf = flat.compute_gradients(x, y)
            assert ln == pytest.approx(lf, rel=1e-14)
            for a, b in zip(gn, gf):
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    nested.fit(x, y, epochs=2, verbose=0)            # trains the inner model's own arrays
    assert not np.allclose(inner.get_weights()[0], flat.get_weights()[0])


def test_nested_sequential_errors():
    inner = _logits_model()
    with pytest.raises(ValueError, match="same dtype"):
        Sequential([inner, L.Softmax()], dtype="float32")
    outer = Sequential([inner, L.Softmax()], dtype="float64")
    with pytest.raises(ValueError, match="cannot contain itself"):
        inner.add(outer)
    with pytest.raises(ValueError, match="contains another Sequential"):
        outer.save("never-written.npz")


def test_softmax_layer():
    layer = L.Softmax()
    assert layer.name.startswith("softmax") and layer.get_config()["axis"] == -1
    with pytest.raises(ValueError, match="axis"):
        L.Softmax(axis=1)
    z = np.random.default_rng(5).normal(size=(4, 2, 6)).astype(np.float32)   # N-D: over the last axis
    for backend_name in ("numpy", "numba"):
        with backend.use(backend_name):
            layer = L.Softmax()
            layer.build(z.shape[1:], np.float32)
            np.testing.assert_allclose(layer.forward(z), nn.softmax(z), rtol=1e-6)


# -------------------------------------------------------------------------- RMSprop (mnist_mlp's)
GRADS = [0.5, -1.25, 2.0, 0.1, -0.3]


@pytest.mark.parametrize("momentum, centered", [(0.0, False), (0.9, False), (0.0, True), (0.5, True)])
def test_rmsprop_against_hand_computation(momentum, centered):
    """Keras's update with Python floats (``keras/src/optimizers/rmsprop.py``); lr rounded through float32."""
    lr, rho, eps = float(np.float32(0.001)), 0.9, 1e-7
    w, v, a, m, expected = 1.0, 0.0, 0.0, 0.0, []
    for g in GRADS:
        v = rho * v + (1 - rho) * g * g
        if centered:
            a = rho * a + (1 - rho) * g
            d = v - a * a + eps
        else:
            d = v + eps
        step = lr * g / math.sqrt(d)
        if momentum > 0:
            m = momentum * m + step
            w -= m
        else:
            w -= step
        expected.append(w)
    for backend_name in ("numpy", "numba"):
        with backend.use(backend_name):
            opt = optimizers.RMSprop(momentum=momentum, centered=centered)
            wa, ga, got = np.array([1.0]), np.zeros(1), []
            for g in GRADS:
                ga[0] = g
                opt.apply([wa], [ga])
                got.append(float(wa[0]))
            assert got == pytest.approx(expected, abs=1e-15)
            assert opt.iterations == len(GRADS)
            assert list(opt.state) == ["velocity"] + (["momentum"] if momentum else []) + (
                ["average_gradient"] if centered else [])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", [{}, {"momentum": 0.9}, {"centered": True}, {"momentum": 0.3, "centered": True}])
def test_rmsprop_kernel_is_bit_exact(dtype, kw):
    """The Numba kernel (``kernels.rmsprop_update``) makes exactly NumPy's float operations."""
    rng = np.random.default_rng(6)
    shapes = [(7, 5), (5,), (5, 3)]
    start = [rng.normal(size=s).astype(dtype) for s in shapes]
    grads = [[(rng.normal(size=s) * 10.0 ** rng.integers(-4, 2)).astype(dtype) for s in shapes] for _ in range(20)]
    results = {}
    for backend_name in ("numpy", "numba"):
        with backend.use(backend_name):
            opt, params = optimizers.RMSprop(learning_rate=0.01, **kw), [w.copy() for w in start]
            for g in grads:
                opt.apply(params, g)
            results[backend_name] = params + [s for slot in opt.state.values() for s in slot]
    for a, b in zip(results["numpy"], results["numba"]):
        assert a.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(a, b)


def test_rmsprop_is_compiles_default_and_validates():
    m = Sequential([L.Dense(2, input_shape=(3,))])
    m.compile(loss="categorical_crossentropy")
    assert isinstance(m.optimizer, optimizers.RMSprop)
    assert m.optimizer.get_config() == {"name": "rmsprop", "learning_rate": 0.001, "rho": 0.9, "momentum": 0.0,
                                        "epsilon": 1e-7, "centered": False}
    assert isinstance(optimizers.get("RMSprop"), optimizers.RMSprop)
    with pytest.raises(ValueError, match="rho must be in"):
        optimizers.RMSprop(rho=1.5)
    with pytest.raises(ValueError, match="centered must be True or False"):
        optimizers.RMSprop(centered="yes")


def test_rmsprop_state_survives_save_and_load(tmp_path):
    x = np.random.default_rng(7).normal(size=(30, 4))
    y = np.random.default_rng(8).integers(0, 3, 30)
    m = Sequential([L.Dense(5, activation="relu", input_shape=(4,), seed=1), L.Dense(3, seed=2)], dtype="float64")
    m.compile(optimizer=optimizers.RMSprop(momentum=0.5, centered=True),
              loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    m.fit(x, y, epochs=2, batch_size=8, verbose=0)
    m.save(tmp_path / "m.npz")
    r = nnscratch.load_model(tmp_path / "m.npz")
    assert r.loss == m.loss and r.compiled_loss.from_logits and r.compiled_loss.sparse
    assert r.optimizer.get_config() == m.optimizer.get_config() and r.optimizer.iterations == 8
    for slot in m.optimizer.state:
        for a, b in zip(m.optimizer.state[slot], r.optimizer.state[slot]):
            np.testing.assert_array_equal(a, b)
    m.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    r.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    for a, b in zip(m.get_weights(), r.get_weights()):
        np.testing.assert_array_equal(a, b)
