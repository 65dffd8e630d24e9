"""Keras's own files, both ways, against real Keras: ``save_weights``/``load_weights`` (``.weights.h5``).

Each format is written by one library and read by the other, for an MLP with dropout, the simple
convnet (small images) and a nested Sequential: predictions equal within 1e-6 (float32), and where the
format carries the optimizer's state, one more training step on each side gives the same weights.
Hostile files (built here with h5py) are refused with a clear ValueError, and leave the model as it was.
The Keras models are built once per module.
"""
import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras  # noqa: E402

import nnscratch  # noqa: E402
from nnscratch import zoo  # noqa: E402
from nnscratch.conv import Conv2D, MaxPooling2D  # noqa: E402
from nnscratch.layers import Activation, Dense, Dropout, Flatten, Softmax  # noqa: E402
from nnscratch.optimizers import SGD, Adam, RMSprop  # noqa: E402

TOL = 1e-6
ARCHS = ("mlp_dropout", "convnet", "nested")


def nn_model(arch, optimizer="adam", dtype="float32"):
    """The nnscratch model of ``arch``, compiled, with fixed names (Keras's twin gets the same ones)."""
    if arch == "mlp_dropout":
        m = nnscratch.Sequential([Dense(16, input_shape=(12,), activation="sigmoid", seed=1, name="hidden"),
                                  Dropout(0.2, seed=2, name="drop"), Dense(4, seed=3, name="out"),
                                  Activation("softmax", name="probs")], name="mlp", dtype=dtype, seed=4)
    elif arch == "convnet":
        m = zoo.simple_convnet(dropout=0.0, input_shape=(10, 10, 1), classes=4, filters=(3, 5), seed=5,
                               compile=False, dtype=dtype)       # rate 0: both sides train alike
    else:
        inner = nnscratch.Sequential([Dense(6, activation="relu", seed=6, name="inner_hidden"),
                                      Dense(4, seed=7, name="inner_out")], name="inner", dtype=dtype)
        m = nnscratch.Sequential([Dense(8, input_shape=(12,), activation="tanh", seed=8, name="first"),
                                  inner, Softmax(name="probs")], name="outer", dtype=dtype, seed=9)
    m.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    return m


def keras_layer(layer):
    """The Keras layer computing what the nnscratch ``layer`` computes, with its name."""
    if isinstance(layer, nnscratch.Sequential):
        return keras.Sequential([keras_layer(l) for l in layer.layers], name=layer.name)
    act = getattr(getattr(layer, "activation", None), "name", None)
    if isinstance(layer, Conv2D):
        return keras.layers.Conv2D(layer.filters, layer.kernel_size, strides=layer.strides,
                                   padding=layer.padding, activation=act, use_bias=layer.use_bias,
                                   name=layer.name)
    if isinstance(layer, MaxPooling2D):
        return keras.layers.MaxPooling2D(layer.pool_size, strides=layer.strides, padding=layer.padding,
                                         name=layer.name)
    if isinstance(layer, Softmax):
        return keras.layers.Softmax(name=layer.name)
    if isinstance(layer, Dense):
        return keras.layers.Dense(layer.units, activation=act, name=layer.name)
    if isinstance(layer, Activation):
        return keras.layers.Activation(act, name=layer.name)
    if isinstance(layer, Dropout):
        return keras.layers.Dropout(layer.rate, name=layer.name)
    assert isinstance(layer, Flatten)
    return keras.layers.Flatten(name=layer.name)


def keras_twin(m, optimizer="adam"):
    """A real Keras Sequential of ``m``'s architecture, layer names and dtype, compiled like it."""
    assert m.dtype == np.float32
    k = keras.Sequential([keras.Input(m.sample_shape)] + [keras_layer(l) for l in m.layers], name=m.name)
    k.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    return k


def data(arch, n=16, seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 10, 10, 1) if arch == "convnet" else (n, 12)).astype(dtype)
    y = np.eye(4, dtype=dtype)[rng.integers(0, 4, n)]
    return x, y


def keras_step(k, x, y):
    k.train_on_batch(x, y)


def max_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(u, np.float64) - np.asarray(v, np.float64)))) for u, v in zip(a, b))


@pytest.fixture(scope="module")
def trained_pairs():
    """For each architecture: an nnscratch model trained 2 epochs and a Keras twin trained 2 steps
    (different weights: each side writes its own file for the other)."""
    pairs = {}
    for arch in ARCHS:
        x, y = data(arch)
        m = nn_model(arch)
        m.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        k = keras_twin(nn_model(arch))
        keras_step(k, x[:8], y[:8])
        keras_step(k, x[8:], y[8:])
        pairs[arch] = m, k
    return pairs


# ---------------------------------------------------------------- .weights.h5, both ways
@pytest.mark.parametrize("arch", ARCHS)
def test_weights_written_here_load_in_keras_and_training_continues_there(tmp_path, trained_pairs, arch):
    m, _ = trained_pairs[arch]
    path = tmp_path / "m.weights.h5"
    m.save_weights(path)
    k = keras_twin(nn_model(arch))
    k.optimizer.build(k.trainable_variables)              # Keras restores the state of a built optimizer
    k.load_weights(path)
    x, y = data(arch, seed=1)
    assert max_diff([k(x, training=False).numpy()], [m.predict(x, verbose=0)]) <= TOL
    assert int(k.optimizer.iterations) == m.optimizer.iterations == 4
    if arch == "mlp_dropout":
        return                                             # the two libraries draw different masks
    twin = nn_model(arch)
    twin.load_weights(path)
    twin.train_on_batch(x[:8], y[:8])
    keras_step(k, x[:8], y[:8])
    assert max_diff(k.get_weights(), twin.get_weights()) <= TOL


@pytest.mark.parametrize("arch", ARCHS)
def test_weights_written_by_keras_load_here_and_training_continues_here(tmp_path, trained_pairs, arch):
    _, k = trained_pairs[arch]
    path = tmp_path / "k.weights.h5"
    k.save_weights(path)
    m = nn_model(arch)
    m.load_weights(path)
    x, y = data(arch, seed=2)
    assert max_diff([m.predict(x, verbose=0)], [k(x, training=False).numpy()]) <= TOL
    assert m.optimizer.iterations == int(k.optimizer.iterations) == 2
    if arch == "mlp_dropout":
        return
    m.train_on_batch(x[:8], y[:8])
    again = keras_twin(nn_model(arch))
    again.optimizer.build(again.trainable_variables)
    again.load_weights(path)
    keras_step(again, x[:8], y[:8])
    assert max_diff(again.get_weights(), m.get_weights()) <= TOL


def h5_tree(path):
    """Every group and dataset of an HDF5 file: (name, shape, dtype, attributes)."""
    items = []

    def visit(name, obj):
        shape = getattr(obj, "shape", None)
        items.append((name, shape, str(getattr(obj, "dtype", "")), dict(obj.attrs)))
    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return sorted(items)


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop_centered", "sgd_momentum"])
def test_the_weights_file_has_exactly_the_layout_keras_writes(tmp_path, optimizer):
    """Same groups, datasets, shapes, dtypes and attributes as Keras's own file, for the nested model
    and each optimizer's state order (Adam interleaves m and v; RMSprop writes its slots in blocks)."""
    make = {"adam": lambda: Adam(), "rmsprop_centered": lambda: RMSprop(momentum=0.5, centered=True),
            "sgd_momentum": lambda: SGD(momentum=0.9)}[optimizer]
    keras_make = {"adam": lambda: keras.optimizers.Adam(),
                  "rmsprop_centered": lambda: keras.optimizers.RMSprop(momentum=0.5, centered=True),
                  "sgd_momentum": lambda: keras.optimizers.SGD(momentum=0.9)}[optimizer]
    x, y = data("nested")
    m = nn_model("nested", make())
    m.train_on_batch(x, y)
    k = keras_twin(nn_model("nested"), keras_make())
    k.optimizer.build(k.trainable_variables)
    m.save_weights(tmp_path / "m.weights.h5")
    k.save_weights(tmp_path / "k.weights.h5")
    ours, theirs = h5_tree(tmp_path / "m.weights.h5"), h5_tree(tmp_path / "k.weights.h5")
    theirs = [(n, s, d, a if n != "optimizer/vars" else {"name": re.sub(r"_\d+$", "", a["name"])})
              for n, s, d, a in theirs]                         # Keras numbers a second optimizer's name
    assert ours == theirs


def test_round_trip_here_restores_weights_and_optimizer_state_exactly(tmp_path):
    x, y = data("nested")
    m = nn_model("nested", RMSprop(momentum=0.5, centered=True), dtype="float64")
    m.fit(x.astype("float64"), y.astype("float64"), batch_size=4, epochs=1, verbose=0)
    m.save_weights(tmp_path / "m.weights.h5")
    r = nn_model("nested", RMSprop(momentum=0.5, centered=True), dtype="float64")
    r.load_weights(tmp_path / "m.weights.h5")
    assert all(np.array_equal(a, b) and b.dtype == np.float64 for a, b in zip(m.get_weights(), r.get_weights()))
    assert r.optimizer.iterations == m.optimizer.iterations == 4
    for slot in m.optimizer.state:
        assert all(np.array_equal(a, b) for a, b in zip(m.optimizer.state[slot], r.optimizer.state[slot]))
    h1 = m.fit(x.astype("float64"), y.astype("float64"), batch_size=4, epochs=1, verbose=0, shuffle=False)
    h2 = r.fit(x.astype("float64"), y.astype("float64"), batch_size=4, epochs=1, verbose=0, shuffle=False)
    assert h1.history == h2.history
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), r.get_weights()))


def test_an_unbuilt_optimizer_is_saved_as_the_state_keras_builds(tmp_path):
    m = nn_model("nested")                                  # compiled, never trained
    m.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "r") as f:
        assert len(f["optimizer/vars"]) == 2 + 2 * 6 and int(f["optimizer/vars/0"][()]) == 0
    r = nn_model("nested")
    r.fit(*data("nested"), epochs=1, verbose=0)
    r.load_weights(tmp_path / "m.weights.h5")
    assert r.optimizer.iterations == 0 and all(not np.any(s) for s in r.optimizer.state["m"])


def test_an_optimizer_of_another_kind_is_skipped_with_a_warning_as_keras_does(tmp_path):
    m = nn_model("nested")
    m.train_on_batch(*data("nested"))
    m.save_weights(tmp_path / "m.weights.h5")
    r = nn_model("nested", SGD(momentum=0.9))
    with pytest.warns(UserWarning, match="not restored"):
        r.load_weights(tmp_path / "m.weights.h5")
    assert max_diff(r.get_weights(), m.get_weights()) == 0 and r.optimizer.iterations == 0


# ---------------------------------------------------------------- bad input, hostile files
def test_save_weights_refuses_what_keras_refuses_and_writes_nothing_on_error(tmp_path):
    m = nn_model("nested")
    with pytest.raises(ValueError, match=r"must end in '\.weights\.h5'"):
        m.save_weights(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="not built"):
        nnscratch.Sequential([Dense(2)]).save_weights(tmp_path / "u.weights.h5")
    m.layers[0].kernel[0, 0] = np.nan
    with pytest.raises(ValueError, match="weight 0 holds NaN"):
        m.save_weights(tmp_path / "m.weights.h5")
    assert list(tmp_path.iterdir()) == []
    nn_model("nested").save_weights(tmp_path / "m.weights.h5")
    with pytest.raises(ValueError, match="overwrite=False"):
        nn_model("nested").save_weights(tmp_path / "m.weights.h5", overwrite=False)


@pytest.fixture
def weights_file(tmp_path):
    """A valid .weights.h5 file of the trained nested model, and a fresh model to load it into."""
    m = nn_model("nested")
    m.train_on_batch(*data("nested"))
    path = tmp_path / "m.weights.h5"
    m.save_weights(path)
    return path, nn_model("nested")


def edit(path, change):
    with h5py.File(path, "r+") as f:
        change(f)


def replace(f, name, **kw):
    del f[name]
    f.create_dataset(name, **kw)


HOSTILE = {
    "soft link": (lambda f: (f.__delitem__("layers/dense/vars/0"),
                             f.__setitem__("layers/dense/vars/0", h5py.SoftLink("/layers/dense/vars/1")),
                             ), "SoftLink"),
    "external link": (lambda f: (f.__delitem__("layers/dense/vars/0"),
                                 f.__setitem__("layers/dense/vars/0", h5py.ExternalLink("/etc/passwd", "/x"))),
                      "ExternalLink"),
    "linked group": (lambda f: (f.__delitem__("layers/sequential"),
                                f.__setitem__("layers/sequential", h5py.SoftLink("/layers/dense"))), "SoftLink"),
    "external data": (lambda f: replace(f, "layers/dense/vars/1", shape=(8,), dtype="f4",
                                        external=[("/etc/hostname", 0, 32)]), "external files"),
    "wrong shape": (lambda f: replace(f, "layers/dense/vars/0", data=np.zeros((12, 9), "f4")),
                    r"shape \(12, 9\), but the model needs \(12, 8\)"),
    "integers": (lambda f: replace(f, "layers/dense/vars/1", data=np.zeros(8, "i4")), "dtype int32"),
    "nan": (lambda f: f["layers/dense/vars/1"].__setitem__(0, np.nan), "NaN or infinite"),
    "missing": (lambda f: f.__delitem__("layers/sequential/layers/dense_1/vars/1"), "holds 1 variables"),
    "extra layer": (lambda f: f.create_group("layers/dense_7/vars").create_dataset("0", data=np.ones(3)),
                    r"layers \['dense_7'\].*another architecture"),
    "extra variable": (lambda f: f["layers/softmax/vars"].create_dataset("0", data=np.ones(3)),
                       "holds 1 variables, but the layer has 0"),
    "gzip": (lambda f: replace(f, "layers/dense/vars/0", shape=(12, 8), dtype="f4", chunks=(12, 8),
                               compression="gzip", fillvalue=1.0), None),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_or_damaged_weights_file_is_refused_and_the_model_is_unchanged(weights_file, case):
    path, m = weights_file
    change, problem = HOSTILE[case]
    edit(path, change)
    before = m.get_weights()
    if problem is None:                 # gzip is read (a small dataset of its fill value is possible)
        m.load_weights(path)
        assert np.all(m.layers[0].kernel == 1.0)
        return
    with pytest.raises(ValueError, match=problem) as e:
        m.load_weights(path)
    assert repr(str(path)) in str(e.value)
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights())) and m.optimizer.iterations == 0


def test_a_dataset_declaring_far_more_than_it_stores_is_refused_before_anything_is_allocated(tmp_path):
    """A 'weights' file whose kernel declares 40 GB over a few compressed bytes (the model's shape:
    the check that protects is the stored size, not the shape)."""
    import tracemalloc
    from nnscratch import fileio, h5_weights
    path = tmp_path / "bomb.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_group("vars")
        g = f.create_group("layers/dense/vars")
        g.create_dataset("0", shape=(100_000, 100_000), dtype="f4", chunks=(1000, 1000), compression="gzip")
        g.create_dataset("1", data=np.zeros(100_000, "f4"))
    # (such a model would need 40 GB itself: only its expected shapes are given, as a .keras file's
    # configuration gives them before anything is built)
    root = h5_weights.Saveable("Sequential", "s", layers=[
        h5_weights.Saveable("Dense", "dense", [(100_000, 100_000), (100_000,)])])
    fail = fileio.Failer("load_weights", str(path))
    tracemalloc.start()
    with pytest.raises(ValueError, match="declares 40,000,000,000 bytes but stores only 0"):
        with h5_weights.open_h5(str(path), fail) as h5:
            h5_weights.read_keras3(h5, root, fail)
    assert tracemalloc.get_traced_memory()[1] < 10_000_000
    tracemalloc.stop()


@pytest.mark.parametrize("content, problem", [
    (b"", "empty"), (b"PK\x03\x04 not really", "not an HDF5 file"),
    (b"\x89HDF\r\n\x1a\n" + b"\0" * 100, "damaged or truncated"),
])
def test_files_that_are_not_weights_files(tmp_path, content, problem):
    path = tmp_path / "x.weights.h5"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=problem):
        nn_model("nested").load_weights(path)
    with pytest.raises(ValueError, match="no file"):
        nn_model("nested").load_weights(tmp_path / "missing.weights.h5")
    with pytest.raises(ValueError, match="'.weights.h5' files"):
        nn_model("nested").load_weights(tmp_path / "x.npz")
