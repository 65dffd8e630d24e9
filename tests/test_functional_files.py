"""Graph models (``keras.Model(inputs, outputs)``) in Keras's files, both ways, against real Keras.

A functional residual MLP (Dense, Dropout, Add) and a graph with two inputs, two outputs, a shared
layer and Concatenate (loss weights, a metric per output) are written by each library in each format
(``.keras``, ``.weights.h5``, legacy ``.h5``) and read by the other: predictions equal within 1e-6, and
where the format carries the optimizer's state, one more step on each side gives the same weights.
The files nnscratch writes hold exactly the configuration and HDF5 layout Keras writes.  A model
Keras made with dict inputs and outputs opens here and evaluates as in Keras.  Hostile graph
configurations (a cycle, a dangling reference, shapes that contradict the layers, Keras 2's graph
format, a nested model) are refused naming the problem, before anything is allocated; ``.npz``
refuses a graph with a clear error and writes nothing.
"""
import json
import os
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import nnscratch  # noqa: E402
from keras_reference import graphs  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword",
                                        "ignore:You are saving your model as an HDF5 file")
TOL = 1e-6


def residual(lib):
    L = lib.layers
    x = lib.Input((12,), name="x")
    h = L.Dense(16, activation="relu", name="h")(x)
    r = L.Dropout(0.25, name="drop")(L.Dense(16, activation="tanh", name="r")(h))
    m = lib.Model(x, L.Dense(4, activation="softmax", name="p")(L.Add(name="skip")([h, r])), name="residual_mlp")
    m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return m


def tangled(lib, optimizer="rmsprop"):
    L = lib.layers
    a, b = lib.Input((6,), name="a"), lib.Input((3,), name="b")
    h = L.Dense(8, activation="tanh", name="h")(a)
    shared = L.Dense(8, activation="sigmoid", name="shared")
    h2 = shared(h)
    c = L.Concatenate(name="cat")([b, L.Add(name="add")([h, shared(h2)])])
    m = lib.Model([a, b], [L.Dense(4, activation="softmax", name="o")(c), L.Dense(2, name="o2")(h2)], name="tangled")
    m.compile(optimizer=optimizer, loss=["categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5],
              metrics=[["accuracy"], ["mae"]])
    return m


ARCHS = {"residual": residual, "tangled": tangled}


def data(arch, n=16, seed=0):
    r = np.random.default_rng(seed)
    if arch == "residual":
        return r.normal(size=(n, 12)).astype("float32"), np.eye(4, dtype="float32")[r.integers(0, 4, n)]
    return ([r.normal(size=(n, 6)).astype("float32"), r.normal(size=(n, 3)).astype("float32")],
            [np.eye(4, dtype="float32")[r.integers(0, 4, n)], r.normal(size=(n, 2)).astype("float32")])


def outputs(p):
    return [np.asarray(a) for a in (p if isinstance(p, list) else [p])]


def no_dropout(m):
    for layer in m.layers:
        if hasattr(layer, "rate"):
            layer.rate = 0.0          # one more step must do the same on both sides


@pytest.fixture(scope="module")
def pairs():
    """Per architecture: an nnscratch model and a Keras model, each trained a few steps on its own."""
    found = {}
    for arch, build in ARCHS.items():
        m, km = build(nnscratch.keras), build(keras)
        x, y = data(arch)
        m.fit(x, y, batch_size=8, epochs=2, verbose=0)
        km.fit(x, y, batch_size=8, epochs=2, verbose=0)
        found[arch] = (m, km)
    return found


def assert_same_predictions(a, b, x):
    for p, q in zip(outputs(a.predict(x, verbose=0)), outputs(b.predict(x, verbose=0))):
        np.testing.assert_allclose(p, q, atol=TOL, rtol=0)


def assert_one_more_step_alike(a, b, x, y):
    no_dropout(a), no_dropout(b)
    a.train_on_batch(x, y)
    b.train_on_batch(x, y)
    for p, q in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(p, q, atol=TOL, rtol=0)


@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_a_model_file_written_here_opens_in_keras_and_the_other_way(tmp_path, pairs, arch, fmt):
    m, km = pairs[arch]
    x, y = data(arch, seed=1)
    m.save(tmp_path / f"ours.{fmt}")
    km.save(tmp_path / f"theirs.{fmt}")
    # Keras 3.15 cannot compile a legacy .h5 file whose list of losses names 'mse' (not even its own file:
    # "Could not deserialize 'keras.metrics.mse'"); it reads the model without compiling it then
    in_keras = keras.models.load_model(tmp_path / f"ours.{fmt}", compile=fmt == "keras" or arch == "residual")
    here = nnscratch.keras.models.load_model(tmp_path / f"theirs.{fmt}")
    assert type(here).__name__ == "Functional" and [l.name for l in here.layers] == [l.name for l in km.layers]
    assert_same_predictions(m, in_keras, x)
    assert_same_predictions(here, km, x)
    if fmt == "keras":                  # Keras 3.15 loads a legacy .h5 file with an optimizer built for nothing
        assert here.optimizer.iterations == km.optimizer.iterations == 4
        assert_one_more_step_alike(m, in_keras, x, y)
        assert_one_more_step_alike(here, km, x, y)


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_weights_files_both_ways(tmp_path, pairs, arch):
    m, km = pairs[arch]
    x, y = data(arch, seed=2)
    fresh_keras, fresh_here = ARCHS[arch](keras), ARCHS[arch](nnscratch.keras)
    m.save_weights(tmp_path / "ours.weights.h5")
    km.save_weights(tmp_path / "theirs.weights.h5")
    fresh_keras.load_weights(tmp_path / "ours.weights.h5")
    fresh_here.load_weights(tmp_path / "theirs.weights.h5")
    assert_same_predictions(m, fresh_keras, x)
    assert_same_predictions(fresh_here, km, x)


def strip(value):
    """A configuration without Keras's object-sharing ids."""
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k != "shared_object_id"}
    return [strip(v) for v in value] if isinstance(value, list) else value


def h5_layout(path_or_bytes):
    import io
    found = []
    with h5py.File(io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes, "r") as f:
        f.visititems(lambda name, obj: found.append((name, getattr(obj, "shape", None),
                                                     sorted((k, str(np.asarray(v).tolist())) for k, v in obj.attrs.items()
                                                            if k not in ("keras_version", "backend")))))
    return found


def test_the_files_hold_exactly_what_keras_writes(tmp_path):
    """The same architecture, names and training in both libraries: config.json, the weights' HDF5
    layout and the legacy file's configuration and groups are Keras's, key for key."""
    m, km = tangled(nnscratch.keras), tangled(keras, keras.optimizers.RMSprop(name="rm_sprop"))   # Keras counts names
    graphs.copy_weights(m, km)
    x, y = data("tangled")
    m.train_on_batch(x, y)
    km.train_on_batch(x, y)
    m.save(tmp_path / "ours.keras"), km.save(tmp_path / "theirs.keras")
    ours, theirs = (zipfile.ZipFile(tmp_path / f"{w}.keras") for w in ("ours", "theirs"))
    assert strip(json.loads(ours.read("config.json"))) == strip(json.loads(theirs.read("config.json")))
    assert h5_layout(ours.read("model.weights.h5")) == h5_layout(theirs.read("model.weights.h5"))
    m.save(tmp_path / "ours.h5"), km.save(tmp_path / "theirs.h5")
    with h5py.File(tmp_path / "ours.h5") as a, h5py.File(tmp_path / "theirs.h5") as b:
        assert strip(json.loads(a.attrs["model_config"])) == strip(json.loads(b.attrs["model_config"]))
        assert json.loads(a.attrs["training_config"]) == json.loads(b.attrs["training_config"])
    assert h5_layout(tmp_path / "ours.h5") == h5_layout(tmp_path / "theirs.h5")


def test_a_round_trip_here_restores_everything_and_training_continues_identically(tmp_path):
    m = residual(nnscratch.keras)
    x, y = data("residual")
    m.fit(x, y, batch_size=8, epochs=1, verbose=0)
    m.save(tmp_path / "m.keras")
    back = nnscratch.keras.models.load_model(tmp_path / "m.keras")
    assert back.loss == m.loss and type(back.optimizer) is type(m.optimizer)
    a = m.fit(x, y, batch_size=8, epochs=2, verbose=0).history        # dropout's and fit's random numbers too
    b = back.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    assert a == b
    for p, q in zip(m.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(p, q)


def test_a_keras_model_with_dict_inputs_and_outputs_opens_here(tmp_path):
    L = keras.layers
    a, b = keras.Input((5,), name="pixels"), keras.Input((2,), name="meta")
    c = L.Concatenate(axis=1)([L.Dense(6, activation="relu")(a), b])
    km = keras.Model({"pixels": a, "meta": b}, {"cls": L.Dense(3, activation="softmax", name="cls")(c),
                                                "flag": L.Dense(1, activation="sigmoid", name="flag")(c)})
    km.compile("rmsprop", loss={"cls": "sparse_categorical_crossentropy", "flag": "binary_crossentropy"},
               loss_weights={"cls": 2.0, "flag": 1.0}, metrics={"cls": ["accuracy"]})
    r = np.random.default_rng(0)
    x = {"pixels": r.normal(size=(16, 5)).astype("float32"), "meta": r.normal(size=(16, 2)).astype("float32")}
    y = {"cls": r.integers(0, 3, 16), "flag": r.integers(0, 2, (16, 1)).astype("float32")}
    km.fit(x, y, verbose=0)
    for fmt in ("keras", "h5"):
        km.save(tmp_path / f"k.{fmt}")
        m = nnscratch.keras.models.load_model(tmp_path / f"k.{fmt}")
        p, q = m.predict(x, verbose=0), km.predict(x, verbose=0)
        assert set(p) == {"cls", "flag"}
        for key in p:
            np.testing.assert_allclose(p[key], q[key], atol=TOL)
        ours, theirs = m.evaluate(x, y, verbose=0, return_dict=True), km.evaluate(x, y, verbose=0, return_dict=True)
        assert list(ours) == list(theirs)
        np.testing.assert_allclose(list(ours.values()), list(theirs.values()), rtol=1e-5)


def test_the_npz_format_refuses_a_graph_and_writes_nothing(tmp_path):
    m = residual(nnscratch.keras)
    with pytest.raises(ValueError, match=r"graph model.*Save it as \.keras"):
        m.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def edited(tmp_path, edit):
    """A valid .keras file of the tangled graph, its config.json edited."""
    m = tangled(nnscratch.keras)
    m.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    config = json.loads(entries["config.json"])
    edit(config)
    entries["config.json"] = json.dumps(config)
    with zipfile.ZipFile(tmp_path / "edited.keras", "w") as zf:
        for name, value in entries.items():
            zf.writestr(name, value)
    return tmp_path / "edited.keras"


def entry(config, name):
    return next(e for e in config["config"]["layers"] if e["name"] == name)


def history(config, name, k=0, i=0):
    args = entry(config, name)["inbound_nodes"][k]["args"][0]
    return (args[i] if isinstance(args, list) else args)["config"]


GRAPH_EDITS = {
    "cycle": (lambda c: history(c, "h").update(keras_history=["add", 0, 0]), "never get their inputs"),
    "dangling reference": (lambda c: history(c, "o").update(keras_history=["gone", 0, 0]),
                           "'gone' call 0, which the model does not have"),
    "call that does not exist": (lambda c: history(c, "o2").update(keras_history=["shared", 5, 0]),
                                 "'shared' call 5"),
    "stated shape contradicts": (lambda c: history(c, "o").update(shape=[None, 99]), "states an input of shape"),
    "output nobody makes": (lambda c: c["config"].update(output_layers=[["o", 3, 0]]), "no call of a layer"),
    "input that is no InputLayer": (lambda c: c["config"].update(input_layers=[["h", 0, 0], ["b", 0, 0]]),
                                    "not an InputLayer"),
    "Keras 2's graph format": (lambda c: entry(c, "h").update(inbound_nodes=[[["a", 0, 0, {}]]]),
                               "Keras 2's format"),
    "call arguments": (lambda c: entry(c, "h")["inbound_nodes"][0].update(kwargs={"mask": None}), "called with"),
    "names disagree": (lambda c: entry(c, "h").update(name="other"), "named 'other'"),
    "nested model": (lambda c: entry(c, "h").update(class_name="Sequential"), "Sequential model inside the graph"),
    "merge on one tensor": (lambda c: entry(c, "cat")["inbound_nodes"][0].update(
        args=entry(c, "o2")["inbound_nodes"][0]["args"]), "called on one tensor"),
    "huge layer": (lambda c: entry(c, "o")["config"].update(units=100_000_000), r"but the model needs \(11, 100000000\)"),
}


@pytest.mark.parametrize("case", GRAPH_EDITS)
def test_a_hostile_graph_configuration_is_refused_naming_the_problem(tmp_path, case):
    import tracemalloc
    edit, problem = GRAPH_EDITS[case]
    path = edited(tmp_path, edit)
    tracemalloc.start()
    with pytest.raises(ValueError, match=problem) as e:
        nnscratch.load_model(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50_000_000 and repr(str(path)) in str(e.value)
