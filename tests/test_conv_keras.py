"""Conv2D / MaxPooling2D against real Keras (tensorflow-cpu), from identical weights.

Tolerances (the issue's): forward within 1e-5 in float32 and 1e-10 in float64; weights after 100
Adam steps within 1e-5 (float32) and 1e-10 (float64), through ``fit`` and ``train_on_batch``; with
``padding='same'``, strides 2, and max-pool windows whose maximum is tied after a ReLU.  A row passes
if max|diff| <= tol * max(1, max|keras|).  Small images keep this file fast; the full simple convnet
runs on 16 MNIST digits.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras  # noqa: E402

import keras_reference as kr  # noqa: E402
from conftest import assert_transfer_both_ways  # noqa: E402
from keras_reference import compare as cmp  # noqa: E402
import nnscratch  # noqa: E402
from nnscratch import backend, zoo  # noqa: E402
from nnscratch.conv import Conv2D, MaxPooling2D  # noqa: E402
from nnscratch.layers import Dense, Dropout, Flatten  # noqa: E402

TOL = {"float32": 1e-5, "float64": 1e-10}
DTYPES = ["float32", "float64"]


def _report(dtype):
    tol = TOL[dtype]
    return cmp.Report("conv", dtype, tolerances=dict(cmp.TOLERANCES[dtype], forward=tol, loss=tol,
                                                      gradients=tol, steps=tol, predict=tol, evaluate=tol))


def _assert_ok(report):
    assert report.rows, "nothing was compared"
    assert report.ok, "\n" + report.table()


# The architectures: (name, layers, input shape).  Seeds fix nnscratch's initial weights.
def _same_strided():
    return [Conv2D(4, 3, strides=2, padding="same", activation="relu", input_shape=(9, 10, 2), seed=1),
            MaxPooling2D(pool_size=(3, 3), strides=(1, 1), padding="same"),
            Conv2D(5, (2, 3), padding="valid", activation="tanh", seed=2),
            Flatten(), Dense(6, activation="softmax", seed=3)]


def _valid_pool_dropout():
    return [Conv2D(6, 3, activation="relu", input_shape=(12, 12, 1), seed=4),
            MaxPooling2D(),
            Conv2D(8, 3, strides=(2, 1), activation="sigmoid", use_bias=False, seed=5),
            MaxPooling2D(pool_size=2, strides=1, padding="same"),
            Flatten(), Dropout(0.5), Dense(10, activation="softmax", seed=6)]


ARCHS = {"same_strided": _same_strided, "valid_pool_dropout": _valid_pool_dropout}


def _pair(arch, dtype, batch=8, seed=0):
    nn = nnscratch.Sequential(ARCHS[arch](), dtype=dtype)
    nn.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    km = kr.keras_twin(nn, seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.random((batch,) + nn.sample_shape).astype(dtype)
    y = nnscratch.utils.to_categorical(np.arange(batch) % nn.output_dim, nn.output_dim, dtype=dtype)
    return nn, km, x, y


@pytest.fixture(scope="module")
def digits():
    """16 MNIST training images as (16, 28, 28, 1) in [0, 1], one-hot labels (float64)."""
    x, y = cmp.mnist_sample(16, "float64")
    return x.reshape(-1, 28, 28, 1), y


# ----------------------------------------------------------------------------- forward, gradients
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_forward_loss_gradients(arch, dtype):
    nn, km, x, y = _pair(arch, dtype)
    report = _report(dtype)
    cmp.compare_forward(report, nn, km, x, training=False)
    cmp.compare_forward(report, nn, km, x, training=True)
    cmp.compare_gradients(report, nn, km, x, y)
    _assert_ok(report)
    out = [r for r in report.rows if r.stage == "forward (inference)"]
    assert len(out) == len(nn.layers) and max(r.max_abs for r in out) <= TOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
def test_simple_convnet_forward_and_gradients_on_mnist(digits, dtype):
    """Keras's own simple-convnet builder (stock loss), nnscratch's zoo model, the same weights."""
    nn, km = kr.workshop_pair("convnet", dtype=dtype, seed=1)
    x, y = digits[0].astype(dtype), digits[1].astype(dtype)
    report = _report(dtype)
    cmp.compare_forward(report, nn, km, x, training=False)
    replays = cmp.compare_forward(report, nn, km, x, training=True)
    cmp.compare_gradients(report, nn, km, x, y)
    cmp.compare_inference(report, nn, km, x, y)
    _assert_ok(report)
    assert replays and all(r.calls == 1 for r in replays)


# ------------------------------------------------------------------------------ 100 Adam steps
@pytest.mark.parametrize("via", ["fit", "train_on_batch"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_100_adam_steps(arch, dtype, via):
    nn, km, x, y = _pair(arch, dtype, batch=16, seed=3)
    report = _report(dtype)
    cmp.compare_steps(report, nn, km, x, y, steps=100, via=via)
    _assert_ok(report)
    weights = [r for r in report.rows if "/" in r.name]
    assert len(weights) == len(nn.get_weights()) and max(r.max_abs for r in weights) <= TOL[dtype]
    _assert_moved(nn, km, x, y)


@pytest.mark.parametrize("dtype", DTYPES)
def test_simple_convnet_100_adam_steps(digits, dtype):
    """The full simple convnet, dropout 0.5 on (Keras's masks replayed), through fit."""
    nn, km = kr.workshop_pair("convnet", dtype=dtype, seed=2)
    x, y = digits[0].astype(dtype), digits[1].astype(dtype)
    report = _report(dtype)
    cmp.compare_steps(report, nn, km, x, y, steps=100, via="fit")
    _assert_ok(report)
    _assert_moved(nn, km, x, y)


def _assert_moved(nn, km, x, y):
    """One Keras step from the same start changes the weights: the agreement is not of untouched arrays."""
    moved = cmp.clone_keras(km)
    with kr.keras_floatx(cmp.keras_dtype(km)):
        moved.train_on_batch(x, y)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(moved.get_weights(), nn.get_weights())) > 0


# ---------------------------------------------------------------------- max-pool ties after ReLU
def _tied_pair(dtype, be):
    """Images made of 3x3 constant blocks: a 2x2 convolution gives bit-identical outputs wherever its
    field lies inside one block, so many 2x2 pooling windows after the ReLU hold equal positive
    maxima (and, with a negative bias, equal zeros)."""
    with backend.use(be):
        nn = nnscratch.Sequential([Conv2D(3, 2, activation="relu", input_shape=(12, 12, 1), seed=7),
                                   MaxPooling2D(pool_size=(2, 2), strides=(1, 1)),
                                   Conv2D(2, 2, strides=2, padding="same", activation="relu", seed=8),
                                   MaxPooling2D(), Flatten(), Dense(4, activation="softmax", seed=9)], dtype=dtype)
    nn.layers[0].bias[:] = [0.05, -0.3, 0.2]
    nn.layers[2].bias[:] = [0.1, -0.05]
    nn.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    km = kr.keras_twin(nn)
    rng = np.random.default_rng(10)
    x = np.kron(rng.random((6, 4, 4, 1)), np.ones((1, 3, 3, 1))).astype(dtype)
    y = nnscratch.utils.to_categorical(np.arange(6) % 4, 4, dtype=dtype)
    return nn, km, x, y


def _tied_windows(a, pool=2, stride=1):
    """How many pooling windows of ``a`` have their maximum at more than one position, and how many
    of those maxima are positive."""
    N, H, W, C = a.shape
    OH, OW = (H - pool) // stride + 1, (W - pool) // stride + 1
    windows = np.stack([a[:, i:i + OH * stride:stride, j:j + OW * stride:stride]
                        for i in range(pool) for j in range(pool)], axis=-1)
    m = windows.max(axis=-1, keepdims=True)
    tied = np.sum(windows == m, axis=-1) > 1
    return int(tied.sum()), int((tied & (m[..., 0] > 0)).sum())


@pytest.mark.parametrize("be", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_maxpool_ties_after_relu(dtype, be):
    with backend.use(be):
        nn, km, x, y = _tied_pair(dtype, be)
        relu_out = nn.layers[0].forward(x).copy()
        ties, positive_ties = _tied_windows(relu_out)
        assert ties > 100 and positive_ties > 50, (ties, positive_ties)    # the case really occurs
        report = _report(dtype)
        cmp.compare_forward(report, nn, km, x)
        cmp.compare_gradients(report, nn, km, x, y)
        cmp.compare_steps(report, nn, km, x, y, steps=100, via="fit")
        _assert_ok(report)
        # where a tied gradient lands shows in dL/dx (the parameter gradients cannot tell: tied
        # values come from identical fields); see the control test below
        keras_dx = _keras_input_gradient(km, x, y)
        p = nn.forward(x, training=True)
        dx = nn.backward(nn.loss_and_gradient(y, p)[1], input_grad=True)
        np.testing.assert_allclose(dx, keras_dx, rtol=0, atol=TOL[dtype])


def _keras_input_gradient(km, x, y):
    """Keras's dL/dx through ``tf.GradientTape`` (training mode, the compiled loss)."""
    import tensorflow as tf
    dtype = cmp.keras_dtype(km)
    with kr.keras_floatx(dtype), tf.GradientTape() as tape:
        xt = tf.convert_to_tensor(x)
        tape.watch(xt)
        p = km(xt, training=True)
        loss = km.compute_loss(x=xt, y=tf.convert_to_tensor(y), y_pred=p, training=True)
    return tape.gradient(loss, xt).numpy()


def test_tie_rule_is_what_separates_the_gradients():
    """Control for the test above: sending the tied gradient to the *last* maximum instead would not
    match Keras, so that test can fail."""
    nn, km, x, y = _tied_pair("float64", "numpy")
    keras_dx = _keras_input_gradient(km, x, y)
    pool = nn.layers[1]
    original = np.ndarray.argmax

    def last_argmax(a, axis=None, **kw):          # the last maximum along the window axis
        flipped = np.flip(a, axis=axis)
        return a.shape[axis] - 1 - original(flipped, axis=axis, **kw)

    nn.forward(x, training=True)
    x_shape, k = pool.cache
    windows = np.stack([nn.layers[0].cache[3][:, i:i + k.shape[1], j:j + k.shape[2]]
                        for i in range(2) for j in range(2)], axis=3)
    pool.cache = (x_shape, last_argmax(windows, axis=3))
    with backend.use("numpy"):
        loss, grad = nn.loss_and_gradient(y, nn.layers[-1].cache[-1])
        dx = nn.backward(grad, input_grad=True)
    assert np.max(np.abs(dx - keras_dx)) > 1e-4


# ------------------------------------------------------------------- transfer, twins, summary, init
def test_weight_transfer_both_ways_and_keras_initial_weights():
    km = kr.build_convnet()
    assert_transfer_both_ways(zoo.simple_convnet(seed=21), km, zoo.simple_convnet(seed=22))
    # a Keras model with its own initial weights -> the nnscratch twin predicts the same
    fresh = kr.build_convnet(compile=False)
    twin = kr.nnscratch_twin(fresh)
    assert [type(l).__name__ for l in twin.layers] == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D",
                                                       "Flatten", "Dropout", "Dense"]
    x = np.random.default_rng(3).random((20, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(twin.predict(x, verbose=0), fresh.predict(x, verbose=0), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="weight arrays|shape"):
        kr.to_keras(kr.nnscratch_1layer(), km)


def test_nnscratch_twin_of_a_same_padded_strided_keras_model():
    km = keras.Sequential([keras.Input((9, 9, 3)),
                           keras.layers.Conv2D(4, (3, 2), strides=2, padding="same", activation="tanh"),
                           keras.layers.MaxPooling2D(pool_size=3, strides=1, padding="same"),
                           keras.layers.Conv2D(2, 2, use_bias=False), keras.layers.Flatten(),
                           keras.layers.Dense(3, activation="softmax")])
    nn = kr.nnscratch_twin(km)
    x = np.random.default_rng(4).random((5, 9, 9, 3)).astype("float32")
    np.testing.assert_allclose(nn.predict(x, verbose=0), km.predict(x, verbose=0), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="dilation"):
        kr.nnscratch_twin(keras.Sequential([keras.Input((9, 9, 1)), keras.layers.Conv2D(2, 3, dilation_rate=2)]))


def test_summary_parity_with_keras():
    from test_keras_equivalence import _both_summaries
    for make in (lambda: kr.workshop_pair("convnet", seed=0),
                 lambda: (lambda p: (p[0], p[1]))(_pair("same_strided", "float32")),
                 lambda: (lambda p: (p[0], p[1]))(_pair("valid_pool_dropout", "float32"))):
        nn, km = make()
        ours, theirs = _both_summaries(nn, km)
        assert len(ours[0]) == len(nn.layers)
        assert ours == theirs
    nn, km = kr.workshop_pair("convnet", seed=0)
    assert _both_summaries(nn, km)[0][0][0] == ("(None, 26, 26, 32)", 320)
    assert km.count_params() == nn.count_params() == 34826


def test_conv_glorot_limit_is_keras_limit():
    """Keras's initial conv kernels stay inside nnscratch's glorot limit and fill it."""
    km = kr.build_convnet(compile=False)
    for keras_kernel, layer in zip(km.get_weights()[0:4:2], zoo.simple_convnet(seed=0).layers[0:3:2]):
        kh, kw, cin, cout = keras_kernel.shape
        limit = np.sqrt(6 / (kh * kw * cin + kh * kw * cout))
        for w in (keras_kernel, layer.kernel):
            assert limit * 0.95 < np.abs(w).max() <= limit


def test_keras_example_runs_unchanged_with_nnscratch_as_tf(digits):
    """keras.io's "simple MNIST convnet", word for word, with ``import nnscratch as tf`` (a few
    steps on a few digits; the full run is benchmarks/accuracy.py)."""
    import nnscratch as tf
    keras_ = tf.keras
    layers = tf.keras.layers
    num_classes, input_shape = 10, (28, 28, 1)
    x_train = np.expand_dims((digits[0][..., 0] * 255).astype("uint8").astype("float32") / 255, -1)
    y_train = keras_.utils.to_categorical(digits[1].argmax(1), num_classes)
    model = keras_.Sequential([
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=input_shape),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ])
    lines = []
    model.summary(print_fn=lines.append)
    assert "Total params: 34,826" in lines[0]
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=8, epochs=3, validation_split=0.25, verbose=0)
    assert len(history.history["val_accuracy"]) == 3
    score = model.evaluate(x_train, y_train, verbose=0)
    assert np.isfinite(score[0]) and 0 <= score[1] <= 1
