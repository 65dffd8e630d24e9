import numpy as np
import pytest

from nnscratch.utils import accuracy, confusion_matrix, make_rng, set_random_seed, to_categorical


def test_to_categorical_keras_semantics():
    out = to_categorical([2, 0, 1], 3)
    assert out.dtype == np.float64 and out.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    assert to_categorical(np.array([[1], [3]])).shape == (2, 4)      # trailing axis of 1 dropped, C = max + 1
    assert to_categorical(np.array([1.0, 2.0]), 3).tolist() == [[0, 1, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match=">= 0"):
        to_categorical([-1, 2], 3)
    with pytest.raises(ValueError, match="whole numbers"):
        to_categorical([0.5], 3)


def test_accuracy_and_confusion_matrix():
    y = np.array([0, 1, 2, 2, 1])
    p = np.array([0, 2, 2, 2, 1])
    assert accuracy(y, p) == pytest.approx(0.8)
    assert accuracy(to_categorical(y, 3), to_categorical(p, 3)) == pytest.approx(0.8)
    cm = confusion_matrix(y, p)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 2]] and cm.sum() == 5
    with pytest.raises(ValueError, match="samples"):
        accuracy(y, p[:3])


def test_set_random_seed_controls_fresh_generators():
    set_random_seed(5)
    a = make_rng().random(3)
    set_random_seed(5)
    assert np.array_equal(a, make_rng().random(3))
    assert np.array_equal(make_rng(7).random(2), np.random.default_rng(7).random(2))
    with pytest.raises(ValueError):
        set_random_seed(-1)
