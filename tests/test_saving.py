"""Model files (``nnscratch/saving.py``): exact round trips, and a clear ValueError, naming the file,
for every file that is not a valid model, decided before anything large is read or allocated."""
import base64
import json
import os
import stat
import subprocess
import sys
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

import nnscratch
from nnscratch import Sequential, load_model
from nnscratch.layers import Dense, Dropout
from nnscratch.optimizers import SGD, Adam

from conftest import random_batch


def trained(optimizer="adam", dtype="float32", input_shape=(20,), seed=0, epochs=1):
    """A small model with dropout, trained one epoch on 64 samples (so optimizer state and RNGs moved)."""
    m = Sequential([Dense(16, activation="sigmoid", input_shape=input_shape, seed=seed, name="hidden"),
                    Dropout(0.3, seed=seed + 1, name="drop"),
                    Dense(3, activation="softmax", seed=seed + 2, name="out")], dtype=dtype, seed=seed + 3)
    if optimizer is not None:
        m.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
        x, y = random_batch(64, d=20, c=3, seed=seed + 4, dtype=dtype)
        m.fit(x, y, batch_size=16, epochs=epochs, verbose=0)
    return m


def saved(tmp_path, model=None, name="m.npz"):
    path = tmp_path / name
    (model or trained()).save(path)
    return path


def rewrite(src, dst, meta=None, arrays=None):
    """Copy the model file ``src`` to ``dst`` through ``np.savez``, editing the metadata dict (``meta``)
    or the dict of arrays (``arrays``) on the way: what a user editing a file by hand would produce."""
    with np.load(src, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    m = json.loads(str(data.pop("__meta__")))
    if meta:
        meta(m)
    if arrays:
        arrays(data)
    np.savez(dst, __meta__=np.array(json.dumps(m)), **data)
    return dst


def assert_same_model(a, b):
    assert type(b) is type(a) and b.name == a.name and b.dtype == a.dtype
    assert [type(l) for l in b.layers] == [type(l) for l in a.layers]
    assert [l.get_config() for l in b.layers] == [l.get_config() for l in a.layers]
    for u, v in zip(a.get_weights(), b.get_weights()):
        assert u.dtype == v.dtype and np.array_equal(u, v)
    assert b.rng.bit_generator.state == a.rng.bit_generator.state
    for la, lb in zip(a.layers, b.layers):
        if isinstance(la, Dropout):
            assert lb.rng is not la.rng and lb.rng.bit_generator.state == la.rng.bit_generator.state
    if a.optimizer is None:
        assert b.optimizer is None
        return
    assert b.loss == a.loss and b.get_compile_config()["metrics"] == a.get_compile_config()["metrics"]
    assert b.optimizer.get_config() == a.optimizer.get_config()
    assert b.optimizer.iterations == a.optimizer.iterations
    assert list(b.optimizer.state) == list(a.optimizer.state)
    for slot in a.optimizer.state:
        for u, v in zip(a.optimizer.state[slot], b.optimizer.state[slot]):
            assert np.array_equal(u, v)


# ---------------------------------------------------------------- exact round trips
@pytest.mark.parametrize("optimizer, dtype", [
    ("adam", "float32"),
    (SGD(0.05, momentum=0.9, nesterov=True), "float64"),
    (SGD(0.1), "float32"),                       # no state slots, but iterations
    (Adam(0.002, beta_1=0.8, beta_2=0.99, epsilon=1e-5), "float64"),
])
def test_round_trip_is_exact_and_training_continues_identically(tmp_path, optimizer, dtype):
    m = trained(optimizer, dtype)
    r = load_model(saved(tmp_path, m))
    assert_same_model(m, r)
    x, y = random_batch(64, d=20, c=3, seed=99, dtype=dtype)
    h1, h2 = m.fit(x, y, batch_size=16, epochs=2, verbose=0), r.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert h1.history == h2.history
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), r.get_weights()))


def test_round_trip_of_uncompiled_and_of_built_but_never_trained_models(tmp_path):
    m = trained(optimizer=None)
    assert_same_model(m, load_model(saved(tmp_path, m, "a.npz")))
    m.compile(loss="categorical_crossentropy", optimizer="sgd")            # compiled, iterations 0
    assert_same_model(m, load_model(saved(tmp_path, m, "b.npz")))


def test_model_built_by_fit_without_input_shape_round_trips(tmp_path):
    m = Sequential([Dense(8, activation="relu", seed=1), Dense(3, activation="softmax", seed=2)], seed=3)
    m.compile(loss="categorical_crossentropy", optimizer="adam")
    x, y = random_batch(32, d=20, c=3, seed=5, dtype="float32")
    m.fit(x, y, epochs=1, verbose=0)                      # builds it: input_shape was never given
    r = load_model(saved(tmp_path, m))
    assert r.input_dim == 20 and np.array_equal(m.predict(x, verbose=0), r.predict(x, verbose=0))
    assert r.optimizer.iterations == m.optimizer.iterations


def test_generators_other_than_pcg64_round_trip(tmp_path):
    m = Sequential([Dense(4, input_shape=(3,), seed=0), Dropout(0.5, seed=np.random.Generator(np.random.Philox(7))),
                    Dense(2, activation="softmax", seed=1)], seed=np.random.Generator(np.random.MT19937(8)))
    m.compile(loss="categorical_crossentropy", optimizer="adam")
    x, y = random_batch(8, d=3, c=2, seed=1, dtype="float32")
    m.fit(x, y, batch_size=2, verbose=0)
    r = load_model(saved(tmp_path, m))
    assert type(r.rng.bit_generator) is np.random.MT19937
    assert type(r.layers[1].rng.bit_generator) is np.random.Philox
    assert np.array_equal(r.layers[1].rng.random(5), m.layers[1].rng.random(5))
    assert np.array_equal(r.rng.random(5), m.rng.random(5))


def test_save_delegates_to_saving_module_and_load_model_is_the_same_function(tmp_path):
    from nnscratch import saving
    assert nnscratch.load_model is saving.load_model
    assert saving.FILE_FORMAT == "nnscratch-model-v1"
    m = trained()
    saving.save_model(m, tmp_path / "a.npz")
    m.save(tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert_same_model(m, saving.load_model(tmp_path / "a.npz"))
    assert isinstance(nnscratch.keras.models.load_model(tmp_path / "a.npz"), nnscratch.keras.Sequential)


# A model file written by ``model.save`` before saving.py existed (commit cf889ff):
# Dense(3, sigmoid, input_shape=(4,), name='hidden') -> Dropout(0.5, name='drop') -> Dense(2, softmax,
# name='out'), Adam, two steps taken.  Stored zlib-compressed, base64-encoded.
V1_FILE = (
    "eNrdWV1oHFUUnk2amCYVAi0hpG26tkj6s6k7sz+ZzU+DGhQaTRdMKK2243Z3kl3cP3Y3sWlYEF+MJYoiSPJi1CiIVFKUamjz"
    "g0Wpgj75ULRIIQUjRUPBvvii3pueY8/cvdss3Y0sTjiZO/eec+75zj1n7t0z/t7KTa3Knesh5aue6dW/4dqibFNeNCND4Yzh"
    "PBhPjtqUeuU8cOL9rb6Bp/3HbMqIMtYSMtPBVEu7vaVz0N3isLcMJlKZVCBuJFIhk/c/EYimTdafDgeSJnve63bYXfsc9qz9"
    "vq/azXMznc+9MtD9xYF9S03P9HfvD326qO3Zunj4h6buyH7HYpdtrsu95/klx9Fbh7ZXv9blt6A1ax2/StCqiHYCOCdKgdbl"
    "KA4rQ1sza7vE7Vi5UnHJimQmOuWXINEQySRwTpYGiV0rct1+vjG0dK1529KHf+7trurXDy3Yg0vzWxsXraga9OsXJKhciGoc"
    "OMdLgUorfn2GXNfaGV20opiPvP0loqhjKBLJjBEr35T6sTnWwe2Ynmro/OSNqXbebvxmtuP3my1r/TWrf3V8fbvxIm/PXG3s"
    "sIKtW8l+mwu2bDOq+d3EGqhXt+/otAL5/Mqu5VwgZZtQ7+1sWGDUBeYoPb3T84wEUB+9cLYuF1TZ5lP1zj/mGQkgsrNPNYgg"
    "Rso3ny78EvNwO3ZNfObdsXJgrd23fMT707nLbt4+Hg17j1W8s9bWr9Z4rGBvHD2j5YIt23x6rO/IGsDLD3/stQLpmz35fi6Q"
    "ss2n+bMzOifMp/rW2TZOVlDfLdw6lwuqbPPpe++yzskK4vBvJ110lzWMmJkJGAai8Nff4cS7HMWA6lS1goAUCaN2jNmwm9Eg"
    "owSjFKMYowCjDIzxXcsO7ThQmlEQ+JGXP4cZtYIOri/EyGQUhf4RRirochC9Mn469xiZPwD8psQ+1G8Apgij02DfMNhrSuYP"
    "Ac8oo2Qe3YNgV4JgdjHSJPqiwDMKulLgM6rzWYIrSGTSQEYBeHugH9dEhi0INseJT4bu079hkA+RtYpL5hyG/gj4ScTuEvgD"
    "YGcGZEaIjyPEftGeNMGDMYT2iTZFQEcS7MuAj9OAK5Bn7fk68R3lBKMskEPwWzHrlwK7k3AfJrm3UesYEuYV56J5Lco7GR1k"
    "5CmRf+PAHwXaCB//lzlyrzVcLy+0EuZFArBkyDv9dAnzIt+6nRDWD+MpDj5F3RkhxtJ5/F3o3nCK+NWAuXDdTSGmca8T/eZn"
    "9DijJxl5Ie9Ff8lsl9mzHp8Kc3DywTvRBc8uQh6ww0naPE50GHdC2wljOuhG/R7Cr0GfE8Z90K8TfVqe+AhKYrWN6G2Duw/0"
    "e4ltLhh3Qhvnk8n4gJBfIzwuYiPq8BKfIY8Yf2Hy3jAgbhGXuI/T9RFzl8qYJMZSkv3NDRhUYquT+CwrOYOI7+T/Q4zTtdOh"
    "rUFcOuHZQ8Y8xH86yQEd+nxkjPIiUX6aE27if0+BMY72qyTWcD6VxCjq9ZK5vQIenfjBR3IBx1WSEz4iqxIsmLeeEsW4s4gY"
    "V4l/8L2FtnlI/mcltmKM4z4Wg/uZPHONbcA+HYCcQx7ZGd6E8RTZt+k+Vsg5ia4b1X8KZDB/DPLbSNThK0BWu4esT6LDhDXA"
    "M3Q0z3lCBd5WEudZSf5kJO8gekZZ76yTJjZk8vxe2p1nrUbgLjt7oM60RCfGVECId3x3Rsh4FPwcJO/pNDlTYs7Qd/hont+6"
    "JuHFOfLhxTNgkPyGxb5RAbe/11bRWmn9BnUeCnhblLvXSzb+n36REiX595wJqIZZJVfvSqoySf79ZBLKT1bJOZti+ZoiSvJv"
    "FONQ47FKvl6hWL5YiJL8uwDirLNI9lcq9CuBKMhr7AjTKvjoJoVW3EVBXtNGlFbB2iqFVrhFQV43RpBWwev/Ckox8lqtHOMH"
    "1Qqt3IqCvO4px/jmAwqtgoqCvM4ox3i8RqFVR1GQ1/LkGB/ZrNDKnijI62e8NsbJGgG3mSCtpvl7q6r5yIPs7yaLjpeb+NM/"
    "6tpCEw=="
)


def test_file_written_by_the_previous_save_still_loads(tmp_path):
    path = tmp_path / "v1.npz"
    path.write_bytes(zlib.decompress(base64.b64decode(V1_FILE)))
    with np.load(path, allow_pickle=False) as f:
        raw = {k: f[k] for k in f.files}
    meta = json.loads(str(raw["__meta__"]))
    r = load_model(path)
    assert r.name == "v1_fixture" and [l.name for l in r.layers] == ["hidden", "drop", "out"]
    assert r.loss == "categorical_crossentropy" and r.get_compile_config()["metrics"] == ["accuracy"]
    assert r.optimizer.get_config() == meta["optimizer"]["config"] and r.optimizer.iterations == 2
    assert all(np.array_equal(w, raw[f"weight_{i}"]) for i, w in enumerate(r.get_weights()))
    for slot in ("m", "v"):
        assert all(np.array_equal(a, raw[f"opt_{slot}_{i}"]) for i, a in enumerate(r.optimizer.state[slot]))
    assert r.rng.bit_generator.state == meta["rng_states"]["model"]
    assert r.layers[1].rng.bit_generator.state == meta["rng_states"]["drop"]
    x = np.random.default_rng(5).random((6, 4)).astype("float32")
    h = 1 / (1 + np.exp(-(x @ raw["weight_0"] + raw["weight_1"])))
    z = h @ raw["weight_2"] + raw["weight_3"]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(r.predict(x, verbose=0), p / p.sum(axis=1, keepdims=True), rtol=1e-5)


# ---------------------------------------------------------------- what is read, and when
def add_zero_entry(path, name, shape, dtype="<f4"):
    """Append entry ``name``: a ``.npy`` of zeros of ``shape``, deflated (a small file that expands),
    streamed in chunks so that writing it costs no memory."""
    header = {"descr": dtype, "fortran_order": False, "shape": tuple(shape)}
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open(name, "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, header)
            chunk = bytes(1 << 22)
            for start in range(0, nbytes, len(chunk)):
                f.write(chunk[:nbytes - start])


def peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_an_extra_large_entry_is_refused_without_being_read(tmp_path):
    path = saved(tmp_path)
    add_zero_entry(path, "junk.npy", (50, 1_000_000))            # 200 MB of zeros in ~200 KB
    assert path.stat().st_size < 2_000_000

    def load():
        with pytest.raises(ValueError, match=r"unexpected entries \['junk.npy'\]") as e:
            load_model(path)
        assert str(path) in str(e.value)
    assert peak_bytes(load) < 5_000_000


def test_a_weight_entry_that_declares_a_wrong_shape_is_refused_before_its_data_is_read(tmp_path):
    path = saved(tmp_path)
    rewrite(path, tmp_path / "small.npz", arrays=lambda d: d.pop("weight_0"))
    add_zero_entry(tmp_path / "small.npz", "weight_0.npy", (20, 2_500_000))      # 200 MB declared

    def load():
        with pytest.raises(ValueError, match=r"weight_0.npy declares shape \(20, 2500000\).*needs shape \(20, 16\)"):
            load_model(tmp_path / "small.npz")
    assert peak_bytes(load) < 5_000_000


def test_huge_layer_in_the_metadata_is_refused_before_anything_is_allocated(tmp_path):
    def edit(meta):
        meta["model"]["layers"][2]["config"]["units"] = 10 ** 12         # 16 x 10**12 floats: 58 TiB
    path = rewrite(saved(tmp_path), tmp_path / "huge.npz", meta=edit)
    with pytest.raises(ValueError, match=r"weight_2.npy declares shape \(16, 3\).*needs shape \(16, 1000000000000\)"):
        load_model(path)


def test_data_after_the_declared_array_is_refused(tmp_path):
    path = saved(tmp_path)
    edited = rewrite(path, tmp_path / "e.npz", arrays=lambda d: d.pop("weight_1"))
    with zipfile.ZipFile(edited, "a") as zf:
        with zf.open("weight_1.npy", "w") as f:
            np.lib.format.write_array(f, np.zeros(16, np.float32))
            f.write(bytes(1000))
    with pytest.raises(ValueError, match="weight_1.npy holds 1,064 bytes of data, but its header declares 64"):
        load_model(edited)


# ---------------------------------------------------------------- edited metadata: ValueError naming the file
def _drop(key):
    return lambda m: m.pop(key)


def _set_layer(i, key, value):
    return lambda m: m["model"]["layers"][i]["config"].__setitem__(key, value)


def _set_optimizer(key, value):
    return lambda m: m["optimizer"]["config"].__setitem__(key, value)


@pytest.mark.parametrize("edit, problem", [
    (_drop("model"), r"the metadata lacks \['model'\]"),
    (_drop("rng_states"), r"the metadata lacks \['rng_states'\]"),
    (_set_layer(0, "bias_regularizer", "l2"), r"layer 0 \(Dense\) config has unknown keys \['bias_regularizer'\]"),
    (lambda m: m["model"]["layers"][1].__setitem__("class_name", "Sequential"), "layer 1 has unknown class 'Sequential'"),
    (_set_layer(0, "units", "16"), r"layer 0 \(Dense\) config .* is invalid: Dense: units must be a positive integer"),
    (_set_layer(0, "activation", "swish"), "Unknown activation 'swish'"),
    (_set_layer(1, "rate", {"value": 0.3}), "not a plain value"),
    (_set_layer(0, "input_shape", [20.5]), "input_shape must be a tuple of positive integers"),
    (_set_layer(2, "name", "hidden"), "layer names must be distinct"),
    (_set_layer(2, "input_shape", [16]), r"layers \['out'\] have an input_shape; only the first layer takes one"),
    (_set_optimizer("name", "adagrad"), "unknown optimizer 'adagrad'"),
    (_set_optimizer("momentum", 0.9), r"the Adam config has unknown keys \['momentum'\]"),
    (_set_optimizer("learning_rate", "fast"), "'learning_rate' must be a finite number"),
    (lambda m: m["optimizer"].__setitem__("iterations", -1), "non-negative integer"),
    (lambda m: m["optimizer"].__setitem__("slots", ["velocity"]), r"Adam keeps the state slots \['m', 'v'\]"),
    (lambda m: m.__setitem__("loss", "huber"), "Unknown loss 'huber'"),
    (lambda m: m["rng_states"].pop("drop"), r"\"rng_states\" lacks \['drop'\]"),
    (lambda m: m["rng_states"]["model"].__setitem__("bit_generator", "Evil"), "must be a bit_generator.state"),
    (lambda m: m["rng_states"]["model"]["state"].__setitem__("state", "x"), "not a valid PCG64 state"),
    (lambda m: m.__setitem__("format", "nnscratch-model-v9"), "has format 'nnscratch-model-v9'; this nnscratch reads"),
])
def test_edited_metadata_gives_a_value_error_naming_the_file(tmp_path, edit, problem):
    path = rewrite(saved(tmp_path), tmp_path / "edited.npz", meta=edit)
    with pytest.raises(ValueError, match=problem) as e:
        load_model(path)
    assert repr(str(path)) in str(e.value)


def test_metadata_that_is_not_json_or_not_a_string(tmp_path):
    path = saved(tmp_path)
    with np.load(path) as f:
        data = {k: f[k] for k in f.files}
    np.savez(tmp_path / "a.npz", **{**data, "__meta__": np.array("{not json")})
    with pytest.raises(ValueError, match="not valid JSON"):
        load_model(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", **{**data, "__meta__": np.zeros(3)})
    with pytest.raises(ValueError, match="__meta__ must be one unicode string"):
        load_model(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", **{**data, "__meta__": np.array(["{}", "{}"], dtype=object)},
             allow_pickle=True)
    with pytest.raises(ValueError, match="__meta__ must be one unicode string"):
        load_model(tmp_path / "c.npz")


# ---------------------------------------------------------------- files that are not (intact) models
def test_a_text_file_is_not_a_model_and_the_message_does_not_suggest_pickle(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("these are my notes, not a model\n")
    with pytest.raises(ValueError, match=r"not an nnscratch model file \(not a zip/.npz archive\)") as e:
        load_model(path)
    assert str(path) in str(e.value) and "pickle" not in str(e.value)
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        load_model(tmp_path / "empty.npz")
    np.save(tmp_path / "array.npy", np.zeros(3))
    with pytest.raises(ValueError, match="not a zip/.npz archive"):
        load_model(tmp_path / "array.npy")
    with pytest.raises(ValueError, match="is a folder"):
        load_model(tmp_path)


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
def test_a_truncated_file_is_called_damaged_or_truncated(tmp_path, keep):
    path = saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(ValueError, match="damaged or truncated") as e:
        load_model(path)
    assert str(path) in str(e.value)


def test_a_flipped_byte_is_caught_by_the_crc(tmp_path):
    path = saved(tmp_path)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("weight_0.npy")
    data = bytearray(path.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + 200] ^= 0x10       # inside weight_0's floats
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged or truncated.*CRC"):
        load_model(path)


def test_non_finite_weights_or_optimizer_state_are_refused(tmp_path):
    path = saved(tmp_path)

    def poison(name, value):
        def edit(d):
            d[name] = d[name].copy()
            d[name].flat[3] = value
        return edit
    for name, value in [("opt_v_2", np.inf), ("opt_m_0", np.nan), ("weight_1", np.nan)]:
        edited = rewrite(path, tmp_path / "p.npz", arrays=poison(name, value))
        with pytest.raises(ValueError, match=f"{name}.npy holds NaN or infinite values") as e:
            load_model(edited)
        assert str(edited) in str(e.value)


def test_missing_weight_entries_are_named(tmp_path):
    path = rewrite(saved(tmp_path), tmp_path / "e.npz", arrays=lambda d: d.pop("opt_v_3"))
    with pytest.raises(ValueError, match=r"entries \['opt_v_3.npy'\] are missing"):
        load_model(path)


# ---------------------------------------------------------------- writing
@pytest.fixture
def umask():
    """Set the process umask for one test (restored afterwards)."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_saved_file_gets_the_mode_open_would_give_it(tmp_path, umask, mask):
    umask(mask)
    path = saved(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    os.chmod(path, 0o640)                                  # an existing file keeps its permissions
    trained().save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_saving_through_a_symbolic_link_writes_the_file_it_points_to(tmp_path):
    real = saved(tmp_path, name="real.npz")
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    m = trained(seed=5)
    m.save(link)
    assert link.is_symlink() and os.path.realpath(link) == str(real)
    assert_same_model(m, load_model(real))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.npz", "real.npz"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write read-only files")
def test_a_read_only_file_is_not_overwritten(tmp_path):
    path = saved(tmp_path)
    before = path.read_bytes()
    os.chmod(path, 0o444)
    with pytest.raises(PermissionError, match="read-only"):
        trained(seed=5).save(path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_a_missing_folder_is_named_with_the_target_and_nothing_is_left_behind(tmp_path):
    target = tmp_path / "nope" / "m.npz"
    with pytest.raises(ValueError, match="does not exist") as e:
        trained().save(target)
    assert repr(str(target)) in str(e.value) and repr(str(tmp_path / "nope")) in str(e.value)
    assert ".tmp" not in str(e.value) and list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="it is a folder"):
        trained().save(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_model_that_cannot_be_saved_changes_nothing_on_disk(tmp_path):
    path = saved(tmp_path)
    before = path.read_bytes()
    m = trained()
    m.layers[0].kernel[0, 0] = np.nan
    with pytest.raises(ValueError, match="weight_0 holds NaN or infinite values"):
        m.save(path)
    same = Sequential([Dense(2, input_shape=(3,), name="a"), Dense(2, name="a")])
    with pytest.raises(ValueError, match=r"layer names must be unique.*\['a'\]"):
        same.save(path)
    with pytest.raises(ValueError, match="not built"):
        Sequential([Dense(2)]).save(path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.npz"]


WRITE_UNDER_A_FILE_SIZE_LIMIT = """
import resource, signal, sys
sys.path.insert(0, sys.argv[2])
from nnscratch import Sequential
from nnscratch.layers import Dense
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)        # writing past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    Sequential([Dense(100, input_shape=(100,))]).save(sys.argv[1])       # 40 KB: cannot fit
except OSError as e:
    print(type(e).__name__, e)
"""


def test_a_write_that_fails_halfway_leaves_the_old_file_and_no_temporary(tmp_path):
    path = saved(tmp_path)
    before = path.read_bytes()
    root = os.path.dirname(os.path.dirname(os.path.abspath(nnscratch.__file__)))
    out = subprocess.run([sys.executable, "-c", WRITE_UNDER_A_FILE_SIZE_LIMIT, str(path), root],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert f"save: cannot write {str(path)!r}: File too large" in out and ".tmp" not in out
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.npz"]
