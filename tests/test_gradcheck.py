"""Every backward is the derivative of its forward: central differences in float64, rel. error < 1e-7."""
import numpy as np
import pytest

from nnscratch import Sequential, gradcheck
from nnscratch.activations import sigmoid
from nnscratch.layers import Activation, Dense, Dropout

from conftest import random_batch, workshop_1layer, workshop_3layer

TOL = 1e-7
ACTIVATIONS = ["sigmoid", "softmax", "relu", "tanh", "linear"]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_layer_with_each_activation(activation):
    x = np.random.default_rng(1).standard_normal((7, 5))
    report = gradcheck.check_layer(Dense(4, activation=activation, seed=3), x)
    assert [r["name"] for r in report.rows] == ["kernel", "bias", "input"]
    assert report.max_error < TOL, str(report)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_layer(activation):
    x = np.random.default_rng(2).standard_normal((6, 9)) * 3
    report = gradcheck.check_layer(Activation(activation), x)
    assert report.max_error < TOL, str(report)


def test_dropout_layer_training_and_inference():
    x = np.random.default_rng(3).standard_normal((8, 11))
    layer = Dropout(0.5, seed=4)
    train = gradcheck.check_layer(layer, x, training=True)
    assert train.max_error < TOL, str(train)
    assert np.any(layer.cache == 0), "a dropout check with nothing dropped proves little"
    assert gradcheck.check_layer(Dropout(0.5, seed=4), x, training=False).max_error < TOL


def test_loss_softmax_case_fused_gradient():
    y, z = np.eye(10)[[3, 1, 4, 1, 5]], np.random.default_rng(5).standard_normal((5, 10)) * 4
    report = gradcheck.check_loss("softmax", y, z)
    assert report.max_error < TOL, str(report)


def test_loss_probability_case_sigmoid_outputs():
    y = np.eye(10)[[2, 7, 1, 8]]
    p = sigmoid(np.random.default_rng(6).standard_normal((4, 10)))
    report = gradcheck.check_loss("probability", y, p)
    assert report.max_error < TOL, str(report)


def test_workshop_1layer_model_end_to_end():
    model = workshop_1layer(dtype="float64")
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    x, y = random_batch(6, seed=7)
    report = gradcheck.check_model(model, x, y, max_entries=300)
    assert report.max_error < TOL, str(report)
    assert [r["name"].split("/")[-1] for r in report.rows] == ["kernel", "bias", "input"]


def test_workshop_3layer_model_end_to_end():
    model = workshop_3layer(dtype="float64", hidden=512)
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    x, y = random_batch(4, seed=8)
    report = gradcheck.check_model(model, x, y, max_entries=60)
    assert len(report.rows) == 7          # three kernels, three biases, the input
    assert report.max_error < TOL, str(report)


def test_dense_softmax_head_uses_fused_path_correctly():
    model = Sequential([Dense(6, activation="tanh", input_shape=(5,), seed=1),
                        Dense(3, activation="softmax", seed=2)], dtype="float64")
    x, y = random_batch(5, d=5, c=3, seed=9)
    assert gradcheck.check_model(model, x, y, max_entries=None).max_error < TOL


def test_gradcheck_catches_a_wrong_backward():
    """The checker must be able to fail: a sigmoid backward missing its (1 - a) factor is caught."""
    layer = Activation("sigmoid")
    layer.activation = type(layer.activation)("broken", layer.activation.forward, lambda z, a, da: da * a)
    report = gradcheck.check_layer(layer, np.random.default_rng(0).standard_normal((3, 4)))
    assert not report.passed and report.max_error > 1e-2
    assert "FAIL" in str(report)


# ------------------------------------------------------- the tutorials' losses and layers (test_tutorials.py)
def test_loss_from_logits_both_classes():
    """``from_logits=True``: the fused log-softmax form, gradient (softmax(z) - y) / N, for one-hot rows
    and for integer labels (the same formula on one_hot(labels))."""
    from nnscratch import losses
    rng = np.random.default_rng(20)
    z, labels = rng.standard_normal((6, 5)) * 3, rng.integers(0, 5, 6)
    for loss, y in ((losses.CategoricalCrossentropy(from_logits=True), np.eye(5)[labels]),
                    (losses.SparseCategoricalCrossentropy(from_logits=True), labels)):
        _, analytic = loss.value_and_gradient(y, z.copy())
        numeric = gradcheck.numerical_gradient(lambda: loss.value(y, z), z)
        assert gradcheck.relative_error(numeric, analytic) < TOL, repr(loss)


def test_loss_sparse_probability_form():
    """Sparse ``from_logits=False`` (clip, then log-sum of the clipped row) on sigmoid outputs."""
    from nnscratch import losses
    rng = np.random.default_rng(21)
    p, labels = sigmoid(rng.standard_normal((5, 7)) * 2), rng.integers(0, 7, 5)
    numeric = gradcheck.numerical_gradient(lambda: losses.sparse_categorical_crossentropy(labels, p), p)
    analytic = losses.sparse_categorical_crossentropy_gradient(labels, p)
    assert gradcheck.relative_error(numeric, analytic) < TOL


@pytest.mark.parametrize("loss", ["sparse_logits", "categorical_logits", "sparse_sigmoid", "sparse_softmax_layer"])
def test_tutorial_models_end_to_end(loss):
    """Flatten -> Dense -> Dense head, compiled with each new loss; the Softmax() layer head takes the
    fused path (dL/dz through the Softmax layer's input)."""
    from nnscratch import losses
    from nnscratch.layers import Flatten, Softmax
    rng = np.random.default_rng(22)
    x, labels = rng.random((5, 3, 4)), rng.integers(0, 4, 5)
    head = {"sparse_sigmoid": [Dense(4, activation="sigmoid", seed=2)],
            "sparse_softmax_layer": [Dense(4, seed=2), Softmax()]}.get(loss, [Dense(4, seed=2)])
    model = Sequential([Flatten(input_shape=(3, 4)), Dense(6, activation="tanh", seed=1)] + head, dtype="float64")
    compiled = {"sparse_logits": losses.SparseCategoricalCrossentropy(from_logits=True),
                "categorical_logits": losses.CategoricalCrossentropy(from_logits=True)}.get(
        loss, losses.SparseCategoricalCrossentropy())
    model.compile(loss=compiled, optimizer="rmsprop")
    y = np.eye(4)[labels] if loss == "categorical_logits" else labels
    report = gradcheck.check_model(model, x, y, max_entries=None)
    assert report["input"]["shape"] == (5, 3, 4)
    assert report.max_error < TOL, str(report)


def test_flatten_and_softmax_layers():
    from nnscratch.layers import Flatten, Softmax
    x = np.random.default_rng(23).standard_normal((4, 3, 5))
    flatten = Flatten()
    flatten.build(x.shape[1:], np.float64)
    assert gradcheck.check_layer(flatten, x).max_error < TOL
    assert gradcheck.check_layer(Softmax(), x[:, 0, :] * 3).max_error < TOL
