"""Tests that catch the bugs issue 27 injected and saw slip through every other test.

Each test below names the bug it was written for; each was checked by injecting that bug into the
library (or into the comparison tool) and seeing the test fail.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras_reference as kr  # noqa: E402
from keras_reference import compare as cmp  # noqa: E402
import nnscratch  # noqa: E402
from nnscratch import backend  # noqa: E402
from nnscratch import layers as L  # noqa: E402
from nnscratch.conv import Conv2D  # noqa: E402

BACKENDS = ["numpy", "numba"]


def _gradients_match_keras(nn, x, y, dtype="float64"):
    km = kr.keras_twin(nn)
    report = cmp.Report("gradients", dtype)
    cmp.compare_gradients(report, nn, km, x, y, training=False)
    assert report.rows and report.ok, "\n" + report.table()
    return report


# ------------------------------------------------------------------ saving: equal shapes, in order
def test_weights_and_optimizer_state_of_equal_shapes_load_in_their_places(tmp_path):
    """Bug: load_model putting two weight arrays of the same shape in each other's place (no saved
    model in the tests had two equal-shape arrays)."""
    rng = np.random.default_rng(0)
    m = nnscratch.Sequential([L.Dense(6, input_shape=(6,), activation="tanh"), L.Dense(6, activation="tanh"),
                              L.Dense(6, activation="softmax")])
    m.set_weights([rng.normal(size=w.shape) for w in m.weights])     # biases too: none left at zero
    m.compile(loss="categorical_crossentropy", optimizer="adam")
    m.fit(rng.random((32, 6)), np.eye(6)[rng.integers(0, 6, 32)], epochs=1, batch_size=8, verbose=0)
    m.save(tmp_path / "m.npz")
    back = nnscratch.load_model(tmp_path / "m.npz")
    shapes = [w.shape for w in m.weights]
    assert shapes.count((6, 6)) == 3 and shapes.count((6,)) == 3
    for a, b in zip(m.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(a, b)
    for slot in ("m", "v"):
        for a, b in zip(m.optimizer.state[slot], back.optimizer.state[slot]):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------- the sparse probability loss's clip, against Keras
@pytest.mark.parametrize("name", BACKENDS)
def test_sparse_probability_gradient_with_clipped_outputs_matches_keras(name):
    """Bug: the probability-form sparse cross-entropy gradient losing its clip mask (no Keras
    comparison used a sparse loss on a head that is not a softmax).  Saturated sigmoids put outputs
    below 1e-7 and above 1 - 1e-7, where Keras's clip stops the gradient."""
    rng = np.random.default_rng(1)
    nn = nnscratch.Sequential([L.Dense(8, input_shape=(5,), activation="tanh", seed=1),
                               L.Dense(4, activation="sigmoid", seed=2)], dtype="float64")
    nn.layers[1].kernel *= 30.0
    nn.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    x, y = rng.normal(size=(16, 5)) * 2, rng.integers(0, 4, 16)
    p = nn.predict(x, verbose=0)
    assert np.sum(p < 1e-7) >= 3 and np.sum(p > 1 - 1e-7) >= 3           # the clip is active
    with backend.use(name):
        _gradients_match_keras(nn, x, y)


# ------------------------------------------------------- relu'(0) on both backends, against Keras
@pytest.mark.parametrize("name", BACKENDS)
def test_relu_derivative_at_exactly_zero_matches_keras(name):
    """Bug: relu'(0) = 1 on the numpy backend (caught only incidentally before, by the MNIST convnet's
    black patches, on one backend).  Zero rows and zero image patches with zero biases make z = 0
    exactly; TensorFlow's relu gradient there is 0."""
    rng = np.random.default_rng(2)
    dense = nnscratch.Sequential([L.Dense(7, input_shape=(6,), activation="relu", seed=1),
                                  L.Dense(3, activation="softmax", seed=2)], dtype="float64")
    x = rng.random((12, 6))
    x[::3] = 0                                                           # z = 0 + b = 0 exactly
    conv = nnscratch.Sequential([Conv2D(3, 3, padding="same", activation="relu", input_shape=(6, 6, 1), seed=3),
                                 L.Flatten(), L.Dense(3, activation="softmax", seed=4)], dtype="float64")
    images = rng.random((4, 6, 6, 1))
    images[:, :3] = 0
    y = np.eye(3)[rng.integers(0, 3, 12)]
    with backend.use(name):
        for model, inputs in ((dense, x), (conv, images)):
            model.compile(loss="categorical_crossentropy", optimizer="adam")
            z = model.layers[0].forward(inputs)
            assert np.sum(model.layers[0].cache[-2] == 0) >= 10             # exact zeros reach relu'
            _gradients_match_keras(model, inputs, y[:len(inputs)])
            del z


# ------------------------------------------- Conv2D's input gradient under uneven 'same' padding
@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("kernel,strides,size", [((4, 4), (1, 1), 7), ((3, 3), (2, 2), 8), ((2, 4), (1, 2), 7)],
                         ids=["even-kernel", "stride-2", "mixed"])
def test_conv_input_gradient_with_uneven_same_padding_matches_keras(name, kernel, strides, size):
    """Bug: a wrong 'same' padding in Conv2D's input gradient (the only uneven 'same' padding in the
    Keras tests was on a first layer, whose input gradient is never computed).  Here the uneven layer
    is the second: its input gradient reaches the first layer's kernel gradient."""
    second = Conv2D(4, kernel, strides=strides, padding="same", activation="tanh", seed=2)
    nn = nnscratch.Sequential([Conv2D(3, 3, padding="same", activation="tanh", input_shape=(size, size, 2), seed=1),
                               second, L.Flatten(), L.Dense(3, activation="softmax", seed=3)], dtype="float64")
    assert second.pads_h[0] != second.pads_h[1] or second.pads_w[0] != second.pads_w[1]     # uneven
    nn.compile(loss="categorical_crossentropy", optimizer="adam")
    rng = np.random.default_rng(3)
    x, y = rng.random((3, size, size, 2)), np.eye(3)[[0, 1, 2]]
    with backend.use(name):
        _gradients_match_keras(nn, x, y)


# ------------------------------------------------------------------ the comparison tool itself
def test_diff_reports_the_largest_difference_not_a_mean():
    """Bug: keras_reference.compare reporting a mean instead of the max difference (the comparison tool
    itself was untested).  One entry off among 10,000 must show at full size."""
    a = np.zeros(10_000)
    b = np.zeros(10_000)
    b[1234] = 1e-3
    assert cmp.diff(a, b) == (1e-3, 1.0)
    b[:] = 2.0
    b[7] = 2.0 + 4e-6
    assert cmp.diff(a + 2.0, b)[0] == pytest.approx(4e-6, rel=1e-9)
    assert cmp.diff(np.array([np.nan]), np.array([1.0])) == (float("inf"), float("inf"))
    with pytest.raises(ValueError, match="shapes differ"):
        cmp.diff(np.zeros(3), np.zeros(4))
    report = cmp.Report("one entry", "float32")
    row = report.add("gradients", "w", a, np.where(np.arange(10_000) == 5, 1e-5, 0.0), 1e-6)
    assert not row.ok and not report.ok and "FAIL" in report.table()
    assert report.add("gradients", "w", a, a + 5e-7, 1e-6).ok


def test_compare_gradients_catches_one_wrong_entry(monkeypatch):
    """End to end: a backward pass wrong in a single entry of one kernel gradient fails the comparison."""
    nn = nnscratch.Sequential([L.Dense(5, input_shape=(4,), activation="tanh", seed=1),
                               L.Dense(3, activation="softmax", seed=2)], dtype="float64")
    nn.compile(loss="categorical_crossentropy", optimizer="adam")
    rng = np.random.default_rng(4)
    x, y = rng.random((10, 4)), np.eye(3)[rng.integers(0, 3, 10)]
    _gradients_match_keras(nn, x, y)
    original = L.Dense.backward

    def off_by_a_little(self, da, need_dx=True):
        dx = original(self, da, need_dx)
        self.d_kernel[0, 0] += 1e-9 if self is nn.layers[0] else 0.0   # a mean over 20 entries hides it
        return dx
    monkeypatch.setattr(L.Dense, "backward", off_by_a_little)
    km = kr.keras_twin(nn)
    report = cmp.Report("injected", "float64")
    cmp.compare_gradients(report, nn, km, x, y, training=False)
    bad = [r for r in report.rows if not r.ok]
    assert [r.name for r in bad] == [f"{nn.layers[0].name}/kernel (4, 5)"]
