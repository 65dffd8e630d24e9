"""Shared fixtures.  Tests read data from NNSCRATCH_DATA (CI sets it to ../shared/datasets)."""
import os

import numpy as np
import pytest
from hypothesis import Phase, settings

# On CI the property-based tests draw the same examples on every run (derandomize), so a red CI always
# points at a reproducible example, and skip shrinking (a failing example of a 100-step Keras
# comparison takes many minutes to shrink); locally they explore new examples and shrink as usual.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True,
                          phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target))
if os.environ.get("CI"):
    settings.load_profile("ci")

if "NNSCRATCH_DATA" not in os.environ:
    _shared = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets")
    if os.path.isdir(_shared):
        os.environ["NNSCRATCH_DATA"] = os.path.abspath(_shared)


@pytest.fixture(scope="session")
def mnist_data():
    """Full MNIST, flattened and scaled to [0, 1] float32 as the workshop does, plus one-hot labels."""
    from nnscratch.datasets import mnist
    from nnscratch.utils import to_categorical
    try:
        (x, y), (xt, yt) = mnist.load_data()
    except (ValueError, OSError) as e:
        if os.environ.get("CI") or os.environ.get("NNSCRATCH_DATA"):
            # CI (and anyone who named a data folder) must test on real data: a skip would hide it
            pytest.fail(f"MNIST is required here (CI or NNSCRATCH_DATA is set) but did not load: {e}")
        pytest.skip(f"no MNIST copy found and none could be downloaded: {e}")
    X = x.reshape(len(x), 784).astype("float32") / 255
    Xt = xt.reshape(len(xt), 784).astype("float32") / 255
    return X, to_categorical(y, 10), Xt, to_categorical(yt, 10), y, yt


def workshop_1layer(dtype="float32", seed=0, rate=0.2):
    """The workshop's first model (nnscratch.zoo.one_layer), uncompiled."""
    from nnscratch import zoo
    return zoo.one_layer(rate, dtype=dtype, seed=seed, compile=False)


def workshop_3layer(dtype="float32", seed=0, rate=0.2, hidden=512):
    """The workshop's deep model (nnscratch.zoo.mlp), uncompiled."""
    from nnscratch import zoo
    return zoo.mlp(2, hidden, rate, dtype=dtype, seed=seed, compile=False)


def random_batch(n, d=784, c=10, seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    x = rng.random((n, d)).astype(dtype)
    y = np.eye(c, dtype=dtype)[rng.integers(0, c, n)]
    return x, y


def assert_transfer_both_ways(nn, km, back):
    """Weights copied nnscratch ``nn`` -> Keras ``km`` -> a second nnscratch model ``back`` arrive
    bit for bit (keras_reference.to_keras / to_nnscratch)."""
    import keras_reference as kr
    kr.to_keras(nn, km)
    for a, b in zip(nn.get_weights(), km.get_weights()):
        np.testing.assert_array_equal(a, b)
    kr.to_nnscratch(km, back)
    for a, b in zip(nn.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(a, b)
