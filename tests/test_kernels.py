"""Each Numba kernel equals the NumPy expression it replaces (named in its docstring).

Random shapes from hypothesis: 1 x 1, odd sizes, non-contiguous and transposed inputs, float32 and
float64, pre-activations large enough to overflow ``exp``.  Tolerances: float64 1e-12 relative;
float32 a few ulps of the result (1e-5 relative) -- the kernels sum in a different order.
"""
import numpy as np
import pytest

pytest.importorskip("numba")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from nnscratch import activations, losses, optimizers  # noqa: E402
from nnscratch import kernels as K  # noqa: E402

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
@given(m=dims, k=dims, n=dims, dtype=dtypes, la=layouts, lb=layouts, seed=st.integers(0, 2**31))
def test_matmul_equals_numpy(m, k, n, dtype, la, lb, seed):
    """``matmul(a, b) == a @ b`` for any layouts: forward ``x @ W``, ``dz @ W.T``, ``x.T @ dz``."""
    rng = np.random.default_rng(seed)
    a, b = make(rng, (m, k), dtype, la), make(rng, (k, n), dtype, lb)
    out = K.matmul(a, b)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    eps = np.finfo(dtype).eps
    assert np.all(np.abs(out - ref) <= 2 * k * eps * scale + 1e-30)
    assert out.dtype == dtype


def test_matmul_training_shapes():
    rng = np.random.default_rng(0)
    for (m, k, n) in [(32, 784, 512), (128, 512, 10), (130, 512, 784)]:
        a = rng.standard_normal((m, k)).astype(np.float32)
        w = rng.standard_normal((n, k)).astype(np.float32)
        np.testing.assert_allclose(K.matmul(a, w.T), a @ w.T, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(K.matmul(a.T, a), a.T @ a, rtol=1e-4, atol=1e-3)


@SETTINGS
@given(n=dims, m=dims, dtype=dtypes, act=st.sampled_from(list(K.ACT_CODES)),
       scale=st.sampled_from([1.0, 1e3]), seed=st.integers(0, 2**31))
def test_bias_act_equals_dense_forward(n, m, dtype, act, scale, seed):
    """``bias_act``: ``z += b; a = activation(z)``, including pre-activations that overflow exp."""
    rng = np.random.default_rng(seed)
    z0 = (rng.standard_normal((n, m)) * scale).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    z, a = z0.copy(), np.empty_like(z0)
    K.bias_act(z, b, K.ACT_CODES[act], a)
    zr = z0 + b
    np.testing.assert_array_equal(z, zr)
    ref = activations.get(act).forward(zr)
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(a, ref, **tol(dtype))


@SETTINGS
@given(n=dims, m=dims, dtype=dtypes, act=st.sampled_from(list(K.ACT_CODES)), masked=st.booleans(),
       seed=st.integers(0, 2**31))
def test_act_backward_equals_numpy(n, m, dtype, act, masked, seed):
    """``dz = activation.backward(z, a, da * mask)`` and ``db = dz.sum(axis=0)``."""
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((n, m)) * 3).astype(dtype)
    f = activations.get(act)
    a = f.forward(z)
    da = rng.standard_normal((n, m)).astype(dtype)
    mask = ((rng.random((n, m)) >= 0.3) * dtype(1 / 0.7)).astype(dtype) if masked else np.empty((0, 0), dtype)
    dz, db = np.empty_like(da), np.empty(m, dtype)
    K.act_backward(z, a, da, mask, K.ACT_CODES[act], dz, db)
    ref = f.backward(z, a, da * mask if masked else da)
    np.testing.assert_allclose(dz, ref, **tol(dtype))
    np.testing.assert_allclose(db, ref.sum(axis=0), rtol=tol(dtype)["rtol"] * 10, atol=tol(dtype)["atol"] * n * 10)


@SETTINGS
@given(n=dims, m=dims, dtype=dtypes, rate=st.sampled_from([0.2, 0.5, 0.9]), seed=st.integers(0, 2**31))
def test_dropout_forward(n, m, dtype, rate, seed):
    """``mask = (U >= rate) * (1/(1-rate))``, ``out = x * mask``; reproducible from the seed."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, m)).astype(dtype)
    scale = dtype(1 / (1 - rate))
    mask, out = np.empty_like(x), np.empty_like(x)
    K.dropout_forward(x, rate, scale, seed % 2**32, mask, out)
    assert set(np.unique(mask)) <= {dtype(0), scale}
    np.testing.assert_array_equal(out, x * mask)
    mask2, out2 = np.empty_like(x), np.empty_like(x)
    K.dropout_forward(x, rate, scale, seed % 2**32, mask2, out2)
    np.testing.assert_array_equal(mask, mask2)
    keep = mask > 0
    K.apply_keep(x, keep, scale, mask2, out2)
    np.testing.assert_array_equal(out2, x * (keep * scale))


def test_dropout_rate_statistics():
    x = np.ones((400, 500), np.float32)
    mask, out = np.empty_like(x), np.empty_like(x)
    K.dropout_forward(x, 0.2, np.float32(1.25), 123, mask, out)
    assert abs(np.mean(mask == 0) - 0.2) < 0.005
    assert abs(out.mean() - 1.0) < 0.01


@SETTINGS
@given(n=dims, c=dims, dtype=dtypes, scale=st.sampled_from([1.0, 1e3]), seed=st.integers(0, 2**31))
def test_softmax_xent_equals_losses(n, c, dtype, scale, seed):
    """Softmax + cross-entropy from logits + ``(p - y)/N`` + the accuracy count."""
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((n, c)) * scale).astype(dtype)
    y = np.eye(c, dtype=dtype)[rng.integers(0, c, n)]
    p, dz = np.empty_like(z), np.empty_like(z)
    loss, correct = K.softmax_xent(z, y, p, dz)
    pr = activations.softmax(z)
    np.testing.assert_allclose(p, pr, **tol(dtype))
    np.testing.assert_allclose(loss, losses.softmax_crossentropy_from_logits(y, z), rtol=tol(dtype)["rtol"] * 10,
                               atol=tol(dtype)["atol"] * 10)
    np.testing.assert_allclose(dz, losses.softmax_crossentropy_from_logits_gradient(y, pr), **tol(dtype))
    assert correct == np.count_nonzero(pr.argmax(1) == y.argmax(1))


@SETTINGS
@given(n=dims, c=st.integers(2, 12), dtype=dtypes, zero_row=st.booleans(), seed=st.integers(0, 2**31))
def test_xent_equals_losses(n, c, dtype, zero_row, seed):
    """Renormalised, clipped cross-entropy on probabilities and its gradient."""
    rng = np.random.default_rng(seed)
    p = rng.random((n, c)).astype(dtype)
    p[rng.random((n, c)) < 0.2] = 0                       # dropout after a sigmoid: zeros, clipped q
    if zero_row:
        p[0] = 0
    y = np.eye(c, dtype=dtype)[rng.integers(0, c, n)]
    dp = np.empty_like(p)
    loss, correct = K.xent(p, y, dp)
    np.testing.assert_allclose(loss, losses.categorical_crossentropy(y, p), rtol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(dp, losses.categorical_crossentropy_gradient(y, p), **tol(dtype))
    assert correct == np.count_nonzero(p.argmax(1) == y.argmax(1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_update_bit_equal_to_optimizer(dtype):
    """One pass over all parameters equals ``optimizers.Adam`` bit for bit (no fastmath there)."""
    rng = np.random.default_rng(1)
    shapes = [(7, 5), (5,), (5, 3), (3,)]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ref_params = [p.copy() for p in params]
    opt_ref, opt = optimizers.Adam(), optimizers.Adam()
    opt.build(params)
    from nnscratch.engine import Engine
    for step in range(3):
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        opt_ref.apply(ref_params, grads)
        alpha, omb1, omb2, eps = Engine._adam_scalars(type("E", (), {"dtype": np.dtype(dtype)})(), opt)
        flat = lambda arrs: tuple(a.reshape(-1) for a in arrs)   # noqa: E731
        K.adam_update(flat(params), flat(grads), flat(opt.state["m"]), flat(opt.state["v"]), omb1, omb2, alpha, eps)
        opt.iterations += 1
    for p, r in zip(params, ref_params):
        np.testing.assert_array_equal(p, r)


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_update_bit_equal_to_optimizer(momentum, nesterov):
    rng = np.random.default_rng(2)
    shapes = [(4, 3), (3,)]
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    ref_params = [p.copy() for p in params]
    opt_ref = optimizers.SGD(0.1, momentum, nesterov)
    vel = [np.zeros_like(p).reshape(-1) for p in params]
    lr, mu = np.float32(0.1), np.float32(momentum)
    for step in range(3):
        grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        opt_ref.apply(ref_params, grads)
        K.sgd_update(tuple(p.reshape(-1) for p in params), tuple(g.reshape(-1) for g in grads),
                     tuple(vel) if momentum else tuple(p.reshape(-1) for p in params)[:0], lr, mu, nesterov)
    for p, r in zip(params, ref_params):
        np.testing.assert_array_equal(p, r)


def test_take_rows_and_argmax():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((50, 7)).astype(np.float32)
    idx = rng.permutation(50)[:13]
    out = np.empty((13, 7), np.float32)
    K.take_rows(x, idx, out)
    np.testing.assert_array_equal(out, x[idx])
    labels = rng.integers(0, 7, 13)
    assert K.argmax_rows_equal(out, labels) == np.count_nonzero(out.argmax(1) == labels)


def test_transpose_into():
    x = np.arange(70 * 33, dtype=np.float32).reshape(70, 33)
    out = np.empty((33, 70), np.float32)
    K.transpose_into(x, out)
    np.testing.assert_array_equal(out, x.T)
