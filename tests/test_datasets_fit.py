"""fit, evaluate and predict on a tf.data.Dataset and a keras.utils.PyDataset (``batch_sources.py``),
against real Keras fed the same batches (``tf.data`` and Keras's own ``PyDataset``).

Every model is a float64 MLP on real MNIST images whose Keras twin has the same weights; the datasets
are not shuffled, so both frameworks see the same batches: the logs, weights, evaluations and
predictions agree to 1e-10, and nnscratch's fit on a dataset is bit for bit its fit on the arrays
with the same batch size.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import warnings  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_reference as kr  # noqa: E402
import nnscratch  # noqa: E402
from keras_reference import compare as cmp  # noqa: E402
from nnscratch import layers as L  # noqa: E402

TOL = 1e-10
Dataset = nnscratch.data.Dataset


@pytest.fixture(scope="module")
def mnist():
    """250 MNIST images (float64 in [0, 1]) and their labels as floats (as the guide keeps them)."""
    x, y = cmp.mnist_sample(250, "float64")
    return x, y.argmax(1).astype("float64")


def _pair():
    """A compiled float64 MLP and its Keras twin (same weights, loss, optimizer and metric)."""
    nn = nnscratch.Sequential([L.Dense(16, activation="tanh", input_shape=(784,), seed=0),
                               L.Dense(10, activation="softmax", seed=1)], dtype="float64")
    nn.compile(loss="sparse_categorical_crossentropy", optimizer="rmsprop", metrics=["sparse_categorical_accuracy"])
    km = kr.keras_twin(nn, compile=False)
    with kr.keras_floatx("float64"):
        km.compile(loss=kr.keras_loss_like(nn.compiled_loss, "float64", "keras"),
                   optimizer=kr.keras_optimizer_like(nn.optimizer), metrics=["sparse_categorical_accuracy"])
    return nn, km


def _close(a, b, what, tol=TOL):
    if isinstance(b, dict):
        assert list(a) == list(b), f"{what}: keys {list(a)} != Keras's {list(b)}"
        for k in b:
            _close(a[k], b[k], f"{what}[{k}]", tol)
        return
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != Keras's {b.shape}"
    assert np.max(np.abs(a - b), initial=0) <= tol * max(1, np.max(np.abs(b), initial=0)), \
        f"{what}: max |diff| {np.max(np.abs(a - b)):.3g}"


def _same_weights(nn, km):
    for i, (a, b) in enumerate(zip(nn.get_weights(), km.get_weights())):
        _close(a, b, f"weight {i}")


def _keras(fn, *args, **kwargs):
    with kr.keras_floatx("float64"):           # Keras's data adapters cast to floatx()
        return fn(*args, **kwargs)


def _counter(base):
    """A callback of ``base`` (nnscratch's or Keras's Callback) that counts the batches of each epoch."""
    class Count(base):
        def on_train_begin(self, logs=None):
            self.counts = []

        def on_epoch_begin(self, epoch, logs=None):
            self.counts.append(0)

        def on_train_batch_end(self, batch, logs=None):
            self.counts[-1] += 1
    return Count()


def _warned(fn, text):
    """``fn()``'s result and how many warnings containing ``text`` it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, sum(text in str(w.message) for w in caught)


# ------------------------------------------------------------------------------ tf.data.Dataset
def test_fit_on_a_dataset_is_fit_on_its_arrays_and_keras_fit_on_tf_data(mnist):
    """Unshuffled: the same weights and History as fit on the arrays with the dataset's batch size (bit
    for bit), Keras's logs and weights to 1e-10; evaluate, predict and metrics_names likewise."""
    x, y = mnist
    (x, y), (xv, yv) = (x[:200], y[:200]), (x[200:], y[200:])          # batches of 32: the last has 8
    on_arrays, _ = _pair()
    nn, km = _pair()
    h_a = on_arrays.fit(x, y, batch_size=32, epochs=2, verbose=0, shuffle=False, validation_data=(xv, yv),
                        validation_batch_size=16)
    h_n = nn.fit(Dataset.from_tensor_slices((x, y)).batch(32), epochs=2, verbose=0, shuffle=False,
                 validation_data=Dataset.from_tensor_slices((xv, yv)).batch(16))
    h_k = _keras(km.fit, tf.data.Dataset.from_tensor_slices((x, y)).batch(32), epochs=2, verbose=0, shuffle=False,
                 validation_data=tf.data.Dataset.from_tensor_slices((xv, yv)).batch(16))
    assert h_n.history == h_a.history and list(h_n.history) == ["loss", "sparse_categorical_accuracy", "val_loss",
                                                                "val_sparse_categorical_accuracy"]
    assert all(np.array_equal(a, b) for a, b in zip(nn.get_weights(), on_arrays.get_weights()))
    _close(h_n.history, h_k.history, "history")
    _same_weights(nn, km)
    test = (x[:70], y[:70])
    result = nn.evaluate(Dataset.from_tensor_slices(test).batch(32), verbose=0)
    assert result == on_arrays.evaluate(*test, batch_size=32, verbose=0)
    _close(result, _keras(km.evaluate, tf.data.Dataset.from_tensor_slices(test).batch(32), verbose=0), "evaluate")
    assert nn.metrics_names == km.metrics_names == ["loss", "compile_metrics"]
    p = nn.predict(Dataset.from_tensor_slices(test).batch(32), verbose=0)        # (x, y) batches: x is used
    np.testing.assert_array_equal(p, on_arrays.predict(test[0], batch_size=32, verbose=0))
    _close(p, _keras(km.predict, tf.data.Dataset.from_tensor_slices(test).batch(32), verbose=0), "predict")


def test_steps_per_epoch_goes_on_where_it_stopped_and_warns_when_the_data_runs_out(mnist):
    """5 batches, steps_per_epoch=3, 4 epochs: Keras's epochs take batches 0-2, 3-4 (the pass runs out:
    "Your input ran out of data", the epoch ends), 0-2, 3-4; the same here, the same logs and weights."""
    x, y = mnist[0][:160], mnist[1][:160]
    nn, km = _pair()
    count_n, count_k = _counter(nnscratch.keras.callbacks.Callback), _counter(keras.callbacks.Callback)
    h_n, warned_n = _warned(lambda: nn.fit(Dataset.from_tensor_slices((x, y)).batch(32), epochs=4, steps_per_epoch=3,
                                           verbose=0, shuffle=False, callbacks=[count_n]), "ran out of data")
    h_k, warned_k = _warned(lambda: _keras(km.fit, tf.data.Dataset.from_tensor_slices((x, y)).batch(32), epochs=4,
                                           steps_per_epoch=3, verbose=0, shuffle=False, callbacks=[count_k]),
                            "ran out of data")
    assert count_n.counts == count_k.counts == [3, 2, 3, 2]
    assert warned_n == warned_k == 2
    _close(h_n.history, h_k.history, "history")
    _same_weights(nn, km)


def test_sample_weights_as_a_third_element_and_validation_steps_as_keras(mnist):
    """Batches (x, y, sample_weight) weight the loss as fit(sample_weight=...) does, and as Keras does;
    validation_steps=2 validates on the first two batches of the validation dataset, every epoch."""
    x, y = mnist[0][:128], mnist[1][:128]
    w = np.where(y == 5, 2.0, 1.0) + np.linspace(0, 0.5, len(y))
    xv, yv = mnist[0][128:], mnist[1][128:]
    on_arrays, _ = _pair()
    nn, km = _pair()
    h_a = on_arrays.fit(x, y, sample_weight=w, batch_size=32, epochs=2, verbose=0, shuffle=False,
                        validation_data=(xv[:32], yv[:32]), validation_batch_size=16)
    h_n = nn.fit(Dataset.from_tensor_slices((x, y, w)).batch(32), epochs=2, verbose=0, shuffle=False,
                 validation_data=Dataset.from_tensor_slices((xv, yv)).batch(16), validation_steps=2)
    h_k = _keras(km.fit, tf.data.Dataset.from_tensor_slices((x, y, w)).batch(32), epochs=2, verbose=0, shuffle=False,
                 validation_data=tf.data.Dataset.from_tensor_slices((xv, yv)).batch(16), validation_steps=2)
    assert h_n.history == h_a.history
    _close(h_n.history, h_k.history, "history")
    _same_weights(nn, km)


def test_batch_size_is_ignored_and_shuffle_warns_for_a_dataset_as_in_keras(mnist):
    """Keras ignores batch_size with a dataset (the guide passes batch_size=64 with its PyDataset) and
    warns that shuffle=True (fit's default) is ignored for a tf.data.Dataset: so does nnscratch."""
    x, y = mnist[0][:96], mnist[1][:96]
    plain, _ = _pair()
    nn, km = _pair()
    h_plain = plain.fit(Dataset.from_tensor_slices((x, y)).batch(32), epochs=1, verbose=0, shuffle=False)
    h_n, warned_n = _warned(lambda: nn.fit(Dataset.from_tensor_slices((x, y)).batch(32), batch_size=7, epochs=1,
                                           verbose=0), "`shuffle=True` was passed")
    h_k, warned_k = _warned(lambda: _keras(km.fit, tf.data.Dataset.from_tensor_slices((x, y)).batch(32), batch_size=7,
                                           epochs=1, verbose=0), "`shuffle=True` was passed")
    assert warned_n == warned_k == 1
    assert h_n.history == h_plain.history
    _close(h_n.history, h_k.history, "history")


def test_what_keras_refuses_with_a_dataset_is_refused_here_with_a_clear_error(mnist):
    """y or sample_weight beside a dataset, validation_split with one: Keras raises ValueError, and so does
    nnscratch, naming the argument; a dataset's bad batch gets the checks arrays get, naming the batch."""
    x, y = mnist[0][:64], mnist[1][:64]
    nn, km = _pair()
    for kwargs, name in (({"y": y}, "`y` should not be passed"), ({"sample_weight": np.ones(64)}, "`sample_weight`"),
                         ({"validation_split": 0.2}, "validation_split")):
        with pytest.raises(ValueError, match=name):
            nn.fit(Dataset.from_tensor_slices((x, y)).batch(32), verbose=0, shuffle=False, **kwargs)
        with pytest.raises(ValueError):
            _keras(km.fit, tf.data.Dataset.from_tensor_slices((x, y)).batch(32), verbose=0, shuffle=False, **kwargs)
    bad = y.copy()
    bad[40] = 12                                          # a label outside the 10 classes, in batch 1
    with pytest.raises(ValueError, match=r"fit \(batch 1 of the Dataset\): label 12 is outside"):
        nn.fit(Dataset.from_tensor_slices((x, bad)).batch(32), verbose=0, shuffle=False)
    with pytest.raises(ValueError, match=r"\.batch\(32\)"):
        nn.fit(Dataset.from_tensor_slices((x, y)), verbose=0, shuffle=False)         # no .batch(): one sample each
    with pytest.raises(ValueError, match="inputs only"):
        nn.evaluate(Dataset.from_tensor_slices(x).batch(32), verbose=0)
    assert nn.predict(Dataset.from_tensor_slices(x).batch(32), verbose=0).shape == (64, 10)


# ------------------------------------------------------------------------------ keras.utils.PyDataset
def _py_dataset(base, x, y, batch_size, events, **kwargs):
    """The guide's ExamplePyDataset on ``base`` (nnscratch's or Keras's PyDataset), recording its epoch
    hooks and the batches asked for in ``events``."""
    class ExamplePyDataset(base):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size = x, y, batch_size

        def __len__(self):
            return int(np.ceil(len(self.x) / float(self.batch_size)))

        def __getitem__(self, idx):
            rows = slice(idx * self.batch_size, (idx + 1) * self.batch_size)
            return self.x[rows], self.y[rows]

        def on_epoch_begin(self):
            events.append("begin")

        def on_epoch_end(self):
            events.append("end")
    return ExamplePyDataset(x, y, batch_size, **kwargs)


def test_a_py_dataset_trains_evaluates_and_predicts_as_in_keras(mnist):
    """The guide's PyDataset (batch_size=64 given to fit and ignored, as Keras ignores it): the same logs,
    weights, evaluation and predictions as Keras on its own PyDataset, and as nnscratch on the arrays;
    on_epoch_begin/on_epoch_end called at the same points as Keras calls them (fit: an on_epoch_end
    before the first epoch; validation and evaluate: a reset, then one epoch)."""
    x, y = mnist
    (x, y), (xv, yv) = (x[:200], y[:200]), (x[200:], y[200:])
    on_arrays, _ = _pair()
    nn, km = _pair()
    events = {"nnscratch": ([], []), "keras": ([], [])}
    datasets = {f: (_py_dataset(base, x, y, 32, events[f][0]), _py_dataset(base, xv, yv, 16, events[f][1]))
                for f, base in (("nnscratch", nnscratch.keras.utils.PyDataset), ("keras", keras.utils.PyDataset))}
    h_a = on_arrays.fit(x, y, batch_size=32, epochs=2, verbose=0, shuffle=False, validation_data=(xv, yv),
                        validation_batch_size=16)
    h_n = nn.fit(datasets["nnscratch"][0], batch_size=64, epochs=2, verbose=0, shuffle=False,
                 validation_data=datasets["nnscratch"][1])
    h_k = _keras(km.fit, datasets["keras"][0], batch_size=64, epochs=2, verbose=0, shuffle=False,
                 validation_data=datasets["keras"][1])
    assert h_n.history == h_a.history
    _close(h_n.history, h_k.history, "history")
    _same_weights(nn, km)
    result = nn.evaluate(datasets["nnscratch"][1], verbose=0)
    _close(result, _keras(km.evaluate, datasets["keras"][1], verbose=0), "evaluate")
    p = nn.predict(datasets["nnscratch"][1], verbose=0)
    np.testing.assert_array_equal(p, on_arrays.predict(xv, batch_size=16, verbose=0))
    _close(p, _keras(km.predict, datasets["keras"][1], verbose=0), "predict")
    assert events["nnscratch"] == events["keras"]
    assert events["nnscratch"][0] == ["end", "begin", "end", "begin", "end"]


def test_a_py_dataset_is_shuffled_by_batch_and_runs_serially_with_workers(mnist):
    """shuffle=True (fit's default) asks for a PyDataset's batches in a new order each epoch (each batch
    once), as Keras's adapter does; workers=4 and use_multiprocessing are accepted (nnscratch makes the
    batches one after the other) and train as without them; an endless one needs steps_per_epoch."""
    x, y = mnist[0][:256], mnist[1][:256]
    asked = []

    class Recorded(nnscratch.keras.utils.PyDataset):
        def __len__(self):
            return 8

        def __getitem__(self, idx):
            asked.append(idx)
            return x[idx * 32:(idx + 1) * 32], y[idx * 32:(idx + 1) * 32]

    nn, _ = _pair()
    nn.fit(Recorded(), epochs=2, verbose=0)
    first, second = asked[:8], asked[8:]
    assert sorted(first) == sorted(second) == list(range(8)) and first != second
    plain, threaded = _pair()[0], _pair()[0]
    h_plain = plain.fit(_py_dataset(nnscratch.keras.utils.PyDataset, x, y, 32, []), epochs=1, verbose=0, shuffle=False)
    h_workers = threaded.fit(_py_dataset(nnscratch.keras.utils.PyDataset, x, y, 32, [], workers=4,
                                         use_multiprocessing=True, max_queue_size=3), epochs=1, verbose=0, shuffle=False)
    assert h_workers.history == h_plain.history

    class Endless(nnscratch.keras.utils.PyDataset):
        num_batches = None

        def __getitem__(self, idx):
            idx %= 8
            return x[idx * 32:(idx + 1) * 32], y[idx * 32:(idx + 1) * 32]

    count = _counter(nnscratch.keras.callbacks.Callback)
    nn.fit(Endless(), epochs=2, steps_per_epoch=5, verbose=0, shuffle=False, callbacks=[count])
    assert count.counts == [5, 5]


def test_the_progress_bar_of_an_endless_dataset_learns_its_length_as_keras_s_does(mnist, capsys):
    """An endless PyDataset without steps_per_epoch has no known length: the bar's target is unknown
    (the callbacks' params say steps=None) until the epoch ends, then it is the count of batches run,
    as Keras's ProgbarLogger sets it: here a callback stops training after 5 batches, "5/5 - ..."."""
    import re
    x, y = mnist[0][:64], mnist[1][:64]
    lines = {}
    for name, framework, model in (("nnscratch", nnscratch.keras, _pair()[0]), ("keras", keras, _pair()[1])):
        class Endless(framework.utils.PyDataset):
            num_batches = None

            def __getitem__(self, idx):
                rows = slice((idx % 2) * 32, (idx % 2 + 1) * 32)
                return x[rows], y[rows]

        class StopAfterFive(framework.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                self.steps = self.params["steps"]
                self.model.stop_training = batch == 4

        stop = StopAfterFive()
        _keras(model.fit, Endless(), epochs=3, verbose=2, shuffle=False, callbacks=[stop])
        assert stop.steps is None
        text = capsys.readouterr().out
        lines[name] = [re.sub(r"\d+(\.\d+)?(e-?\d+)?", "#", re.sub(r"\d+(us|ms|s)/step", "#/step", l))
                       for l in text.splitlines() if "/step" in l]
        assert [l.split(" - ")[0] for l in text.splitlines() if "/step" in l] == ["5/5"]
    assert lines["nnscratch"] == lines["keras"]
