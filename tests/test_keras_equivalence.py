"""nnscratch against real Keras (tensorflow-cpu): the workshop's models and random architectures.

Every expected number is computed live by Keras from identical weights; nothing is hard-coded.
Tolerances are keras_reference.compare.TOLERANCES: float32 1e-6 for a forward pass, loss and
gradients, 1e-5 for weights after 100 steps or an epoch; float64 1e-10 everywhere.  A row passes if
max|diff| <= tol * max(1, max|keras|) (absolute up to 1, relative above).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_reference as kr  # noqa: E402
from conftest import assert_transfer_both_ways  # noqa: E402
from keras_reference import compare as cmp  # noqa: E402
import nnscratch  # noqa: E402
from nnscratch import layers as L  # noqa: E402
from nnscratch import losses as nn_losses  # noqa: E402
from nnscratch import optimizers as nn_opt  # noqa: E402

OPTIMIZERS = {
    "adam": lambda: nn_opt.Adam(),
    "sgd": lambda: nn_opt.SGD(learning_rate=0.05),
    "momentum": lambda: nn_opt.SGD(learning_rate=0.05, momentum=0.9),
    "nesterov": lambda: nn_opt.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
}


@pytest.fixture(scope="module")
def mnist():
    """A fixed MNIST sample: 1024 training images in [0, 1], one-hot labels (float64; cast per test)."""
    return cmp.mnist_sample(1024, "float64")


def _report(dtype, title="test"):
    return cmp.Report(title, dtype)


def _assert_ok(report):
    assert report.rows, "nothing was compared"
    assert report.ok, "\n" + report.table()


# ------------------------------------------------------------------------------ workshop models
WORKSHOP = [(m, d) for m in ("1layer", "3layer") for d in ("float32", "float64")]


@pytest.mark.parametrize("name,dtype", WORKSHOP)
def test_workshop_forward_loss_gradients(mnist, name, dtype):
    """Forward (inference and training with Keras's masks), loss and every gradient, from identical
    weights, Keras compiled exactly as the workshop does (stock categorical_crossentropy, adam)."""
    nn, km = kr.workshop_pair(name, dtype=dtype, seed=1)
    x, y = mnist[0][:64].astype(dtype), mnist[1][:64].astype(dtype)
    report = _report(dtype)
    cmp.compare_forward(report, nn, km, x, training=False)
    replays = cmp.compare_forward(report, nn, km, x, training=True)
    cmp.compare_gradients(report, nn, km, x, y)
    _assert_ok(report)
    assert replays and all(r.calls == 1 for r in replays)
    # the model's output itself, at the tolerance with no scaling (it lies in [0, 1.25])
    out = [r for r in report.rows if r.stage == "forward (inference)"][-1]
    assert out.max_abs <= {"float32": 1e-6, "float64": 1e-10}[dtype]


@pytest.mark.parametrize("via", ["fit", "train_on_batch"])
@pytest.mark.parametrize("name,dtype", WORKSHOP)
def test_workshop_100_adam_steps(mnist, name, dtype, via):
    """100 Adam steps on one batch (dropout on, Keras's masks replayed), through ``fit`` on the
    default backend and through ``train_on_batch``: weights and every step's loss."""
    nn, km = kr.workshop_pair(name, dtype=dtype, seed=2)
    x, y = mnist[0][:32].astype(dtype), mnist[1][:32].astype(dtype)
    _assert_100_steps(nn, km, x, y, dtype, via)
    _assert_moved(nn, km, x, y)


def _assert_100_steps(nn, km, x, y, dtype, via):
    """100 steps through ``via`` on copies of the pair: every row within tolerance, and every weight
    within 1e-5 (float32) / 1e-10 (float64) in absolute terms, whatever its size."""
    report = _report(dtype)
    cmp.compare_steps(report, nn, km, x, y, steps=100, via=via)
    _assert_ok(report)
    worst = max(r.max_abs for r in report.rows if "/" in r.name)
    assert worst <= {"float32": 1e-5, "float64": 1e-10}[dtype]


@pytest.mark.parametrize("name,dtype", WORKSHOP)
def test_workshop_fit_epoch(mnist, name, dtype):
    """One epoch of fit(shuffle=False) on 1024 MNIST images, dropout 0: weights, history loss, accuracy."""
    nn, km = kr.workshop_pair(name, dtype=dtype, seed=3)
    x, y = mnist[0].astype(dtype), mnist[1].astype(dtype)
    report = _report(dtype)
    cmp.compare_fit(report, nn, km, x, y, batch_size=128)
    _assert_ok(report)
    acc = [r for r in report.rows if r.name == "history accuracy"][0]
    assert round(acc.nnscratch * len(x)) == round(acc.keras * len(x))     # the same samples right


def test_workshop_fit_epoch_with_dropout_masks(mnist):
    """The 3-layer model's epoch with dropout on: Keras's 16 masks (2 layers x 8 batches) replayed."""
    nn, km = kr.workshop_pair("3layer", dtype="float32", seed=4)
    report = _report("float32")
    cmp.compare_fit(report, nn, km, mnist[0].astype("float32"), mnist[1].astype("float32"),
                    batch_size=128, dropout_on=True)
    _assert_ok(report)


@pytest.mark.parametrize("name,dtype", WORKSHOP)
def test_workshop_predict_evaluate(mnist, name, dtype):
    nn, km = kr.workshop_pair(name, dtype=dtype, seed=5)
    x, y = mnist[0][:100].astype(dtype), mnist[1][:100].astype(dtype)   # 100: a partial last batch of 32
    report = _report(dtype)
    cmp.compare_inference(report, nn, km, x, y)
    _assert_ok(report)


def test_float64_keras_really_runs_in_float64(mnist):
    """The float64 comparisons are float64 on the Keras side too: variables, gradients, Adam slots, loss."""
    nn, km = kr.workshop_pair("1layer", dtype="float64", seed=6)
    x, y = mnist[0][:32], mnist[1][:32]
    _, loss, grads = cmp.keras_pass(km, x, y, training=True)
    assert all(g.dtype == np.float64 for g in grads)
    assert all(keras.backend.standardize_dtype(w.dtype) == "float64" for w in km.weights)
    # the loss value is not rounded through float32 (Keras's CompileLoss casts to floatx() at compile
    # time; keras_reference compiles float64 models under keras_floatx): evaluate agrees to 1e-12
    report = _report("float64")
    cmp.compare_inference(report, nn, km, x, y)
    softmax_ce_row = [r for r in report.rows if "softmax-CE" in r.name][0]
    assert softmax_ce_row.max_abs < 1e-12
    with kr.keras_floatx("float64"):
        km.train_on_batch(x, y)
    slots = [v for v in km.optimizer.variables if v.shape == km.weights[0].shape]
    assert slots and all(keras.backend.standardize_dtype(v.dtype) == "float64" for v in slots)


# --------------------------------------------------------------------------- random architectures
ACTIVATIONS = ["sigmoid", "relu", "tanh", "linear", "softmax"]


@st.composite
def architectures(draw, trailing_dropout=True):
    """Depth 1-4 Dense layers, widths 1-64, every activation for hidden layers (inside Dense or as a
    separate Activation layer), optional Dropout, a softmax or sigmoid head."""
    depth = draw(st.integers(1, 4))
    # at least 2 classes: with one, every gradient is 0 and 100 steps would compare untouched weights
    spec = {"input_dim": draw(st.integers(1, 64)), "hidden": [], "classes": draw(st.integers(2, 64)),
            "head": draw(st.sampled_from(["softmax", "sigmoid"])), "head_separate": draw(st.booleans())}
    for _ in range(depth - 1):
        spec["hidden"].append((draw(st.integers(1, 64)), draw(st.sampled_from(ACTIVATIONS)), draw(st.booleans()),
                               draw(st.sampled_from([None, 0.0, 0.2, 0.5]))))
    # A Dropout after the head can drop a whole row; Keras's loss is then 0/0 = NaN.  Only with >= 10
    # classes (a row vanishes with probability rate**10 <= 1e-7).
    spec["head_dropout"] = draw(st.sampled_from([None, 0.2])) if trailing_dropout and spec["classes"] >= 10 else None
    return spec


def build_nnscratch(spec, dtype, seed):
    model = nnscratch.Sequential(dtype=dtype)
    first = {"input_shape": (spec["input_dim"],)}
    k = 0
    for units, act, separate, dropout in spec["hidden"]:
        if separate:
            model.add(L.Dense(units, seed=seed + k, **first))
            model.add(L.Activation(act))
        else:
            model.add(L.Dense(units, activation=act, seed=seed + k, **first))
        first, k = {}, k + 1
        if dropout is not None:
            model.add(L.Dropout(dropout))
    if spec["head_separate"]:
        model.add(L.Dense(spec["classes"], seed=seed + k, **first))
        model.add(L.Activation(spec["head"]))
    else:
        model.add(L.Dense(spec["classes"], activation=spec["head"], seed=seed + k, **first))
    if spec["head_dropout"] is not None:
        model.add(L.Dropout(spec["head_dropout"]))
    return model


def make_pair(spec, dtype, seed, batch, optimizer="adam"):
    nn = build_nnscratch(spec, dtype, seed)
    nn.compile(loss="categorical_crossentropy", optimizer=OPTIMIZERS[optimizer](), metrics=["accuracy"])
    km = kr.keras_twin(nn, loss="consistent", seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, spec["input_dim"])).astype(dtype)
    y = nnscratch.utils.to_categorical(rng.integers(0, spec["classes"], batch), spec["classes"], dtype=dtype)
    return nn, km, x, y


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=architectures(), dtype=st.sampled_from(["float32", "float64"]), batch=st.integers(1, 70),
       seed=st.integers(0, 10_000))
def test_random_architecture_forward_loss_gradients(spec, dtype, batch, seed):
    nn, km, x, y = make_pair(spec, dtype, seed, batch)
    report = _report(dtype)
    cmp.compare_forward(report, nn, km, x, training=False)
    cmp.compare_forward(report, nn, km, x, training=True)
    cmp.compare_gradients(report, nn, km, x, y)
    _assert_ok(report)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=architectures(), dtype=st.sampled_from(["float32", "float64"]), batch=st.integers(1, 70),
       seed=st.integers(0, 10_000), optimizer=st.sampled_from(sorted(OPTIMIZERS)),
       via=st.sampled_from(["fit", "train_on_batch"]))
def test_random_architecture_100_steps(spec, dtype, batch, seed, optimizer, via):
    nn, km, x, y = make_pair(spec, dtype, seed, batch, optimizer)
    report = _report(dtype)
    trajectory = cmp.compare_steps(report, nn, km, x, y, steps=100, via=via)
    _assert_moved(nn, km, x, y)
    if dtype == "float32" and not report.ok:
        _assert_miss_only_after_chaos_horizon(spec, seed, batch, optimizer, nn, km, x, y, trajectory, report)
        return
    _assert_ok(report)


def _assert_moved(nn, km, x, y, steps=10):
    """The comparison means something only if training moves the weights (a zero gradient, or a
    step size of 0, would also "agree"): Keras steps from the same start change them, within
    ``steps``.  One step is not always enough: with dropout after a softmax output and a batch of one,
    a mask that drops the true class clips its log to log(1e-7), whose gradient is 0 (it happened:
    input 54, no hidden layer, 26 classes, batch 1, seed 101, float64)."""
    moved = cmp.clone_keras(km)
    start = nn.get_weights()
    with kr.keras_floatx(cmp.keras_dtype(km)):
        for _ in range(steps):
            moved.train_on_batch(x, y)
            if max(float(np.max(np.abs(a - b))) for a, b in zip(moved.get_weights(), start)) > 0:
                return
    raise AssertionError(f"{steps} Keras steps left every weight where it started: the comparison "
                         "would pass for a model that never learns")


def test_assert_moved_needs_the_weights_to_move():
    """The guard above fails when no step moves a weight, and looks past a step that cannot: the
    example found on CI, whose first dropout mask drops the true class."""
    spec = {"input_dim": 54, "hidden": [], "classes": 26, "head": "softmax", "head_separate": False,
            "head_dropout": 0.2}
    nn, km, x, y = make_pair(spec, "float64", 101, 1)
    with pytest.raises(AssertionError, match="left every weight"):
        _assert_moved(nn, km, x, y, steps=1)
    _assert_moved(nn, km, x, y)


def _nn_trajectory(model, km, x, y, steps=100):
    """nnscratch's weights after every step (``train_on_batch``), with the dropout masks Keras's ``km``
    would draw; only Keras's seed state is read, none of its numbers."""
    from keras_reference.masks import replay_keras_masks
    replay_keras_masks(model, km)
    out = []
    for _ in range(steps):
        model.train_on_batch(x, y)
        out.append(model.get_weights())
    return out


def chaos_horizon(nn, km, x, y, tol, steps=100):
    """The first step at which nnscratch disagrees with *itself* by more than ``tol / 10``, computed
    before Keras is looked at: against a copy whose initial weights differ by one ulp, and against a
    copy on the other backend (each step rounded differently, as Keras's steps are).  ``steps`` if
    neither departs."""
    from nnscratch import backend
    base = _nn_trajectory(cmp.clone_nn(nn), km, x, y, steps)
    nudged = cmp.clone_nn(nn)
    nudged.set_weights([np.nextafter(w, np.float32(np.inf)) for w in nn.get_weights()])
    copies = [_nn_trajectory(nudged, km, x, y, steps)]
    other = "numpy" if backend.get_backend() != "numpy" else "numba"
    with backend.use(other):
        copies.append(_nn_trajectory(cmp.clone_nn(nn), km, x, y, steps))
    horizon = steps
    for run in copies:
        for t, (a, b) in enumerate(zip(base, run)):
            if max(float(np.max(np.abs(u - v))) for u, v in zip(a, b)) > tol / 10:
                horizon = min(horizon, t)
                break
    return horizon


def _assert_miss_only_after_chaos_horizon(spec, seed, batch, optimizer, nn, km, x, y, trajectory, report):
    """A float32 miss over 100 steps is accepted only where the dynamics are chaotic, and only after
    they have become so.  Some random architectures train chaotically on a batch of a few samples
    (ReLU, Nesterov momentum): a last-bit difference, such as another summation order in a matmul,
    grows exponentially.  The rule:

    1. the same case in float64 agrees with Keras to 1e-10 at all 100 steps (the arithmetic is the same);
    2. nnscratch agrees with Keras within the tolerance at *every* step before the chaos horizon
       (:func:`chaos_horizon`, from nnscratch alone): a bug shows from the first steps, chaos only later.
    """
    tol = report.tolerances["steps"]
    nn64, km64, x64, y64 = make_pair(spec, "float64", seed, batch, optimizer)
    report64 = _report("float64")
    cmp.compare_steps(report64, nn64, km64, x64, y64, steps=100)
    _assert_ok(report64)
    horizon = chaos_horizon(nn, km, x, y, tol)
    early = [(t, d) for t, d in enumerate(trajectory[:horizon]) if d > tol]
    assert horizon < len(trajectory), f"float32 miss but nnscratch's own copies never depart:\n{report.table()}"
    assert not early, (f"float32 miss {early[0][1]:.2e} at step {early[0][0] + 1}, before the chaos horizon "
                       f"(step {horizon + 1}):\n{report.table()}")


FIXED_SPEC = {"input_dim": 20, "hidden": [(32, "tanh", False, 0.2), (16, "relu", True, None)],
              "classes": 10, "head": "sigmoid", "head_separate": True, "head_dropout": 0.2}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_every_optimizer_100_steps(optimizer, dtype):
    """Adam, SGD, SGD with momentum and with Nesterov momentum, each over 100 steps, dropout on,
    through ``fit`` and through ``train_on_batch``."""
    nn, km, x, y = make_pair(FIXED_SPEC, dtype, 7, 50, optimizer)
    for via in ("fit", "train_on_batch"):
        report = _report(dtype)
        cmp.compare_steps(report, nn, km, x, y, steps=100, via=via)
        _assert_ok(report)
    start = nn.get_weights()[0]
    assert np.max(np.abs(km.get_weights()[0] - start)) == 0     # the originals are untouched ...
    _assert_moved(nn, km, x, y)                                 # ... and a step changes them


# ----------------------------------------------------------------- Keras's logits shortcut, pinned
def _sigmoid_pair(dtype="float64", dropout=None):
    nn = nnscratch.Sequential([L.Dense(6, input_shape=(9,), seed=11), L.Activation("sigmoid")]
                              + ([L.Dropout(dropout)] if dropout is not None else []), dtype=dtype)
    nn.compile(loss="categorical_crossentropy", optimizer="adam")
    rng = np.random.default_rng(12)
    x = rng.normal(size=(40, 9)) * 2
    y = nnscratch.utils.to_categorical(rng.integers(0, 6, 40), 6, dtype=dtype)
    return nn, x.astype(dtype), y


def test_keras_sigmoid_head_trains_on_softmax_ce_of_logits():
    """Pinned Keras behaviour: with the sigmoid output reaching its stock loss directly, Keras computes
    softmax cross-entropy of the pre-sigmoid z (value and gradient), not the probability formula."""
    nn, x, y = _sigmoid_pair()
    stock = kr.keras_twin(nn, loss="keras")
    consistent = kr.keras_twin(nn, loss="consistent")
    _, n_loss, n_grads = cmp.nn_pass(nn, x, y, training=True)
    z = nn.layers[0].cache[1]
    _, k_loss, k_grads = cmp.keras_pass(stock, x, y, training=True)
    assert abs(k_loss - nn_losses.softmax_crossentropy_from_logits(y, z)) < 1e-12
    assert abs(k_loss - n_loss) > 1e-3                 # a different formula from nnscratch's
    dz = nn_losses.softmax_crossentropy_from_logits_gradient(y, nnscratch.activations.softmax(z))
    nn.layers[0].backward_from_z(dz)
    for a, b in zip(nn.gradients, k_grads):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)
    # the consistent twin computes nnscratch's loss and gradients
    _, c_loss, c_grads = cmp.keras_pass(consistent, x, y, training=True)
    assert abs(c_loss - n_loss) < 1e-12
    for a, b in zip(n_grads, c_grads):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)


def test_keras_evaluate_loss_differs_from_training_loss_for_workshop_1layer(mnist):
    """Pinned Keras behaviour (workshop model 1): training loss = renormalised+clipped sigmoid outputs
    (Dropout hides the logits); evaluate loss = softmax-CE of the pre-sigmoid z (Dropout is the
    identity).  The comparison tool shows both numbers and why."""
    nn, km = kr.workshop_pair("1layer", dtype="float64", seed=13)
    x, y = mnist[0][:96], mnist[1][:96]
    report = _report("float64")
    cmp.compare_inference(report, nn, km, x, y)
    _assert_ok(report)
    info = [r for r in report.rows if r.name == "loss (nnscratch's formula)"][0]
    exact = [r for r in report.rows if r.name.startswith("loss (softmax-CE")][0]
    assert info.tol is None and info.max_abs > 1e-2 and "_keras_logits" in info.note
    assert exact.max_abs < 1e-12
    # the row's nnscratch number is nnscratch's formula, recomputed here from the plain functions
    p = nnscratch.activations.sigmoid(x @ nn.layers[0].kernel + nn.layers[0].bias)
    by_batch = [nn_losses.categorical_crossentropy(y[i:i + 32], p[i:i + 32]) * len(p[i:i + 32])
                for i in range(0, len(x), 32)]
    assert abs(info.nnscratch - sum(by_batch) / len(x)) < 1e-12
    # training: Keras's stock loss equals nnscratch's formula (masks replayed)
    kr.replay_keras_masks(nn, km)
    _, k_loss, _ = cmp.keras_pass(km, x, y, training=True)
    _, n_loss, _ = cmp.nn_pass(nn, x, y, training=True)
    assert abs(k_loss - n_loss) < 1e-12


def test_what_carries_keras_logits():
    """Pinned: which Keras layers pass the sigmoid's ``_keras_logits`` on to the loss (this decides
    which loss Keras computes; keras_reference.models relies on it)."""
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 5)).astype("float32"))
    s = keras.layers.Activation("sigmoid")(x)
    assert hasattr(s, "_keras_logits")
    assert hasattr(keras.layers.Dropout(0.2)(s, training=False), "_keras_logits")
    assert hasattr(keras.layers.Dropout(0.0)(s, training=True), "_keras_logits")
    assert hasattr(keras.layers.Identity()(s), "_keras_logits")
    assert not hasattr(keras.layers.Dropout(0.2)(s, training=True), "_keras_logits")
    assert not hasattr(tf.identity(s), "_keras_logits")


# ------------------------------------------------------------------ utilities, transfer, summary
@pytest.mark.parametrize("shape,num_classes", [((50,), None), ((50,), 12), ((50, 1), 10), ((3, 4), 7)])
def test_to_categorical_matches_keras(shape, num_classes):
    labels = np.random.default_rng(1).integers(0, 7, size=shape)
    ours = nnscratch.utils.to_categorical(labels, num_classes)
    theirs = keras.utils.to_categorical(labels, num_classes)
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_to_categorical_dtype_matches_keras():
    """Keras 3's to_categorical returns float64 (keras/src/utils/numerical_utils.py); so does nnscratch's."""
    labels = np.arange(5)
    assert nnscratch.utils.to_categorical(labels).dtype == keras.utils.to_categorical(labels).dtype


def test_accuracy_matches_keras_metric():
    rng = np.random.default_rng(2)
    p = rng.random((200, 10)).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, 10, 200), 10)
    metric = keras.metrics.CategoricalAccuracy()
    metric.update_state(y, p)
    assert nnscratch.utils.accuracy(y, p) == pytest.approx(float(metric.result()), abs=1e-7)


def test_weight_transfer_both_ways():
    nn = kr.nnscratch_3layer(seed=21)
    km = kr.build_3layer()
    keras_init = km.get_weights()
    assert_transfer_both_ways(nn, km, kr.nnscratch_3layer(seed=22))
    # Keras's own initial weights into nnscratch: same predictions
    fresh = kr.build_1layer()
    twin = kr.nnscratch_twin(fresh)
    x = np.random.default_rng(3).random((20, 784)).astype("float32")
    np.testing.assert_allclose(twin.predict(x, verbose=0), fresh.predict(x, verbose=0), atol=1e-6, rtol=0)
    assert not all(np.array_equal(a, b) for a, b in zip(keras_init, km.get_weights()))
    with pytest.raises(ValueError, match="weight arrays|shape"):
        kr.to_keras(kr.nnscratch_1layer(), km)


def _summary_rows(text):
    """``[(output shape, params), ...]`` and the total, from a Keras 3 style summary table."""
    import re
    rows = [(m.group(1), int(m.group(2).replace(",", "")))
            for m in re.finditer(r"│\s*(\(None, [\d, ]+\))\s*│\s*([\d,]+)\s*│", text)]
    total = int(re.search(r"Total params: ([\d,]+)", text).group(1).replace(",", ""))
    return rows, total


def _both_summaries(nn, km):
    ours, theirs = [], []
    nn.summary(print_fn=ours.append)
    km.summary(print_fn=lambda s, **kw: theirs.append(s))
    return _summary_rows("\n".join(ours)), _summary_rows("\n".join(theirs))


@pytest.mark.parametrize("name", ["1layer", "3layer"])
def test_summary_parity_workshop(name):
    nn, km = kr.workshop_pair(name, seed=0)
    ours, theirs = _both_summaries(nn, km)
    assert ours == theirs
    assert ours[1] == {"1layer": 7850, "3layer": 669706}[name] == km.count_params()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=architectures())
def test_summary_parity_random(spec):
    nn = build_nnscratch(spec, "float32", 0)
    km = kr.keras_twin(nn, compile=False)
    ours, theirs = _both_summaries(nn, km)
    assert len(ours[0]) == len(nn.layers)
    assert ours == theirs


# ------------------------------------------------------------ the chaos rule must not excuse a bug
CHAOTIC_SPEC = {"input_dim": 40, "hidden": [(64, "relu", False, 0.5), (38, "relu", False, None)],
                "classes": 10, "head": "softmax", "head_separate": False, "head_dropout": None}


def test_chaos_rule_catches_a_float32_only_bug(monkeypatch):
    """A float32-only bug injected on purpose (SGD momentum x 0.95) in a chaotic case (wide ReLU
    layers, dropout 0.5, Nesterov momentum, batch 5: nnscratch departs from its own twins within
    100 steps) must fail the 100-step rule; the same case without the bug passes it."""
    args = (CHAOTIC_SPEC, 514, 5, "nesterov")
    nn, km, x, y = make_pair(CHAOTIC_SPEC, "float32", 514, 5, "nesterov")
    assert chaos_horizon(nn, km, x, y, 1e-5) < 100                    # the case is chaotic
    report = _report("float32")
    trajectory = cmp.compare_steps(report, nn, km, x, y, steps=100, via="fit")
    if not report.ok:                                                  # no bug: passes the rule
        _assert_miss_only_after_chaos_horizon(*args, nn, km, x, y, trajectory, report)
    original = nn_opt.SGD.update

    def momentum_bug(self, params, grads, state):
        if params[0].dtype == np.float32:
            monkeypatch.setattr(self, "momentum", 0.9 * 0.95)
        return original(self, params, grads, state)
    monkeypatch.setattr(nn_opt.SGD, "update", momentum_bug)
    report = _report("float32")
    trajectory = cmp.compare_steps(report, nn, km, x, y, steps=100, via="fit")
    assert not report.ok
    with pytest.raises(AssertionError, match="before the chaos horizon|copies never depart"):
        _assert_miss_only_after_chaos_horizon(*args, nn, km, x, y, trajectory, report)


# ------------------------------------------------------------ the tutorials' pieces against Keras
LOSS_OBJECTS = {
    "sparse_logits": (lambda: nn_losses.SparseCategoricalCrossentropy(from_logits=True), True),
    "categorical_logits": (lambda: nn_losses.CategoricalCrossentropy(from_logits=True), False),
    "sparse": (lambda: nn_losses.SparseCategoricalCrossentropy(), True),
    "categorical": (lambda: nn_losses.CategoricalCrossentropy(), False),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(LOSS_OBJECTS))
def test_loss_objects_called_like_keras(name, dtype):
    """``loss_fn(y_true, y_pred)`` against Keras's own loss object, on logits (also with
    ``from_logits=True``), on sigmoid-like outputs and on rows with clipped entries (where the sparse
    and categorical formulas part ways)."""
    make, sparse = LOSS_OBJECTS[name]
    rng = np.random.default_rng(30)
    labels = rng.integers(0, 7, 40)
    y = labels.astype(np.uint8) if sparse else keras.utils.to_categorical(labels, 7)
    ours = make()
    ours.dtype = np.dtype(dtype)
    cls = keras.losses.SparseCategoricalCrossentropy if sparse else keras.losses.CategoricalCrossentropy
    theirs = cls(from_logits=ours.from_logits, dtype=dtype)
    z = rng.normal(size=(40, 7)) * 4
    probabilities = (1 / (1 + np.exp(-z)), np.where(z > 3, 1.0, np.where(z < -3, 0.0, 1 / (1 + np.exp(-z)))))
    for pred in ((z,) if ours.from_logits else ()) + probabilities:
        a, b = float(ours(y, pred).numpy()), float(theirs(y, pred).numpy())
        assert abs(a - b) <= {"float32": 1e-6, "float64": 1e-12}[dtype] * max(1.0, abs(b)), (a, b)


def tutorial_pair(dtype, loss, optimizer, head="linear", dropout=0.2, seed=40, hidden=32, nested=False):
    """A quickstart-style nnscratch model (Flatten(28, 28) -> Dense relu -> Dropout -> Dense(10) and an
    optional softmax head) and its Keras twin, identical weights and compiled loss/optimizer."""
    stack = [L.Flatten(input_shape=(28, 28)), L.Dense(hidden, activation="relu", seed=seed), L.Dropout(dropout),
             L.Dense(10, activation="softmax" if head == "dense_softmax" else None, seed=seed + 1)]
    if head == "softmax_layer":
        stack.append(L.Softmax())
    nn = nnscratch.Sequential(stack, dtype=dtype)
    nn.compile(loss=loss, optimizer=optimizer, metrics=["accuracy"])
    km = kr.keras_twin(nn, loss="keras", seed=seed)
    return nn, km


def _tutorial_data(mnist, dtype, n, sparse):
    x = mnist[0][:n].reshape(n, 28, 28).astype(dtype)
    return x, (mnist[1][:n].argmax(1) if sparse else mnist[1][:n].astype(dtype))


TUTORIAL_CASES = [
    # (loss, head): the quickstart's from-logits sparse loss, its categorical twin, and softmax heads
    ("sparse_logits", "linear"),
    ("categorical_logits", "linear"),
    ("sparse", "softmax_layer"),
    ("categorical", "softmax_layer"),
    ("sparse", "dense_softmax"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss_name,head", TUTORIAL_CASES)
def test_tutorial_models_forward_loss_gradients(mnist, loss_name, head, dtype):
    make, sparse = LOSS_OBJECTS[loss_name]
    nn, km = tutorial_pair(dtype, make(), nn_opt.Adam(), head=head)
    x, y = _tutorial_data(mnist, dtype, 64, sparse)
    report = _report(dtype)
    cmp.compare_forward(report, nn, km, x, training=False)
    cmp.compare_forward(report, nn, km, x, training=True)
    cmp.compare_gradients(report, nn, km, x, y)
    cmp.compare_inference(report, nn, km, x, y)
    _assert_ok(report)


RMSPROPS = {"plain": {}, "momentum": {"momentum": 0.9}, "centered": {"centered": True}}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss_name,head,rmsprop", [
    ("sparse_logits", "linear", "plain"), ("categorical_logits", "linear", "momentum"),
    ("sparse", "softmax_layer", "centered"), ("categorical", "dense_softmax", "plain"),
])
def test_tutorial_models_100_rmsprop_steps(mnist, loss_name, head, rmsprop, dtype):
    """100 RMSprop steps (Keras's default optimizer, mnist_mlp's) through ``fit`` and through
    ``train_on_batch``, dropout on with Keras's masks replayed: weights and every step's loss."""
    make, sparse = LOSS_OBJECTS[loss_name]
    nn, km = tutorial_pair(dtype, make(), nn_opt.RMSprop(**RMSPROPS[rmsprop]), head=head, seed=41)
    x, y = _tutorial_data(mnist, dtype, 32, sparse)
    for via in ("fit", "train_on_batch"):
        _assert_100_steps(nn, km, x, y, dtype, via)
    _assert_moved(nn, km, x, y)


@pytest.mark.parametrize("rmsprop", sorted(RMSPROPS))
def test_mnist_mlp_rmsprop_fit_epoch(mnist, rmsprop):
    """Keras's mnist_mlp architecture (relu, dropout 0.2, softmax; width 128 here), one epoch of
    ``fit(shuffle=False)`` on 1024 images with each RMSprop variant, float32: weights, loss, accuracy."""
    nn = nnscratch.Sequential([L.Dense(128, activation="relu", input_shape=(784,), seed=50), L.Dropout(0.2),
                               L.Dense(128, activation="relu", seed=51), L.Dropout(0.2),
                               L.Dense(10, activation="softmax", seed=52)])
    nn.compile(loss="categorical_crossentropy", optimizer=nn_opt.RMSprop(**RMSPROPS[rmsprop]), metrics=["accuracy"])
    km = kr.keras_twin(nn, loss="keras", seed=50)
    report = _report("float32")
    x, y = mnist[0].astype("float32"), mnist[1].astype("float32")
    cmp.compare_fit(report, nn, km, x, y, batch_size=128)
    cmp.compare_fit(report, nn, km, x, y, batch_size=128, dropout_on=True)
    _assert_ok(report)


def test_quickstart_probability_model_matches_keras(mnist):
    """``Sequential([model, Softmax()])`` on both sides: the same probabilities, from model(x) and predict."""
    nn, km = tutorial_pair("float32", nn_losses.SparseCategoricalCrossentropy(from_logits=True),
                           nn_opt.Adam(), seed=42)
    x = mnist[0][:50].reshape(50, 28, 28)                              # float64, as x / 255.0 is
    nn_prob = nnscratch.keras.Sequential([nn, nnscratch.keras.layers.Softmax()])
    k_prob = keras.Sequential([km, keras.layers.Softmax()])
    ours, theirs = nn_prob(x), k_prob(x).numpy()
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-6, rtol=0)
    np.testing.assert_allclose(nn_prob.predict(x, verbose=0), k_prob.predict(x, verbose=0), atol=1e-6, rtol=0)
    # the untrained loss the tutorial prints, loss_fn(y_train[:1], predictions).numpy()
    labels = mnist[1][:1].argmax(1).astype(np.uint8)
    k_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, km(x[:1])).numpy()
    n_loss = nnscratch.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, nn(x[:1])).numpy()
    assert type(n_loss) is type(k_loss) is np.float32 and abs(n_loss - k_loss) <= 1e-6


def test_keras_warns_and_uses_the_logits_under_a_softmax_with_from_logits():
    """Pinned Keras behaviour that nnscratch copies: from_logits=True on a softmax output computes the
    cross-entropy of the softmax's *input* (and warns), the same number as from_logits=False."""
    import warnings
    nn = nnscratch.Sequential([L.Dense(5, activation="softmax", input_shape=(6,), seed=60)], dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nn.compile(loss=nn_losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="sgd")
        km = kr.keras_twin(nn, loss="keras")
        rng = np.random.default_rng(61)
        x, y = rng.normal(size=(20, 6)), rng.integers(0, 5, 20)
        report = _report("float64")
        cmp.compare_gradients(report, nn, km, x, y, training=False)
    _assert_ok(report)
    z = x @ nn.layers[0].kernel + nn.layers[0].bias
    k_loss = [r for r in report.rows if r.name == "training loss"][0].keras
    assert abs(k_loss - nn_losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64")(y, z)) < 1e-12
