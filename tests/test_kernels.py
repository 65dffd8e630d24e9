"""Each Numba loop of the engine equals the NumPy expression it replaces (named in its docstring).

Random shapes from hypothesis: 1 x 1, odd sizes, float32 and float64, pre-activations large enough
to overflow ``exp``.  The references are the plain expressions (``activations``, ``losses``, and the
optimizers on the numpy backend).  Tolerances: float64 1e-12 relative;
float32 a few ulps of the result (1e-5 relative) -- the kernels sum in a different order.
"""
import numpy as np
import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

from nnscratch import activations, backend, losses, optimizers
from nnscratch.engine import loops as K

ACTS = {name: f.fused for name, f in activations.ACTIVATIONS.items()}

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
dims = st.one_of(st.integers(1, 9), st.sampled_from([13, 31, 64, 67, 130]))
dtypes = st.sampled_from([np.float32, np.float64])
layouts = st.sampled_from(["c", "transposed", "strided"])


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)


def make(rng, shape, dtype, layout, scale=1.0):
    """An array of ``shape`` in the given memory layout (values the same whatever the layout)."""
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    if layout == "transposed":
        return np.ascontiguousarray(x.T).T
    if layout == "strided":
        big = np.zeros((shape[0], 2 * shape[1]), dtype)
        big[:, ::2] = x
        return big[:, ::2]
    return x


@SETTINGS
@given(n=dims, m=dims, dtype=dtypes, act=st.sampled_from(list(ACTS)),
       scale=st.sampled_from([1.0, 1e3]), seed=st.integers(0, 2**31))
def test_bias_activation_forward_equals_dense_forward(n, m, dtype, act, scale, seed):
    """``z += b; a = activation(z)`` and ``a = activation(z)``, including pre-activations that overflow exp."""
    rng = np.random.default_rng(seed)
    z0 = (rng.standard_normal((n, m)) * scale).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    z, a = z0.copy(), np.empty_like(z0)
    K.bias_activation_forward(z, b, ACTS[act], a)
    zr = z0 + b
    np.testing.assert_array_equal(z, zr)
    ref = activations.get(act).forward(zr)
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(a, ref, **tol(dtype))
    a2 = np.empty_like(a)
    K.activation_forward(zr, ACTS[act], a2)
    np.testing.assert_array_equal(a2, a)
    if act in ("linear", "relu"):                     # in place (a is z), as a convolution runs them
        z_in_place = z0.copy()
        K.bias_activation_forward(z_in_place, b, ACTS[act], z_in_place)
        np.testing.assert_array_equal(z_in_place, ref)


@SETTINGS
@given(n=dims, m=dims, dtype=dtypes, act=st.sampled_from(list(ACTS)), seed=st.integers(0, 2**31))
def test_activation_backward_equals_numpy(n, m, dtype, act, seed):
    """``dz = activation.backward(z, a, da)`` and ``db = dz.sum(axis=0)`` (or no db)."""
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((n, m)) * 3).astype(dtype)
    f = activations.get(act)
    a = f.forward(z)
    da = rng.standard_normal((n, m)).astype(dtype)
    dz, db = np.empty_like(da), np.empty(m, dtype)
    K.activation_backward(z, a, da, ACTS[act], dz, db)
    ref = f.backward(z, a, da)
    np.testing.assert_allclose(dz, ref, **tol(dtype))
    if act != "softmax":                              # the same operations in the same type and order
        np.testing.assert_array_equal(dz, ref)
    np.testing.assert_allclose(db, ref.sum(axis=0), rtol=tol(dtype)["rtol"] * 10, atol=tol(dtype)["atol"] * n * 10)
    dz2 = np.empty_like(da)
    K.activation_backward(z, a, da, ACTS[act], dz2, None)
    np.testing.assert_array_equal(dz2, dz)


@njit(**K._opts)
def exp_all(x, out):
    """``out = exp(x)`` by the float32 kernel, element by element, compiled as the kernels are."""
    for i in range(x.size):
        out[i] = K._expf_nonpositive(x[i])


def test_float32_exp_is_accurate_to_one_ulp_over_its_whole_range():
    """The vectorisable float32 ``exp`` that sigmoid uses (``kernels._expf_nonpositive``) is within
    1 ulp of the exact value for every x <= 0 on a fine grid: normal results, the subnormal results
    below -87.3 (rounded, not flushed to 0 and not clamped) and 0 far below.  A range reduction
    regrouped by the compiler (fastmath ``reassoc``) measured 4.5 ulp here; a wrong exponent, far more."""
    x = -np.linspace(0, 110, 1_000_003).astype(np.float32)
    x = np.concatenate([x, np.float32([-0.0, -1e-30, -np.inf])])
    out = np.empty_like(x)
    exp_all(x, out)
    exact = np.exp(x.astype(np.float64))
    ulp = np.spacing(exact.astype(np.float32)).astype(np.float64)
    assert np.all(np.abs(out - exact) <= ulp), np.max(np.abs(out - exact) / ulp)
    assert out[-3] == out[-2] == 1 and out[-1] == 0
    assert 0 < out[np.searchsorted(-x[:-3], 100.0)] < np.finfo(np.float32).tiny   # subnormal, as exp(-100)


def test_float32_sigmoid_kernel_matches_the_exact_value():
    """The float32 sigmoid kernel: within 2.5e-7 relative of the float64 value, about 2 ulp (NumPy's
    own float32 expression measures 2.0e-7 on these numbers); NaN stays NaN; float64 stays libm's
    exp, equal to the expression."""
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.standard_normal(20000) * 30, [0.0, -0.0, 88.7, -88.7, -120.0, 200.0]])
    for dtype in (np.float32, np.float64):
        zz = z.astype(dtype).reshape(1, -1)
        a = np.empty_like(zz)
        K.activation_forward(zz, ACTS["sigmoid"], a)
        exact = 1 / (1 + np.exp(-zz.astype(np.float64)))
        nan = np.full((1, 1), np.nan, dtype)
        nan_out = np.empty_like(nan)
        K.activation_forward(nan, ACTS["sigmoid"], nan_out)
        assert np.isnan(nan_out[0, 0])                    # a NaN stays NaN: training can notice it
        if dtype == np.float32:
            # the expression of activations.sigmoid in float32, given the kernel's exp: equal bit for
            # bit (a float64 division, from Numba typing the literal 1 as int64, would round otherwise)
            e = np.empty_like(zz)
            exp_all(-np.abs(zz).ravel(), e.ravel())
            one = np.float32(1)
            np.testing.assert_array_equal(a, np.where(zz >= 0, one / (one + e), e / (one + e)))
            normal = exact >= np.finfo(np.float32).tiny
            np.testing.assert_allclose(a[normal], exact[normal], rtol=2.5e-7, atol=0)
            np.testing.assert_allclose(a, exact, rtol=0, atol=2e-45 + 2.5e-7 * exact.max())
        else:
            np.testing.assert_allclose(a, activations.sigmoid(zz), rtol=1e-15, atol=0)


@SETTINGS
@given(n=dims, m=dims, dtype=dtypes, rate=st.sampled_from([0.2, 0.5, 0.9]), key=st.integers(0, 2**64 - 1))
def test_dropout_kernels_equal_the_expression(n, m, dtype, rate, key):
    """``u = counter_uniform(key, shape)``, ``mask = (u >= rate) * (1/(1-rate))``, ``out = x * mask``:
    the kernel computes the very ``u`` of ``counter_random.py`` inside its loop."""
    from nnscratch import counter_random as random
    rng = np.random.default_rng(key % 2**32)
    x = rng.standard_normal((n, m)).astype(dtype)
    u = random.counter_uniform(key, (n, m))
    keep = u >= np.float32(rate)
    scale = dtype(1 / (1 - rate))
    mask, out = np.empty_like(x), np.empty_like(x)
    K.dropout_forward(x, np.uint64(key), np.float32(rate), scale, mask, out)
    np.testing.assert_array_equal(mask, keep * scale)
    np.testing.assert_array_equal(out, x * (keep * scale))
    mask2, out2 = np.empty_like(x), np.empty_like(x)
    K.dropout_keep(x, keep, scale, mask2, out2)
    np.testing.assert_array_equal(out2, out)
    np.testing.assert_array_equal(mask2, mask)


def test_counter_uniform_is_uniform_and_keyed():
    """Sanity of the generator: mean 1/2, variance 1/12, no correlation between neighbours, a new
    key gives new numbers, the same key the same ones."""
    from nnscratch import counter_random as random
    u = random.counter_uniform(12345, (1000, 500)).astype(np.float64)
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 2e-3 and abs(u.var() - 1 / 12) < 1e-3
    assert abs(np.corrcoef(u.ravel()[:-1], u.ravel()[1:])[0, 1]) < 5e-3
    assert np.array_equal(u, random.counter_uniform(12345, (1000, 500)))
    assert np.mean(u == random.counter_uniform(12346, (1000, 500))) < 1e-3


@SETTINGS
@given(n=dims, c=dims, dtype=dtypes, scale=st.sampled_from([1.0, 1e3]), seed=st.integers(0, 2**31))
def test_softmax_crossentropy_equals_losses(n, c, dtype, scale, seed):
    """Softmax + cross-entropy from logits + ``(p - y)/N``."""
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((n, c)) * scale).astype(dtype)
    y = np.eye(c, dtype=dtype)[rng.integers(0, c, n)]
    p, dz = np.empty_like(z), np.empty_like(z)
    loss = K.softmax_crossentropy(z, y, p, dz)
    pr = activations.softmax(z)
    np.testing.assert_allclose(p, pr, **tol(dtype))
    # against the exact (float64) loss: logsumexp(z) - z_j loses digits of size eps * max|z|
    exact = losses.softmax_crossentropy_from_logits(y.astype(np.float64), z.astype(np.float64))
    np.testing.assert_allclose(loss, exact, rtol=tol(dtype)["rtol"] * 10,
                               atol=8 * np.finfo(dtype).eps * max(1.0, float(np.abs(z).max())))
    np.testing.assert_allclose(dz, losses.softmax_crossentropy_from_logits_gradient(y, pr), **tol(dtype))


@SETTINGS
@given(n=dims, c=st.integers(2, 12), dtype=dtypes, zero_row=st.booleans(), seed=st.integers(0, 2**31))
def test_crossentropy_equals_losses(n, c, dtype, zero_row, seed):
    """Renormalised, clipped cross-entropy on probabilities and its gradient."""
    rng = np.random.default_rng(seed)
    p = rng.random((n, c)).astype(dtype)
    p[rng.random((n, c)) < 0.2] = 0                       # dropout after a sigmoid: zeros, clipped q
    if zero_row:
        p[0] = 0
    y = np.eye(c, dtype=dtype)[rng.integers(0, c, n)]
    dp = np.empty_like(p)
    loss = K.crossentropy(p, y, dp, dtype(losses.EPSILON), dtype(1 - losses.EPSILON))
    np.testing.assert_allclose(loss, losses.categorical_crossentropy(y, p), rtol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(dp, losses.categorical_crossentropy_gradient(y, p), **tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", [lambda: optimizers.Adam(), lambda: optimizers.SGD(0.1),
                                  lambda: optimizers.SGD(0.1, 0.9), lambda: optimizers.SGD(0.1, 0.9, True),
                                  lambda: optimizers.RMSprop(), lambda: optimizers.RMSprop(momentum=0.9),
                                  lambda: optimizers.RMSprop(centered=True),
                                  lambda: optimizers.RMSprop(momentum=0.5, centered=True)],
                         ids=["adam", "sgd", "momentum", "nesterov", "rmsprop", "rmsprop-momentum",
                              "rmsprop-centered", "rmsprop-momentum-centered"])
def test_optimizer_kernels_bit_equal_to_the_written_out_update(make, dtype):
    """``apply`` on the numba backend (one kernel pass over all parameters) equals the loop written
    out in ``optimizers.py`` (numpy backend) bit for bit: no fastmath in the optimizer kernels."""
    rng = np.random.default_rng(1)
    shapes = [(7, 5), (5,), (5, 3), (3,)]
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(4)]
    results = []
    for name in ("numpy", "numba"):
        params, opt = [p.copy() for p in start], make()
        with backend.use(name):
            for g in grads:
                opt.apply(params, g)
        results.append(params)
    for p, r in zip(*results):
        np.testing.assert_array_equal(p, r)
    assert not np.array_equal(results[0][0], start[0])       # the weights moved
