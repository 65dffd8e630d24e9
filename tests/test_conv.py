"""Conv2D and MaxPooling2D: the layers against their plain-loop definitions, both backends against each
other, gradient checks (float64, < 1e-7), shapes, summary, errors, save/load.  Small images only."""
import numpy as np
import pytest

import nnscratch
from nnscratch import backend, conv, gradcheck, zoo
from nnscratch.conv import Conv2D, MaxPooling2D
from nnscratch.layers import Dense, Dropout, Flatten

BACKENDS = ["numpy", "numba"]
GEOMETRIES = [("valid", (1, 1)), ("valid", (2, 2)), ("same", (1, 1)), ("same", (2, 2)), ("same", (2, 1))]


def _images(shape=(3, 7, 8, 2), seed=0, dtype="float64"):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


# ------------------------------------------------------------------------- the naive definitions
def test_conv_forward_naive_is_the_textbook_sum():
    """One output number by hand: the 2x2 field at (row 1, col 0) times the kernel, plus the bias."""
    x = np.arange(2 * 4 * 4 * 1, dtype=float).reshape(2, 4, 4, 1)
    w = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(2, 2, 1, 1)
    out = conv.conv_forward_naive(x, w, np.array([0.5]))
    assert out.shape == (2, 3, 3, 1)
    field = x[1, 1:3, 0:2, 0]
    assert out[1, 1, 0, 0] == field[0, 0] * 1 + field[0, 1] * 2 + field[1, 0] * 3 + field[1, 1] * 4 + 0.5


def test_same_padding_puts_the_extra_zero_after():
    """TensorFlow's rule: total = max((out-1)*s + k - n, 0), before = total // 2."""
    assert conv.padding_amounts(28, 3, 1, "same") == (1, 1)
    assert conv.padding_amounts(8, 3, 2, "same") == (0, 1)      # out 4: total (4-1)*2 + 3 - 8 = 1
    assert conv.padding_amounts(7, 2, 2, "same") == (0, 1)
    assert conv.padding_amounts(7, 3, 2, "same") == (1, 1)
    assert conv.output_length(28, 3, 1, "valid") == 26 and conv.output_length(7, 3, 2, "same") == 4
    # the definition with that padding: a 1x1 image, 3x3 same -> only the centre tap sees the pixel
    w = np.arange(9.0).reshape(3, 3, 1, 1)
    assert conv.conv_forward_naive(np.ones((1, 1, 1, 1)), w, padding="same")[0, 0, 0, 0] == w[1, 1, 0, 0]


def test_maxpool_forward_naive_by_hand():
    x = np.array([[1, 5, 2, 0], [3, 4, 7, 1], [0, 0, 2, 2], [9, 1, 2, 3]], dtype=float).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(conv.maxpool_forward_naive(x)[0, :, :, 0], [[5, 7], [9, 3]])
    same = conv.maxpool_forward_naive(x[:, :3, :3], padding="same")       # 3x3 -> 2x2, -inf padding
    np.testing.assert_array_equal(same[0, :, :, 0], [[5, 7], [0, 2]])


def test_col2im_is_the_adjoint_of_im2col():
    """<im2col(x), g> = <x, col2im(g)> for every x and g: the backward pass of the copy."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 7, 6, 3))
    for kh, kw, sh, sw in [(3, 3, 1, 1), (3, 2, 2, 1), (2, 2, 2, 2)]:
        OH, OW = (7 - kh) // sh + 1, (6 - kw) // sw + 1
        cols = conv.im2col(x, kh, kw, sh, sw, OH, OW)
        g = rng.normal(size=cols.shape)
        assert np.sum(cols * g) == pytest.approx(np.sum(x * conv.col2im(g, x.shape, sh, sw)), rel=1e-12)


# ---------------------------------------------------------------- layers against the definitions
DTYPES = [("float64", 1e-13), ("float32", 2e-6)]


def _conv(be, x, dtype, **kw):
    with backend.use(be):
        layer = Conv2D(**kw)
        layer.build(x.shape[1:], dtype)
    return layer


@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("dtype,atol", DTYPES)
@pytest.mark.parametrize("padding,strides", GEOMETRIES)
@pytest.mark.parametrize("activation,use_bias", [("linear", True), ("relu", True), ("tanh", False),
                                                 ("sigmoid", True), ("relu", False)])
def test_conv2d_forward_equals_the_loops(be, dtype, atol, padding, strides, activation, use_bias):
    x = _images(dtype=dtype)
    layer = _conv(be, x, dtype, filters=3, kernel_size=(3, 2), strides=strides, padding=padding,
                  activation=activation, use_bias=use_bias, seed=1)
    if use_bias:
        layer.bias[:] = [0.3, -0.2, 0.1]
    with backend.use(be):
        out = layer.forward(x).copy()
        assert layer.forward(x) is not None
    z = conv.conv_forward_naive(x.astype("float64"), layer.kernel.astype("float64"),
                                layer.bias.astype("float64") if use_bias else None, strides, padding)
    expected = nnscratch.activations.get(activation).forward(z)
    assert out.shape == (3,) + layer.output_shape == expected.shape and out.dtype == dtype
    np.testing.assert_allclose(out, expected, rtol=0, atol=atol)


@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("padding,strides", GEOMETRIES + [("valid", None)])
@pytest.mark.parametrize("pool_size", [(2, 2), (3, 3), (2, 3)])
def test_maxpool_forward_equals_the_loops(be, padding, strides, pool_size):
    x = _images((2, 7, 9, 3), seed=2)
    with backend.use(be):
        layer = MaxPooling2D(pool_size, strides=strides, padding=padding)
        layer.build(x.shape[1:], "float64")
        out = layer.forward(x)
    expected = conv.maxpool_forward_naive(x, pool_size, strides, padding)
    assert out.shape == (2,) + layer.output_shape
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("dtype,atol", [("float64", 1e-12), ("float32", 1e-5)])
@pytest.mark.parametrize("padding,strides", GEOMETRIES)
@pytest.mark.parametrize("activation,use_bias", [("relu", True), ("tanh", False), ("linear", True)])
@pytest.mark.parametrize("need_dx", [True, False])
def test_fast_backward_equals_the_numpy_expressions(dtype, atol, padding, strides, activation, use_bias, need_dx):
    """The engine's loops (im2col, col2im, pooling) against the plain NumPy path:
    outputs and gradients, in both dtypes; with and without ``dx`` (the model's first layer)."""
    x = _images((4, 9, 8, 2), seed=3, dtype=dtype)
    g = np.random.default_rng(5)
    results = {}
    for be in BACKENDS:
        c = _conv(be, x, dtype, filters=4, kernel_size=3, strides=strides, padding=padding,
                  activation=activation, use_bias=use_bias, seed=4)
        with backend.use(be):
            p = MaxPooling2D(2, padding=padding)
            p.build(c.output_shape, dtype)
            if use_bias:
                c.bias[:] = [0.1, -0.3, 0.0, 0.2]
            a = p.forward(c.forward(x))
            grad = np.random.default_rng(5).normal(size=a.shape).astype(dtype)
            dpool = p.backward(grad).copy()
            dx = c.backward(dpool, need_dx=need_dx)
            assert (dx is None) == (not need_dx)
            results[be] = [a.copy(), dpool, c.d_kernel.copy()] + ([c.d_bias.copy()] if use_bias else []) \
                + ([dx.copy()] if need_dx else [])
    for key in BACKENDS[1:]:
        for u, v in zip(results[BACKENDS[0]], results[key]):
            assert u.dtype == v.dtype == dtype
            np.testing.assert_allclose(u, v, rtol=0, atol=atol * max(1, np.abs(u).max()))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape,pool_size,strides,padding", [
    ((3, 26, 26, 32), 2, None, "valid"), ((2, 11, 11, 5), 2, None, "valid"), ((2, 7, 9, 3), 2, None, "same"),
    ((2, 7, 9, 3), 2, 1, "same"), ((2, 7, 9, 3), (3, 2), None, "same"), ((2, 8, 8, 3), 2, 3, "valid")])
def test_maxpool_kernels_equal_the_numpy_expressions(dtype, shape, pool_size, strides, padding):
    """The pooling kernels (the 2x2 fast case, edge windows, overlapping and gapped windows) against the
    plain NumPy path, with ties from a ReLU; the fast backward overwrites a dirty buffer fully."""
    x = np.maximum(_images(shape, seed=14, dtype=dtype), 0)
    out = {}
    for be in BACKENDS:
        with backend.use(be):
            layer = MaxPooling2D(pool_size, strides=strides, padding=padding)
            layer.build(shape[1:], dtype)
            a = layer.forward(x).copy()
            g = np.random.default_rng(15).normal(size=a.shape).astype(dtype)
            layer.backward(g)[...] = np.nan                    # the buffer is reused: stale values
            layer.forward(x)
            out[be] = (a, layer.backward(g).copy())
    (a, dx), (a_fast, dx_fast) = out["numpy"], out["numba"]
    assert a_fast.dtype == dx_fast.dtype == dtype
    np.testing.assert_array_equal(a, a_fast)
    if strides is None:                                   # windows that do not overlap: one term per cell
        np.testing.assert_array_equal(dx, dx_fast)
    else:                                                 # overlapping: the same terms, added in another order
        np.testing.assert_allclose(dx, dx_fast, rtol=0, atol=8 * np.finfo(dtype).eps * np.abs(dx).max())


# --------------------------------------------------------------------------------- gradient checks
@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("padding,strides", GEOMETRIES)
def test_conv2d_gradient_check(be, padding, strides):
    with backend.use(be):
        for activation, use_bias in [("tanh", True), ("sigmoid", False), ("linear", True), ("relu", True)]:
            layer = Conv2D(3, (3, 2), strides=strides, padding=padding, activation=activation,
                           use_bias=use_bias, seed=6)
            layer.build((6, 7, 2), "float64")
            report = gradcheck.check_layer(layer, _images((2, 6, 7, 2), seed=7), backend=be)
            assert report.passed, str(report)
            assert len(report.rows) == (3 if use_bias else 2)
            assert report.max_error < 1e-7


@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("padding,strides", GEOMETRIES)
@pytest.mark.parametrize("pool_size", [(2, 2), (3, 3)])
def test_maxpool_gradient_check(be, padding, strides, pool_size):
    """Random inputs (no ties, so the max is differentiable at the point checked)."""
    with backend.use(be):
        report = gradcheck.check_layer(MaxPooling2D(pool_size, strides=strides, padding=padding),
                                       _images((2, 7, 6, 2), seed=8), backend=be)
    assert report.passed, str(report)


@pytest.mark.parametrize("be", BACKENDS)
def test_convnet_model_gradient_check(be):
    """A whole small convnet, loss included (dropout on, its mask rewound between evaluations)."""
    with backend.use(be):
        model = zoo.simple_convnet(dtype="float64", seed=9, input_shape=(12, 12, 2), filters=(3, 4))
        x = _images((5, 12, 12, 2), seed=10)
        y = nnscratch.utils.to_categorical(np.arange(5) % 10, 10)
        report = gradcheck.check_model(model, x, y, max_entries=60, backend=be)
    assert report.passed, str(report)
    assert len(report.rows) == 7                                 # 3 kernels, 3 biases, the input


@pytest.mark.parametrize("be", BACKENDS)
def test_maxpool_ties_send_the_gradient_to_the_first_maximum(be):
    """A window of equal values (zeros after a ReLU): the first in row-major order gets all of it."""
    x = np.zeros((1, 4, 4, 2))
    x[0, 2:, 2:, 1] = [[5.0, 5.0], [5.0, 1.0]]
    with backend.use(be):
        layer = MaxPooling2D()
        layer.build(x.shape[1:], "float64")
        layer.forward(x)
        dx = layer.backward(np.arange(1.0, 9.0).reshape(1, 2, 2, 2))
    expected = np.zeros_like(x)
    expected[0, 0, 0, :] = [1, 2]
    expected[0, 0, 2, :] = [3, 4]
    expected[0, 2, 0, :] = [5, 6]
    expected[0, 2, 2, :] = [7, 8]
    np.testing.assert_array_equal(dx, expected)


# ---------------------------------------------------------------- construction, shapes, errors
def test_glorot_uniform_uses_keras_conv_fans():
    layer = Conv2D(32, 3, seed=0)
    layer.build((28, 28, 1))
    limit = np.sqrt(6 / (3 * 3 * 1 + 3 * 3 * 32))          # fan_in = kh*kw*C_in, fan_out = kh*kw*C_out
    assert layer.kernel.shape == (3, 3, 1, 32) and layer.kernel.dtype == np.float32
    assert np.abs(layer.kernel).max() <= limit and np.abs(layer.kernel).max() > 0.9 * limit
    assert np.std(layer.kernel) == pytest.approx(limit / np.sqrt(3), rel=0.15)
    np.testing.assert_array_equal(layer.bias, 0)


def test_simple_convnet_summary_matches_keras_numbers():
    model = zoo.simple_convnet(seed=0)
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    for shape, params in [("(None, 26, 26, 32)", "320"), ("(None, 13, 13, 32)", "0"),
                          ("(None, 11, 11, 64)", "18,496"), ("(None, 5, 5, 64)", "0"),
                          ("(None, 1600)", "0"), ("(None, 10)", "16,010")]:
        assert any(shape in line and line.rstrip(" │").endswith(params) for line in text.splitlines()), shape
    assert "Total params: 34,826" in text
    assert "(Conv2D)" in text and "(MaxPooling2D)" in text
    assert [w.shape for w in model.get_weights()] == [(3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 10), (10,)]


def test_layer_names_follow_keras():
    a, b = Conv2D(2, 3), MaxPooling2D()
    assert a.name.startswith("conv2d") and b.name.startswith("max_pooling2d")


@pytest.mark.parametrize("make, match", [
    (lambda: Conv2D(0, 3), "filters"),
    (lambda: Conv2D(4, (3, 0)), "kernel_size"),
    (lambda: Conv2D(4, 3, strides=(1, 2, 3)), "strides"),
    (lambda: Conv2D(4, 3, padding="full"), "padding"),
    (lambda: MaxPooling2D(pool_size=2.5), "pool_size"),
    (lambda: MaxPooling2D(padding="causal"), "padding"),
])
def test_bad_arguments_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_images_without_channel_axis_get_the_fix_in_the_message():
    model = zoo.simple_convnet(seed=0)
    x = np.zeros((4, 28, 28), np.float32)
    for call in (lambda: model.predict(x, verbose=0), lambda: model.evaluate(x, np.eye(10)[:4], verbose=0),
                 lambda: model.fit(x, np.eye(10)[:4], verbose=0)):
        with pytest.raises(ValueError, match=r"channel axis.*x\[\.\.\., None\]"):
            call()
    with pytest.raises(ValueError, match="channel axis"):
        nnscratch.Sequential([Conv2D(4, 3, input_shape=(28, 28))])
    with pytest.raises(ValueError, match="larger than"):
        nnscratch.Sequential([Conv2D(4, 5, input_shape=(4, 4, 1))])


def test_conv_model_trains_and_overfits_a_small_set():
    """Sanity: the loss starts near ln 10 and 40 images are learned by heart."""
    rng = np.random.default_rng(11)
    x = rng.random((40, 10, 10, 1)).astype("float32")
    y = nnscratch.utils.to_categorical(np.arange(40) % 10, 10)
    model = zoo.simple_convnet(dropout=0.0, seed=12, input_shape=(10, 10, 1), filters=(8, 16))
    first = model.evaluate(x, y, verbose=0)[0]
    assert abs(first - np.log(10)) < 0.3
    model.compile(loss="categorical_crossentropy", optimizer=nnscratch.optimizers.Adam(0.01), metrics=["accuracy"])
    model.fit(x, y, batch_size=8, epochs=150, verbose=0)
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert accuracy == 1.0 and loss < 0.1 * first


@pytest.mark.parametrize("be", BACKENDS)
def test_save_and_load_a_convnet(tmp_path, be):
    with backend.use(be):
        model = nnscratch.Sequential([Conv2D(4, 3, strides=2, padding="same", activation="relu",
                                             input_shape=(9, 9, 2), seed=1),
                                      MaxPooling2D(pool_size=(2, 2), strides=1, padding="same"),
                                      Conv2D(3, (2, 3), use_bias=False, activation="tanh", seed=2),
                                      Flatten(), Dropout(0.3, seed=3), Dense(5, activation="softmax", seed=4)],
                                     seed=5)
        model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        x = _images((6, 9, 9, 2), seed=13, dtype="float32")
        y = nnscratch.utils.to_categorical(np.arange(6) % 5, 5)
        model.fit(x, y, batch_size=3, epochs=2, verbose=0)
        path = tmp_path / "convnet.npz"
        model.save(path)
        loaded = nnscratch.load_model(path)
        assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
        assert loaded.layers[0].get_config() == model.layers[0].get_config()
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
        # training continues identically (optimizer state, dropout generator and shuffling restored)
        h1 = model.fit(x, y, batch_size=3, epochs=1, verbose=0).history["loss"]
        h2 = loaded.fit(x, y, batch_size=3, epochs=1, verbose=0).history["loss"]
        assert h1 == h2
        for a, b in zip(model.get_weights(), loaded.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_keras_surface_has_the_conv_layers():
    import nnscratch as tf
    assert tf.keras.layers.Conv2D is Conv2D and tf.keras.layers.MaxPooling2D is MaxPooling2D
    assert tf.keras.layers.Flatten is Flatten
    assert nnscratch.registry.get("Conv2D") is Conv2D


# -------------------------------------------------- the backward passes as plain loops (issue 25, item 2)
@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("padding,strides", GEOMETRIES + [("valid", (3, 2))])
@pytest.mark.parametrize("kernel", [(3, 3), (2, 3)])
def test_conv_backward_naive_equals_the_layers_backward(be, padding, strides, kernel):
    """The plain loops give the layer's dW, db and dx (im2col / col2im, and the engine's) to rounding."""
    x, rng = _images((2, 7, 6, 3), seed=40), np.random.default_rng(41)
    with backend.use(be):
        layer = Conv2D(4, kernel, strides=strides, padding=padding, seed=42)
        layer.build(x.shape[1:], "float64")
        layer.bias[...] = rng.normal(size=4)
        z = layer.forward(x)
        dz = rng.normal(size=z.shape)
        dx = layer.backward(dz)
    np.testing.assert_allclose(z, conv.conv_forward_naive(x, layer.kernel, layer.bias, strides, padding), atol=1e-12)
    dx_n, dw_n, db_n = conv.conv_backward_naive(dz, x, layer.kernel, strides, padding)
    assert dx_n.shape == x.shape and dw_n.shape == layer.kernel.shape and db_n.shape == (4,)
    np.testing.assert_allclose(dx, dx_n, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(layer.d_kernel, dw_n, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(layer.d_bias, db_n, rtol=1e-11, atol=1e-12)


def test_conv_backward_naive_by_hand():
    """One 3x3 image, one 2x2 kernel, one output gradient of 1 at (0, 1): dx is the kernel placed at
    the field of that output, dw is that field, db is 1."""
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    w = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(2, 2, 1, 1)
    dz = np.zeros((1, 2, 2, 1))
    dz[0, 0, 1, 0] = 1.0
    dx, dw, db = conv.conv_backward_naive(dz, x, w)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0, 1, 2], [0, 3, 4], [0, 0, 0]])
    np.testing.assert_array_equal(dw[:, :, 0, 0], [[1, 2], [4, 5]])
    np.testing.assert_array_equal(db, [1.0])


@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("padding,strides", GEOMETRIES)
@pytest.mark.parametrize("pool_size", [(2, 2), (3, 2)])
def test_maxpool_backward_naive_equals_the_layers_backward(be, padding, strides, pool_size):
    """Random inputs, and inputs full of ties (ReLU zeros): the same routing as the layer, exactly."""
    rng = np.random.default_rng(43)
    for x in (_images((2, 7, 6, 2), seed=44), np.maximum(_images((2, 7, 6, 2), seed=45), 0).round()):
        with backend.use(be):
            layer = MaxPooling2D(pool_size, strides=strides, padding=padding)
            layer.build(x.shape[1:], "float64")
            a = layer.forward(x)
            da = rng.normal(size=a.shape)
            dx = layer.backward(da)
        np.testing.assert_array_equal(a, conv.maxpool_forward_naive(x, pool_size, strides, padding))
        np.testing.assert_allclose(dx, conv.maxpool_backward_naive(da, x, pool_size, strides, padding),
                                   rtol=0, atol=1e-14)
