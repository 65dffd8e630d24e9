"""The loss objects (``nnscratch/losses.py``): values against the formulas written out, integer labels
through fit/evaluate/accuracy, the softmax-head shortcut, both backends, names and saving.
(Against Keras itself: tests/test_keras_equivalence.py; gradients: tests/test_gradcheck.py.)"""
import math
import warnings

import numpy as np
import pytest

import nnscratch
from nnscratch import Sequential, backend, layers as L, losses
from nnscratch.tensor import Tensor
from nnscratch.utils import to_categorical

RNG = np.random.default_rng(0)
Z = RNG.normal(size=(6, 4)) * 3
LABELS = np.array([0, 3, 1, 1, 2, 3])
Y = to_categorical(LABELS, 4)


def _by_hand_logits(labels, z):
    return np.mean([math.log(sum(math.exp(v) for v in row)) - row[k] for row, k in zip(z, labels)])


def test_from_logits_is_the_log_softmax_form_for_both_classes():
    expected = _by_hand_logits(LABELS, Z)
    sparse = losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64")
    dense = losses.CategoricalCrossentropy(from_logits=True, dtype="float64")
    assert sparse(LABELS, Z).numpy() == pytest.approx(expected, rel=1e-14)
    assert dense(Y, Z).numpy() == pytest.approx(expected, rel=1e-14)


def test_probability_forms_differ_as_keras_defines_them():
    """Categorical renormalises then clips; sparse clips then renormalises (log-sum of the clipped row)."""
    p = 1 / (1 + np.exp(-Z))                                     # sigmoid outputs: rows do not sum to 1
    p[0, 0] = 0.0                                  # a clip active on a label: the forms now differ
    q = p / p.sum(axis=1, keepdims=True)
    cat = np.mean([-math.log(min(max(q[i, k], 1e-7), 1 - 1e-7)) for i, k in enumerate(LABELS)])
    c = np.clip(p, 1e-7, 1 - 1e-7)
    sp = np.mean([math.log(c[i].sum()) - math.log(c[i, k]) for i, k in enumerate(LABELS)])
    assert losses.CategoricalCrossentropy(dtype="float64")(Y, p).numpy() == pytest.approx(cat, rel=1e-14)
    assert losses.SparseCategoricalCrossentropy(dtype="float64")(LABELS, p).numpy() == pytest.approx(sp, rel=1e-14)
    assert abs(cat - sp) > 1e-3


def test_call_returns_a_float32_tensor_by_default():
    """Keras's Loss.__call__ converts both arguments to the loss's dtype (floatx(), float32)."""
    value = losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS.astype(np.uint8), Z)
    assert isinstance(value, Tensor) and value.shape == () and value.dtype == np.float32
    assert type(value.numpy()) is np.float32
    assert value.numpy() == pytest.approx(_by_hand_logits(LABELS, Z.astype(np.float32)), rel=1e-6)
    assert losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS[:, None], Z).numpy() == value.numpy()


@pytest.mark.parametrize("call, match", [
    (lambda: losses.SparseCategoricalCrossentropy()(Y, Z), "look like one-hot rows"),
    (lambda: losses.SparseCategoricalCrossentropy()(np.array([0, 1, 2, 3, 4, 1]), Z), r"label 4 is outside .*\[0, 4\)"),
    (lambda: losses.SparseCategoricalCrossentropy()(np.array([0, 1.5, 2, 3, 0, 1]), Z), "whole numbers"),
    (lambda: losses.SparseCategoricalCrossentropy()(LABELS[:5], Z), "6 samples but y has 5"),
    (lambda: losses.CategoricalCrossentropy()(LABELS, Z), "sparse_categorical_crossentropy"),
    (lambda: losses.CategoricalCrossentropy(from_logits="yes"), "from_logits must be True or False"),
    (lambda: losses.get("huber"), "Unknown loss 'huber'"),
])
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("call, match", [
    (lambda: losses.CategoricalCrossentropy(label_smoothing=0.1), "label_smoothing"),
    (lambda: losses.SparseCategoricalCrossentropy(reduction="sum"), "reduction='sum' is not implemented"),
])
def test_unimplemented_keras_arguments_are_named(call, match):
    with pytest.raises(nnscratch.keras.NotImplementedInNnscratch, match=match):
        call()


def test_names_functions_classes_and_serialization():
    for ident in ("categorical_crossentropy", losses.categorical_crossentropy, "CategoricalCrossentropy"):
        assert losses.get(ident) == losses.CategoricalCrossentropy()
    for ident in ("sparse_categorical_crossentropy", losses.sparse_categorical_crossentropy):
        assert losses.get(ident) == losses.SparseCategoricalCrossentropy()
    obj = losses.SparseCategoricalCrossentropy(from_logits=True)
    assert losses.get(obj) is obj
    assert losses.serialize(losses.CategoricalCrossentropy()) == "categorical_crossentropy"
    spec = losses.serialize(obj)
    assert spec == {"class_name": "SparseCategoricalCrossentropy", "config": {"from_logits": True}}
    assert losses.get(spec) == obj and losses.get(spec) is not obj
    assert losses.SparseCategoricalCrossentropy(from_logits=True) != losses.SparseCategoricalCrossentropy()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss", [losses.CategoricalCrossentropy(), losses.CategoricalCrossentropy(from_logits=True),
                                  losses.SparseCategoricalCrossentropy(),
                                  losses.SparseCategoricalCrossentropy(from_logits=True)], ids=repr)
def test_fast_path_agrees_with_the_plain_formulas(loss, dtype):
    """value_and_gradient on the 'numba' backend (kernels) against the 'numpy' backend (the formulas)."""
    pred = (1 / (1 + np.exp(-Z)) if not loss.from_logits else Z).astype(dtype)
    y = LABELS if loss.sparse else Y.astype(dtype)
    with backend.use("numpy"):
        l0, g0 = loss.value_and_gradient(y, pred)
        assert l0 == pytest.approx(loss.value(y, pred), rel=1e-12)
    with backend.use("numba"):
        l1, g1 = loss.value_and_gradient(y, pred)
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert l1 == pytest.approx(l0, rel=tol)
    assert g1.dtype == np.dtype(dtype)
    np.testing.assert_allclose(g1, g0, rtol=tol, atol=tol * 1e-2)


def _model(head="linear", dtype="float64", seed=0):
    act = None if head == "linear" else head
    return Sequential([L.Dense(8, activation="relu", input_shape=(5,), seed=seed), L.Dense(4, activation=act, seed=seed + 1)],
                      dtype=dtype, seed=seed + 2)


@pytest.mark.parametrize("backend_name", ["numpy", "numba"])
@pytest.mark.parametrize("head, from_logits", [("linear", True), ("softmax", False), ("softmax", True)])
def test_integer_labels_train_exactly_like_one_hot(head, from_logits, backend_name):
    """fit/evaluate/train_on_batch with uint8 labels and the sparse loss = one-hot targets and the
    categorical loss, bit for bit (the sparse loss feeds one-hot rows to the same fused formula), and
    'accuracy' compares argmax(p) with the labels (Keras's sparse accuracy)."""
    x = np.random.default_rng(1).normal(size=(50, 5))
    labels = np.random.default_rng(2).integers(0, 4, 50).astype(np.uint8)
    runs = []
    with backend.use(backend_name), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)          # from_logits=True with a softmax head
        for loss, y in ((losses.SparseCategoricalCrossentropy(from_logits=from_logits), labels),
                        (losses.CategoricalCrossentropy(from_logits=from_logits), to_categorical(labels, 4))):
            m = _model(head)
            m.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
            h = m.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x[:20], y[:20]))
            runs.append((h.history, m.evaluate(x, y, verbose=0), m.train_on_batch(x[:10], y[:10]), m.get_weights()))
    (h1, e1, t1, w1), (h2, e2, t2, w2) = runs
    assert h1 == h2 and e1 == e2 and t1 == t2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    p = _model(head)
    p.set_weights(w1)
    assert e1[1] == np.mean(p.predict(x, verbose=0).argmax(1) == labels)


def test_from_logits_with_a_softmax_output_warns_and_uses_the_logits_as_keras_does():
    x = np.random.default_rng(3).normal(size=(12, 5))
    labels = np.random.default_rng(4).integers(0, 4, 12)
    m = _model("softmax")
    with pytest.warns(UserWarning, match="does not represent logits"):
        m.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    plain = _model("softmax")
    plain.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert m.evaluate(x, labels, verbose=0) == plain.evaluate(x, labels, verbose=0)
    z = np.maximum(x @ m.layers[0].kernel + m.layers[0].bias, 0) @ m.layers[1].kernel + m.layers[1].bias
    assert m.evaluate(x, labels, batch_size=12, verbose=0) == pytest.approx(_by_hand_logits(labels, z), rel=1e-12)


def test_fit_errors_name_the_label_format():
    m = _model()
    m.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="integer labels.*sparse_categorical_crossentropy"):
        m.fit(np.zeros((4, 5)), np.array([0, 1, 2, 3]), verbose=0)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="one-hot rows"):
        m.fit(np.zeros((4, 5)), np.eye(4), verbose=0)
    with pytest.raises(ValueError, match=r"label 7 is outside"):
        m.evaluate(np.zeros((4, 5)), np.array([0, 1, 7, 3]), verbose=0)


def test_old_model_files_with_a_loss_name_still_load(tmp_path):
    """Files store the loss as a name unless it is a from_logits object; a name reads as before."""
    import json
    m = _model("softmax")
    m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    m.save(tmp_path / "a.npz")
    with np.load(tmp_path / "a.npz") as f:
        assert json.loads(str(f["__meta__"]))["loss"] == "categorical_crossentropy"
    assert nnscratch.load_model(tmp_path / "a.npz").loss == "categorical_crossentropy"
    m = _model()
    m.compile(optimizer="adam", loss=losses.CategoricalCrossentropy(from_logits=True))
    m.save(tmp_path / "b.npz")
    with np.load(tmp_path / "b.npz") as f:
        assert json.loads(str(f["__meta__"]))["loss"] == {"class_name": "CategoricalCrossentropy",
                                                         "config": {"from_logits": True}}
    assert nnscratch.load_model(tmp_path / "b.npz").loss == losses.CategoricalCrossentropy(from_logits=True)
