"""Models as graphs (``keras.Input``, ``keras.Model(inputs, outputs)``, ``Add``, ``Concatenate``, shared
layers), against real Keras.

* The graph as Keras records it: the same layer order (``model.layers``, which orders the weights and
  Keras's files), the same ``summary()`` text, shapes, ``get_layer``, and Keras's errors.
* The step: the forward pass and every gradient of a graph with a shared layer, a fan-out, ``Add``,
  ``Concatenate``, Dropout and two inputs equal Keras's (float64 1e-12, float32 1e-6); the tape path
  (``model(x)`` on a ``GradientTape``) finds exactly the hand-written step's gradients; gradient
  checks pass on both backends.
* Training: 100 optimizer steps on a residual MLP, a two-input and a two-output model (loss weights)
  against Keras (float64 1e-10, float32 1e-5), dropout masks replayed; ``fit`` with validation and
  every callback, ``evaluate``, ``predict``, ``train_on_batch`` give Keras's logs (names, order and
  values) for several outputs.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import nnscratch  # noqa: E402
from keras_reference import graphs  # noqa: E402
from keras_reference.masks import replay_keras_masks  # noqa: E402
from keras_reference.models import keras_floatx  # noqa: E402
from nnscratch import gradcheck  # noqa: E402
from nnscratch.errors import NotImplementedInNnscratch  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
TOL = {"float32": 1e-6, "float64": 1e-12}


def tangled(lib, dtype="float32", dropout=0.3):
    """Two inputs, a layer called twice (shared weights), a tensor feeding three places, Add,
    Dropout, Concatenate, a softmax head and a second, linear head: the same code builds it in
    nnscratch and in Keras (``lib``: ``nnscratch.keras`` or ``keras``)."""
    L = lib.layers
    a = lib.Input((6,), dtype=dtype, name="a")
    b = lib.Input((3,), dtype=dtype, name="b")
    h = L.Dense(8, activation="tanh", dtype=dtype, name="h")(a)
    shared = L.Dense(8, activation="sigmoid", dtype=dtype, name="shared")
    h2 = shared(h)
    h3 = shared(h2)
    r = L.Add(dtype=dtype, name="add")([h, h3])
    d = L.Dropout(dropout, dtype=dtype, name="drop")(r)
    c = L.Concatenate(dtype=dtype, name="cat")([b, d, h2])
    o = L.Dense(4, activation="softmax", dtype=dtype, name="o")(c)
    o2 = L.Dense(2, dtype=dtype, name="o2")(h)
    return lib.Model([a, b], [o, o2], name="tangled")


def data(n=6, seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    x = [rng.normal(size=(n, 6)).astype(dtype), rng.normal(size=(n, 3)).astype(dtype)]
    y = [np.eye(4, dtype=dtype)[rng.integers(0, 4, n)], rng.normal(size=(n, 2)).astype(dtype)]
    return x, y


# ------------------------------------------------------------------------ the graph as Keras records it
def diamond(lib):
    L = lib.layers
    x = lib.Input((5,), name="x")
    unused = lib.Input((2,), name="unused")
    left = L.Dense(4, name="left")(x)
    right = L.Dense(4, name="right")(L.Dense(4, name="pre")(x))
    out = L.Dense(3, name="out")(L.Add(name="join")([right, left]))
    return lib.Model([unused, x], out)


def chain(lib):
    L = lib.layers
    inputs = lib.Input(shape=(784,), name="digits")         # named: the automatic names count every layer made
    x = L.Dense(64, activation="relu", name="dense_1")(inputs)
    return lib.Model(inputs=inputs, outputs=L.Dense(10, name="predictions")(x), name="mnist_model")


@pytest.mark.parametrize("build", [tangled, diamond, chain])
def test_layer_order_shapes_and_summary_are_keras_s(build):
    ours, theirs = build(nnscratch.keras), build(keras)
    assert [l.name for l in ours.layers] == [l.name for l in theirs.layers]
    assert [type(l).__name__ for l in ours.layers] == [type(l).__name__ for l in theirs.layers]
    assert ours.input_shape == theirs.input_shape and ours.output_shape == theirs.output_shape
    assert [t.shape for t in ours.inputs] == [t.shape for t in theirs.inputs]
    assert ours.output_names == theirs.output_names
    a, b = [], []
    ours.summary(print_fn=a.append)
    theirs.summary(print_fn=lambda s, **kw: b.append(s))
    strip = lambda lines: "\n".join(lines).strip().split("\n", 1)[1]     # noqa: E731  (the model's name may differ)
    assert strip(a) == strip(b)


def test_keras_input_and_symbolic_tensors():
    x = nnscratch.keras.Input(shape=(784,))
    k = keras.Input(shape=(784,))
    assert x.shape == k.shape == (None, 784) and x.dtype == k.dtype == "float32"
    assert repr(x).split(", name=")[0] == repr(k).split(", name=")[0]
    assert nnscratch.keras.Input((28, 28, 1), dtype="float64").dtype == "float64"
    with pytest.raises(TypeError, match="holds no numbers"):
        np.asarray(x)
    with pytest.raises(NotImplementedInNnscratch, match="Add"):
        x + x
    for bad in [(None,), (0, 3), "784", ()]:
        with pytest.raises(ValueError, match="shape"):
            nnscratch.keras.Input(shape=bad)
    with pytest.raises(NotImplementedInNnscratch, match="batch_size"):
        nnscratch.keras.Input((3,), batch_size=32)


def test_get_layer_as_keras():
    ours, theirs = diamond(nnscratch.keras), diamond(keras)
    assert ours.get_layer("join").name == "join" and ours.get_layer(index=2).name == theirs.get_layer(index=2).name
    for kw in ({"name": "nope"}, {"index": 9}):
        with pytest.raises(ValueError) as keras_s:
            theirs.get_layer(**kw)
        with pytest.raises(ValueError) as mine:
            ours.get_layer(**kw)
        assert str(mine.value) == str(keras_s.value)


def test_sequential_starting_with_keras_input_is_keras_s():
    ours = nnscratch.keras.Sequential([nnscratch.keras.Input((4,)), nnscratch.keras.layers.Dense(2, name="d")])
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
    assert [l.name for l in ours.layers] == ["d"] and ours.built and ours.count_params() == theirs.count_params()
    layer_first = nnscratch.keras.Sequential([nnscratch.keras.layers.InputLayer(shape=(4,)),
                                              nnscratch.keras.layers.Dense(2)])
    assert layer_first.built and layer_first.sample_shape == (4,)
    assert ours.predict(np.ones((1, 4)), verbose=0).shape == (1, 2)
    with pytest.raises(ValueError, match="first"):
        nnscratch.keras.Sequential([nnscratch.keras.layers.Dense(2), nnscratch.keras.Input((4,))])


def test_a_wrong_graph_gets_a_clear_error():
    K, L = nnscratch.keras, nnscratch.keras.layers
    a, b = K.Input((3,), name="ea"), K.Input((4,), name="eb")
    with pytest.raises(ValueError, match="Graph disconnected"):
        K.Model(a, L.Add()([L.Dense(2)(a), L.Dense(2)(b)]))
    with pytest.raises(ValueError, match="used 2 times"):
        K.Model(a, L.Dense(2, name="twice")(L.Dense(3, name="twice")(a)))
    with pytest.raises(ValueError, match="one shape"):
        L.Add()([a, b])
    with pytest.raises(ValueError, match="takes one tensor"):
        L.Dense(2)([a, b])
    with pytest.raises(ValueError, match="list of tensors"):
        L.Concatenate()(a)
    with pytest.raises(ValueError, match="axis"):
        L.Concatenate(axis=0)
    shared = L.Dense(2)
    shared(a)
    with pytest.raises(ValueError, match="same shape"):
        shared(b)
    with pytest.raises(ValueError, match="KerasTensors"):
        K.Model(None, None)
    with pytest.raises(NotImplementedInNnscratch, match="intermediate"):
        h = L.Dense(3)(a)
        K.Model(h, L.Dense(2)(h))
    with pytest.raises(ValueError, match="one dtype"):
        K.Model(a, L.Dense(2, dtype="float64")(L.Dense(3)(a)))
    model = K.Model(a, L.Dense(2)(a))
    with pytest.raises(NotImplementedInNnscratch, match="as a layer"):
        model(b)
    with pytest.raises(NotImplementedInNnscratch, match="as a layer"):
        K.Sequential([L.Dense(3, input_shape=(3,))])(a)
    with pytest.raises(NotImplementedInNnscratch, match="training"):
        L.Dropout(0.5)(a, training=True)
    with pytest.raises(ValueError, match="2 inputs"):
        K.Model([a, b], L.Concatenate()([a, b])).predict([np.ones((2, 3))], verbose=0)
    with pytest.raises(ValueError, match="features"):
        model.predict(np.ones((2, 4)), verbose=0)


# ------------------------------------------------------------------------------------------- the step
def keras_gradients(km, x, y, dtype):
    loss_fns = [keras.losses.CategoricalCrossentropy(dtype=dtype), keras.losses.MeanSquaredError(dtype=dtype)]
    with keras_floatx(dtype), tf.GradientTape() as tape:
        out = km([tf.constant(a) for a in x], training=True)
        loss = loss_fns[0](y[0], out[0]) + 0.5 * loss_fns[1](y[1], out[1])
    return float(loss), [g.numpy() for g in tape.gradient(loss, km.trainable_weights)], [o.numpy() for o in out]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_and_every_gradient_equal_keras_s(dtype):
    """A shared layer's gradient is the sum over its two calls, the tensor ``h`` feeding three places
    gets the sum of three gradients: Keras's autodiff and the hand-written graph step agree."""
    m, km = tangled(nnscratch.keras, dtype), tangled(keras, dtype)
    m.compile("adam", ["categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5])
    graphs.copy_weights(m, km)
    x, y = data(dtype=dtype)
    with keras_floatx(dtype):
        np.testing.assert_allclose(m.predict(x, verbose=0)[0], km.predict(x, verbose=0)[0], atol=TOL[dtype], rtol=0)
    replays = replay_keras_masks(m, km)
    k_loss, k_grads, k_out = keras_gradients(km, x, y, dtype)
    loss, p, grads = m.compute_gradients(x, y)
    assert replays[0].in_step_with_keras()
    assert len(grads) == len(k_grads) == 8
    assert abs(loss - k_loss) <= TOL[dtype] * 4 and loss.parts[1] == pytest.approx(float(np.mean((p[1] - y[1]) ** 2)))
    for a, b in zip(p, k_out):
        np.testing.assert_allclose(a, b, atol=TOL[dtype], rtol=0)
    for name, a, b in zip(["h/k", "h/b", "shared/k", "shared/b", "o/k", "o/b", "o2/k", "o2/b"], grads, k_grads):
        np.testing.assert_allclose(a, b, atol=TOL[dtype], rtol=0, err_msg=name)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_the_tape_finds_exactly_the_hand_written_step(backend):
    with nnscratch.backend.use(backend):
        m = tangled(nnscratch.keras, "float64", dropout=0.0)
        m.compile("adam", ["categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5])
        x, y = data(dtype="float64")
        loss, _, grads = m.compute_gradients(x, y)
        grads = [g.copy() for g in grads]
        losses = [nnscratch.keras.losses.CategoricalCrossentropy(dtype="float64"),
                  nnscratch.keras.losses.MeanSquaredError(dtype="float64")]
        with nnscratch.GradientTape() as tape:
            out = m(x, training=True)
            total = losses[0](y[0], out[0]) + 0.5 * losses[1](y[1], out[1])
        taped = tape.gradient(total, m.trainable_variables)
    assert float(total) == pytest.approx(float(loss), abs=1e-15)
    for a, b in zip(grads, taped):
        np.testing.assert_allclose(a, b.numpy(), atol=1e-15, rtol=0)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_gradient_checks_pass_on_graphs(backend):
    m = tangled(nnscratch.keras, "float64")
    m.compile("adam", ["categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5])
    x, y = data(dtype="float64")
    report = gradcheck.check_model(m, x, y, backend=backend)
    assert report.passed, report
    assert [r["name"] for r in report.rows][-2:] == ["input a", "input b"] and len(report.rows) == 10
    for case, (build, compile_args, make) in sorted(CASES.items()):       # the three models trained below
        m = build(nnscratch.keras, "float64")
        opt = compile_args["optimizer"]
        m.compile(**{**compile_args, "optimizer": opt() if callable(opt) else opt})
        x, y = make(np.random.default_rng(3))
        report = gradcheck.check_model(m, x, y, backend=backend, max_entries=40)
        assert report.passed, report


def test_the_keras_twin_of_a_keras_graph_is_nnscratch_s_and_back():
    """keras_reference.graphs both ways: an nnscratch graph replayed from a Keras one (and that one's
    Keras twin again) has the same layers, order and weights, and predicts the same."""
    km = tangled(keras, "float64")
    m = graphs.nnscratch_graph_twin(km)
    again = graphs.keras_graph_twin(m, compile=False)
    assert [l.name for l in m.layers] == [l.name for l in km.layers] == [l.name for l in again.layers]
    x, _ = data(dtype="float64")
    with keras_floatx("float64"):
        for a, b, c in zip(m.predict(x, verbose=0), km.predict(x, verbose=0), again.predict(x, verbose=0)):
            np.testing.assert_allclose(a, b, atol=1e-12)
            np.testing.assert_allclose(c, b, atol=1e-12)


def test_backends_compute_the_same_graph_step():
    m = tangled(nnscratch.keras, "float64", dropout=0.0)
    m.compile("adam", ["categorical_crossentropy", "mse"])
    x, y = data(dtype="float64")
    found = {}
    for backend in ("numpy", "numba"):
        with nnscratch.backend.use(backend):
            loss, p, grads = m.compute_gradients(x, y)
            found[backend] = [float(loss)] + [g.copy() for g in grads] + [np.array(m(x)[1])]
    for a, b in zip(*found.values()):
        np.testing.assert_allclose(a, b, atol=1e-14, rtol=0)


# ----------------------------------------------------------------------------------------- training
def residual(lib, dtype):
    L = lib.layers
    x = lib.Input((20,), dtype=dtype, name="x")
    h = L.Dense(16, activation="relu", dtype=dtype, name="h")(x)
    r = L.Dropout(0.2, dtype=dtype, name="drop")(L.Dense(16, activation="relu", dtype=dtype, name="r")(h))
    return lib.Model(x, L.Dense(5, activation="softmax", dtype=dtype, name="p")(L.Add(dtype=dtype)([h, r])),
                     name="residual_mlp")


def two_inputs(lib, dtype):
    L = lib.layers
    a, b = lib.Input((12,), dtype=dtype, name="pixels"), lib.Input((4,), dtype=dtype, name="extra")
    c = L.Concatenate(dtype=dtype)([L.Dense(10, activation="tanh", dtype=dtype, name="h")(a), b])
    return lib.Model([a, b], L.Dense(3, activation="softmax", dtype=dtype, name="p")(c), name="two_inputs")


def two_outputs(lib, dtype):
    L = lib.layers
    x = lib.Input((12,), dtype=dtype, name="x")
    h = L.Dense(10, activation="relu", dtype=dtype, name="h")(x)
    return lib.Model(x, [L.Dense(3, activation="softmax", dtype=dtype, name="digit")(h),
                         L.Dense(2, dtype=dtype, name="size")(h)], name="two_outputs")


CASES = {
    "residual": (residual, dict(optimizer="adam", loss="categorical_crossentropy"),
                 lambda r: (r.normal(size=(32, 20)), np.eye(5)[r.integers(0, 5, 32)])),
    "two_inputs": (two_inputs, dict(optimizer=lambda: nnscratch.optimizers.SGD(0.1, momentum=0.9),
                                    loss="sparse_categorical_crossentropy"),
                   lambda r: ([r.normal(size=(32, 12)), r.normal(size=(32, 4))], r.integers(0, 3, 32))),
    "two_outputs": (two_outputs, dict(optimizer="rmsprop", loss=["sparse_categorical_crossentropy", "mse"],
                                      loss_weights=[1.0, 0.3]),
                    lambda r: (r.normal(size=(32, 12)), [r.integers(0, 3, 32), r.normal(size=(32, 2))])),
}


def _cast(v, dtype):
    if isinstance(v, list):
        return [_cast(a, dtype) for a in v]
    return v.astype(dtype) if v.dtype.kind == "f" else v


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_100_steps_equal_keras_s(case, dtype):
    """Each step's loss and every weight after 100 steps (``fit`` here, ``train_on_batch`` in Keras),
    Keras's dropout masks replayed; the weights must have moved."""
    build, compile_args, make = CASES[case]
    m = build(nnscratch.keras, dtype)
    opt = compile_args["optimizer"]
    m.compile(**{**compile_args, "optimizer": opt() if callable(opt) else opt})
    km = graphs.keras_graph_twin(m, seed=5)
    start = m.get_weights()
    x, y = (_cast(v, dtype) for v in make(np.random.default_rng(1)))
    n_losses, k_losses, diffs = graphs.compare_graph_steps(m, km, x, y, steps=100)
    tol = {"float64": 1e-10, "float32": 1e-5}[dtype]
    assert np.max(np.abs(n_losses - k_losses)) <= tol and max(diffs) <= tol, (n_losses - k_losses, diffs)
    assert n_losses[-1] < n_losses[0] - 0.3
    assert min(np.max(np.abs(a - b)) for a, b in zip(start, m.get_weights()) if a.size) > 1e-3


def test_fit_evaluate_predict_with_several_outputs_log_as_keras_does(tmp_path):
    """Validation, sample weights, every built-in callback, evaluate (list and dict), train_on_batch
    and predict of a two-output model (loss weights, a metric per output), float64: the same log keys
    in Keras's order and the same values as Keras's twin."""
    dtype = "float64"
    m = two_outputs(nnscratch.keras, dtype)
    compile_args = dict(optimizer="adam", loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.3],
                        metrics=[["accuracy"], ["mae", "mse"]])
    m.compile(**compile_args)
    km = graphs.keras_graph_twin(m, compile=False)
    adam = keras.optimizers.Adam()          # made outside float64: its learning rate a float32 variable, as by default
    with keras_floatx(dtype):
        km.compile(**{**compile_args, "optimizer": adam})
    r = np.random.default_rng(2)
    x, y = r.normal(size=(64, 12)), [r.integers(0, 3, 64), r.normal(size=(64, 2))]
    w = r.uniform(0.5, 1.5, 64)

    def callbacks(lib, tag):
        cb = lib.callbacks
        return [cb.EarlyStopping(monitor="val_digit_loss", mode="min", patience=1, restore_best_weights=True),
                cb.ModelCheckpoint(str(tmp_path / f"{tag}.keras"), monitor="val_loss", save_best_only=True),
                cb.ReduceLROnPlateau(monitor="val_size_mae", mode="min", factor=0.5, patience=1),
                cb.CSVLogger(str(tmp_path / f"{tag}.csv")), cb.TerminateOnNaN(),
                cb.LambdaCallback(on_epoch_end=lambda e, logs: seen[tag].append(sorted(logs)))]
    seen = {"ours": [], "keras": []}
    history = m.fit(x, y, batch_size=16, epochs=4, shuffle=False, validation_split=0.25, sample_weight=w,
                    callbacks=callbacks(nnscratch.keras, "ours"), verbose=0)
    with keras_floatx(dtype):
        k_history = km.fit(x, y, batch_size=16, epochs=4, shuffle=False, validation_split=0.25, sample_weight=w,
                           callbacks=callbacks(keras, "keras"), verbose=0)
    assert list(history.history) == list(k_history.history) and seen["ours"] == seen["keras"]
    for key in history.history:
        np.testing.assert_allclose(history.history[key], k_history.history[key], rtol=1e-9, atol=1e-10, err_msg=key)
    assert (tmp_path / "ours.csv").read_text().splitlines()[0] == (tmp_path / "keras.csv").read_text().splitlines()[0]
    best = nnscratch.keras.models.load_model(tmp_path / "ours.keras")
    with keras_floatx(dtype):
        keras_best = keras.models.load_model(tmp_path / "keras.keras").predict(x, verbose=0)
    assert best.dtype == np.float64
    np.testing.assert_allclose(best.predict(x, verbose=0)[1], keras_best[1], atol=1e-12)
    with keras_floatx(dtype):
        for return_dict in (False, True):
            ours, theirs = m.evaluate(x, y, verbose=0, return_dict=return_dict), km.evaluate(x, y, verbose=0,
                                                                                            return_dict=return_dict)
            assert (list(ours) == list(theirs)) if return_dict else len(ours) == len(theirs)
            np.testing.assert_allclose(list(ours.values()) if return_dict else ours,
                                       list(theirs.values()) if return_dict else theirs, rtol=1e-9)
        as_dict = {"digit": y[0], "size": y[1]}
        np.testing.assert_allclose(m.train_on_batch(x, as_dict), km.train_on_batch(x, as_dict), rtol=1e-9)
        p, kp = m.predict(x, verbose=0), km.predict(x, verbose=0)
    assert isinstance(p, list) and [a.shape for a in p] == [(64, 3), (64, 2)]
    for a, b in zip(p, kp):
        np.testing.assert_allclose(a, b, atol=1e-12)
    assert m.metrics_names == km.metrics_names


def test_data_in_the_structure_the_model_was_made_with():
    K, L = nnscratch.keras, nnscratch.keras.layers
    a, b = K.Input((3,), name="a"), K.Input((2,), name="b")
    c = L.Concatenate()([a, b])
    m = K.Model({"a": a, "b": b}, {"sum": L.Dense(1, name="s")(c), "cls": L.Dense(3, activation="softmax")(c)})
    r = np.random.default_rng(0)
    x = {"b": r.normal(size=(10, 2)), "a": r.normal(size=(10, 3))}
    out = m.predict(x, verbose=0)
    assert set(out) == {"sum", "cls"} and out["cls"].shape == (10, 3)
    np.testing.assert_allclose(out["sum"], m(x)["sum"].numpy(), atol=1e-6)
    np.testing.assert_allclose(m.predict([x["a"], x["b"]], verbose=0)["cls"], out["cls"], atol=0)
    m.compile("adam", {"sum": "mse", "cls": "sparse_categorical_crossentropy"}, metrics={"cls": "accuracy"})
    logs = m.fit(x, {"sum": r.normal(size=(10, 1)), "cls": r.integers(0, 3, 10)}, verbose=0).history
    assert sorted(logs) == ["cls_accuracy", "cls_loss", "loss", "sum_loss"]
    with pytest.raises(ValueError, match="single output"):
        m.fit(x, {"sum": np.zeros((10, 1)), "cls": np.zeros(10)}, class_weight={0: 1.0}, verbose=0)
    with pytest.raises(ValueError, match="keys"):
        m.fit(x, {"sum": np.zeros((10, 1))}, verbose=0)
    with pytest.raises(ValueError, match="which output"):
        m.compile("adam", "mse", metrics=["mae"])


def test_inference_on_the_row_threads_equals_the_plain_loop():
    """predict and model(x) on the numba backend split the rows over threads, each running a replica of
    the graph (its own twins of the shared layer); they equal the numpy backend's plain loop."""
    m = tangled(nnscratch.keras, "float64")
    x, _ = data(n=3000, dtype="float64")
    with nnscratch.backend.use("numba"):
        fast, called = m.predict(x, batch_size=64, verbose=0), m(x)
    with nnscratch.backend.use("numpy"):
        plain = m.predict(x, batch_size=64, verbose=0)
    for a, b, c in zip(fast, plain, called):
        np.testing.assert_allclose(a, b, atol=1e-13, rtol=0)
        np.testing.assert_allclose(c.numpy(), b, atol=1e-13, rtol=0)


# ------------------------------------------------------------------ a layer written as call() alone
class ActivityRegularizationLayer(nnscratch.keras.layers.Layer):
    """The guide's layer (Keras's "Training & evaluation with the built-in methods"): call() alone, add_loss."""

    def call(self, inputs):
        self.add_loss(nnscratch.keras.ops.sum(inputs) * 0.1)
        return inputs


def test_a_layer_written_as_call_alone_is_refused_by_name_where_it_enters_a_model():
    """No forward/backward: refused with NotImplementedInNnscratch naming its class and what works
    instead, at the call on a keras.Input, at Sequential.add and at its first call on a tape, never a
    raw AttributeError at fit; self.add_loss is refused by name (on a layer and on a model)."""
    keras = nnscratch.keras
    inputs = keras.Input(shape=(784,), name="digits")
    x = keras.layers.Dense(64, activation="relu", name="dense_1")(inputs)
    with pytest.raises(NotImplementedInNnscratch, match=r"ActivityRegularizationLayer .*call\(\) alone.*"
                                                         r"forward\(x, training\) and backward.*GradientTape"):
        ActivityRegularizationLayer()(x)
    with pytest.raises(NotImplementedInNnscratch, match="ActivityRegularizationLayer"):
        keras.Sequential([keras.layers.Dense(4, input_shape=(3,)), ActivityRegularizationLayer()])
    with pytest.raises(NotImplementedInNnscratch, match="ActivityRegularizationLayer"):
        with nnscratch.GradientTape():
            ActivityRegularizationLayer()(np.ones((2, 3)))
    with pytest.raises(NotImplementedInNnscratch, match=r"ActivityRegularizationLayer\.add_loss"):
        ActivityRegularizationLayer().add_loss(1.0)
    model = keras.Model(inputs, keras.layers.Dense(10, name="predictions")(x))
    with pytest.raises(NotImplementedInNnscratch, match=r"Functional\.add_loss"):
        model.add_loss(1.0)
