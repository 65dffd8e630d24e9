"""Sequential: training semantics, batches, seeding, save/load, summary, and clear errors on bad input."""
import math

import numpy as np
import pytest

import nnscratch
from nnscratch import Sequential, load_model
from nnscratch.layers import Activation, Dense, Dropout
from nnscratch.utils import set_random_seed, to_categorical

from conftest import random_batch, workshop_1layer, workshop_3layer


def compiled(model, optimizer="adam"):
    model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    return model


def small_model(seed=0, dtype="float32", rate=0.2):
    return compiled(Sequential([Dense(16, activation="sigmoid", input_shape=(20,), seed=seed),
                                Dropout(rate, seed=seed + 1), Dense(3, activation="softmax", seed=seed + 2)],
                               dtype=dtype, seed=seed + 3))


# ---------------------------------------------------------------- summary and parameters
def test_workshop_parameter_counts_and_summary(capsys):
    m1, m3 = workshop_1layer(), workshop_3layer()
    assert m1.count_params() == 7850 and m3.count_params() == 669706
    m3.summary()
    out = capsys.readouterr().out
    assert "Total params: 669,706 (2.55 MB)" in out
    assert "(None, 512)" in out and "401,920" in out and "262,656" in out and "5,130" in out
    m1.summary()
    assert "Total params: 7,850 (30.66 KB)" in capsys.readouterr().out


def test_get_weights_keras_order_and_set_weights_roundtrip():
    m = workshop_3layer()
    shapes = [w.shape for w in m.get_weights()]
    assert shapes == [(784, 512), (512,), (512, 512), (512,), (512, 10), (10,)]
    new = [np.full(s, 0.01 * i, np.float32) for i, s in enumerate(shapes)]
    m.set_weights(new)
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), new))


def test_untrained_softmax_model_starts_near_ln10():
    set_random_seed(0)
    m = compiled(workshop_3layer())
    x, y = random_batch(256, seed=1, dtype="float32")
    loss, acc = m.evaluate(x * 0.26, y, verbose=0)           # mean pixel ~0.13, as in MNIST
    # chance level is ln 10 = 2.30; random initial logits can only add to it (by about var(z)/2)
    assert math.log(10) - 0.1 < loss < math.log(10) + 0.5 and 0 <= acc <= 1


def test_overfits_fifty_samples():
    x, y = random_batch(50, d=20, c=3, seed=2, dtype="float32")
    m = compiled(Sequential([Dense(64, activation="tanh", input_shape=(20,), seed=1),
                             Dense(3, activation="softmax", seed=2)]), optimizer=nnscratch.optimizers.Adam(0.01))
    h = m.fit(x, y, batch_size=10, epochs=150, verbose=0)
    assert h.history["accuracy"][-1] == 1.0 and h.history["loss"][-1] < h.history["loss"][0] / 10


# ---------------------------------------------------------------- batches
@pytest.mark.parametrize("batch_size, steps", [(1, 23), (5, 5), (64, 1)])
def test_batch_sizes_one_partial_and_larger_than_data(batch_size, steps):
    x, y = random_batch(23, d=20, c=3, seed=3, dtype="float32")
    m = small_model()
    h = m.fit(x, y, batch_size=batch_size, epochs=2, verbose=0)
    assert h.params["steps"] == steps and m.optimizer.iterations == 2 * steps
    assert set(h.history) == {"loss", "accuracy"} and len(h.history["loss"]) == 2
    assert all(np.isfinite(v) for v in h.history["loss"])


def test_last_partial_batch_is_used_and_loss_is_weighted_by_batch_size():
    """fit's logged loss = sum over batches of (batch mean loss x batch size) / N, each before its step."""
    x, y = random_batch(7, d=20, c=3, seed=4, dtype="float64")
    a, b = small_model(dtype="float64", rate=0.0), small_model(dtype="float64", rate=0.0)
    h = a.fit(x, y, batch_size=5, epochs=1, shuffle=False, verbose=0)
    first = b.train_on_batch(x[:5], y[:5])[0]
    second = b.train_on_batch(x[5:], y[5:])[0]
    assert h.history["loss"][0] == pytest.approx((5 * first + 2 * second) / 7, rel=1e-12)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


def test_predict_batches_and_evaluate_return_values():
    x, y = random_batch(70, d=20, c=3, seed=5, dtype="float32")
    m = small_model()
    p1, p2 = m.predict(x, batch_size=1, verbose=0), m.predict(x, batch_size=1000, verbose=0)
    assert p1.shape == (70, 3) and np.allclose(p1, p2, atol=1e-6)
    assert np.allclose(p1.sum(axis=1), 1, atol=1e-5)
    loss, acc = m.evaluate(x, y, verbose=0)
    assert acc == pytest.approx(np.mean(p1.argmax(1) == y.argmax(1)))
    assert loss == pytest.approx(float(np.mean(-np.log(p1[y.astype(bool)]))), rel=1e-5)
    m.compile(loss="categorical_crossentropy", optimizer="sgd")          # no metrics: loss alone
    assert isinstance(m.evaluate(x, y, verbose=0), float)


def test_validation_split_and_data_add_val_keys():
    x, y = random_batch(40, d=20, c=3, seed=6, dtype="float32")
    h = small_model().fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    h = small_model().fit(x, y, epochs=1, validation_data=(x[:5], y[:5]), verbose=0)
    assert len(h.history["val_accuracy"]) == 1


@pytest.mark.parametrize("verbose, marker", [(1, "━"), (2, "/2 - ")])
def test_progress_output(capsys, verbose, marker):
    x, y = random_batch(40, d=20, c=3, seed=7, dtype="float32")
    small_model().fit(x, y, epochs=2, batch_size=20, verbose=verbose)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Epoch 1/2" in text and "Epoch 2/2" in text and marker in text and "loss:" in text and "accuracy:" in text
    small_model().fit(x, y, epochs=1, batch_size=20, verbose=verbose)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Epoch" not in text and marker in text     # Keras 3 prints no epoch line for a single epoch


@pytest.mark.parametrize("verbose", [1, 2])
def test_epoch_headers_are_keras_s(capsys, verbose):
    """The ``Epoch i/n`` lines fit prints are the ones Keras 3's fit prints: none for one epoch."""
    import keras
    x, y = random_batch(40, d=20, c=3, seed=7, dtype="float32")
    theirs = keras.Sequential([keras.Input((20,)), keras.layers.Dense(3, activation="softmax")])
    theirs.compile(optimizer="adam", loss="categorical_crossentropy")
    headers = {}
    for side, model in (("nnscratch", small_model()), ("keras", theirs)):
        for epochs in (1, 2):
            model.fit(x, y, epochs=epochs, batch_size=20, verbose=verbose)
            captured = capsys.readouterr()
            headers[side, epochs] = [l for l in (captured.out + captured.err).splitlines() if l.startswith("Epoch")]
    assert headers["nnscratch", 1] == headers["keras", 1] == []
    assert headers["nnscratch", 2] == headers["keras", 2] == ["Epoch 1/2", "Epoch 2/2"]


def test_verbose_zero_is_silent(capsys):
    x, y = random_batch(40, d=20, c=3, seed=7, dtype="float32")
    small_model().fit(x, y, epochs=1, verbose=0)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


# ---------------------------------------------------------------- seeding and save/load
def _train_fresh(seed):
    set_random_seed(seed)
    m = compiled(Sequential([Dense(16, activation="sigmoid", input_shape=(20,)), Dropout(0.3),
                             Dense(3, activation="softmax")]))
    x, y = random_batch(64, d=20, c=3, seed=8, dtype="float32")
    h = m.fit(x, y, batch_size=8, epochs=2, verbose=0)
    return m.get_weights(), h.history["loss"]


def test_same_seed_same_result_bit_for_bit():
    w1, l1 = _train_fresh(123)
    w2, l2 = _train_fresh(123)
    w3, _ = _train_fresh(124)
    assert l1 == l2 and all(np.array_equal(a, b) for a, b in zip(w1, w2))
    assert not np.array_equal(w1[0], w3[0])


def test_save_then_load_gives_identical_predictions_and_continued_training(tmp_path):
    x, y = random_batch(64, d=20, c=3, seed=9, dtype="float32")
    m = small_model(seed=10)
    m.fit(x, y, batch_size=16, epochs=1, verbose=0)
    path = tmp_path / "model.npz"
    m.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]        # no temporary left behind
    r = load_model(path)
    assert np.array_equal(m.predict(x, verbose=0), r.predict(x, verbose=0))
    assert [l.name for l in r.layers] == [l.name for l in m.layers] and r.optimizer.iterations == 4
    h1 = m.fit(x, y, batch_size=16, epochs=2, verbose=0)       # dropout masks and shuffling continue
    h2 = r.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert h1.history == h2.history
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), r.get_weights()))


def test_load_model_rejects_wrong_files(tmp_path):
    with pytest.raises(ValueError, match="no file"):
        load_model(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not an nnscratch model file"):
        load_model(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not one written by nnscratch"):
        load_model(tmp_path / "other.npz")
    m = small_model()
    m.save(tmp_path / "m.npz")
    data = dict(np.load(tmp_path / "m.npz"))
    data["weight_0"] = np.zeros((5, 5), np.float32)
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(ValueError, match="shape"):
        load_model(tmp_path / "bad.npz")


# ---------------------------------------------------------------- bad input
@pytest.fixture
def data():
    return random_batch(10, d=20, c=3, seed=11, dtype="float32")


def test_wrong_feature_count(data):
    x, y = data
    with pytest.raises(ValueError, match="21 features per sample but the model expects 20"):
        small_model().fit(np.zeros((10, 21)), y, verbose=0)
    with pytest.raises(ValueError, match="Flatten"):
        small_model().predict(np.zeros((10, 4, 5)), verbose=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_x(data, bad):
    x, y = data
    x = x.copy()
    x[3, 4] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        small_model().fit(x, y, verbose=0)


def test_targets_that_do_not_match_the_output_layer(data):
    x, y = data
    with pytest.raises(ValueError, match="to_categorical"):
        small_model().fit(x, y.argmax(1), verbose=0)             # integer labels
    with pytest.raises(ValueError, match="3 units"):
        small_model().fit(x, to_categorical(y.argmax(1), 10), verbose=0)   # one-hot width 10
    with pytest.raises(ValueError, match="one-hot"):
        small_model().fit(x, y * 3, verbose=0)                    # values outside [0, 1]
    with pytest.raises(ValueError, match="10 samples but y has 9"):
        small_model().fit(x, y[:9], verbose=0)
    with pytest.raises(ValueError, match="does not fit num_classes=3"):
        to_categorical([0, 1, 5], 3)


def test_fit_or_evaluate_before_compile(data):
    x, y = data
    m = Sequential([Dense(3, activation="softmax", input_shape=(20,))])
    for call in (lambda: m.fit(x, y, verbose=0), lambda: m.evaluate(x, y, verbose=0)):
        with pytest.raises(ValueError, match="before compile"):
            call()


def test_set_weights_with_wrong_shapes():
    m = small_model()
    w = m.get_weights()
    with pytest.raises(ValueError, match="has 4 weight arrays"):
        m.set_weights(w[:3])
    w[2] = np.zeros((3, 16), np.float32)
    with pytest.raises(ValueError, match=r"weight 2 must have shape \(16, 3\)"):
        m.set_weights(w)


def test_nan_loss_stops_training_before_the_bad_update(data):
    x, y = data
    m = compiled(Sequential([Dense(16, input_shape=(20,), seed=1), Dense(3, activation="softmax", seed=2)]),
                 optimizer=nnscratch.optimizers.SGD(learning_rate=1e20))
    after_each_update = []
    apply = m.optimizer.apply

    def recording_apply(params, grads):
        apply(params, grads)
        after_each_update.append([p.copy() for p in params])
    m.optimizer.apply = recording_apply
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="loss became nan"):
        m.fit(x * 1e3, y, batch_size=2, epochs=5, verbose=0)
    assert 0 < len(after_each_update) < 25        # it diverged, and training stopped at once
    # the failing step applied no update: the weights are those the last good step left
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(m.get_weights(), after_each_update[-1]))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="rate must be in"):
        Dropout(1.0)
    with pytest.raises(ValueError, match="Unknown activation"):
        Activation("swish")
    m = Sequential([Dense(2, input_shape=(3,))])
    m.compile(loss="categorical_crossentropy")          # Keras's default optimizer: RMSprop
    assert type(m.optimizer).__name__ == "RMSprop"
    with pytest.raises(ValueError, match="Unknown loss"):
        Sequential([Dense(2, input_shape=(3,))]).compile(loss="huber", optimizer="adam")


def test_float64_model_end_to_end():
    x, y = random_batch(30, d=20, c=3, seed=12)
    m = small_model(dtype="float64")
    m.fit(x, y, epochs=1, verbose=0)
    assert all(w.dtype == np.float64 for w in m.get_weights())
    assert m.predict(x, verbose=0).dtype == np.float64
