"""TensorFlow's "quickstart for experts" (a subclassed keras.Model, a GradientTape training loop,
tf.data, @tf.function, metric objects) runs verbatim with ``import nnscratch as tf``, on an MNIST
subset, and reaches TensorFlow's own accuracy on the same subset within one point.

TensorFlow's accuracy on the subset is recorded by ``benchmarks/quickstart_experts.py`` (the same
tutorial code with its original imports, on TensorFlow, five seeds) in
``benchmarks/results/quickstart-experts.json``; the test runs nnscratch's side, seed 0.
"""
import json
import os
import re

import numpy as np
import pytest

import nnscratch
from tutorials.runner import run_tutorial, source

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUBSET, EPOCHS = (6000, 10000), 3           # as benchmarks/quickstart_experts.py records TensorFlow's


def _mnist_or_skip():
    from nnscratch.datasets import mnist
    try:
        mnist.load_data()
    except (ValueError, OSError) as e:
        if os.environ.get("CI") or os.environ.get("NNSCRATCH_DATA"):
            pytest.fail(f"MNIST is required here (CI or NNSCRATCH_DATA is set) but did not load: {e}")
        pytest.skip(f"no MNIST copy: {e}")


def test_quickstart_for_experts_runs_verbatim_and_reaches_tensorflows_accuracy(capsys):
    _mnist_or_skip()
    nnscratch.set_random_seed(0)
    ns = run_tutorial("quickstart_experts.py", epochs=EPOCHS, subset=SUBSET)
    out = capsys.readouterr().out
    line = re.search(rf"^Epoch {EPOCHS}, Loss: (\d+\.\d\d), Accuracy: (\d+\.\d\d), Test Loss: (\d+\.\d\d), "
                     r"Test Accuracy: (\d+\.\d\d)$", out, re.M)
    assert line, out
    model = ns["model"]
    assert isinstance(model, nnscratch.keras.Model) and model.name.startswith("my_model")
    assert [type(layer).__name__ for layer in model.layers] == ["Conv2D", "Flatten", "Dense", "Dense"]
    assert [v.shape for v in model.trainable_variables] == [(3, 3, 1, 32), (32,), (21632, 128), (128,),
                                                            (128, 10), (10,)]
    assert ns["optimizer"].iterations == EPOCHS * -(-SUBSET[0] // 32)   # one step per batch of 32
    accuracy = float(line.group(4))
    assert accuracy == pytest.approx(float(ns["test_accuracy"].result()) * 100, abs=0.006)
    with open(os.path.join(ROOT, "benchmarks", "results", "quickstart-experts.json")) as f:
        recorded = json.load(f)
    assert recorded["subset"] == list(SUBSET) and recorded["epochs"] == EPOCHS
    tensorflow = recorded["tensorflow"]["mean"]
    assert abs(accuracy - tensorflow) <= 1.0, (accuracy, tensorflow)
    assert float(line.group(1)) < 0.2 and float(line.group(3)) < 0.3   # chance: ln 10 = 2.3


def test_quickstart_for_experts_edits_are_only_the_announced_ones():
    original = source("quickstart_experts.py").splitlines()
    edited = source("quickstart_experts.py", epochs=1, subset=(10, 5)).splitlines()
    assert len(edited) == len(original) + 1
    changed = [(a, b) for a, b in zip(original, [l for l in edited if not l.startswith("x_train, y_train, x_test")])
               if a != b]
    assert changed == [("EPOCHS = 5", "EPOCHS = 1")]
