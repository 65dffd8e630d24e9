"""Every backward is the derivative of its forward: central differences in float64, rel. error < 1e-7."""
import numpy as np
import pytest

from nnscratch import Sequential, gradcheck
from nnscratch.activations import sigmoid
from nnscratch.layers import Activation, Dense, Dropout

from conftest import random_batch, workshop_1layer, workshop_3layer

TOL = 1e-7
ACTIVATIONS = ["sigmoid", "softmax", "relu", "tanh", "linear"]
BACKENDS = ["numpy", "numba"]     # the plain lines (gradcheck's default) and the engine's fast paths


@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_layer_with_each_activation(activation, be):
    x = np.random.default_rng(1).standard_normal((7, 5))
    report = gradcheck.check_layer(Dense(4, activation=activation, seed=3), x, backend=be)
    assert [r["name"] for r in report.rows] == ["kernel", "bias", "input"]
    assert report.max_error < TOL, str(report)


@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_layer(activation, be):
    x = np.random.default_rng(2).standard_normal((6, 9)) * 3
    report = gradcheck.check_layer(Activation(activation), x, backend=be)
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


@pytest.mark.parametrize("be", BACKENDS)
def test_workshop_1layer_model_end_to_end(be):
    model = workshop_1layer(dtype="float64")
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    x, y = random_batch(6, seed=7)
    report = gradcheck.check_model(model, x, y, max_entries=300, backend=be)
    assert report.max_error < TOL, str(report)
    assert [r["name"].split("/")[-1] for r in report.rows] == ["kernel", "bias", "input"]


@pytest.mark.parametrize("be", BACKENDS)
def test_workshop_3layer_model_end_to_end(be):
    model = workshop_3layer(dtype="float64", hidden=512)
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    x, y = random_batch(4, seed=8)
    report = gradcheck.check_model(model, x, y, max_entries=60, backend=be)
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


# ------------------------------------------- gradcheck checks the code a learner can edit (issue 25, item 4)
import inspect  # noqa: E402
import textwrap  # noqa: E402

from nnscratch import activations, conv, layers, losses  # noqa: E402
from nnscratch.conv import Conv2D, MaxPooling2D  # noqa: E402


def edit_formula(monkeypatch, function, old, new):
    """Do what a learner does in their editor: change ``old`` to ``new`` in ``function``'s source (it must
    appear exactly once), compile the edited source in the function's module and give the function the
    edited code.  Every reference to the function (``ACTIVATIONS``, a class, a module) then runs the edit;
    ``monkeypatch`` restores it after the test."""
    source = textwrap.dedent(inspect.getsource(function))
    assert source.count(old) == 1, f"{function.__qualname__}: {old!r} is not in its source exactly once"
    namespace = {}
    exec(compile(source.replace(old, new), inspect.getsourcefile(function), "exec"),
         vars(inspect.getmodule(function)), namespace)
    monkeypatch.setattr(function, "__code__", namespace[function.__name__].__code__)


def _x(shape, seed=30, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


def _dense_model(activation, head="softmax"):
    model = Sequential([Dense(5, activation=activation, input_shape=(4,), seed=1),
                        Dense(3, activation=head, seed=2)], dtype="float64")
    return model


def _check(what, be=None):
    """One gradient check of the kind ``what`` names; ``be=None``: no backend argument (the default)."""
    on = {} if be is None else {"backend": be}
    y = np.eye(3)[[0, 2, 1, 2, 0]]
    if what in ("sigmoid", "tanh", "relu", "softmax", "linear"):
        return gradcheck.check_layer(Activation(what), _x((5, 6), scale=2), **on)
    if what == "dense":
        return gradcheck.check_layer(Dense(3, activation="tanh", seed=4), _x((5, 4)), **on)
    if what == "dropout":
        return gradcheck.check_layer(Dropout(0.5, seed=5), _x((6, 7)), **on)
    if what == "softmax_head":
        return gradcheck.check_model(_dense_model("tanh"), _x((5, 4)), y, **on)
    if what == "sigmoid_head":
        return gradcheck.check_model(_dense_model("tanh", head="sigmoid"), _x((5, 4)), y, **on)
    if what == "conv":
        layer = Conv2D(2, (3, 3), strides=(2, 2), padding="same", activation="tanh", seed=6)
        return gradcheck.check_layer(layer, _x((2, 6, 5, 2)), **on)
    if what == "maxpool":
        return gradcheck.check_layer(MaxPooling2D((2, 2), strides=(1, 1)), _x((2, 5, 4, 2)), **on)
    raise AssertionError(what)


# (function, the text a learner changes, what they change it to, the check that must fail, the mistake)
EDITS = [
    (activations.sigmoid_backward, "return da * a * (1 - a)", "return da * a * (1 + a)", "sigmoid", "a sign"),
    (activations.sigmoid, "np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
     "np.where(z >= 0, e / (1.0 + e), 1.0 / (1.0 + e))", "sigmoid", "the forward's branches swapped"),
    (activations.tanh_backward, "return da * (1 - a * a)", "return da * (1 - a)", "tanh", "a square forgotten"),
    (activations.relu_backward, "return da * (z > 0)", "return da * (z < 0)", "relu", "the wrong side"),
    (activations.softmax_backward, "return a * (da - np.sum(da * a, axis=-1, keepdims=True))", "return a * da", "softmax",
     "the diagonal of the Jacobian only"),
    (layers.Dense.backward, "np.sum(dz, axis=0, out=self.d_bias)", "np.mean(dz, axis=0, out=self.d_bias)",
     "dense", "a mean instead of a sum"),
    (layers.Dense._weight_and_input_gradients, "return dz @ self.kernel.T", "return -(dz @ self.kernel.T)",
     "dense", "a sign"),
    (layers.Dense._weight_and_input_gradients, "np.matmul(x.T, dz, out=self.d_kernel)",
     "np.matmul(x.T, dz / len(x), out=self.d_kernel)", "dense", "an extra 1/N"),
    (layers.Dropout.backward, "return da * mask", "return da", "dropout", "the mask forgotten"),
    (losses.softmax_crossentropy_from_logits_gradient, "return (p - y) / y.shape[0]", "return p - y", "softmax_head",
     "a missing 1/N"),
    (losses.categorical_crossentropy_gradient, "return (g - np.sum(g * q, axis=-1, keepdims=True)) / s", "return g / s",
     "sigmoid_head", "the renormalisation forgotten"),
    (conv.Conv2D.backward, "dz @ self.kernel.reshape(K, F).T", "dz @ self.kernel[::-1, ::-1].reshape(K, F).T",
     "conv", "a flipped kernel"),
    (conv.col2im, "dxp[:, i:i + sh * (OH - 1) + 1:sh, j:j + sw * (OW - 1) + 1:sw, :] +=",
     "dxp[:, i:i + sh * (OH - 1) + 1:sh, j:j + sw * (OW - 1) + 1:sw, :] =", "conv",
     "overlapping fields overwritten, not added"),
    (conv.MaxPooling2D.backward, "np.where(k == i * pw + j, da, 0)", "np.where(k == j * ph + i, da, 0)",
     "maxpool", "a transposed window index"),
]


@pytest.mark.parametrize("function,old,new,check,mistake", EDITS,
                         ids=[f"{e[0].__qualname__}:{e[4]}" for e in EDITS])
def test_a_wrong_edit_to_a_formula_fails_the_default_gradcheck(monkeypatch, function, old, new, check, mistake):
    """The learner's trap of issue 25: edit a formula a learner reads, and gradcheck on its default
    settings (the numpy backend, the plain lines) must say FAIL; restored, it passes again."""
    assert _check(check).passed
    edit_formula(monkeypatch, function, old, new)
    report = _check(check)                # the call a learner types: no backend argument
    assert not report.passed and report.max_error > 1e-3, str(report)
    assert report.backend == "numpy" and "FAIL" in str(report) and "plain NumPy lines" in str(report)


def test_the_fast_paths_are_what_backend_numba_checks(monkeypatch):
    """Why the default matters: the engine computes the library's own sigmoid' whatever the learner
    writes, so a check of the fast paths passes an edited sigmoid_backward (the trap the issue found,
    PASS 4e-11), and names the code it checked."""
    edit_formula(monkeypatch, activations.sigmoid_backward, "return da * a * (1 - a)", "return da * a * (1 + a)")
    fast = gradcheck.check_layer(Activation("sigmoid"), _x((5, 6), scale=2), backend="numba")
    plain = gradcheck.check_layer(Activation("sigmoid"), _x((5, 6), scale=2))
    assert fast.passed and fast.backend == "numba" and "fast paths" in str(fast)
    assert not plain.passed and plain.max_error > 0.1


def test_gradcheck_leaves_the_backend_as_it_was():
    from nnscratch import backend
    before = backend.get_backend()
    with backend.use("numba"):
        gradcheck.check_layer(Activation("tanh"), _x((2, 3)))
        assert backend.get_backend() == "numba"
    assert backend.get_backend() == before
    with pytest.raises(ValueError, match="unknown backend"):
        gradcheck.check_layer(Activation("tanh"), _x((2, 3)), backend="cuda")
