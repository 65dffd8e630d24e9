"""Callbacks, metrics, schedules and the Keras habits around them, without TensorFlow: what nnscratch
itself promises (laziness of the batch logs, clear errors, saving).  Against Keras:
tests/test_training_keras.py."""
import builtins
import sys

import numpy as np
import pytest

import nnscratch
import nnscratch as tf
from nnscratch import Sequential, layers as L
from nnscratch import callbacks, metrics, monitors, optimizers, schedules
from nnscratch.keras import NotImplementedInNnscratch


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)).astype("float32"), rng.integers(0, 3, n)


def _model(**compile_kw):
    m = Sequential([L.Dense(8, activation="relu", input_shape=(6,), seed=1), L.Dense(3, activation="softmax", seed=2)])
    m.compile(loss="sparse_categorical_crossentropy", optimizer=compile_kw.pop("optimizer", "adam"),
              metrics=compile_kw.pop("metrics", ["accuracy"]), **compile_kw)
    return m


def test_batch_logs_are_made_only_when_a_callback_reads_them(monkeypatch):
    """EarlyStopping, a checkpoint per epoch and the progress bar read no batch logs: fit never asks the
    metrics for a result between epochs (the step stays as cheap as without callbacks)."""
    x, y = _data()
    m = _model()
    calls = {"n": 0}
    original = type(m).get_metrics_result

    def counting(self):
        calls["n"] += 1
        return original(self)
    monkeypatch.setattr(type(m), "get_metrics_result", counting)
    m.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[monitors.EarlyStopping(monitor="loss")])
    assert calls["n"] == 2                                    # once per epoch: the epoch logs
    calls["n"] = 0
    m.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[callbacks.LambdaCallback(on_batch_end=lambda batch, logs: None)])
    assert calls["n"] == 2 * 8 + 2                            # a batch listener: every batch, as Keras


def test_stop_training_from_a_callback_and_history():
    x, y = _data()
    m = _model()

    class StopAfterTwo(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = epoch == 1
    h = m.fit(x, y, epochs=10, verbose=0, callbacks=[StopAfterTwo()])
    assert h.epoch == [0, 1] and m.history is h and list(h.history) == ["accuracy", "loss"]
    assert h.params == {"verbose": 0, "epochs": 10, "steps": 2} and len(h.epoch_seconds) == 2


def test_model_checkpoint_writes_what_save_writes(tmp_path):
    """The checkpoint is model.save's file: it loads back to the same weights and optimizer state."""
    x, y = _data()
    m = _model(optimizer=optimizers.SGD(schedules.ExponentialDecay(0.1, 3, 0.5)))
    path = tmp_path / "ck" / "m-{epoch}.npz"
    m.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[monitors.ModelCheckpoint(str(path), monitor="loss")])
    r = nnscratch.load_model(str(tmp_path / "ck" / "m-2.npz"))
    for a, b in zip(r.get_weights(), m.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert r.optimizer.iterations == 8 and type(r.optimizer.schedule) is schedules.ExponentialDecay
    assert r.optimizer.learning_rate == m.optimizer.learning_rate == np.float32(0.1) * np.float32(0.5) ** np.float32(8 / 3)
    assert r.get_compile_config()["metrics"] == ["accuracy"]
    with pytest.raises(ValueError, match=r"must end in `\.keras`"):
        monitors.ModelCheckpoint(str(tmp_path / "m.txt"))
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        monitors.ModelCheckpoint(str(tmp_path / "m.keras"), save_weights_only=True)
    with pytest.raises(KeyError, match="val_loss"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[monitors.ModelCheckpoint(str(tmp_path / "{val_loss}.npz"))])


def test_learning_rate_is_a_float32_setting_or_a_schedule():
    opt = optimizers.Adam(0.01)
    assert opt.learning_rate == np.float32(0.01) and isinstance(opt.learning_rate, np.float32)
    opt.learning_rate = 0.5
    assert opt.learning_rate == np.float32(0.5) and opt.get_config()["learning_rate"] == 0.5
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = -1
    scheduled = optimizers.SGD(schedules.PiecewiseConstantDecay([2], [0.1, 0.01]))
    assert [float(scheduled.schedule(t)) for t in (0, 2, 3)] == [np.float32(0.1), np.float32(0.1), np.float32(0.01)]
    with pytest.raises(TypeError, match="schedule"):
        scheduled.learning_rate = 0.3
    x, y = _data()
    m = _model(optimizer=scheduled)
    with pytest.raises(TypeError, match="schedule"):
        m.fit(x, y, verbose=0, callbacks=[monitors.LearningRateScheduler(lambda e, lr: lr)])


def test_metrics_names_and_errors():
    x, y = _data()
    def hits(y_true, y_pred):
        return (np.argmax(y_pred, axis=-1) == y_true).astype("float32")
    m = _model(metrics=["acc", "sparse_categorical_accuracy", hits], weighted_metrics=["acc"])
    assert m.metrics_names == ["loss"]                       # the compiled metrics appear at the first batch
    h = m.fit(x, y, epochs=1, verbose=0, sample_weight=np.ones(len(x)))
    assert list(h.history) == ["acc", "hits", "loss", "sparse_categorical_accuracy", "weighted_acc"]
    assert h.history["acc"] == h.history["hits"] == h.history["sparse_categorical_accuracy"]
    assert m.metrics_names == ["loss", "compile_metrics"]    # Keras 3's names
    assert len(m.evaluate(x, y, verbose=0)) == 5
    with pytest.raises(NotImplementedInNnscratch, match="'auc'"):
        _model(metrics=["auc"])
    with pytest.raises(ValueError, match="must be a list"):
        _model(metrics="accuracy")
    assert float(metrics.Mean()(np.array([1.0, 3.0]), sample_weight=np.array([3.0, 1.0]))) == 1.5


def test_keras_arguments_nnscratch_does_not_implement_are_named():
    x, y = _data()
    m = _model()
    for call, name in ((lambda: m.compile(loss="mse", steps_per_execution=4), "steps_per_execution"),
                       (lambda: m.compile(loss="mse", jit_compile=True), "jit_compile"),
                       (lambda: m.compile(loss="mse", loss_weights=[1.0, 2.0]), "loss_weights"),
                       (lambda: callbacks.TensorBoard(write_images=True), "write_images"),
                       (lambda: monitors.ReduceLROnPlateau(epsilon=0.1), "epsilon")):
        with pytest.raises(NotImplementedInNnscratch, match=name):
            call()
    with pytest.raises(TypeError, match="unexpected keyword"):     # not Keras at all: Python's own error
        m.fit(x, y, epoch=3)
    with pytest.raises(ValueError, match="sample_weight and class_weight"):
        m.fit(x, y, verbose=0, sample_weight=np.ones(len(x)), class_weight={0: 1.0})
    with pytest.raises(ValueError, match="one weight per sample"):
        m.fit(x, y, verbose=0, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="validation_data must be a tuple"):
        m.fit(x, y, verbose=0, validation_data=[x, y, np.ones(len(x)), 1])


def test_tensorboard_without_its_library_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_tensorboardx(name, *args, **kwargs):
        if name.startswith("tensorboardX"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    monkeypatch.setattr(builtins, "__import__", no_tensorboardx)
    with pytest.raises(ImportError, match=r"nnscratch\[tensorboard\]"):
        callbacks.TensorBoard("logs")


def test_keras_habits_version_layer_weights_pop():
    assert tf.version.VERSION == tf.__version__
    m = Sequential([L.Dense(4, input_shape=(3,), seed=1), L.Dropout(0.1), L.Dense(2, seed=2)])
    kernel, bias = m.layers[0].get_weights()
    assert kernel.shape == (3, 4) and m.layers[1].get_weights() == []
    m.layers[0].set_weights([kernel * 2, bias + 1])
    np.testing.assert_array_equal(m.get_weights()[0], kernel * 2)
    assert m.layers[0].kernel is m.trainable_weights[0]          # set in place: the model sees it
    with pytest.raises(ValueError, match="layer dense.* has 2 weight arrays"):
        m.layers[0].set_weights([kernel])
    with pytest.raises(ValueError, match=r"weight 0 must have shape \(3, 4\)"):
        m.layers[0].set_weights([kernel.T, bias])
    last = m.pop()
    assert last.units == 2 and len(m.layers) == 2 and m.output_shape == (4,)
    assert m.predict(np.ones((2, 3)), verbose=0).shape == (2, 4)
    with pytest.raises(ValueError, match="no layers"):
        Sequential().pop()
