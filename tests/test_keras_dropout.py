"""Dropout against Keras: (a) rate 0 equals no layer, (b) Keras's own masks rebuilt and replayed,
(c) mask statistics agree within sampling error.  Plus the command-line tool's exit status."""
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_reference as kr  # noqa: E402
from keras_reference import compare as cmp  # noqa: E402
import nnscratch  # noqa: E402
from nnscratch import layers as L  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _model(rate, dtype="float64", with_dropout=True):
    layers = [L.Dense(12, input_shape=(8,), activation="tanh", seed=1)]
    if with_dropout:
        layers.append(L.Dropout(rate))
    layers += [L.Dense(5, seed=2), L.Activation("softmax")]
    nn = nnscratch.Sequential(layers, dtype=dtype)
    nn.compile(loss="categorical_crossentropy", optimizer="adam")
    return nn


def _data(dtype="float64", n=30):
    rng = np.random.default_rng(5)
    return (rng.normal(size=(n, 8)).astype(dtype),
            nnscratch.utils.to_categorical(rng.integers(0, 5, n), 5, dtype=dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rate_zero_is_no_layer(dtype):
    """(a) Dropout(0) in training is exactly the identity, in nnscratch and in Keras."""
    x, y = _data(dtype)
    with0, without = _model(0.0, dtype), _model(0.0, dtype, with_dropout=False)
    _, loss0, g0 = cmp.nn_pass(with0, x, y, training=True)
    _, loss1, g1 = cmp.nn_pass(without, x, y, training=True)
    assert loss0 == loss1 and all(np.array_equal(a, b) for a, b in zip(g0, g1))
    k0, k1 = kr.keras_twin(with0), kr.keras_twin(without)
    _, kl0, kg0 = cmp.keras_pass(k0, x, y, training=True)
    _, kl1, kg1 = cmp.keras_pass(k1, x, y, training=True)
    assert kl0 == kl1 and all(np.array_equal(a, b) for a, b in zip(kg0, kg1))
    tol = {"float32": 1e-6, "float64": 1e-10}[dtype]
    assert abs(loss0 - kl0) <= tol * max(1, abs(kl0))
    assert max(np.max(np.abs(a - b)) for a, b in zip(g0, kg0)) <= tol


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rebuilt_mask_is_kerass_mask(dtype):
    """(b) The mask rebuilt from the seed generator state is exactly the one Keras applies, call after call."""
    layer = keras.layers.Dropout(0.3, seed=123, dtype=dtype)
    replay = kr.KerasDropoutMasks(layer)
    x = np.ones((40, 25), dtype=dtype)
    for _ in range(4):
        rebuilt = replay((40, 25), dtype)
        out = layer(tf.constant(x), training=True).numpy()
        np.testing.assert_array_equal(out != 0, rebuilt)
        np.testing.assert_array_equal(out[rebuilt], np.asarray(1 / 0.7, dtype=dtype))
    assert replay.in_step_with_keras()
    # a layer without an explicit seed draws its own: still replayable
    unseeded = keras.layers.Dropout(0.5)
    r = kr.KerasDropoutMasks(unseeded)
    np.testing.assert_array_equal(unseeded(tf.ones((3, 50)), training=True).numpy() != 0,
                                  r((3, 50), "float32"))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_training_step_with_dropout_on_is_exact(dtype):
    """(b) With Keras's masks replayed, forward, loss, gradients and 20 Adam steps agree with dropout on."""
    x, y = _data(dtype)
    nn = _model(0.4, dtype)
    km = kr.keras_twin(nn)
    report = cmp.Report("dropout on", dtype)
    cmp.compare_forward(report, nn, km, x, training=True)
    cmp.compare_gradients(report, nn, km, x, y)
    cmp.compare_steps(report, nn, km, x, y, steps=20)
    assert report.ok, report.table()
    # and the masks really dropped something (a replay of "keep everything" would also agree)
    dropped = [r for r in report.rows if r.stage.startswith("forward") and "dropout" in r.name]
    assert dropped
    kr.replay_keras_masks(nn, km)
    out = nn.layers[1].forward(np.ones((30, 12), dtype=dtype), training=True)
    assert 0 < np.count_nonzero(out == 0) < out.size


def test_dropout_statistics_match_keras():
    """(c) Drop fraction and mean scaling over many samples: both within sampling error of the
    theory (5 standard errors) and of each other."""
    rate, shape = 0.2, (400, 500)
    n = shape[0] * shape[1]
    ones = np.ones(shape, dtype="float32")
    nn_layer = L.Dropout(rate, seed=7)
    nn_layer.build(shape[1], "float32")
    ours = nn_layer.forward(ones, training=True)
    theirs = keras.layers.Dropout(rate, seed=7)(tf.constant(ones), training=True).numpy()
    se_frac = np.sqrt(rate * (1 - rate) / n)
    se_mean = np.sqrt(rate / (1 - rate) / n)          # Var of a kept-or-dropped unit = rate / (1 - rate)
    for out in (ours, theirs):
        assert abs(np.mean(out == 0) - rate) < 5 * se_frac
        assert abs(np.mean(out) - 1.0) < 5 * se_mean
        assert np.allclose(out[out != 0], 1 / (1 - rate))
    assert abs(np.mean(ours == 0) - np.mean(theirs == 0)) < 5 * np.sqrt(2) * se_frac
    assert abs(np.mean(ours) - np.mean(theirs)) < 5 * np.sqrt(2) * se_mean
    # inference: the identity on both sides
    np.testing.assert_array_equal(nn_layer.forward(ones, training=False), ones)
    np.testing.assert_array_equal(keras.layers.Dropout(rate)(tf.constant(ones), training=False).numpy(), ones)


def test_cli_table_json_and_exit_status(tmp_path):
    """``python -m keras_reference.compare`` prints the table, writes JSON, exits 0 when everything
    is within tolerance and 1 when a tolerance is exceeded (here: every tolerance scaled to 0)."""
    out = tmp_path / "r.json"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    base = [sys.executable, "-m", "keras_reference.compare", "--model", "1layer", "--steps", "5",
            "--fit-samples", "256", "--batch", "64"]
    ok = subprocess.run(base + ["--json", str(out)], capture_output=True, text=True, env=env, cwd=ROOT)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ALL WITHIN TOLERANCE" in ok.stdout and "softmax cross-entropy of the pre-sigmoid" in ok.stdout
    data = json.loads(out.read_text())
    assert data["ok"] is True and any(r["stage"].startswith("gradients") for r in data["rows"])
    assert cmp.main(["--model", "1layer", "--steps", "2", "--fit-samples", "0", "--batch", "16",
                     "--tol-scale", "0"]) == 1
