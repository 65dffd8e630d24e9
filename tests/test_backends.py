"""One path: ``fit``, ``evaluate`` and ``predict`` run the very methods a learner reads, on both backends,
and the two backends compute the same numbers.

The numba backend computes each expression with a kernel in one pass (a different summation order,
fast reciprocals), so float32 results differ in the last bits each step; Adam's division by
``sqrt(v)`` amplifies such differences for parameters whose gradient is near zero.  Tolerance after
an epoch: rtol 1e-4 / atol 1e-5 in float32, 1e-9 in float64.  Dropout draws the same masks on both
backends (the layer's own generator), so dropout stays on.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnscratch
from nnscratch import activations, backend, optimizers
from nnscratch import layers as L
from nnscratch.models import Sequential


def workshop_model(dtype, rate, hidden=(64, 32), d=40, c=10, opt="adam"):
    layers = []
    for i, h in enumerate(hidden):
        layers += [L.Dense(h, input_shape=(d,) if i == 0 else None, seed=10 + i), L.Activation("sigmoid"),
                   L.Dropout(rate, seed=20 + i)]
    layers += [L.Dense(c, seed=99), L.Activation("softmax")]
    m = Sequential(layers, dtype=dtype, seed=5)
    m.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
    return m


def one_layer_model(dtype, rate, d=40, c=10):
    m = Sequential([L.Dense(c, input_shape=(d,), seed=3), L.Activation("sigmoid"), L.Dropout(rate, seed=4)],
                   dtype=dtype, seed=5)
    m.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return m


def data(n=300, d=40, c=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, d))
    y = np.eye(c)[rng.integers(0, c, n)]
    return x, y


def train(name, make, dtype, batch, **kw):
    with backend.use(name):
        m = make(dtype, **kw)
        x, y = data()
        h = m.fit(x, y, batch_size=batch, epochs=1, verbose=0, validation_split=0.1)
    return m, h


def tolerance(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch", [32, 7])
@pytest.mark.parametrize("make", [workshop_model, one_layer_model])
def test_backends_give_the_same_weights_after_an_epoch_with_dropout(make, batch, dtype):
    a, ha = train("numpy", make, dtype, batch, rate=0.2)
    b, hb = train("numba", make, dtype, batch, rate=0.2)
    moved = make(dtype, rate=0.2).get_weights()
    for u, v, w0 in zip(a.get_weights(), b.get_weights(), moved):
        np.testing.assert_allclose(u, v, **tolerance(dtype))
        assert not np.array_equal(u, w0)
    for k in ha.history:
        np.testing.assert_allclose(ha.history[k], hb.history[k], rtol=1e-4 if dtype == "float32" else 1e-9)


def test_dropout_masks_are_the_same_on_both_backends():
    """One definition of a mask: ``rng.random(shape) >= rate`` from the layer's own generator."""
    x = np.ones((50, 30), np.float32)
    outs = []
    for name in ("numpy", "numba"):
        with backend.use(name):
            layer = L.Dropout(0.3, seed=7)
            outs.append([np.array(layer.forward(x, training=True)) for _ in range(3)])
    for u, v in zip(*outs):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(outs[0][0], outs[0][1])        # a new mask every call


# ----------------------------------------------------------------------------- random architectures
ACTS = sorted(activations.ACTIVATIONS)


@st.composite
def architectures(draw):
    """1-3 Dense layers of 2-24 units, every activation (inside Dense or as its own layer), dropout
    0-0.5 after any layer, a softmax or sigmoid head, at least 2 classes."""
    d = draw(st.integers(1, 20))
    layers, first = [], {"input_shape": (d,)}
    for k in range(draw(st.integers(0, 2))):
        act = draw(st.sampled_from(ACTS))
        if draw(st.booleans()):
            layers += [L.Dense(draw(st.integers(2, 24)), seed=k, **first), L.Activation(act)]
        else:
            layers.append(L.Dense(draw(st.integers(2, 24)), activation=act, seed=k, **first))
        first = {}
        rate = draw(st.sampled_from([None, 0.2, 0.5]))
        if rate:
            layers.append(L.Dropout(rate, seed=50 + k))
    classes = draw(st.integers(2, 12))
    head = draw(st.sampled_from(["softmax", "sigmoid"]))
    layers.append(L.Dense(classes, activation=head, seed=99, **first))
    if head == "sigmoid" and draw(st.booleans()):
        layers.append(L.Dropout(0.2, seed=77))
    return d, classes, layers


def _clone(layers):
    return [type(l)(**{k: v for k, v in l.get_config().items() if k != "name" and v is not None},
                    **({"seed": l.seed} if hasattr(l, "seed") else {})) for l in layers]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arch=architectures(), opt=st.sampled_from(["adam", "sgd", "momentum", "nesterov"]),
       batch=st.integers(1, 40), seed=st.integers(0, 1000))
def test_default_backend_fit_equals_numpy_backend_fit(arch, opt, batch, seed):
    """float64, where the two backends must agree to 1e-9 after 2 epochs whatever the dynamics (in
    float32 a batch-1 momentum run amplifies last-bit differences; the float32 kernels are held to
    the expressions by test_kernels.py and the workshop models above)."""
    d, classes, layers = arch
    dtype = "float64"
    make_opt = {"adam": lambda: optimizers.Adam(), "sgd": lambda: optimizers.SGD(0.05),
                "momentum": lambda: optimizers.SGD(0.05, 0.9),
                "nesterov": lambda: optimizers.SGD(0.05, 0.9, True)}[opt]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, d))
    y = np.eye(classes)[rng.integers(0, classes, 60)]
    results = []
    for name in (backend.DEFAULT, "numpy"):
        with backend.use(name):
            m = Sequential(_clone(layers), dtype=dtype, seed=seed)
            m.compile(loss="categorical_crossentropy", optimizer=make_opt(), metrics=["accuracy"])
            start = m.get_weights()
            h = m.fit(x, y, batch_size=batch, epochs=2, verbose=0)
            results.append((m.get_weights(), h.history["loss"]))
    (wa, la), (wb, lb) = results
    assert any(not np.array_equal(w, w0) for w, w0 in zip(wa, start))     # training happened
    for u, v in zip(wa, wb):
        np.testing.assert_allclose(u, v, **tolerance(dtype))
    np.testing.assert_allclose(la, lb, rtol=1e-4 if dtype == "float32" else 1e-9)


# ------------------------------------------------------------------------------ what fit runs
def _instrument(monkeypatch, calls):
    """Count calls of the methods a learner reads: wrapped, still doing their work."""
    targets = [(L.Dense, "forward"), (L.Dense, "backward"), (L.Activation, "forward"), (L.Dropout, "forward"),
               (optimizers.Adam, "apply")]
    for cls, meth in targets:
        original = getattr(cls, meth)

        def wrapper(self, *a, __original=original, __key=f"{cls.__name__}.{meth}", **kw):
            calls[__key] = calls.get(__key, 0) + 1
            return __original(self, *a, **kw)
        monkeypatch.setattr(cls, meth, wrapper)


@pytest.mark.parametrize("name", ["numpy", "numba"])
def test_fit_evaluate_predict_run_the_readable_methods(monkeypatch, name):
    calls = {}
    _instrument(monkeypatch, calls)
    x, y = data(n=64)
    with backend.use(name):
        m = workshop_model("float32", 0.2)
        m.fit(x, y, batch_size=16, epochs=1, verbose=0)                # 4 steps
        assert calls["Dense.forward"] == 3 * 4 and calls["Activation.forward"] == 3 * 4
        assert calls["Dropout.forward"] == 2 * 4
        assert calls["Dense.backward"] == 3 * 4      # the separate softmax hands dL/dz to a linear Dense
        assert calls["Adam.apply"] == 4
        calls.clear()
        m.evaluate(x, y, batch_size=32, verbose=0)                       # 2 batches
        assert calls == {"Dense.forward": 6, "Activation.forward": 6, "Dropout.forward": 4}
        calls.clear()
        m.predict(x, batch_size=64, verbose=0)
        assert calls == {"Dense.forward": 3, "Activation.forward": 3, "Dropout.forward": 2}


def test_changing_a_formula_changes_what_fit_computes(monkeypatch):
    """On the numpy backend, ``fit`` runs ``activations.sigmoid``: replace it and the result changes."""
    x, y = data()
    with backend.use("numpy"):
        plain = workshop_model("float32", 0.0)
        plain.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
        monkeypatch.setattr(activations.ACTIVATIONS["sigmoid"], "forward", lambda z: np.tanh(z))
        changed = workshop_model("float32", 0.0)
        changed.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    assert not np.allclose(plain.get_weights()[0], changed.get_weights()[0])


def test_an_activation_without_a_kernel_runs_its_own_functions_on_the_fast_path():
    """A learner's own activation (no kernel code) is what runs, also on the numba backend."""
    mine = activations.Activation("double", lambda z: 2 * z, lambda z, a, da: 2 * da)
    with backend.use("numba"):
        layer = L.Activation(mine)
        z = np.ones((2, 3), np.float32)
        np.testing.assert_array_equal(layer.forward(z), 2 * z)
        np.testing.assert_array_equal(layer.backward(np.ones_like(z)), 2 * np.ones_like(z))


@pytest.mark.parametrize("make", [workshop_model, one_layer_model])
def test_evaluate_and_predict_equal_the_readable_forward_and_loss(make):
    """``evaluate``'s loss is the batch-size weighted mean of ``loss_and_gradient`` on the numpy
    backend's forward, computed here batch by batch; ``predict`` equals that forward."""
    x, y = data()
    with backend.use("numpy"):
        m = make("float32", rate=0.2)
        x32, y32 = x.astype(np.float32), y.astype(np.float32)
        expected_loss = sum(float(m.loss_and_gradient(y32[i:i + 64], m.forward(x32[i:i + 64]))[0]) * len(x32[i:i + 64])
                            for i in range(0, len(x), 64)) / len(x)
        p_ref = np.concatenate([m.forward(x32[i:i + 64]) for i in range(0, len(x), 64)])
    for name in ("numpy", "numba"):
        with backend.use(name):
            p = m.predict(x, batch_size=64, verbose=0)
            loss, acc = m.evaluate(x, y, batch_size=64, verbose=0)
        np.testing.assert_allclose(p, p_ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
        assert acc == np.float32(np.mean(p.argmax(1) == y.argmax(1)))     # Keras's metrics are float32


def test_training_kernels_never_wake_a_second_thread_pool():
    """The thread policy (engine/threads.py): OpenBLAS owns the cores during training, so no loop on
    the training path may be a parallel (OpenMP) Numba function, and fit leaves Numba's settings alone."""
    import numba
    from nnscratch.engine import conv_loops, loops
    jitted = [f for module in (loops, conv_loops) for f in vars(module).values()
              if isinstance(f, numba.core.registry.CPUDispatcher)]
    assert len(jitted) >= 8
    assert [f.__name__ for f in jitted if f.targetoptions.get("parallel")] == []
    before = numba.get_num_threads()
    with backend.use("numba"):
        m = workshop_model("float32", 0.2)
        x, y = data(n=64)
        m.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert numba.get_num_threads() == before


def test_set_backend_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown backend"):
        backend.set_backend("cuda")
    assert nnscratch.get_backend() in backend.BACKENDS


@pytest.mark.parametrize("shape", [(6, 5, 4, 3), (7, 2, 9)])
def test_activation_and_dropout_fast_paths_take_any_sample_shape(shape):
    """Between conv layers the arrays are 4-D: the kernels run on rows over the last axis (softmax over
    channels, as Keras), and agree with the plain expressions."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=shape).astype(np.float32)
    da = rng.normal(size=shape).astype(np.float32)
    for act in ("relu", "sigmoid", "softmax"):
        out = {}
        for name in ("numpy", "numba"):
            with backend.use(name):
                layer, drop = L.Activation(act), L.Dropout(0.3, seed=3)
                a = np.array(layer.forward(z))
                dz = np.array(layer.backward(da))
                d = np.array(drop.forward(a, training=True))
                dd = np.array(drop.backward(da))
            out[name] = (a, dz, d, dd)
        for u, v in zip(out["numpy"], out["numba"]):
            assert u.shape == shape
            np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
