"""Training the way the books do, against real Keras (issue 28): the logs every callback hook sees,
the new losses with sample weights, weighted fits, EarlyStopping, ModelCheckpoint, the learning-rate
callbacks and schedules, metrics, TerminateOnNaN, CSVLogger, TensorBoard.

Every expected number comes from Keras run live on the same weights and batches (``shuffle=False``);
float64 comparisons are tight (1e-10), float32 ones at Keras's float32 floor (1e-5 on logged values).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_reference as kr  # noqa: E402
import nnscratch  # noqa: E402
from keras_reference import compare as cmp  # noqa: E402
from nnscratch import callbacks as nn_callbacks  # noqa: E402
from nnscratch import layers as L  # noqa: E402
from nnscratch import metrics as nn_metrics  # noqa: E402
from nnscratch import monitors as nn_monitors  # noqa: E402
from nnscratch import optimizers as nn_opt  # noqa: E402
from nnscratch import schedules as nn_schedules  # noqa: E402
from nnscratch.elementwise_losses import BinaryCrossentropy, MeanAbsoluteError, MeanSquaredError  # noqa: E402

TOL = {"float32": 1e-5, "float64": 1e-10}


@pytest.fixture(scope="module")
def mnist():
    """480 MNIST images (float64 in [0, 1]) and their labels; cast per test."""
    x, y = cmp.mnist_sample(480, "float64")
    return x, y.argmax(1)


def _mlp(dtype, head="softmax", units=10, hidden=16, seed=0):
    return nnscratch.Sequential([L.Dense(hidden, activation="tanh", input_shape=(784,), seed=seed),
                                 L.Dense(units, activation=head, seed=seed + 1)], dtype=dtype)


def _pair(nn, loss, optimizer, metrics=(), weighted_metrics=()):
    """The nnscratch model compiled as given, and its Keras twin (same weights) compiled alike."""
    dtype = nn.dtype.name
    nn.compile(loss=loss, optimizer=optimizer, metrics=list(metrics) or None,
               weighted_metrics=list(weighted_metrics) or None)
    km = kr.keras_twin(nn, compile=False)
    keras_opt = kr.keras_optimizer_like(nn.optimizer)
    with kr.keras_floatx(dtype):
        km.compile(loss=kr.keras_loss_like(nn.compiled_loss, dtype, "keras"), optimizer=keras_opt,
                   metrics=[kr.keras_metric_like(m, dtype) for m in metrics] or None,
                   weighted_metrics=[kr.keras_metric_like(m, dtype) for m in weighted_metrics] or None)
    return nn, km


def _close(a, b, tol, what):
    """Logged values: equal keys, numbers within ``tol`` (relative above 1), arrays likewise."""
    if isinstance(b, dict):
        assert list(a) == list(b), f"{what}: keys {list(a)} != Keras's {list(b)}"
        for k in b:
            _close(a[k], b[k], tol, f"{what}[{k}]")
        return
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != Keras's {b.shape}"
    excess = np.abs(a - b) - tol * np.maximum(1, np.abs(b))
    assert np.all(excess <= 0), (f"{what}: max |diff| {np.max(np.abs(a - b)):.3g} > {tol:g}"
                                 + (f" ({a} != Keras's {b})" if a.size == 1 else ""))


def _assert_weights(nn, km, tol):
    for i, (a, b) in enumerate(zip(nn.get_weights(), km.get_weights())):
        _close(a, b, tol, f"weight {i}")


HOOKS = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
         "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
         "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end"]


def _recorder(base):
    """A callback class (of ``base``) that records every hook with its arguments and logs."""
    def make(hook):
        def method(self, *args, logs=None):
            if logs is None and args and isinstance(args[-1], dict):
                args, logs = args[:-1], args[-1]
            self.events.append((hook,) + tuple(args) + (dict(logs or {}),))
        return method
    attrs = {h: make(h) for h in HOOKS}
    attrs["__init__"] = lambda self: (base.__init__(self), setattr(self, "events", []))[0]
    return type("Recorder", (base,), attrs)


# ----------------------------------------------------------------------------- logs at every hook
def test_logs_at_every_hook_equal_keras(mnist):
    """fit (with sample weights and a weighted validation set), evaluate and predict, each with a
    recording callback: the same hooks in the same order with the same arguments, the same log keys
    (sorted, Keras's names) and values; History, params and the weights after training too."""
    x, labels = mnist[0][:200].astype("float32"), mnist[1][:200]
    w = np.where(labels % 3 == 0, 2.0, 0.5)
    nn, km = _pair(_mlp("float32"), "sparse_categorical_crossentropy", nn_opt.Adam(0.01),
                   metrics=["accuracy", nn_metrics.SparseTopKCategoricalAccuracy(k=3)],
                   weighted_metrics=["accuracy"])
    records = {}
    for side, model, base in (("nn", nn, nnscratch.keras.callbacks.Callback), ("keras", km, keras.callbacks.Callback)):
        rec = _recorder(base)()
        history = model.fit(x[:120], labels[:120], batch_size=50, epochs=2, verbose=0, shuffle=False,
                            sample_weight=w[:120], validation_data=(x[120:], labels[120:], w[120:]), callbacks=[rec])
        model.evaluate(x[120:], labels[120:], batch_size=32, verbose=0, callbacks=[rec])
        model.predict(x[:40], batch_size=16, verbose=0, callbacks=[rec])
        records[side] = (rec.events, history.history, history.params, rec.params)
    nn_events, k_events = records["nn"][0], records["keras"][0]
    assert [e[:-1] for e in nn_events] == [e[:-1] for e in k_events]       # hooks, batch and epoch numbers
    for a, b in zip(nn_events, k_events):
        _close(a[-1], b[-1], TOL["float32"], str(b[:-1]))
    _close(records["nn"][1], records["keras"][1], TOL["float32"], "history")
    assert records["nn"][2] == records["keras"][2] == {"verbose": 0, "epochs": 2, "steps": 3}
    assert "weighted_accuracy" in records["nn"][1] and "sparse_top_k_categorical_accuracy" in records["nn"][1]
    _assert_weights(nn, km, TOL["float32"])


# ---------------------------------------------------------------------- losses and sample weights
def _keras_loss_and_gradients(km, x, y, w):
    with tf.GradientTape() as tape:
        p = km(x, training=True)
        loss = km.compute_loss(x, y, p, sample_weight=w)
    return float(loss), [g.numpy() for g in tape.gradient(loss, km.trainable_weights)]


LOSS_CASES = {   # name: (loss, output units, output activation, targets)
    "mse": (MeanSquaredError(), 3, "linear", "values"),
    "mae": (MeanAbsoluteError(), 3, "tanh", "values"),
    "mse-softmax-head": ("mse", 3, "softmax", "binary"),          # no shortcut: through the softmax
    "bce-sigmoid-head": (BinaryCrossentropy(), 3, "sigmoid", "binary"),       # Keras's fused sigmoid head
    "bce-logits": (BinaryCrossentropy(from_logits=True), 1, "linear", "binary"),
    "bce-probabilities": (BinaryCrossentropy(label_smoothing=0.1), 2, "tanh", "binary"),  # clipped below 0
    "sparse-cce-softmax": ("sparse_categorical_crossentropy", 4, "softmax", "labels"),
}


@pytest.mark.parametrize("case", list(LOSS_CASES))
def test_losses_with_sample_weights_equal_keras_and_pass_gradcheck(case):
    """The loss and every gradient of a float64 model, with sample weights, equal Keras's
    ``compute_loss`` under a GradientTape (1e-10); the loss object alone, called with weights, equals
    Keras's loss object; the gradients pass the finite-difference check."""
    loss, units, head, targets = LOSS_CASES[case]
    rng = np.random.default_rng(len(case))
    x = rng.normal(size=(12, 784))
    y = {"values": rng.normal(size=(12, units)), "binary": (rng.random((12, units)) < 0.5).astype(float),
         "labels": rng.integers(0, units, 12)}[targets]
    w = rng.random(12) * 2
    nn = nnscratch.Sequential([L.Dense(5, activation="tanh", input_shape=(784,), seed=1),
                               L.Dense(units, activation=head, seed=2)], dtype="float64")
    nn, km = _pair(nn, loss, "sgd")
    nn_loss, _, nn_grads = nn.compute_gradients(x, y, sample_weight=w)
    k_loss, k_grads = _keras_loss_and_gradients(km, x, y, w)
    assert abs(float(nn_loss) - k_loss) <= 1e-10 * max(1, abs(k_loss))
    for a, b in zip(nn_grads, k_grads):
        _close(a, b, 1e-10, "gradient")
    p = nn.predict(x, verbose=0)
    keras_loss = kr.keras_loss_like(nn.compiled_loss, "float64", "keras")
    _close(nn.compiled_loss.__class__(**{k: v for k, v in nn.compiled_loss.get_config().items() if k != "name"},
                                      dtype="float64")(y, p, sample_weight=w),
           float(keras_loss(y if targets != "labels" else y, p, sample_weight=w)), 1e-12, "loss object")
    report = nnscratch.gradcheck.check_model(nn, x[:6], y[:6], sample_weight=w[:6], max_entries=40)
    assert report.passed, str(report)


def test_new_losses_alone_pass_gradcheck_and_keras_function_values():
    rng = np.random.default_rng(3)
    y, p = (rng.random((7, 3)) < 0.5).astype(float), rng.random((7, 3)) * 0.98 + 0.01
    z, w = rng.normal(size=(7, 3)) * 3, rng.random(7)
    for loss, pred in ((MeanSquaredError(), z), (MeanAbsoluteError(), z), (BinaryCrossentropy(), p),
                       (BinaryCrossentropy(from_logits=True), z)):
        for sw in (None, w):
            report = nnscratch.gradcheck.check_loss(loss, y, pred, sample_weight=sw)
            assert report.passed, str(report)
    for name in ("mean_squared_error", "mean_absolute_error", "binary_crossentropy"):
        ours = getattr(nnscratch.keras.losses, name)(y, p)
        theirs = getattr(keras.losses, name)(y, p).numpy()
        assert ours.shape == (7,)
        _close(ours, theirs, 1e-12, name)


# ------------------------------------------------------------------------------ weighted fits
FIT_CASES = {   # name: (loss, units, head, targets, metrics, weighting)
    "class_weight": ("sparse_categorical_crossentropy", 10, "softmax", "labels", ["accuracy"], "class"),
    "bce_sample_weight": ("binary_crossentropy", 1, "sigmoid", "odd", ["accuracy", "binary_crossentropy"], "sample"),
    "mse_regression": ("mse", 1, "linear", "digit", ["mae", nn_metrics.RootMeanSquaredError(dtype="float64"),
                                                       nn_metrics.MeanSquaredError(dtype="float64")], "sample"),
}


@pytest.mark.parametrize("case", list(FIT_CASES))
def test_weighted_fit_and_evaluate_equal_keras(mnist, case):
    """Two epochs of ``fit`` with ``class_weight`` or ``sample_weight`` (float64, shuffle off) and a
    weighted ``evaluate``: the same history, weights and evaluation as Keras."""
    loss, units, head, targets, metrics, weighting = FIT_CASES[case]
    x, labels = mnist[0][:192], mnist[1][:192]
    y = {"labels": labels, "odd": (labels % 2).astype(float)[:, None], "digit": labels.astype(float)}[targets]
    nn, km = _pair(_mlp("float64", head, units), loss, nn_opt.RMSprop(0.005), metrics=metrics)
    kw = ({"class_weight": {0: 1.0, 1: 0.5, 5: 3.0, 7: 2.0}} if weighting == "class"
          else {"sample_weight": np.linspace(0.2, 2.0, 128)})
    w_eval = np.linspace(1.5, 0.5, 64)
    h_nn = nn.fit(x[:128], y[:128], batch_size=32, epochs=2, verbose=0, shuffle=False, **kw)
    with kr.keras_floatx("float64"):                  # Keras's data adapters cast to floatx()
        h_k = km.fit(x[:128], y[:128], batch_size=32, epochs=2, verbose=0, shuffle=False, **kw)
        k_eval = km.evaluate(x[128:], y[128:], sample_weight=w_eval, verbose=0)
    _close(h_nn.history, h_k.history, 1e-10, "history")
    _assert_weights(nn, km, 1e-10)
    _close(nn.evaluate(x[128:], y[128:], sample_weight=w_eval, verbose=0), k_eval, 1e-10, "evaluate")


# -------------------------------------------------------------------------------- the callbacks
def _overfit_pair(mnist, lr=0.05):
    x, labels = mnist[0][:160], mnist[1][:160]
    nn, km = _pair(_mlp("float64", hidden=32), "sparse_categorical_crossentropy", nn_opt.SGD(lr, momentum=0.9),
                   metrics=["accuracy"])
    return nn, km, (x[:48], labels[:48]), (x[48:], labels[48:])


@pytest.mark.parametrize("kw", [dict(monitor="val_loss", patience=1, restore_best_weights=True),
                                dict(monitor="val_accuracy", patience=2, min_delta=0.01, start_from_epoch=2,
                                     restore_best_weights=True, baseline=0.3)])
def test_early_stopping_equal_keras(mnist, kw, capsys):
    """The same epoch stops training, the same best epoch's weights come back, the same messages."""
    nn, km, train, val = _overfit_pair(mnist)
    stops, out = {}, {}
    for side, model, module in (("nn", nn, nnscratch.keras.callbacks), ("keras", km, keras.callbacks)):
        es = module.EarlyStopping(verbose=1, **kw)
        with kr.keras_floatx("float64"):
            h = model.fit(*train, batch_size=16, epochs=25, verbose=0, shuffle=False, validation_data=val, callbacks=[es])
        stops[side] = (len(h.history["loss"]), es.stopped_epoch, es.best_epoch)
        out[side] = capsys.readouterr().out
    assert stops["nn"] == stops["keras"] and stops["nn"][1] > 0
    assert out["nn"].strip().splitlines() == out["keras"].strip().splitlines()
    _assert_weights(nn, km, 1e-10)


def test_model_checkpoint_equal_keras(mnist, tmp_path, capsys):
    """save_best_only on val_loss: the same files (names with the epoch and val_loss) and messages;
    each file loads back to the weights Keras saved at that epoch.  Saving every 2 batches: the same
    file names."""
    nn, km, train, val = _overfit_pair(mnist)
    names, out = {}, {}
    for side, model, module in (("nn", nn, nnscratch.keras.callbacks), ("keras", km, keras.callbacks)):
        folder = tmp_path / side
        best = module.ModelCheckpoint(str(folder / "m-{epoch:02d}-{val_loss:.3f}.keras"), save_best_only=True,
                                      verbose=1)
        every = module.ModelCheckpoint(str(folder / "b" / "e{epoch}-b{batch}.keras"), save_freq=2)
        with kr.keras_floatx("float64"):
            model.fit(*train, batch_size=16, epochs=6, verbose=0, shuffle=False, validation_data=val,
                      callbacks=[best, every])
        out[side] = capsys.readouterr().out.replace(str(folder), "<dir>")
        names[side] = (sorted(f for f in os.listdir(folder) if f.endswith(".keras")), sorted(os.listdir(folder / "b")))
    assert names["nn"] == names["keras"] and len(names["nn"][0]) >= 2
    assert out["nn"] == out["keras"]
    for name in names["nn"][0]:
        a = nnscratch.load_model(str(tmp_path / "nn" / name)).get_weights()
        b = keras.models.load_model(str(tmp_path / "keras" / name)).get_weights()
        for u, v in zip(a, b):
            _close(u, v, 1e-10, name)


def test_learning_rate_callbacks_equal_keras(mnist, capsys):
    """LearningRateScheduler and ReduceLROnPlateau together: the same learning rate each epoch (in the
    logs as 'learning_rate'), the same messages and weights."""
    nn, km, train, val = _overfit_pair(mnist, lr=0.02)
    lrs, out = {}, {}
    for side, model, module in (("nn", nn, nnscratch.keras.callbacks), ("keras", km, keras.callbacks)):
        sched = module.LearningRateScheduler(lambda epoch, lr: lr * 0.9 if epoch in (2, 3) else lr, verbose=1)
        plateau = module.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_delta=0.05,
                                           cooldown=1, min_lr=0.004, verbose=1)
        with kr.keras_floatx("float64"):
            h = model.fit(*train, batch_size=16, epochs=9, verbose=0, shuffle=False, validation_data=val,
                          callbacks=[sched, plateau])
        lrs[side] = h.history["learning_rate"]
        out[side] = capsys.readouterr().out
    _close(lrs["nn"], lrs["keras"], 1e-7, "learning rates")
    assert len(set(np.round(lrs["nn"], 6))) >= 3
    assert out["nn"] == out["keras"]
    _assert_weights(nn, km, 1e-10)


SCHEDULES = [nn_schedules.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.7),
             nn_schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5, staircase=True),
             nn_schedules.InverseTimeDecay(0.05, decay_steps=2, decay_rate=0.3, staircase=True),
             nn_schedules.PiecewiseConstantDecay([3, 7], [0.1, 0.05, 0.01]),
             nn_schedules.CosineDecay(0.08, decay_steps=10, alpha=0.1),
             nn_schedules.CosineDecay(0.01, decay_steps=8, warmup_target=0.05, warmup_steps=4)]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: type(s).__name__)
def test_schedules_equal_keras(mnist, schedule):
    """The learning rate at steps 0..30 equals Keras's schedule (float32, to a rounding of TensorFlow's
    pow/cos), and training with it as the optimizer's learning_rate gives Keras's weights."""
    keras_schedule = kr.keras_schedule_like(schedule)
    ours = np.array([schedule(t) for t in range(31)], dtype=np.float64)
    theirs = np.array([float(keras_schedule(t)) for t in range(31)])
    assert all(isinstance(schedule(t), np.float32) for t in (0, 5))
    _close(ours, theirs, 2e-7, "learning rates")
    x, labels = mnist[0][:96].astype("float32"), mnist[1][:96]
    nn, km = _pair(_mlp("float32"), "sparse_categorical_crossentropy", nn_opt.SGD(schedule, momentum=0.5))
    nn.fit(x, labels, batch_size=8, epochs=1, verbose=0, shuffle=False)
    km.fit(x, labels, batch_size=8, epochs=1, verbose=0, shuffle=False)
    _assert_weights(nn, km, 1e-5)
    assert nn.optimizer.learning_rate == pytest.approx(float(km.optimizer.learning_rate), rel=2e-7)


# ---------------------------------------------------------------------------------- the metrics
METRIC_CASES = [   # (class name, kwargs, targets)
    ("Accuracy", {}, "labels"), ("BinaryAccuracy", {"threshold": 0.3}, "binary"),
    ("CategoricalAccuracy", {}, "onehot"), ("SparseCategoricalAccuracy", {}, "labels"),
    ("TopKCategoricalAccuracy", {"k": 2}, "onehot"), ("SparseTopKCategoricalAccuracy", {"k": 3}, "labels"),
    ("MeanSquaredError", {}, "values"), ("MeanAbsoluteError", {}, "values"),
    ("RootMeanSquaredError", {}, "values"), ("BinaryCrossentropy", {}, "binary"),
    ("Precision", {}, "binary"), ("Precision", {"thresholds": [0.2, 0.6]}, "binary"),
    ("Precision", {"top_k": 2}, "binary"), ("Recall", {"class_id": 1}, "binary"), ("Recall", {}, "binary"),
]


@pytest.mark.parametrize("name,kwargs,targets", METRIC_CASES, ids=[f"{c[0]}{c[1] or ''}" for c in METRIC_CASES])
def test_metric_objects_equal_keras(name, kwargs, targets):
    """Three updates (the last with sample weights), result, reset, one more update: Keras's values."""
    rng = np.random.default_rng(7)
    p = rng.random((3, 9, 4)).astype(np.float32)
    p[0, :3] = p[0, :3].round(1)                                    # ties at the top
    y = {"labels": rng.integers(0, 4, (3, 9)), "onehot": np.eye(4)[rng.integers(0, 4, (3, 9))],
         "binary": (rng.random((3, 9, 4)) < 0.5).astype(np.float32), "values": rng.normal(size=(3, 9, 4))}[targets]
    if name == "Accuracy":
        p = rng.integers(0, 4, (3, 9)).astype(np.float32)
    w = rng.random(9)
    ours, theirs = getattr(nn_metrics, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
    for m in (ours, theirs):
        m.update_state(y[0], p[0])
        m.update_state(y[1], p[1])
        m.update_state(y[2], p[2], sample_weight=w)
    _close(ours.result(), theirs.result().numpy(), 1e-6, name)
    assert ours.name == theirs.name
    ours.reset_state(), theirs.reset_state()
    ours.update_state(y[1], p[1]), theirs.update_state(y[1], p[1])
    _close(ours.result(), theirs.result().numpy(), 1e-6, name)


def test_a_metric_subclass_works_as_the_guides_write_it(mnist):
    """The Keras guides' custom metric pattern: add_weight/add_variable, assign_add, reset_state; its
    per-epoch values equal Keras's running the same class."""
    def make(base):
        class CategoricalTruePositives(base.Metric):
            def __init__(self, name="categorical_true_positives", **kwargs):
                super().__init__(name=name, **kwargs)
                self.true_positives = self.add_weight(name="ctp", initializer="zeros")

            def update_state(self, y_true, y_pred, sample_weight=None):
                values = np.equal(np.asarray(y_true).astype("int32"), np.argmax(y_pred, axis=1)).astype("float32")
                self.true_positives.assign_add(np.sum(values))

            def result(self):
                return self.true_positives

            def reset_state(self):
                self.true_positives.assign(0.0)
        return CategoricalTruePositives()

    x, labels = mnist[0][:96].astype("float32"), mnist[1][:96]
    nn, km = _pair(_mlp("float32"), "sparse_categorical_crossentropy", "rmsprop")
    nn.compile(loss="sparse_categorical_crossentropy", optimizer=nn_opt.RMSprop(), metrics=[make(nnscratch.keras.metrics)])
    km.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.RMSprop(), metrics=[make(keras.metrics)],
               run_eagerly=True)                                # (its update_state is NumPy)
    h_nn = nn.fit(x, labels, batch_size=32, epochs=2, verbose=0, shuffle=False)
    h_k = km.fit(x, labels, batch_size=32, epochs=2, verbose=0, shuffle=False)
    _close(h_nn.history, h_k.history, 1e-5, "history")


# --------------------------------------------------------------- NaN, CSV and TensorBoard logs
def test_terminate_on_nan_stops_at_the_same_batch_as_keras(mnist, capsys):
    """A batch whose targets overflow the float32 squared error (inf): Keras and nnscratch stop at that
    batch with the same message; nnscratch keeps the weights from before it (Keras's hold NaN)."""
    x, y = mnist[0][:64].astype("float32"), mnist[1][:64].astype("float32")
    y[40:48] = 1e30
    out = {}
    nn, km = _pair(_mlp("float32", "linear", 1), "mse", "sgd")
    for side, model, module in (("nn", nn, nnscratch.keras.callbacks), ("keras", km, keras.callbacks)):
        h = model.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False, callbacks=[module.TerminateOnNaN()])
        out[side] = (capsys.readouterr().out, len(h.history.get("loss", [])))
    assert out["nn"] == out["keras"] == ("Batch 5: Invalid loss, terminating training\n", 1)
    assert all(np.all(np.isfinite(w)) for w in nn.get_weights())
    with pytest.raises(FloatingPointError):                        # without the callback nnscratch refuses
        nn.fit(x, y, batch_size=8, verbose=0, shuffle=False)


def test_csv_logger_and_tensorboard_write_what_keras_writes(mnist, tmp_path):
    """CSVLogger: the same header and rows (numbers within float32 rounding).  TensorBoard: event
    files that TensorFlow's own reader reads, with Keras's tags, steps and values."""
    x, labels = mnist[0][:96].astype("float32"), mnist[1][:96]
    nn, km = _pair(_mlp("float32"), "sparse_categorical_crossentropy", nn_opt.Adam(0.01), metrics=["accuracy"])
    rows, events = {}, {}
    for side, model, module in (("nn", nn, nnscratch.keras.callbacks), ("keras", km, keras.callbacks)):
        csv_path, log_dir = tmp_path / f"{side}.csv", tmp_path / f"tb-{side}"
        model.fit(x[:64], labels[:64], batch_size=16, epochs=3, verbose=0, shuffle=False,
                  validation_data=(x[64:], labels[64:]),
                  callbacks=[module.CSVLogger(str(csv_path)), module.TensorBoard(log_dir=str(log_dir))])
        rows[side] = [line.split(",") for line in csv_path.read_text().splitlines()]
        events[side] = {}
        for sub in ("train", "validation"):
            for path in sorted((log_dir / sub).iterdir()):
                for event in tf.compat.v1.train.summary_iterator(str(path)):
                    for v in event.summary.value:
                        if v.tag == "keras":                # Keras's model config (write_graph), a text
                            continue
                        value = v.simple_value if v.HasField("simple_value") else float(tf.make_ndarray(v.tensor))
                        events[side][(sub, v.tag, event.step)] = value
    assert rows["nn"][0] == rows["keras"][0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    _close(np.array(rows["nn"][1:], dtype=float), np.array(rows["keras"][1:], dtype=float), 1e-5, "csv")
    keras_scalars = events["keras"]
    assert set(events["nn"]) ^ set(keras_scalars) == set() and len(keras_scalars) == 3 * (3 + 2 + 2)
    for key, value in keras_scalars.items():
        _close(events["nn"][key], value, 1e-5, str(key))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator   # what TensorBoard shows
    shown = EventAccumulator(str(tmp_path / "tb-nn" / "train"))
    shown.Reload()
    assert [e.step for e in shown.Scalars("epoch_loss")] == [0, 1, 2]
    _close([e.value for e in shown.Scalars("epoch_loss")], [events["keras"][("train", "epoch_loss", k)] for k in range(3)],
           1e-5, "epoch_loss")


def test_model_checkpoint_weights_only_writes_keras_weights_files(mnist, tmp_path):
    """save_weights_only: the same .weights.h5 files as Keras's, each holding the weights Keras saved
    at that epoch (read by real Keras's load_weights)."""
    nn, km, train, val = _overfit_pair(mnist)
    for side, model, module in (("nn", nn, nnscratch.keras.callbacks), ("keras", km, keras.callbacks)):
        ck = module.ModelCheckpoint(str(tmp_path / side / "w-{epoch}.weights.h5"), save_weights_only=True)
        with kr.keras_floatx("float64"):
            model.fit(*train, batch_size=16, epochs=2, verbose=0, shuffle=False, callbacks=[ck])
    assert sorted(os.listdir(tmp_path / "nn")) == sorted(os.listdir(tmp_path / "keras")) == ["w-1.weights.h5",
                                                                                             "w-2.weights.h5"]
    for name in ("w-1.weights.h5", "w-2.weights.h5"):
        weights = {}
        for side in ("nn", "keras"):
            twin = kr.keras_twin(nn, compile=False)
            twin.load_weights(str(tmp_path / side / name))
            weights[side] = twin.get_weights()
        for u, v in zip(weights["nn"], weights["keras"]):
            _close(u, v, 1e-10, name)


def test_layer_weights_pop_and_version_as_keras(mnist):
    """model.layers[i].get_weights()/set_weights() and model.pop() do what Keras's do: the same arrays,
    the same predictions after a layer's weights are replaced and after the head is popped."""
    x = mnist[0][:20]
    nn = nnscratch.Sequential([L.Dense(16, activation="tanh", input_shape=(784,), seed=0), L.Dropout(0.2),
                               L.Dense(10, activation="softmax", seed=1)], dtype="float64")
    km = kr.keras_twin(nn, compile=False)
    for a, b in zip(nn.layers, km.layers):
        assert len(a.get_weights()) == len(b.get_weights())
        for u, v in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(u, v)
    new = [w * 0.5 + 0.01 for w in nn.layers[2].get_weights()]
    nn.layers[2].set_weights(new)
    km.layers[2].set_weights(new)
    with kr.keras_floatx("float64"):
        _close(nn.predict(x, verbose=0), km.predict(x, verbose=0), 1e-12, "predictions after set_weights")
        nn.pop(), km.pop()
        assert len(nn.layers) == len(km.layers) == 2
        # (Keras's predict keeps its traced function from before the pop; its direct call does not)
        _close(nn.predict(x, verbose=0), km(x, training=False).numpy(), 1e-12, "predictions after pop")
    assert nnscratch.version.VERSION == nnscratch.__version__ and isinstance(tf.version.VERSION, str)


def test_loss_weights_scale_the_evaluated_loss_and_val_loss_as_keras_s_do(mnist):
    """compile(loss_weights=2.0) doubles the loss Keras's CompileLoss reports everywhere: the training
    loss, the validation loss and evaluate's, with or without sample weights (not only with them)."""
    x, y = mnist[0][:96], mnist[1][:96]
    nn = _mlp("float64")
    nn.compile(loss="sparse_categorical_crossentropy", optimizer=nn_opt.SGD(learning_rate=0.1), loss_weights=2.0)
    km = kr.keras_twin(nn, compile=False)
    with kr.keras_floatx("float64"):
        km.compile(loss=kr.keras_loss_like(nn.compiled_loss, "float64", "keras"),
                   optimizer=kr.keras_optimizer_like(nn.optimizer), loss_weights=2.0)
        h_k = km.fit(x[:64], y[:64], batch_size=32, epochs=2, verbose=0, shuffle=False, validation_data=(x[64:], y[64:]))
        e_k = km.evaluate(x[64:], y[64:], verbose=0)
    h_n = nn.fit(x[:64], y[:64], batch_size=32, epochs=2, verbose=0, shuffle=False, validation_data=(x[64:], y[64:]))
    _close(h_n.history, h_k.history, TOL["float64"], "history")
    _close(nn.evaluate(x[64:], y[64:], verbose=0), e_k, TOL["float64"], "evaluate")
