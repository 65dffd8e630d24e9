"""The two backends of the lean loop agree, and both agree with the readable path.

Tolerance (stated in ``nnscratch.backend``): after one epoch of training, weights agree within
rtol 1e-4 / atol 1e-5 in float32 and 1e-9 in float64.  The numba kernels sum in a different order
(and use fast reciprocals), so float32 results differ in the last bits each step; Adam's division by
``sqrt(v)`` amplifies such differences for parameters whose gradient is near zero, hence not 1e-7.
Dropout is 0 here (the numba backend draws its own masks), or masks are injected via
``Dropout.mask_source``, which both backends honour.
"""
import numpy as np
import pytest

import nnscratch
from nnscratch import backend, engine
from nnscratch.layers import Activation, Dense, Dropout
from nnscratch.models import Sequential

pytest.importorskip("numba")


def workshop_model(dtype, rate, hidden=(64, 32), d=40, c=10, opt="adam"):
    layers = []
    for i, h in enumerate(hidden):
        layers += [Dense(h, input_shape=(d,) if i == 0 else None, seed=10 + i), Activation("sigmoid"),
                   Dropout(rate, seed=20 + i)]
    layers += [Dense(c, seed=99), Activation("softmax")]
    m = Sequential(layers, dtype=dtype, seed=5)
    m.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
    return m


def one_layer_model(dtype, rate, d=40, c=10):
    m = Sequential([Dense(c, input_shape=(d,), seed=3), Activation("sigmoid"), Dropout(rate, seed=4)],
                   dtype=dtype, seed=5)
    m.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return m


def data(n=300, d=40, c=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, d))
    y = np.eye(c)[rng.integers(0, c, n)]
    return x, y


@pytest.fixture(autouse=True)
def restore_backend():
    old = backend.get_backend()
    engine.NUMBA_FLOAT64 = True
    yield
    engine.NUMBA_FLOAT64 = False
    backend.set_backend(old)


def train(name, make, dtype, batch, **kw):
    backend.set_backend(name)
    m = make(dtype, **kw)
    x, y = data()
    h = m.fit(x, y, batch_size=batch, epochs=1, verbose=0, validation_split=0.1)
    return m, h


def tolerance(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch", [32, 7])
@pytest.mark.parametrize("make", [workshop_model, one_layer_model])
def test_backends_give_the_same_weights_after_an_epoch(make, batch, dtype):
    a, ha = train("numpy", make, dtype, batch, rate=0.0)
    b, hb = train("numba", make, dtype, batch, rate=0.0)
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(u, v, **tolerance(dtype))
    for k in ha.history:
        np.testing.assert_allclose(ha.history[k], hb.history[k], rtol=1e-4 if dtype == "float32" else 1e-9)


def test_numpy_backend_equals_readable_path_bit_for_bit_with_dropout():
    """The numpy backend makes the same random draws as ``Dropout.forward``: identical training."""
    backend.set_backend("numpy")
    x, y = data()
    a = workshop_model("float32", 0.2)
    a.fit(x, y, batch_size=32, epochs=1, verbose=0)
    b = workshop_model("float32", 0.2)
    order = b.rng.permutation(len(x))
    for s in range(0, len(x), 32):
        idx = order[s:s + 32]
        b.train_step(x[idx].astype(np.float32), y[idx].astype(np.float32))
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)


def test_injected_masks_give_the_same_weights():
    """With ``mask_source`` (as keras_reference uses it) both backends apply the same dropout."""
    def masks(seed):
        rng = np.random.default_rng(seed)
        return lambda shape, dtype: rng.random(shape) >= 0.2
    results = []
    for name in ("numpy", "numba"):
        backend.set_backend(name)
        m = workshop_model("float32", 0.2)
        for i, layer in enumerate(l for l in m.layers if isinstance(l, Dropout)):
            layer.mask_source = masks(i)
        x, y = data()
        m.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
        results.append(m.get_weights())
    for u, v in zip(*results):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("opt", ["sgd", "sgd_momentum", "sgd_nesterov"])
def test_sgd_backends_agree(opt):
    make_opt = {"sgd": lambda: nnscratch.optimizers.SGD(0.1),
                "sgd_momentum": lambda: nnscratch.optimizers.SGD(0.1, 0.9),
                "sgd_nesterov": lambda: nnscratch.optimizers.SGD(0.1, 0.9, True)}[opt]
    res = []
    for name in ("numpy", "numba"):
        backend.set_backend(name)
        m = workshop_model("float64", 0.0, opt=make_opt())
        x, y = data()
        m.fit(x, y, batch_size=16, epochs=1, verbose=0)
        res.append(m.get_weights())
    for u, v in zip(*res):
        np.testing.assert_allclose(u, v, rtol=1e-9, atol=1e-9)


def test_numba_matmul_option_agrees():
    x, y = data()
    res = []
    for mm in ("blas", "numba"):
        backend.set_backend("numba", matmul=mm)
        m = workshop_model("float32", 0.0)
        m.fit(x, y, batch_size=32, epochs=1, verbose=0)
        res.append(m.get_weights())
    backend.set_backend("numba", matmul="blas")
    for u, v in zip(*res):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)


def test_evaluate_and_predict_agree_with_readable_forward():
    backend.set_backend("numba")
    m = workshop_model("float32", 0.2)
    x, y = data()
    p = m.predict(x, batch_size=64, verbose=0)
    np.testing.assert_allclose(p, m.forward(x.astype(np.float32)), rtol=1e-5, atol=1e-6)
    loss, acc = m.evaluate(x, y, batch_size=64, verbose=0)
    assert acc == np.mean(p.argmax(1) == y.argmax(1))
    assert np.isfinite(loss)


def test_set_backend_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown backend"):
        backend.set_backend("cuda")
