"""Keras's own files, both ways, against real Keras: ``.keras``, ``.weights.h5`` (``save_weights`` /
``load_weights``), legacy ``.h5``, and ``tf.saved_model``.

Each format is written by one library and read by the other, for an MLP with dropout, the simple
convnet (small images, dropout rate 0 so both sides train alike) and a nested Sequential: predictions
equal within 1e-6 (float32), and where the format carries the optimizer's state, one more training
step on each side gives the same weights.  The files nnscratch writes are compared with the ones
Keras writes for the same architecture (configuration and HDF5 layout).  Hostile files (built here
with zipfile and h5py) are refused with a clear ValueError before anything is built or allocated,
and a model loading weights is left as it was.  The Keras models are built once per module.
"""
import json
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
# Keras's own save_weights/save under NumPy 2 warns from inside TensorFlow (not nnscratch's doing)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


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
        attrs = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in obj.attrs.items()}
        items.append((name, shape, str(getattr(obj, "dtype", "")), attrs))
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


# ---------------------------------------------------------------- whole models: .keras and legacy .h5
def assert_continues_alike(ours, theirs, arch, seed=3):
    """One more optimizer step on the same batch on each side gives the same weights (not with
    active dropout: the two libraries draw different masks)."""
    if arch == "mlp_dropout":
        return
    x, y = data(arch, seed=seed)
    ours.train_on_batch(x[:8], y[:8])
    keras_step(theirs, x[:8], y[:8])
    assert max_diff(theirs.get_weights(), ours.get_weights()) <= TOL


@pytest.mark.parametrize("arch", ARCHS)
def test_a_keras_file_written_here_opens_in_keras_and_trains_on_there(tmp_path, trained_pairs, arch):
    m, _ = trained_pairs[arch]
    path = tmp_path / "m.keras"
    m.save(path)
    k = keras.models.load_model(path)
    x, _ = data(arch, seed=1)
    assert max_diff([k(x, training=False).numpy()], [m.predict(x, verbose=0)]) <= TOL
    assert [l.name for l in k.layers] == [l.name for l in m.layers]
    assert int(k.optimizer.iterations) == m.optimizer.iterations == 4
    assert_continues_alike(nnscratch.load_model(path), k, arch)


@pytest.mark.parametrize("arch", ARCHS)
def test_a_keras_file_written_by_keras_opens_here_and_trains_on_here(tmp_path, trained_pairs, arch):
    _, k = trained_pairs[arch]
    path = tmp_path / "k.keras"
    k.save(path)
    m = nnscratch.load_model(path)
    x, _ = data(arch, seed=2)
    assert max_diff([m.predict(x, verbose=0)], [k(x, training=False).numpy()]) <= TOL
    assert [l.name for l in m.layers] == [l.name for l in k.layers] and m.name == k.name
    assert m.optimizer.iterations == int(k.optimizer.iterations) == 2 and m.loss == "categorical_crossentropy"
    assert_continues_alike(m, keras.models.load_model(path), arch)


@pytest.mark.parametrize("arch", ARCHS)
def test_legacy_h5_files_both_ways(tmp_path, trained_pairs, arch):
    m, k = trained_pairs[arch]
    m.save(tmp_path / "m.h5")
    k.save(tmp_path / "k.keras")        # first: Keras 3.15's save('.h5') drops the optimizer from its
    k.save(tmp_path / "k.h5")           # compile config, and a later .keras file would name none
    x, _ = data(arch, seed=4)
    from_here = keras.models.load_model(tmp_path / "m.h5")
    assert max_diff([from_here(x, training=False).numpy()], [m.predict(x, verbose=0)]) <= TOL
    # Keras 3.15 itself cannot train on from a legacy file's optimizer (it builds the optimizer for the
    # Sequential's own, empty, variable list); nnscratch restores the state the file carries:
    from_keras = nnscratch.load_model(tmp_path / "k.h5")
    assert max_diff([from_keras.predict(x, verbose=0)], [k(x, training=False).numpy()]) <= TOL
    assert from_keras.optimizer.iterations == 2
    assert_continues_alike(from_keras, keras.models.load_model(tmp_path / "k.keras"), arch)


def strip_sharing(obj):
    """A Keras configuration without its object-sharing ids (bookkeeping of repeated dtype policies)."""
    if isinstance(obj, dict):
        return {k: strip_sharing(v) for k, v in obj.items() if k != "shared_object_id"}
    if isinstance(obj, list):
        return [strip_sharing(v) for v in obj]
    return obj


@pytest.fixture(scope="module")
def schema_pair(tmp_path_factory):
    """One model with every layer nnscratch has, a nested Sequential and a loss object, saved by each
    library (.keras and .h5) from the same architecture, names and compile arguments."""
    folder = tmp_path_factory.mktemp("schema")
    inner = nnscratch.Sequential([Dense(4, name="ih")], name="inner")
    m = nnscratch.Sequential([Conv2D(2, 3, activation="relu", input_shape=(6, 6, 1), name="c"),
                              MaxPooling2D(name="p"), Flatten(name="f"), Dropout(0.5, name="d"),
                              Dense(8, activation="tanh", name="h"), inner, Softmax(name="s")], name="net")
    m.compile(loss=nnscratch.losses.CategoricalCrossentropy(from_logits=False),
              optimizer=RMSprop(momentum=0.5), metrics=["accuracy"])
    ki = keras.Sequential([keras.Input((8,), name="input_layer_1"), keras.layers.Dense(4, name="ih")], name="inner")
    k = keras.Sequential([keras.Input((6, 6, 1), name="input_layer"),
                          keras.layers.Conv2D(2, 3, activation="relu", name="c"), keras.layers.MaxPooling2D(name="p"),
                          keras.layers.Flatten(name="f"), keras.layers.Dropout(0.5, name="d"),
                          keras.layers.Dense(8, activation="tanh", name="h"), ki, keras.layers.Softmax(name="s")],
                         name="net")
    k.compile(loss=keras.losses.CategoricalCrossentropy(), metrics=["accuracy"],
              optimizer=keras.optimizers.RMSprop(momentum=0.5, name="rm_sprop"))      # not Keras's rm_sprop_<n>
    k.optimizer.build(k.trainable_variables)                # so Keras writes the state nnscratch writes
    for name, model in (("m", m), ("k", k)):
        model.save(folder / f"{name}.keras")
        model.save(folder / f"{name}.h5")
    return folder


def test_the_keras_file_holds_exactly_the_configuration_keras_writes(schema_pair):
    import zipfile
    ours, theirs = (zipfile.ZipFile(schema_pair / f"{n}.keras") for n in "mk")
    assert ours.namelist() == theirs.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
    assert all(i.compress_type == zipfile.ZIP_STORED for i in ours.infolist())
    config = json.loads(ours.read("config.json"))
    assert config == strip_sharing(json.loads(theirs.read("config.json")))
    meta = json.loads(ours.read("metadata.json"))
    assert meta["keras_version"] == json.loads(theirs.read("metadata.json"))["keras_version"]
    assert set(meta["nnscratch"]["rng_states"]) == {"net", "net/d", "net/inner"}


def test_the_legacy_file_holds_exactly_what_keras_writes(schema_pair):
    with h5py.File(schema_pair / "m.h5", "r") as ours, h5py.File(schema_pair / "k.h5", "r") as theirs:
        for attr in ("model_config", "training_config"):
            assert json.loads(ours.attrs[attr]) == strip_sharing(json.loads(theirs.attrs[attr]))
        assert ours.attrs["keras_version"] == theirs.attrs["keras_version"]
    ours, theirs = h5_tree(schema_pair / "m.h5"), h5_tree(schema_pair / "k.h5")
    assert ours[0][0] == theirs[0][0] == "model_weights"
    assert ours[0][3].pop("backend") == "numpy" and theirs[0][3].pop("backend") == "tensorflow"
    assert ours == theirs                 # every group, dataset, shape, dtype and attribute but the backend's name


def test_a_round_trip_here_restores_everything_and_training_continues_identically(tmp_path):
    """nnscratch -> .keras -> nnscratch: weights, optimizer state and every random generator (kept in
    metadata.json, which Keras does not read), so even dropout and shuffling continue identically."""
    x, y = data("mlp_dropout")
    for suffix in (".keras", ".h5"):
        m = nn_model("mlp_dropout", SGD(0.05, momentum=0.9, nesterov=True))
        m.fit(x, y, batch_size=4, epochs=1, verbose=0)
        m.save(tmp_path / f"m{suffix}")
        r = nnscratch.load_model(tmp_path / f"m{suffix}")
        assert [l.get_config() for l in r.layers[1:]] == [l.get_config() for l in m.layers[1:]]
        assert r.optimizer.get_config() == m.optimizer.get_config() and r.optimizer.iterations == 4
        if suffix == ".h5":                  # the legacy file has no place for the generators
            continue
        h1 = m.fit(x, y, batch_size=4, epochs=2, verbose=0)
        h2 = r.fit(x, y, batch_size=4, epochs=2, verbose=0)
        assert h1.history == h2.history
        assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), r.get_weights()))


def test_save_chooses_the_format_by_the_name_as_keras_does_and_load_model_by_content(tmp_path):
    import zipfile
    m = nn_model("nested")
    nnscratch.keras.models.save_model(m, tmp_path / "m.keras")
    assert zipfile.ZipFile(tmp_path / "m.keras").namelist() == ["metadata.json", "config.json", "model.weights.h5"]
    with pytest.raises(ValueError, match=r"'\.keras'.*'\.h5'.*'\.npz'"):
        m.save(tmp_path / "m.pkl")
    with pytest.raises(ValueError, match="overwrite=False"):
        m.save(tmp_path / "m.keras", overwrite=False)
    (tmp_path / "m.keras").rename(tmp_path / "model.bin")
    m.save(tmp_path / "m.hdf5")
    (tmp_path / "m.hdf5").rename(tmp_path / "other.bin")
    x, _ = data("nested")
    for name in ("model.bin", "other.bin"):
        r = nnscratch.load_model(tmp_path / name)
        assert np.array_equal(r.predict(x, verbose=0), m.predict(x, verbose=0))
    r = nnscratch.keras.models.load_model(tmp_path / "model.bin", compile=False)
    assert isinstance(r, nnscratch.keras.Sequential) and r.optimizer is None
    for suffix in (".keras", ".h5"):                        # a model that cannot be saved changes nothing
        m.save(tmp_path / f"old{suffix}")
        before = (tmp_path / f"old{suffix}").read_bytes()
        broken = nn_model("nested")
        broken.layers[0].kernel[0, 0] = np.inf
        with pytest.raises(ValueError, match="NaN or infinite"):
            broken.save(tmp_path / f"old{suffix}")
        assert (tmp_path / f"old{suffix}").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin", "old.h5", "old.keras", "other.bin"]


def test_load_weights_reads_the_weights_of_keras_and_legacy_model_files(tmp_path, trained_pairs):
    _, k = trained_pairs["convnet"]
    k.save(tmp_path / "k.keras")
    k.save(tmp_path / "k.h5")
    x, _ = data("convnet", seed=5)
    for name in ("k.keras", "k.h5"):
        m = nn_model("convnet")
        m.load_weights(tmp_path / name)
        assert max_diff([m.predict(x, verbose=0)], [k(x, training=False).numpy()]) <= TOL
        assert m.optimizer.iterations == 2


def test_saved_model_save_and_load_keep_nnscratch_layout_and_predict_the_same(tmp_path):
    import nnscratch as tf
    m = nn_model("nested")
    tf.saved_model.save(m, tmp_path / "export")
    assert [p.name for p in (tmp_path / "export").iterdir()] == ["model.keras"]
    loaded = tf.saved_model.load(tmp_path / "export")
    x, _ = data("nested")
    assert np.array_equal(loaded(x), m(x))
    assert max_diff([keras.models.load_model(tmp_path / "export" / "model.keras")(x).numpy()], [m(x)]) <= TOL
    (tmp_path / "tf").mkdir()
    (tmp_path / "tf" / "saved_model.pb").write_bytes(b"\x08\x01")
    with pytest.raises(ValueError, match="TensorFlow SavedModel"):
        tf.saved_model.load(tmp_path / "tf")
    with pytest.raises(nnscratch.keras.NotImplementedInNnscratch, match="signatures"):
        tf.saved_model.save(m, tmp_path / "x", signatures={})


# ---------------------------------------------------------------- .keras and .h5: what cannot be honoured
def keras_entries(path):
    import zipfile
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_zip(path, entries, compression=None):
    import zipfile
    with zipfile.ZipFile(path, "w", compression or zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def edited_keras(tmp_path, edit_config=None, edit_meta=None, text=None):
    """A valid .keras file of the nested model, its config.json edited (a dict edit, or replaced by ``text``)."""
    m = nn_model("nested")
    m.train_on_batch(*data("nested"))
    m.save(tmp_path / "m.keras")
    entries = keras_entries(tmp_path / "m.keras")
    config, meta = json.loads(entries["config.json"]), json.loads(entries["metadata.json"])
    if edit_config:
        edit_config(config)
    if edit_meta:
        edit_meta(meta)
    entries["config.json"] = text if text is not None else json.dumps(config)
    entries["metadata.json"] = json.dumps(meta)
    return write_zip(tmp_path / "edited.keras", entries)


def layer(config, i):
    return config["config"]["layers"][i]          # 0 is the InputLayer, 1 the first Dense


CONFIG_EDITS = {
    "unknown layer": (lambda c: layer(c, 1).update(class_name="LSTM"), r"'LSTM' layer, which this nnscratch does not have"),
    "class outside keras": (lambda c: layer(c, 1).update(module="nnscratch_evil_module", class_name="system"),
                            "a class outside Keras, which nnscratch never imports"),
    "registered custom class": (lambda c: layer(c, 1).update(registered_name="my_package>MyDense"),
                                "a class outside Keras"),
    "activation": (lambda c: layer(c, 1)["config"].update(activation="gelu"), r"activation='gelu'; nnscratch implements"),
    "regularizer": (lambda c: layer(c, 1)["config"].update(kernel_regularizer={"class_name": "L2", "config": {"l2": 0.01}}),
                    "kernel_regularizer=.*cannot honour"),
    "mixed precision": (lambda c: layer(c, 1)["config"]["dtype"]["config"].update(name="mixed_float16"),
                        "dtype policy 'mixed_float16'"),
    "no bias": (lambda c: layer(c, 1)["config"].update(use_bias=False), "use_bias=False"),
    "initializer": (lambda c: layer(c, 1)["config"].update(kernel_initializer="he_normal"), "initializer 'he_normal'"),
    "functional": (lambda c: c.update(class_name="Functional"), "build_input_shape=.*cannot honour"),
    "other model": (lambda c: c.update(class_name="MyModel"), "reads Sequential and Functional models"),
    "huge layer": (lambda c: layer(c, 2)["config"]["layers"][2]["config"].update(units=100_000_000),
                   r"has shape \(6, 4\), but the model needs \(6, 100000000\)"),
    "negative units": (lambda c: layer(c, 1)["config"].update(units=-3), "units must be an integer >= 1"),
    "optimizer": (lambda c: c["compile_config"]["optimizer"].update(class_name="Adagrad"), "'Adagrad'.*compile=False"),
    "schedule": (lambda c: c["compile_config"]["optimizer"]["config"].update(
        learning_rate={"class_name": "PolynomialDecay", "config": {}}), "PolynomialDecay, which nnscratch does not"),
    "schedule setting": (lambda c: c["compile_config"]["optimizer"]["config"].update(
        learning_rate={"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 0,
                                                                    "decay_rate": 0.5}}), "decay_steps must be > 0"),
    "loss": (lambda c: c["compile_config"].update(loss="huber"), "Unknown loss 'huber'"),
    "nested too deep": (lambda c: [c["config"]["layers"].__setitem__(2, {"class_name": "Sequential", "config": {
        "name": f"s{i}", "layers": [c["config"]["layers"][2]]}}) for i in range(20)], "more than 16 deep"),
}


@pytest.mark.parametrize("case", CONFIG_EDITS)
def test_a_keras_file_with_what_nnscratch_cannot_honour_is_refused_naming_it(tmp_path, case):
    import sys
    import tracemalloc
    edit, problem = CONFIG_EDITS[case]
    path = edited_keras(tmp_path, edit)
    tracemalloc.start()
    with pytest.raises(ValueError, match=problem) as e:
        nnscratch.load_model(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50_000_000                  # "huge layer" would need 2.4 GB: refused before building
    assert repr(str(path)) in str(e.value) and "nnscratch_evil_module" not in sys.modules
    if case in ("optimizer", "schedule", "schedule setting", "loss"):    # only compile() needs them
        assert nnscratch.load_model(path, compile=False).optimizer is None


@pytest.mark.parametrize("text, problem", [
    ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ('{"class_name": "Sequential", "config": {"x": NaN}}', "not valid JSON"),
    ("[1, 2]", "must hold a JSON object"),
])
def test_a_keras_file_whose_configuration_is_not_json_is_refused(tmp_path, text, problem):
    with pytest.raises(ValueError, match=problem):
        nnscratch.load_model(edited_keras(tmp_path, text=text))


def test_edited_generator_states_are_refused(tmp_path):
    path = edited_keras(tmp_path, edit_meta=lambda m: m["nnscratch"]["rng_states"].pop("outer"))
    with pytest.raises(ValueError, match="rng_states are for"):
        nnscratch.load_model(path)
    path = edited_keras(tmp_path, edit_meta=lambda m: m["nnscratch"]["rng_states"]["outer"].update(bit_generator="Evil"))
    with pytest.raises(ValueError, match="must be a bit_generator.state"):
        nnscratch.load_model(path)


def forge_size(path, name, size):
    """Rewrite the zip directory's uncompressed size of entry ``name`` (a zip bomb's lie)."""
    import struct
    raw = bytearray(path.read_bytes())
    at = raw.find(b"PK\x01\x02" + raw[raw.find(b"PK\x01\x02") + 4:][:0])
    while at >= 0:
        length = struct.unpack_from("<H", raw, at + 28)[0]
        if raw[at + 46:at + 46 + length] == name.encode():
            struct.pack_into("<L", raw, at + 24, size)
        at = raw.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(raw))
    return path


def test_zip_bombs_and_edited_archives_are_refused_unread(tmp_path):
    import zipfile
    good = edited_keras(tmp_path)
    entries = keras_entries(good)
    cases = [
        (write_zip(tmp_path / "many.keras", {**entries, **{f"x{i}": b"" for i in range(20)}}), "declares 23 entries"),
        (write_zip(tmp_path / "assets.keras", {**entries, "assets/vocab.txt": b"a"}), "does not read"),
        (write_zip(tmp_path / "npz.keras", {"config.json": entries["config.json"], "model.weights.npz": b""}),
         "model.weights.npz"),
        (write_zip(tmp_path / "noweights.keras", {"config.json": entries["config.json"]}), "without"),
        (forge_size(write_zip(tmp_path / "bomb.keras", entries, zipfile.ZIP_DEFLATED), "config.json", 2 ** 31),
         "no compression can"),
    ]
    raw = good.read_bytes()
    (tmp_path / "cut.keras").write_bytes(raw[:len(raw) // 2])
    cases.append((tmp_path / "cut.keras", "damaged or truncated"))
    for path, problem in cases:
        with pytest.raises(ValueError, match=problem):
            nnscratch.load_model(path)


def test_a_hostile_weights_entry_inside_a_keras_file_is_refused(tmp_path):
    import io
    good = edited_keras(tmp_path)
    entries = keras_entries(good)
    buffer = io.BytesIO(entries["model.weights.h5"])
    with h5py.File(buffer, "r+") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.ExternalLink("/etc/passwd", "/")
    entries["model.weights.h5"] = buffer.getvalue()
    with pytest.raises(ValueError, match="ExternalLink"):
        nnscratch.load_model(write_zip(tmp_path / "link.keras", entries))


def test_keras_models_with_layers_or_settings_nnscratch_lacks_are_refused_naming_them(tmp_path):
    cases = [
        (keras.layers.LayerNormalization(), "'LayerNormalization' layer"),
        (keras.layers.Dense(3, activation="gelu"), "activation='gelu'"),
        (keras.layers.Dense(3, kernel_regularizer="l2"), "kernel_regularizer"),
    ]
    for i, (extra, problem) in enumerate(cases):
        k = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3), extra])
        k.compile(optimizer="sgd", loss="mse")
        k.save(tmp_path / f"k{i}.keras")
        with pytest.raises(ValueError, match=problem):
            nnscratch.load_model(tmp_path / f"k{i}.keras")
    k = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    k.compile(optimizer="sgd", loss="huber")                     # a loss nnscratch does not have
    k.save(tmp_path / "mse.keras")
    with pytest.raises(ValueError, match="huber.*compile=False"):
        nnscratch.load_model(tmp_path / "mse.keras")
    m = nnscratch.load_model(tmp_path / "mse.keras", compile=False)
    x = np.random.default_rng(0).random((4, 5)).astype("float32")
    assert m.optimizer is None and max_diff([m(x)], [k(x).numpy()]) <= TOL


LEGACY_EDITS = {
    "weights file": (lambda f: f.attrs.__delitem__("model_config"), "a weights file"),
    "config not json": (lambda f: f.attrs.__setitem__("model_config", b"{" * 50), "not valid JSON"),
    "soft link": (lambda f: (f["model_weights"].__delitem__("dense"),
                             f["model_weights"].__setitem__("dense", h5py.SoftLink("/optimizer_weights"))), "SoftLink"),
    "missing layer": (lambda f: f["model_weights"].attrs.__setitem__("layer_names", [b"dense", b"nope"]), "nope is missing"),
    "path escape": (lambda f: f["model_weights/dense"].attrs.__setitem__(
        "weight_names", [b"../optimizer_weights/x", b"outer/dense/bias"]), "cannot name a group"),
}


@pytest.mark.parametrize("case", LEGACY_EDITS)
def test_a_hostile_or_damaged_legacy_file_is_refused(tmp_path, case):
    m = nn_model("nested")
    m.layers[0].name = "dense"
    path = tmp_path / "m.h5"
    m.save(path)
    edit, problem = LEGACY_EDITS[case]
    edit_h5 = h5py.File(path, "r+")
    edit(edit_h5)
    edit_h5.close()
    with pytest.raises(ValueError, match=problem):
        nnscratch.load_model(path)


def test_the_train_command_refuses_a_save_name_without_a_format_before_training(tmp_path, capsys):
    from nnscratch.__main__ import build_parser
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--save", str(tmp_path / "m.pkl")])
    assert "must end in .keras" in capsys.readouterr().err
    assert build_parser().parse_args(["train", "--save", str(tmp_path / "m.keras")]).save.endswith("m.keras")


def frozen_model():
    """The nested model with its first layer and the inner model's first layer frozen."""
    m = nn_model("nested")
    m.layers[0].trainable = False
    m.layers[1].layers[0].trainable = False
    m.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return m


def test_frozen_layers_travel_both_ways_and_training_continues_alike(tmp_path):
    """Frozen layers keep their flag, their weights (in the legacy file after the inner model's
    trainable ones, as Keras lists them) and no optimizer state, in every format, both ways."""
    x, y = data("nested")
    m = frozen_model()
    m.train_on_batch(x[:8], y[:8])
    k = keras_twin(nn_model("nested"))
    k.layers[0].trainable = False
    k.layers[1].layers[0].trainable = False
    k.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    keras_step(k, x[:8], y[:8])
    flags = [False, True, False, True, True]                 # first, inner, inner's ih, io, softmax
    for name, model in (("m", m), ("k", k)):
        model.save(tmp_path / f"{name}.keras")
        model.save(tmp_path / f"{name}.h5")
    for name in ("m.keras", "m.h5"):                         # nnscratch -> Keras
        theirs = keras.models.load_model(tmp_path / name)
        assert [l.trainable for l in (theirs.layers[0], theirs.layers[1], *theirs.layers[1].layers,
                                      theirs.layers[2])] == flags
        assert max_diff([theirs(x).numpy()], [m(x)]) <= TOL
    ours = nnscratch.load_model(tmp_path / "m.keras")
    assert_continues_alike(ours, keras.models.load_model(tmp_path / "m.keras"), "nested")
    for name in ("k.keras", "k.h5"):                         # Keras -> nnscratch
        ours = nnscratch.load_model(tmp_path / name)
        assert [l.trainable for l in (ours.layers[0], ours.layers[1], *ours.layers[1].layers, ours.layers[2])] == flags
        assert max_diff([ours(x)], [k(x).numpy()]) <= TOL and ours.optimizer.iterations == 1
        assert_continues_alike(ours, keras.models.load_model(tmp_path / "k.keras"), "nested")


def test_keras_arguments_nnscratch_does_not_implement_are_refused_naming_them(tmp_path):
    from nnscratch.errors import NotImplementedInNnscratch
    m = nn_model("nested")
    m.train_on_batch(*data("nested"))
    refusals = [
        (lambda: m.save(tmp_path / "m.keras", zipped=False), NotImplementedInNnscratch, "zipped=False"),
        (lambda: m.save(tmp_path / "m.keras", save_format="tf"), ValueError, r"not supported: \['save_format'\]"),
        (lambda: m.save_weights(tmp_path / "m.weights.h5", max_shard_size=1), NotImplementedInNnscratch, "max_shard_size"),
        (lambda: m.load_weights(tmp_path / "w.weights.h5", skip_mismatch=True), NotImplementedInNnscratch, "skip_mismatch"),
        (lambda: m.load_weights(tmp_path / "m.h5", by_name=True), NotImplementedInNnscratch, "by_name"),
        (lambda: m.load_weights(tmp_path / "w.weights.h5", nonsense=1), ValueError, "invalid keyword"),
        (lambda: nnscratch.load_model(tmp_path / "w.keras", custom_objects={"X": int}), NotImplementedInNnscratch,
         "custom_objects"),
    ]
    for call, error, problem in refusals:
        with pytest.raises(error, match=problem):
            call()
    assert list(tmp_path.iterdir()) == []
    m.save(tmp_path / "m.h5", include_optimizer=False)            # as Keras: no optimizer, no compile
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert "optimizer_weights" not in f and "training_config" not in f.attrs
    assert nnscratch.load_model(tmp_path / "m.h5").optimizer is None


class Subclassed(nnscratch.keras.Model):
    """A model of its own (keras.Model subclassing): layers as attributes, in a list and a dict."""

    def __init__(self):
        super().__init__()
        self.hidden = Dense(8, activation="tanh", seed=1)
        self.blocks = [Dense(6, activation="relu", seed=2)]
        self.heads = {"out": Dense(4, activation="softmax", seed=3)}

    def call(self, x):
        return self.heads["out"](self.blocks[0](self.hidden(x)))


class KerasSubclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(8, activation="tanh")
        self.blocks = [keras.layers.Dense(6, activation="relu")]
        self.heads = {"out": keras.layers.Dense(4, activation="softmax")}

    def call(self, x):
        return self.heads["out"](self.blocks[0](self.hidden(x)))


def test_a_subclassed_model_s_weights_file_is_keras_s_layout_both_ways(tmp_path):
    """Keras files a subclassed model's layers under its attribute names (a list's under the list's
    name): the same file both ways, with the optimizer's state; training continues alike."""
    x, y = data("nested")
    ours, theirs = Subclassed(), KerasSubclassed()
    ours(x[:1])
    theirs(x[:1])
    ours.compile(loss="categorical_crossentropy", optimizer="adam")
    theirs.compile(loss="categorical_crossentropy", optimizer="adam")
    ours.train_on_batch(x[:8], y[:8])
    theirs.optimizer.build(theirs.trainable_variables)
    ours.save_weights(tmp_path / "ours.weights.h5")
    theirs.save_weights(tmp_path / "theirs.weights.h5")
    assert [i[:3] for i in h5_tree(tmp_path / "ours.weights.h5")] == [i[:3] for i in h5_tree(tmp_path / "theirs.weights.h5")]
    theirs.load_weights(tmp_path / "ours.weights.h5")
    assert max_diff([theirs(x).numpy()], [ours(x).numpy()]) <= TOL and int(theirs.optimizer.iterations) == 1
    ours.train_on_batch(x[8:], y[8:])
    keras_step(theirs, x[8:], y[8:])
    assert max_diff(theirs.get_weights(), ours.get_weights()) <= TOL
    theirs.save_weights(tmp_path / "theirs.weights.h5")
    again = Subclassed()
    again(x[:1])
    again.compile(loss="categorical_crossentropy", optimizer="adam")
    again.load_weights(tmp_path / "theirs.weights.h5")
    assert max_diff(again.get_weights(), theirs.get_weights()) == 0 and again.optimizer.iterations == 2


def test_learning_rate_schedules_travel_both_ways(tmp_path):
    """A schedule is the optimizer's configuration, not a variable (Keras keeps no learning_rate
    variable then): the same schedule both ways, and training continues on it alike."""
    from nnscratch import schedules
    x, y = data("nested")
    ours = nn_model("nested", Adam(schedules.ExponentialDecay(0.01, 3, 0.5, staircase=True)))
    ours.train_on_batch(x[:8], y[:8])
    k = keras_twin(nn_model("nested"), keras.optimizers.Adam(
        keras.optimizers.schedules.CosineDecay(0.01, 10, alpha=0.1, warmup_target=0.02, warmup_steps=2)))
    keras_step(k, x[:8], y[:8])
    for name, model in (("m", ours), ("k", k)):
        model.save(tmp_path / f"{name}.keras")
        model.save_weights(tmp_path / f"{name}.weights.h5")
    theirs = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(theirs.optimizer._learning_rate, keras.optimizers.schedules.ExponentialDecay)
    assert theirs.optimizer._learning_rate.get_config() == ours.optimizer.schedule.get_config()
    assert_continues_alike(nnscratch.load_model(tmp_path / "m.keras"), theirs, "nested")
    from_keras = nnscratch.load_model(tmp_path / "k.keras")
    assert from_keras.optimizer.schedule.get_config() == k.optimizer._learning_rate.get_config()
    assert from_keras.optimizer.iterations == 1
    assert_continues_alike(from_keras, keras.models.load_model(tmp_path / "k.keras"), "nested")
    again = nn_model("nested", Adam(schedules.CosineDecay(0.01, 10, alpha=0.1, warmup_target=0.02, warmup_steps=2)))
    again.load_weights(tmp_path / "k.weights.h5")            # iteration and the slots: no learning_rate
    assert again.optimizer.iterations == 1 and max_diff(again.get_weights(), k.get_weights()) == 0
