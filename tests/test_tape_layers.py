"""A layer called on tensors (``layer(x)``) is ONE node of the tape, whose vector-Jacobian product is
the layer's own ``backward``: the tape composes the code a learner read in ``layers.py`` and
``conv.py``.  Each layer's gradients equal (a) TensorFlow's tape on the same Keras layer with the same
weights and (b) the same computation written with the tape's elementary operations; on both backends.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import nnscratch as ns  # noqa: E402
from nnscratch import backend, gradcheck  # noqa: E402
from nnscratch import layers as L  # noqa: E402
from nnscratch.conv import Conv2D, MaxPooling2D  # noqa: E402

TOL = 1e-10


def close(a, b, tol=TOL):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    assert np.max(np.abs(a - b)) <= tol * max(1.0, np.max(np.abs(b))), np.max(np.abs(a - b))


@pytest.fixture(params=["numpy", "numba"])
def each_backend(request):
    with backend.use(request.param):
        yield request.param


def ours_and_keras(layer, klayer, x, training=False):
    """Call both layers on ``x`` under a tape, ``L = sum(out * R)``; compare out, dL/dx and dL/dW."""
    R = None
    xt = ns.constant(x)
    with ns.GradientTape() as tape:
        tape.watch(xt)
        out = layer(xt, training=training)
        R = np.random.default_rng(1).standard_normal(out.shape)
        loss = ns.reduce_sum(out * R)
    grads = tape.gradient(loss, [xt] + layer.trainable_variables)
    if klayer is not None:
        if layer.weights:
            klayer.set_weights([np.asarray(w) for w in layer.weights])
        xk = tf.constant(x)
        with tf.GradientTape() as ktape:
            ktape.watch(xk)
            kout = klayer(xk, training=training)
            kloss = tf.reduce_sum(kout * R)
        kgrads = ktape.gradient(kloss, [xk] + klayer.trainable_variables)
        close(out.numpy(), kout.numpy())
        for a, b in zip(grads, kgrads):
            close(a.numpy(), b.numpy())
    return out, grads, tape


def _keras(cls, *args, input_shape, **kw):
    layer = cls(*args, dtype="float64", **kw)
    layer.build((None,) + tuple(input_shape))
    return layer


@pytest.mark.parametrize("activation", ["linear", "sigmoid", "relu", "tanh", "softmax"])
def test_dense_equals_keras_on_a_tape(activation, each_backend):
    x = np.random.default_rng(0).normal(size=(6, 5))
    layer = L.Dense(4, activation=activation, seed=1, dtype="float64")
    ours_and_keras(layer, _keras(keras.layers.Dense, 4, activation=activation, input_shape=(5,)), x)


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh", "softmax"])
def test_activation_and_softmax_layers_equal_keras(activation, each_backend):
    x = np.random.default_rng(2).normal(size=(5, 7))
    ours_and_keras(L.Activation(activation, dtype="float64"), keras.layers.Activation(activation, dtype="float64"), x)
    ours_and_keras(L.Softmax(dtype="float64"), keras.layers.Softmax(dtype="float64"), x)


@pytest.mark.parametrize("padding,strides", [("valid", 1), ("same", 2), ("same", 1)])
def test_conv2d_flatten_and_maxpooling_equal_keras(padding, strides, each_backend):
    x = np.random.default_rng(3).normal(size=(3, 9, 8, 2))
    conv = Conv2D(4, 3, strides=strides, padding=padding, activation="relu", seed=2, dtype="float64")
    kconv = _keras(keras.layers.Conv2D, 4, 3, strides=strides, padding=padding, activation="relu", input_shape=(9, 8, 2))
    out, _, _ = ours_and_keras(conv, kconv, x)
    ours_and_keras(MaxPooling2D(2, padding=padding, dtype="float64"),
                   keras.layers.MaxPooling2D(2, padding=padding, dtype="float64"), out.numpy())
    ours_and_keras(L.Flatten(dtype="float64"), keras.layers.Flatten(dtype="float64"), out.numpy())


def test_dropout_is_one_node_with_its_mask(each_backend):
    """Dropout's node multiplies the gradient by the very mask its forward drew (here a fixed one
    given through ``mask_source``, the hook keras_reference replays Keras's masks with)."""
    x = np.random.default_rng(4).normal(size=(4, 6))
    keep = np.random.default_rng(5).random((4, 6)) >= 0.3
    layer = L.Dropout(0.3, dtype="float64")
    layer.build((6,), "float64")
    layer.mask_source = lambda shape, dtype: keep
    out, (dx,), tape = ours_and_keras(layer, None, x, training=True)
    close(out.numpy(), x * keep / 0.7)
    R = np.random.default_rng(1).standard_normal((4, 6))
    close(dx.numpy(), R * keep / 0.7)
    inference, (dx,), _ = ours_and_keras(layer, None, x, training=False)
    close(inference.numpy(), x) and close(dx.numpy(), R)


def test_a_layer_call_records_one_node_whose_vjp_is_its_backward(monkeypatch):
    layer = L.Dense(3, activation="sigmoid", seed=0, dtype="float64")
    calls = []
    original = L.Dense.backward
    monkeypatch.setattr(L.Dense, "backward", lambda self, g, need_dx=True: calls.append(need_dx) or original(self, g, need_dx))
    x = ns.constant(np.ones((2, 4)))
    with ns.GradientTape() as tape:
        out = layer(x)
    assert len(tape._records) == 1 and tape._records[0][0] is out
    tape.gradient(out, layer.trainable_variables)
    assert calls == [False]                          # the input is a constant: no dx, as fit's first layer


def test_layers_equal_the_same_network_written_with_elementary_operations(each_backend):
    """Dense -> sigmoid -> Dropout (a fixed mask) -> Dense -> softmax -> cross-entropy, as layers (one
    node each, their backward) and as matmul, +, sigmoid, *, softmax, log (one node per operation)."""
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(8, 5)), np.eye(3)[rng.integers(0, 3, 8)]
    keep = rng.random((8, 4)) >= 0.25
    d1, act, drop, d2, soft = (L.Dense(4, seed=1, dtype="float64"), L.Activation("sigmoid", dtype="float64"),
                               L.Dropout(0.25, dtype="float64"), L.Dense(3, seed=2, dtype="float64"),
                               L.Softmax(dtype="float64"))
    drop.build((4,), "float64")
    drop.mask_source = lambda shape, dtype: keep
    loss_fn = ns.keras.losses.CategoricalCrossentropy(dtype="float64")
    variables = d1.trainable_variables + d2.trainable_variables if d1.built else None
    with ns.GradientTape() as tape:
        p = soft(d2(drop(act(d1(x)), training=True)))
        loss = loss_fn(y, p)
    variables = d1.trainable_variables + d2.trainable_variables
    layer_grads = tape.gradient(loss, variables)
    W1, b1, W2, b2 = variables
    with ns.GradientTape() as tape:
        h = ns.sigmoid(ns.matmul(ns.constant(x), W1) + b1) * (keep / 0.75)
        z = ns.matmul(h, W2) + b2
        by_ops = -ns.reduce_mean(ns.reduce_sum(y * ns.nn.log_softmax(z), axis=1))
    op_grads = tape.gradient(by_ops, variables)
    close(loss.numpy(), by_ops.numpy(), 1e-12)
    for a, b in zip(layer_grads, op_grads):
        close(a.numpy(), b.numpy(), 1e-12)


def test_a_layer_used_twice_gets_the_sum_of_both_gradients_as_in_keras():
    x = np.random.default_rng(7).normal(size=(3, 4))
    layer = L.Dense(4, activation="tanh", seed=3, dtype="float64")
    klayer = _keras(keras.layers.Dense, 4, activation="tanh", input_shape=(4,))
    with ns.GradientTape() as tape:
        out = layer(layer(x))
    grads = tape.gradient(out, layer.trainable_variables)
    klayer.set_weights([np.asarray(w) for w in layer.weights])
    with tf.GradientTape() as ktape:
        kout = klayer(klayer(tf.constant(x)))
    for a, b in zip(grads, ktape.gradient(kout, klayer.trainable_variables)):
        close(a.numpy(), b.numpy())
    report = gradcheck.check_function(lambda W, b: ns.reduce_sum(layer(layer(x))), layer.trainable_variables)
    assert report.passed, str(report)


def test_what_a_call_returns_stays_valid_when_the_layer_is_called_again(each_backend):
    """The layer writes into work arrays it reuses; a call runs on a twin with arrays of its own."""
    layer = L.Dense(3, activation="relu", seed=0, dtype="float64")
    first = layer(np.ones((2, 4)))
    kept = first.numpy()
    layer(np.full((2, 4), 5.0))
    np.testing.assert_array_equal(first.numpy(), kept)
    with ns.GradientTape(persistent=True) as tape:
        out = layer(np.ones((2, 4)))
        doubled = out * 2.0
    g1 = tape.gradient(out, layer.trainable_variables)
    g1_values = [g.numpy() for g in g1]
    g2 = tape.gradient(doubled, layer.trainable_variables)      # the layer's backward runs again
    for a, b, c in zip(g1, g1_values, g2):
        np.testing.assert_array_equal(a.numpy(), b)
        np.testing.assert_array_equal(c.numpy(), 2 * b)


def test_a_layer_builds_on_its_first_call_and_checks_later_ones():
    layer = L.Dense(3)
    out = layer(np.ones((2, 5)))                  # float64 input: the float32 layer casts it, as Keras's
    assert layer.built and layer.kernel.shape == (5, 3) and out.dtype == np.float32
    with pytest.raises(ValueError, match="built for inputs of shape"):
        layer(np.ones((2, 6)))
    ns.keras.backend.set_floatx("float64")
    try:
        assert L.Dense(2)(np.ones((1, 3), np.float32)).dtype == np.float64
    finally:
        ns.keras.backend.set_floatx("float32")


def test_frozen_layers_give_no_variables_to_train():
    layer = L.Dense(2, seed=0)
    layer(np.ones((1, 3)))
    assert len(layer.trainable_variables) == 2 and all(v.array is w for v, w in zip(layer.variables, layer.weights))
    assert layer.variables[0].path == f"{layer.name}/kernel" and layer.variables[0].name == "kernel"
    layer.trainable = False
    assert layer.trainable_variables == [] and len(layer.variables) == 2
    with ns.GradientTape() as tape:
        out = layer(ns.constant(np.ones((1, 3), np.float32)))
    assert tape.gradient(out, layer.variables) == [None, None]


def test_a_softmax_layer_gives_its_logits_to_the_loss_as_keras_s_does():
    """Dense(softmax) and Activation('softmax') outputs remember their input: the loss object computes
    the fused form on it, with the gradient (p - y)/N, even where the probabilities saturate."""
    x, y = np.array([[40.0, 0.0], [0.0, 1.0]]), np.eye(3)[[2, 0]]
    for head in (L.Dense(3, activation="softmax", seed=0, dtype="float64"),):
        head.build((2,), "float64")
        head.kernel[...] = [[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]]
        with ns.GradientTape() as tape:
            p = head(x)
            loss = ns.keras.losses.CategoricalCrossentropy(dtype="float64")(y, p)
        z = x @ head.kernel
        expected = np.mean(np.log(np.exp(z).sum(1)) - (y * z).sum(1))
        assert loss.numpy() == pytest.approx(expected, rel=1e-12)      # not clipped at 1e-7
        dz = (np.exp(z) / np.exp(z).sum(1, keepdims=True) - y) / 2
        close(tape.gradient(loss, head.trainable_variables)[0].numpy(), x.T @ dz, 1e-12)


def test_a_convnet_of_layers_equals_the_same_convnet_written_with_elementary_operations(each_backend):
    """Conv2D(relu) -> MaxPooling2D(2) -> Flatten -> Dense(softmax) -> cross-entropy as layers (one node
    each: conv.py's backward passes) and as gather (im2col), matmul, relu, reshape, reduce_max,
    log_softmax (one node per operation): the same loss and gradients."""
    rng = np.random.default_rng(9)
    N, H, W, C, F, k = 3, 6, 6, 2, 4, 3
    x, y = rng.normal(size=(N, H, W, C)), np.eye(5)[rng.integers(0, 5, N)]
    conv, pool, flat, dense = (Conv2D(F, k, activation="relu", seed=1, dtype="float64"),
                               MaxPooling2D(2, dtype="float64"), L.Flatten(dtype="float64"),
                               L.Dense(5, activation="softmax", seed=2, dtype="float64"))
    with ns.GradientTape() as tape:
        loss = ns.keras.losses.CategoricalCrossentropy(dtype="float64")(y, dense(flat(pool(conv(x)))))
    variables = conv.trainable_variables + dense.trainable_variables
    layer_grads = tape.gradient(loss, variables)
    K, b, V, c = variables
    OH, OW = H - k + 1, W - k + 1
    n, r, s, i, j = np.ix_(range(N), range(OH), range(OW), range(k), range(k))
    rows = n * H * W + (r + i) * W + (s + j)                              # (N, OH, OW, k, k): im2col's rows
    with ns.GradientTape() as tape:
        cols = ns.gather(ns.reshape(ns.constant(x), (-1, C)), rows)       # (N, OH, OW, k, k, C)
        z = ns.matmul(ns.reshape(cols, (N * OH * OW, k * k * C)), ns.reshape(K, (k * k * C, F))) + b
        a = ns.reshape(ns.nn.relu(z), (N, OH // 2, 2, OW // 2, 2, F))
        pooled = ns.reduce_max(a, axis=(2, 4))                            # 2x2 windows, no ties here
        logits = ns.matmul(ns.reshape(pooled, (N, -1)), V) + c
        by_ops = -ns.reduce_mean(ns.reduce_sum(y * ns.nn.log_softmax(logits), axis=1))
    op_grads = tape.gradient(by_ops, variables)
    close(loss.numpy(), by_ops.numpy(), 1e-12)
    for g_layers, g_ops in zip(layer_grads, op_grads):
        close(g_layers.numpy(), g_ops.numpy(), 1e-12)
