"""docs/derivations.md, checked: each derivation's final formula, written out element by element (plain
Python loops over the indices, as the page writes it), equals the method it justifies on random input,
on both backends; every line the page quotes under **Code** is in the method it names; every method's
docstring links to its section.  Small shapes only: the loops are slow on purpose.
"""
import inspect
import itertools
import math
import re
from pathlib import Path

import numpy as np
import pytest

from nnscratch import Sequential, activations, backend, conv, gradcheck, layers, losses, optimizers
from nnscratch.conv import Conv2D, MaxPooling2D
from nnscratch.layers import Activation, Dense, Dropout

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "derivations.md"
BACKENDS = ["numpy", "numba"]


def indices(*shape):
    """Every index tuple of an array of ``shape``, in row-major order: the loops of the page."""
    return itertools.product(*map(range, shape))


def _rng(seed):
    return np.random.default_rng(seed)


# ============================================================================ the page and the code
SECTIONS = {            # anchor -> the methods whose docstrings link to it
    "dense": [layers.Dense.backward],
    "sigmoid": [activations.sigmoid_backward],
    "tanh": [activations.tanh_backward],
    "relu": [activations.relu_backward],
    "softmax-jacobian": [activations.softmax_backward],
    "softmax-cross-entropy": [losses.softmax_crossentropy_from_logits_gradient],
    "categorical-cross-entropy": [losses.categorical_crossentropy_gradient],
    "dropout": [layers.Dropout],
    "sgd": [optimizers.SGD],
    "adam": [optimizers.Adam],
    "rmsprop": [optimizers.RMSprop],
    "conv2d": [conv.Conv2D.backward, conv.col2im, conv.conv_backward_naive],
    "max-pooling": [conv.MaxPooling2D.backward, conv.maxpool_backward_naive],
}


def _squeeze(line):
    return re.sub(r"\s+", " ", line.strip())


def code_blocks():
    """``(anchor, [qualified names], [lines])`` for every **Code** paragraph of the page."""
    text = PAGE.read_text(encoding="utf-8")
    out, anchor = [], None
    pattern = re.compile(r'<a id="([^"]+)"></a>|\*\*Code\*\*: `([^`]+)`, (.+?):\n\n```python\n(.*?)```', re.S)
    for m in pattern.finditer(text):
        if m.group(1):
            anchor = m.group(1)
            continue
        names = re.findall(r"`([^`]+)`", m.group(3))
        out.append((anchor, m.group(2), names, [l for l in m.group(4).splitlines() if l.strip()]))
    return out


def _resolve(path, name):
    module = {"nnscratch/layers.py": layers, "nnscratch/activations.py": activations,
              "nnscratch/losses.py": losses, "nnscratch/optimizers.py": optimizers,
              "nnscratch/conv.py": conv}[path]
    obj = module
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def test_every_quoted_line_is_in_the_method_the_page_names():
    blocks = code_blocks()
    assert {b[0] for b in blocks} == set(SECTIONS), "a section without its **Code** paragraph"
    for anchor, path, names, lines in blocks:
        source = "\n".join(_squeeze(l) for n in names for l in inspect.getsource(_resolve(path, n)).splitlines())
        for line in lines:
            assert _squeeze(line) in source, f"#{anchor}: {line!r} is not in {path} {names}"


def test_every_method_links_to_its_derivation():
    text = PAGE.read_text(encoding="utf-8")
    for anchor, objects in SECTIONS.items():
        assert f'<a id="{anchor}"></a>' in text
        for obj in objects:
            assert f"derivations.md#{anchor}" in (obj.__doc__ or ""), f"{obj.__qualname__} does not link #{anchor}"


# ============================================================================ Dense
@pytest.mark.parametrize("be", BACKENDS)
def test_dense(be):
    """dW[d, m] = sum_n x[n, d] dz[n, m];  db[m] = sum_n dz[n, m];  dx[n, d] = sum_m dz[n, m] W[d, m]."""
    N, D, M = 4, 5, 3
    rng = _rng(1)
    x, dz = rng.standard_normal((N, D)), rng.standard_normal((N, M))
    layer = Dense(M, seed=2)
    layer.build((D,), "float64")
    with backend.use(be):
        layer.forward(x, training=True)
        dx = layer.backward(dz)
    W = layer.kernel
    dW, db, dx_loops = np.zeros((D, M)), np.zeros(M), np.zeros((N, D))
    for d, m in indices(D, M):
        dW[d, m] = sum(x[n, d] * dz[n, m] for n in range(N))
    for m in range(M):
        db[m] = sum(dz[n, m] for n in range(N))
    for n, d in indices(N, D):
        dx_loops[n, d] = sum(dz[n, m] * W[d, m] for m in range(M))
    np.testing.assert_allclose(layer.d_kernel, dW, rtol=1e-12)
    np.testing.assert_allclose(layer.d_bias, db, rtol=1e-12)
    np.testing.assert_allclose(dx, dx_loops, rtol=1e-12)


# ============================================================================ activations
DERIVATIVES = {         # f'(z) as the page ends, from z alone (math, one number at a time)
    "sigmoid": lambda z: (1 / (1 + math.exp(-z))) * (1 - 1 / (1 + math.exp(-z))),
    "tanh": lambda z: 1 - math.tanh(z) ** 2,
    "relu": lambda z: 1.0 if z > 0 else 0.0,
}


@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_elementwise_activations(name, be):
    """dz[n, m] = da[n, m] f'(z[n, m]) with sigmoid' = s(1 - s), tanh' = 1 - tanh^2, relu' = [z > 0]."""
    rng = _rng(3)
    z, da = rng.standard_normal((4, 6)) * 3, rng.standard_normal((4, 6))
    z[0, 0] = 0.0                                           # relu'(0) = 0, as TensorFlow
    expected = np.zeros_like(z)
    for n, m in indices(*z.shape):
        expected[n, m] = da[n, m] * DERIVATIVES[name](z[n, m])
    layer = Activation(name)
    with backend.use(be):
        layer.forward(z, training=True)
        np.testing.assert_allclose(layer.backward(da), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("be", BACKENDS)
def test_softmax_jacobian(be):
    """J[i, j] = da_j/dz_i = a_j (delta_ij - a_i);  dz_i = sum_j da_j J[i, j], row by row."""
    rng = _rng(4)
    z, da = rng.standard_normal((3, 5)) * 2, rng.standard_normal((3, 5))
    expected = np.zeros_like(z)
    for n in range(3):
        row = [math.exp(v) for v in z[n]]
        a = [e / sum(row) for e in row]
        for i in range(5):
            expected[n, i] = sum(da[n, j] * a[j] * ((i == j) - a[i]) for j in range(5))
    layer = Activation("softmax")
    with backend.use(be):
        layer.forward(z, training=True)
        np.testing.assert_allclose(layer.backward(da), expected, rtol=1e-12, atol=1e-15)


# ============================================================================ the losses
@pytest.mark.parametrize("be", BACKENDS)
def test_softmax_cross_entropy(be):
    """dz[n, i] = (p[n, i] - y[n, i]) / N, the gradient a softmax-head model starts its backward with."""
    N, C = 4, 3
    rng = _rng(5)
    x, y = rng.standard_normal((N, 2)), np.eye(C)[[0, 2, 1, 2]]
    model = Sequential([Dense(C, activation="softmax", input_shape=(2,), seed=6)], dtype="float64")
    with backend.use(be):
        p = model.forward(x, training=True).copy()
        _, dz = model.loss_and_gradient(y, p)
    z = x @ model.layers[0].kernel + model.layers[0].bias
    expected = np.zeros((N, C))
    for n, i in indices(N, C):
        p_ni = math.exp(z[n, i]) / sum(math.exp(z[n, k]) for k in range(C))
        expected[n, i] = (p_ni - y[n, i]) / N
    np.testing.assert_allclose(dz, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(losses.softmax_crossentropy_from_logits_gradient(y, p), expected, rtol=1e-12)


def test_softmax_cross_entropy_needs_rows_that_sum_to_one():
    """Step 2 before step 3: dl/dz_i = (sum_j y_j) p_i - y_i.  For targets that do not sum to 1 the finite
    differences follow that, not p - y: the step that uses sum(y) = 1 is a real step."""
    rng = _rng(7)
    z, y = rng.standard_normal((3, 4)), np.array([[0, 0, 0, 0], [0.5, 0, 0, 0], [0, 1, 0, 1.0]])
    numeric = gradcheck.numerical_gradient(lambda: losses.softmax_crossentropy_from_logits(y, z), z)
    p = activations.softmax(z)
    step2 = np.zeros_like(z)
    for n, i in indices(3, 4):
        step2[n, i] = (sum(y[n]) * p[n, i] - y[n, i]) / 3
    assert gradcheck.relative_error(numeric, step2) < 1e-8
    assert gradcheck.relative_error(numeric, (p - y) / 3) > 0.1


def test_categorical_cross_entropy_of_probabilities():
    """dp[n, k] = (g[n, k] - sum_j g[n, j] q[n, j]) / s_n, g = -y/(N q) where the clip is inactive."""
    rng = _rng(8)
    p, y = rng.random((4, 5)) + 0.05, np.eye(5)[[1, 3, 0, 4]]
    p[2, 0] = 1e-12                                          # clipped: no gradient through it
    N, C, eps = 4, 5, losses.EPSILON
    expected = np.zeros_like(p)
    for n in range(N):
        s = sum(p[n])
        q = [p[n, j] / s for j in range(C)]
        g = [-y[n, j] / (N * q[j]) if eps <= q[j] <= 1 - eps else 0.0 for j in range(C)]
        for k in range(C):
            expected[n, k] = (g[k] - sum(g[j] * q[j] for j in range(C))) / s
    np.testing.assert_allclose(losses.categorical_crossentropy_gradient(y, p), expected, rtol=1e-12)


# ============================================================================ dropout
@pytest.mark.parametrize("be", BACKENDS)
def test_dropout(be):
    """mask = keep / (1 - rate), so E[a] = x;  dx[n, m] = da[n, m] mask[n, m]."""
    rate = 0.2
    rng = _rng(9)
    x, da = rng.standard_normal((5, 8)), rng.standard_normal((5, 8))
    layer = Dropout(rate, seed=10)
    with backend.use(be):
        a = layer.forward(x, training=True).copy()
        dx = layer.backward(da)
        ones = Dropout(rate, seed=11).forward(np.ones((400, 500)), training=True)
    keep = a != 0
    expected = np.zeros_like(x)
    for n, m in indices(*x.shape):
        mask = keep[n, m] / (1 - rate)
        assert a[n, m] == pytest.approx(x[n, m] * mask, rel=1e-15)
        expected[n, m] = da[n, m] * mask
    np.testing.assert_allclose(dx, expected, rtol=1e-15)
    # E[a] = x: 200,000 draws of a unit of value 1 (std of the mean 0.5 / sqrt(200,000) = 0.0011)
    assert abs(float(ones.mean()) - 1) < 0.006
    assert set(np.unique(ones).round(6)) == {0.0, 1.25}


# ============================================================================ the optimizers
# Hyperparameters that float32 represents exactly, so Keras's casts through float32 change nothing and
# the page's formulas in float64 must equal the method to rounding.
LR, BETA_1, BETA_2, EPS = 2.0 ** -6, 0.875, 1 - 2.0 ** -10, 2.0 ** -20


def _grads(rng, steps, shape=(3, 4), scale=1.0):
    return [rng.standard_normal(shape) * scale for _ in range(steps)]


@pytest.mark.parametrize("be", BACKENDS)
def test_adam_equals_the_papers_form_with_epsilon_moved(be):
    """m_hat = m/(1 - b1^t), v_hat = v/(1 - b2^t), w -= lr m_hat / (sqrt(v_hat) + eps/sqrt(1 - b2^t)):
    the paper's step with Keras's epsilon, element by element, equals Adam.update at every step."""
    rng = _rng(12)
    w0, grads = rng.standard_normal((3, 4)), _grads(rng, 5)
    w, opt = w0.copy(), optimizers.Adam(LR, BETA_1, BETA_2, EPS)
    ref, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    with backend.use(be):
        for t, g in enumerate(grads, start=1):
            opt.apply([w], [g])
            for i, j in indices(*w.shape):
                m[i, j] = BETA_1 * m[i, j] + (1 - BETA_1) * g[i, j]
                v[i, j] = BETA_2 * v[i, j] + (1 - BETA_2) * g[i, j] ** 2
                m_hat = m[i, j] / (1 - BETA_1 ** t)
                v_hat = v[i, j] / (1 - BETA_2 ** t)
                ref[i, j] -= LR * m_hat / (math.sqrt(v_hat) + EPS / math.sqrt(1 - BETA_2 ** t))
            np.testing.assert_allclose(w, ref, rtol=1e-13, atol=1e-15)


def test_adam_epsilon_placement_matters_for_tiny_gradients():
    """With the paper's epsilon in the paper's place, the first step differs where sqrt(v_hat) is of the
    order of epsilon; for ordinary gradients the two forms agree to ~eps/|g|."""
    eps = 1e-7                                              # Keras's default
    for scale, differ in ((1e-6, True), (1.0, False)):
        g = _rng(13).standard_normal((2, 3)) * scale
        w, opt = np.zeros((2, 3)), optimizers.Adam(LR, BETA_1, BETA_2, eps)
        opt.apply([w], [g])
        paper = -LR * g / (np.abs(g) + eps)                  # t = 1: m_hat = g, sqrt(v_hat) = |g|
        assert np.allclose(w, paper, rtol=1e-3) != differ, (scale, w, paper)


def test_adam_bias_correction_removes_the_pull_of_the_zero_start():
    """Constant gradients: m_t = g (1 - b1^t) exactly the geometric sum, so m_hat = g at every t."""
    g = np.full((2, 2), 0.3)
    w, opt = np.zeros((2, 2)), optimizers.Adam(LR, BETA_1, BETA_2, EPS)
    for t in range(1, 6):
        opt.apply([w], [g])
        np.testing.assert_allclose(opt.state["m"][0], g * (1 - BETA_1 ** t), rtol=1e-14)
        np.testing.assert_allclose(opt.state["m"][0] / (1 - BETA_1 ** t), g, rtol=1e-14)
        np.testing.assert_allclose(opt.state["v"][0] / (1 - BETA_2 ** t), g * g, rtol=1e-12)


@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_and_nesterov(be, nesterov):
    """v = mu v - lr g;  w += v, or (Nesterov, the look-ahead stored as the weights) w += mu v - lr g."""
    rng = _rng(19)
    w0, grads = rng.standard_normal((3, 4)), _grads(rng, 4)
    w, opt = w0.copy(), optimizers.SGD(LR, momentum=BETA_1, nesterov=nesterov)
    ref, v = w0.copy(), np.zeros_like(w0)
    with backend.use(be):
        for g in grads:
            opt.apply([w], [g])
            for i, j in indices(*w.shape):
                v[i, j] = BETA_1 * v[i, j] - LR * g[i, j]
                ref[i, j] += BETA_1 * v[i, j] - LR * g[i, j] if nesterov else v[i, j]
            np.testing.assert_allclose(w, ref, rtol=1e-13, atol=1e-15)


def test_nesterov_is_the_look_ahead_gradient_in_keras_form():
    """Sutskever's Nesterov (gradient at w + mu v) on f(w) = sum(c w^2 / 2), g(w) = c w, and the stored
    look-ahead u = w + mu v follow SGD(nesterov=True) exactly."""
    c = np.array([0.5, 2.0, 5.0])
    w, v = np.array([1.0, -2.0, 0.5]), np.zeros(3)
    u, opt = w.copy(), optimizers.SGD(LR, momentum=BETA_1, nesterov=True)
    for _ in range(6):
        v = BETA_1 * v - LR * c * (w + BETA_1 * v)            # the gradient at the look-ahead point
        w = w + v
        opt.apply([u], [c * u])                              # the ordinary gradient at the stored weights
        np.testing.assert_allclose(u, w + BETA_1 * v, rtol=1e-13)


@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop(be, centered):
    """v = rho v + (1 - rho) g^2;  (centered: a = rho a + (1 - rho) g, d = v - a^2 + eps; else d = v + eps);
    w -= lr g / sqrt(d), element by element."""
    rng = _rng(14)
    w0, grads = rng.standard_normal((3, 4)), _grads(rng, 4)
    w, opt = w0.copy(), optimizers.RMSprop(LR, rho=BETA_1, epsilon=EPS, centered=centered)
    ref, v, a = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    with backend.use(be):
        for g in grads:
            opt.apply([w], [g])
            for i, j in indices(*w.shape):
                v[i, j] = BETA_1 * v[i, j] + (1 - BETA_1) * g[i, j] ** 2
                a[i, j] = BETA_1 * a[i, j] + (1 - BETA_1) * g[i, j]
                d = v[i, j] - a[i, j] ** 2 + EPS if centered else v[i, j] + EPS
                ref[i, j] -= LR * g[i, j] / math.sqrt(d)
            np.testing.assert_allclose(w, ref, rtol=1e-13, atol=1e-15)


# ============================================================================ Conv2D
GEOMETRIES = [("valid", (1, 1)), ("same", (1, 1)), ("valid", (2, 2)), ("same", (2, 1))]


def _conv_case(padding, strides, be, seed=15):
    rng = _rng(seed)
    x = rng.standard_normal((2, 6, 5, 2))
    layer = Conv2D(3, (3, 2), strides=strides, padding=padding, seed=seed)
    layer.build(x.shape[1:], "float64")
    with backend.use(be):
        z = layer.forward(x, training=True)
        dz = rng.standard_normal(z.shape)
        dx = layer.backward(dz)
    return x, layer, dz, dx


@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("padding,strides", GEOMETRIES)
def test_conv2d_dw_and_dx_element_by_element(be, padding, strides):
    """dW[i, j, ch, f] = sum_{n, r, c} xp[n, r sh + i, c sw + j, ch] dz[n, r, c, f];
    dxp[n, h, w, ch] = sum over f and over (i, j, r, c) with r sh + i = h, c sw + j = w of W[i, j, ch, f] dz[n, r, c, f]."""
    x, layer, dz, dx = _conv_case(padding, strides, be)
    (kh, kw, C, F), (sh, sw) = layer.kernel.shape, strides
    N, OH, OW, _ = dz.shape
    (t, _), (l, _) = layer.pads_h, layer.pads_w
    xp = conv.pad(x, (layer.pads_h, layer.pads_w))
    W = layer.kernel
    dW = np.zeros_like(W)
    for i, j, ch, f in indices(kh, kw, C, F):
        dW[i, j, ch, f] = sum(xp[n, r * sh + i, c * sw + j, ch] * dz[n, r, c, f] for n, r, c in indices(N, OH, OW))
    dx_loops = np.zeros_like(x)
    for n, h, w, ch in indices(*x.shape):
        total = 0.0
        for f, i, j in indices(F, kh, kw):
            r, c = h + t - i, w + l - j                     # r sh = h + top padding - i (padded rows)
            if r % sh == 0 and c % sw == 0 and 0 <= r // sh < OH and 0 <= c // sw < OW:
                total += W[i, j, ch, f] * dz[n, r // sh, c // sw, f]
        dx_loops[n, h, w, ch] = total
    np.testing.assert_allclose(layer.d_kernel, dW, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(dx, dx_loops, rtol=1e-11, atol=1e-13)
    db = [sum(dz[n, r, c, f] for n, r, c in indices(N, OH, OW)) for f in range(F)]
    np.testing.assert_allclose(layer.d_bias, db, rtol=1e-12)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_dx_is_a_correlation_with_the_flipped_kernel(padding):
    """Stride 1: dxp = correlation of dz padded by (kh-1, kw-1) with W[::-1, ::-1] (channels swapped),
    then cropped; without the flip it is wrong."""
    x, layer, dz, dx = _conv_case(padding, (1, 1), "numpy", seed=16)
    kh, kw = layer.kernel_size
    dzp = np.pad(dz, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
    flipped = layer.kernel[::-1, ::-1].transpose(0, 1, 3, 2)         # (kh, kw, F, C): f in, ch out
    dxp = conv.conv_forward_naive(dzp, flipped)
    (t, b), (l, r) = layer.pads_h, layer.pads_w
    np.testing.assert_allclose(dxp[:, t:dxp.shape[1] - b, l:dxp.shape[2] - r, :], dx, rtol=1e-11, atol=1e-13)
    unflipped = conv.conv_forward_naive(dzp, layer.kernel.transpose(0, 1, 3, 2))
    assert not np.allclose(unflipped[:, t:unflipped.shape[1] - b, l:unflipped.shape[2] - r, :], dx)


def test_col2im_is_the_adjoint_of_im2col_element_by_element():
    """<im2col(x), c> = <x, col2im(c)>: both are sum x[n, r sh + i, c sw + j, ch] c[n, r, c, i, j, ch]."""
    rng = _rng(17)
    xp, (kh, kw, sh, sw) = rng.standard_normal((1, 5, 6, 2)), (3, 2, 2, 1)
    OH, OW = (5 - kh) // sh + 1, (6 - kw) // sw + 1
    c = rng.standard_normal((1, OH, OW, kh, kw, 2))
    direct = sum(xp[n, r * sh + i, q * sw + j, ch] * c[n, r, q, i, j, ch]
                 for n, r, q, i, j, ch in indices(1, OH, OW, kh, kw, 2))
    assert np.sum(conv.im2col(xp, kh, kw, sh, sw, OH, OW) * c) == pytest.approx(direct, rel=1e-12)
    assert np.sum(xp * conv.col2im(c, xp.shape, sh, sw)) == pytest.approx(direct, rel=1e-12)


# ============================================================================ max pooling
@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("padding,strides", [("valid", (2, 2)), ("valid", (1, 1)), ("same", (2, 2))])
def test_max_pooling_routes_the_gradient_to_the_first_maximum(be, padding, strides):
    """dxp[n, r sh + i*, c sw + j*, ch] += da[n, r, c, ch] at the first maximum (i*, j*) of each window."""
    rng = _rng(18)
    x = np.maximum(rng.standard_normal((2, 5, 5, 2)), 0).round(1)     # many ties (zeros)
    layer = MaxPooling2D((2, 2), strides=strides, padding=padding)
    layer.build(x.shape[1:], "float64")
    with backend.use(be):
        a = layer.forward(x, training=True)
        da = rng.standard_normal(a.shape)
        dx = layer.backward(da)
    (t, _), (l, _) = layer.pads_h, layer.pads_w
    sh, sw = strides
    expected = np.zeros_like(x)
    for n, r, c, ch in indices(*a.shape):
        best = None
        for i, j in indices(2, 2):
            h, w = r * sh + i - t, c * sw + j - l
            if 0 <= h < x.shape[1] and 0 <= w < x.shape[2] and (best is None or x[n, h, w, ch] > x[n, best[0], best[1], ch]):
                best = (h, w)
        expected[n, best[0], best[1], ch] += da[n, r, c, ch]
    np.testing.assert_allclose(dx, expected, rtol=0, atol=1e-15)
