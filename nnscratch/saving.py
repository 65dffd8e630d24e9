"""Saving and loading models: :func:`save_model` (``model.save``) and :func:`load_model`, for every
format, and nnscratch's own format, ``.npz``.

``model.save(path)`` chooses the format by the name's ending, as Keras does: ``.keras`` is Keras 3's
format and ``.h5``/``.hdf5`` Keras's legacy HDF5 format (both in ``keras_format.py``: real Keras opens
them), ``.npz`` nnscratch's own (below); any other name is refused.  ``load_model(path)`` recognises
the format by the file's content (a zip archive with a config.json, an HDF5 file, an ``.npz``).

(Longer than the other modules on purpose: a model file may be hostile, and each check that keeps a
damaged or edited file from allocating, unpickling or half-loading is spelled out here, one by one.)

The file format, ``nnscratch-model-v1``
---------------------------------------
One ``.npz`` file: a zip archive (entries stored, as ``numpy.savez`` writes them) of ``.npy`` arrays::

    __meta__.npy          0-d unicode array (dtype '<U n'): the metadata, a JSON text (below)
    weight_<i>.npy        i = 0, 1, ...: every parameter in Keras's order [W1, b1, W2, b2, ...],
                          dtype = the model's dtype, shape = what the architecture needs
    opt_<slot>_<i>.npy    the optimizer's state, for each slot listed in optimizer.slots (Adam: m, v;
                          SGD with momentum: velocity), one per variable i of the optimizer: the
                          weight numbered variables[i] (below), whose dtype and shape it has

The metadata::

    {"format":     "nnscratch-model-v1",
     "model":      {"name": str, "dtype": "float32" | "float64",
                    "layers": [{"class_name": "Dense" | "Activation" | "Dropout" | ...,
                                "config": layer.get_config()}, ...]},
                                # the first layer's config holds the model's "input_shape", e.g. [784]
     "rng_states": {"model": Generator state, <layer name>: Generator state, ...},
                                # bit_generator.state of model.rng and of every layer with an .rng
                                # (Dropout), numbers as JSON integers and lists
     "optimizer":  null | {"config": optimizer.get_config(),      # {"name": "adam", "learning_rate": ...}
                           "iterations": int >= 0,
                           "slots": [] | list(optimizer.slots),    # [] while the state is not built
                           "variables": [int, ...]},   # optional: the weights the optimizer updates
                                # (their numbers i in weight_<i>), once built; without it, all of them.
                                # Fewer than all when layers were frozen (trainable false) at its build
     "loss": str | {"class_name": str, "config": {"from_logits": bool}},   # only when "optimizer"
     "metrics": [str, ...]}                                                # is not null

"loss" is a Keras name (``'categorical_crossentropy'``, ``'sparse_categorical_crossentropy'``) or,
for a loss object that differs from its name's default (``from_logits=True``), its class and config
(``losses.serialize``); files that store a name read as before.

Loading trusts nothing in the file.  It reads the metadata first and validates all of it (each layer
class and its config keys, the optimizer, the random-generator states), works out the shape of
every parameter from the architecture without allocating anything (``layer.weight_shapes`` and
``layer.compute_output_shape``), compares those with the shapes and dtypes the ``.npy`` headers
declare, and only then reads the arrays (NaN or infinity refused) and builds the model.  Entries
that the format does not define are refused unread; nothing is unpickled.

Saving writes a temporary file beside the target, flushes it to disk and renames it into place:
a crash leaves either the old file or the new one, never half of one.
"""
import inspect
import json
import math
import os
import zipfile
import zlib

import numpy as np

from . import counter_random, fileio, keras_format, losses, optimizers, registry, schedules
from .errors import NotImplementedInNnscratch

FILE_FORMAT = "nnscratch-model-v1"
MAX_META_CHARS = 1 << 22      # 4 Mi characters; the workshop's 3-layer model needs 1,722, 1,000 layers ~200,000


# ====================================================================== save
SUFFIXES = (".keras", ".h5", ".hdf5", ".npz")


def save_model(model, path, overwrite=True, zipped=None, include_optimizer=True, **kwargs):
    """Write ``model`` (architecture, weights, optimizer state, random-generator states) to ``path``,
    in the format its name ends in: ``.keras`` (Keras 3), ``.h5``/``.hdf5`` (Keras's legacy HDF5) or
    ``.npz`` (nnscratch's own).  ``overwrite=False`` refuses to replace a file (Keras would ask);
    ``include_optimizer=False`` leaves the optimizer out of a legacy .h5 file (Keras's other formats
    ignore it, as Keras does).  Other arguments are refused, as Keras refuses them.

    The file gets the permissions ``open(path, 'wb')`` would give it (an existing file keeps its
    mode; a new one gets ``0o666 & ~umask``).  On any error nothing at ``path`` changes.
    """
    if zipped is False:
        raise NotImplementedInNnscratch("model.save(zipped=False) (a .keras folder) is not implemented in "
                                        "nnscratch; it writes the zipped .keras file")
    if kwargs:
        raise ValueError(f"save: the following argument(s) are not supported: {sorted(kwargs)} (Keras 3 "
                         "refuses them too: the format follows the file name)")
    path = os.fspath(path)
    name = os.fsdecode(path)
    if os.path.isdir(path):
        raise ValueError(f"save: cannot write {path!r}: it is a folder; give a file name such as "
                         f"{os.path.join(name, 'model.keras')!r}")
    if not name.endswith(SUFFIXES):
        raise ValueError(f"save: {path!r} does not end in a model file's suffix: use '.keras' (Keras 3's "
                         "format, which Keras opens), '.h5' (Keras's legacy HDF5 format) or '.npz' "
                         "(nnscratch's own); model.save_weights writes '.weights.h5'")
    if not overwrite and os.path.exists(path):
        raise ValueError(f"save: {path!r} exists and overwrite=False; nothing was written")
    if name.endswith(".keras"):
        return keras_format.save_keras(model, path)
    if name.endswith((".h5", ".hdf5")):
        return keras_format.save_h5(model, path, include_optimizer)
    meta, arrays = _metadata_and_arrays(model)
    try:
        arrays["__meta__"] = np.array(json.dumps(meta, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise ValueError(f"save: the model's configuration cannot be written as JSON ({e}); "
                         "every layer's get_config() must hold plain numbers, strings and lists") from None
    fileio.write_atomically(path, lambda f: np.savez(f, **arrays))


def _metadata_and_arrays(model):
    """The metadata dict and the arrays to store, after checking that the model can be saved."""
    if not model.built:
        raise ValueError("save: the model is not built yet (give the first layer input_shape, "
                         "or fit it first)")
    if getattr(model, "is_graph", False):
        raise ValueError(f"save: {model.name} is a graph model (keras.Model(inputs, outputs)); the {FILE_FORMAT} "
                         "format (.npz) stores a stack of layers only. Save it as .keras (or .h5), Keras's "
                         "formats, which hold the graph and which nnscratch and Keras both read")
    if model.submodels():
        raise ValueError(f"save: {model.name} contains another Sequential ({model.submodels()[0].name}); "
                         f"the {FILE_FORMAT} format (.npz) stores plain layers only. Save it as .keras "
                         "(or .h5), Keras's formats, which hold nested models")
    names = [layer.name for layer in model.layers]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"save: layer names must be unique (as in Keras), but {repeated} repeat; "
                         "name the layers differently")
    config = model.get_config()
    first = config["layers"][0]["config"]
    if first.get("input_shape") is None:      # built by fit/build: record the input shape it got
        first["input_shape"] = list(_model_input_shape(model))
    rng_states = {"model": counter_random.generator_state(model.rng)}
    for layer in model.layers:
        if _has_rng(layer):
            if layer.name == "model":
                raise ValueError("save: a layer with a random generator cannot be named 'model' "
                                 "(the file keeps the model's own generator under that name)")
            rng_states[layer.name] = counter_random.generator_state(layer.rng)
    meta = {"format": FILE_FORMAT, "model": config, "rng_states": rng_states, "optimizer": None}
    arrays = {f"weight_{i}": w for i, w in enumerate(model.weights)}
    opt = model.optimizer
    if opt is not None:
        meta["optimizer"] = {"config": opt.get_config(), "iterations": int(opt.iterations),
                             "slots": list(opt.state)}
        if opt.built:
            number = {id(w): i for i, w in enumerate(model.weights)}
            if not all(id(v) in number for v in opt.variables):
                raise ValueError(f"save: {model.name}'s optimizer was built for another model's variables "
                                 "(an optimizer object compiled into two models); compile this model with "
                                 "its own optimizer, e.g. optimizer='adam'")
            meta["optimizer"]["variables"] = [number[id(v)] for v in opt.variables]
        for slot, arrs in opt.state.items():
            arrays.update({f"opt_{slot}_{i}": a for i, a in enumerate(arrs)})
        meta["loss"] = losses.serialize(model.compiled_loss)
        meta["metrics"] = model.storable_metrics()
    for name, a in arrays.items():
        if not np.all(np.isfinite(a)):
            raise ValueError(f"save: {name} holds NaN or infinite values (the training diverged); "
                             "nothing was written")
    return meta, arrays


def _model_input_shape(model):
    shape = model.layers[0].input_shape
    if shape is not None:
        return tuple(shape)
    return tuple(model.sample_shape)           # the whole sample shape: (28, 28) before a Flatten


def _has_rng(layer):
    return isinstance(getattr(layer, "rng", None), np.random.Generator)


# ====================================================================== load
def load_model(path, custom_objects=None, compile=True, safe_mode=True):
    """Rebuild a model from its file: a ``.keras`` or legacy ``.h5`` file written by Keras or by
    ``model.save`` (``keras_format.py``), or nnscratch's ``.npz`` (below), recognised by content.
    Same layers, weights and optimizer state (and, from nnscratch's files, random-generator states),
    so predictions and continued training are identical.

    ``compile=False`` leaves the model uncompiled, ignoring the optimizer and loss it was saved with
    (as in Keras: it loads a model whose loss nnscratch does not have).  ``custom_objects`` is refused:
    nnscratch builds only its own classes, never code a file names; ``safe_mode`` has nothing to
    switch off (nnscratch never evaluates code from a file).  Any file that is not a valid model
    raises ``ValueError`` naming the file and the problem, before anything is built.
    """
    path = os.fspath(path)
    fail = _Failer(path)
    if custom_objects:
        raise NotImplementedInNnscratch("load_model(custom_objects=...) is not implemented in nnscratch: it "
                                        "builds its own layers only, and never imports or runs code a file names")
    kind = fileio.sniff(path, fail)
    if kind == "hdf5":
        return keras_format.load_h5(path, compile)
    if kind == "zip" and keras_format.is_keras_zip(path, fail):
        return keras_format.load_keras(path, compile)
    model = _load_npz(path, fail)
    if not compile:
        model.optimizer, model.loss, model.compiled_loss, model.metrics = None, None, None, []
    return model


def _load_npz(path, fail):
    """The model of nnscratch's own ``.npz`` file."""
    with _open_archive(path, fail) as archive:
        meta = _read_metadata(archive, fail)
        plan = _Plan(meta, fail)
        entries = {"__meta__.npy": None}
        entries.update({f"weight_{i}.npy": s for i, s in enumerate(plan.weight_shapes)})
        for slot in plan.slots:
            entries.update({f"opt_{slot}_{i}.npy": plan.weight_shapes[w] for i, w in enumerate(plan.variables)})
        _check_entry_names(archive, entries, fail)
        headers = {name: _entry_header(archive, name, shape, plan.dtype, fail)
                   for name, shape in entries.items() if shape is not None}
        arrays = {name[:-4]: _read_entry(archive, name, header, fail) for name, header in headers.items()}
    return plan.build(arrays)


class _Failer:
    """Raises ``ValueError('load_model: <path>: <problem>')``."""

    def __init__(self, path):
        self.path = path

    def __call__(self, problem):
        raise ValueError(f"load_model: {self.path!r}: {problem}")


class _open_archive:
    """``with _open_archive(path, fail) as zf``: the zip file, or a ValueError saying why not.
    Errors the zip layer raises while reading (bad CRC, short data) become 'damaged or truncated'."""

    def __init__(self, path, fail):
        self.fail = fail
        try:
            with open(path, "rb") as f:
                magic = f.read(4)
        except FileNotFoundError:
            fail("no file at this path")
        except IsADirectoryError:
            fail("is a folder, not a model file")
        except OSError as e:
            fail(f"cannot be read: {e.strerror}")
        if not magic:
            fail("the file is empty (a save that never finished?); not an nnscratch model file")
        if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
            fail("not an nnscratch model file (not a zip/.npz archive); "
                 "model files are written by model.save(path)")
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as e:
            fail(f"the file is damaged or truncated (it starts like a zip archive but cannot be "
                 f"opened as one: {e}); save the model again")
        if sum(info.compress_size for info in self.zf.infolist()) > os.path.getsize(path):
            self.zf.close()
            fail("the file is damaged or truncated (its zip directory lists more data than the file "
                 "holds); save the model again")

    def __enter__(self):
        return self.zf

    def __exit__(self, kind, error, tb):
        self.zf.close()
        if isinstance(error, (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, OSError)):
            self.fail(f"the file is damaged or truncated ({type(error).__name__}: {error}); "
                      "save the model again")
        return False


def _read_metadata(archive, fail):
    if "__meta__.npy" not in archive.NameToInfo:
        fail("an .npz file but not one written by nnscratch's model.save (no __meta__ entry)")
    header = _entry_header(archive, "__meta__.npy", (), None, fail)
    text = str(_read_entry(archive, "__meta__.npy", header, fail)[()])
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as e:
        fail(f"the metadata is not valid JSON ({e}); the file was edited or is damaged")
    if not isinstance(meta, dict):
        fail(f"the metadata must be a JSON object, got {type(meta).__name__}")
    if meta.get("format") != FILE_FORMAT:
        fail(f"has format {meta.get('format')!r}; this nnscratch reads {FILE_FORMAT!r}")
    return meta


def _check_entry_names(archive, entries, fail):
    names = archive.namelist()
    if len(names) != len(set(names)):
        fail("the archive holds the same entry twice; the file was edited or is damaged")
    missing = [n for n in entries if n not in archive.NameToInfo]
    if missing:
        fail(f"entries {missing} are missing: the architecture needs {len(entries) - 1} arrays; "
             "the file is damaged or was edited")
    extra = [n for n in names if n not in entries]
    if extra:
        fail(f"unexpected entries {extra[:5]}{' ...' if len(extra) > 5 else ''} (not read): the "
             f"format {FILE_FORMAT!r} defines only __meta__, weight_<i> and opt_<slot>_<i> for "
             "this architecture; the file was edited")


def _entry_header(archive, name, shape, dtype, fail):
    """Read the ``.npy`` header of entry ``name`` (not its data) and check it: ``shape``, ``dtype``
    (None: the metadata's unicode string), and that the entry holds exactly that many bytes."""
    info = archive.getinfo(name)
    fileio.check_zip_entry(info, fail, "model.save")
    with archive.open(info) as f:
        read_header = None
        try:
            version = np.lib.format.read_magic(f)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is not None:
                got_shape, fortran, got_dtype = read_header(f)
        except ValueError as e:
            fail(f"{name} is not a valid .npy array ({e}); the file is damaged or was edited")
        if read_header is None:
            fail(f"{name} uses .npy format version {version}; model.save writes 1.0 or 2.0")
        offset = f.tell()
    if dtype is None:
        if got_dtype.kind != "U" or got_shape != () or got_dtype.itemsize > 4 * MAX_META_CHARS:
            fail(f"__meta__ must be one unicode string of at most {MAX_META_CHARS:,} characters, "
                 f"the header declares dtype {got_dtype} and shape {got_shape}")
        dtype = got_dtype
    elif got_shape != tuple(shape) or got_dtype.kind != np.dtype(dtype).kind \
            or got_dtype.itemsize != np.dtype(dtype).itemsize:
        fail(f"{name} declares shape {got_shape} and dtype {got_dtype}, but the architecture needs "
             f"shape {tuple(shape)} and dtype {np.dtype(dtype)}; the file is damaged or was edited")
    nbytes = math.prod(got_shape) * got_dtype.itemsize
    if info.file_size != offset + nbytes:
        fail(f"{name} holds {info.file_size - offset:,} bytes of data, but its header declares "
             f"{nbytes:,}; the file is damaged or was edited")
    return got_shape, fortran, offset, got_dtype, np.dtype(dtype)


def _read_entry(archive, name, header, fail):
    """The array of entry ``name`` (header already checked), in the native byte order; finite."""
    shape, fortran, offset, file_dtype, dtype = header
    flat = np.empty(math.prod(shape), file_dtype)
    buf = memoryview(flat.view(np.uint8))
    with archive.open(name) as f:
        f.read(offset)                                     # the header, checked already
        done = 0
        while done < len(buf):
            n = f.readinto(buf[done:])
            if not n:
                fail(f"{name} ends early; the file is damaged or truncated")
            done += n
        if f.read(1):                                      # also makes zipfile check the CRC
            fail(f"{name} has data after its array; the file is damaged or was edited")
    array = flat.reshape(shape, order="F" if fortran else "C").astype(dtype, copy=False)
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        fail(f"{name} holds NaN or infinite values ({np.count_nonzero(~np.isfinite(array))} of "
             f"{array.size}); a model with them cannot be trained further")
    return array


class _Plan:
    """Everything the metadata describes, validated, before any array is read: the layers (constructed,
    not built: no weights allocated), the shape of every parameter, the optimizer, the generators."""

    def __init__(self, meta, fail):
        self.fail = fail
        compiled = meta.get("optimizer") is not None
        _check_keys(meta, ("format", "model", "rng_states", "optimizer")
                    + (("loss", "metrics") if compiled else ()), (), "the metadata", fail)
        spec = meta["model"]
        _check_keys(spec, ("name", "dtype", "layers"), (), 'the metadata\'s "model"', fail)
        if not isinstance(spec["name"], str) or spec["dtype"] not in ("float32", "float64"):
            fail(f'the model\'s "name" must be a string and its "dtype" "float32" or "float64", '
                 f"got {spec['name']!r} and {spec['dtype']!r}")
        self.model = registry.get("Sequential", kind="model")(name=spec["name"], dtype=spec["dtype"])
        self.dtype = self.model.dtype
        if not isinstance(spec["layers"], list) or not spec["layers"]:
            fail('the model\'s "layers" must be a non-empty list')
        self.layers = [_layer_from_config(s, i, fail) for i, s in enumerate(spec["layers"])]
        names = [layer.name for layer in self.layers]
        if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
            fail(f"layer names must be distinct non-empty strings, got {names}")
        self.weight_shapes = self._walk_shapes()
        self.generators = self._generators(meta["rng_states"])
        self.optimizer, self.iterations, self.slots, self.variables = self._optimizer(meta["optimizer"])
        self.loss, self.metrics = meta.get("loss"), meta.get("metrics")
        if compiled and (not isinstance(self.loss, (str, dict)) or not isinstance(self.metrics, list)
                         or not all(isinstance(m, str) for m in self.metrics)):
            fail(f'"loss" must be a string (or a loss\'s class and config) and "metrics" a list of '
                 f"strings, got {self.loss!r:.80} and {self.metrics!r:.80}")
        if isinstance(self.loss, dict):
            try:
                self.loss = losses.get(self.loss)          # a loss object, as compile() was given
            except (TypeError, ValueError) as e:
                fail(f'"loss" {self.loss!r:.80} is not a loss this nnscratch knows: {e}')

    def _walk_shapes(self):
        """Shapes of all parameters in Keras's order, from the first layer's ``input_shape`` through
        each layer's ``weight_shapes`` and ``compute_output_shape``: arithmetic, no allocation."""
        shape = self.layers[0].input_shape
        if shape is None:
            self.fail("the first layer's config has no input_shape, so the shapes of the weights are "
                      "unknown (a model built by fit, saved by an older nnscratch); rebuild the model in "
                      "code and copy the arrays with model.set_weights")
        shape = _dims(shape, "the first layer's input_shape", self.fail)
        later = [layer.name for layer in self.layers[1:] if layer.input_shape is not None]
        if later:
            self.fail(f"layers {later} have an input_shape; only the first layer takes one")
        shapes = []
        for i, layer in enumerate(self.layers):
            where = f"layer {i} ({type(layer).__name__} {layer.name!r})"
            try:
                weights = layer.weight_shapes(shape)
                out = layer.compute_output_shape(shape)
            except (TypeError, ValueError, IndexError, OverflowError) as e:
                self.fail(f"{where} cannot take inputs of shape {shape}: {e}")
            shapes += [_dims(s, f"a weight shape of {where}", self.fail) for s in weights]
            shape = _dims(out, f"the output shape of {where}", self.fail)
        return shapes

    def _generators(self, states):
        owners = ["model"] + [layer.name for layer in self.layers if _has_rng(layer)]
        _check_keys(states, owners, (), '"rng_states"', self.fail)
        return {owner: _generator(states[owner], f'rng_states["{owner}"]', self.fail) for owner in owners}

    def _optimizer(self, spec):
        fail = self.fail
        if spec is None:
            return None, 0, [], []
        _check_keys(spec, ("config", "iterations", "slots"), ("variables",), '"optimizer"', fail)
        config = spec["config"]
        if not isinstance(config, dict) or config.get("name") not in optimizers.OPTIMIZERS:
            name = config.get("name") if isinstance(config, dict) else config
            fail(f"unknown optimizer {name!r}; this nnscratch has {', '.join(map(repr, optimizers.OPTIMIZERS))}")
        cls = optimizers.OPTIMIZERS[config["name"]]
        kwargs = {k: v for k, v in config.items() if k != "name"}
        accepted, required = _init_parameters(cls)
        _check_keys(kwargs, required, accepted - set(required), f"the {cls.__name__} config", fail)
        for key, value in kwargs.items():
            if key == "learning_rate" and isinstance(value, dict):
                kwargs[key] = _schedule(value, fail)
            elif isinstance(value, str) or not _plain_value(value):
                fail(f"the {cls.__name__} config's {key!r} must be a finite number or a boolean, got {value!r}")
        try:
            opt = cls(**kwargs)
        except (TypeError, ValueError, OverflowError) as e:
            fail(f"the {cls.__name__} config {config} is invalid: {e}")
        iterations, slots = spec["iterations"], spec["slots"]
        if type(iterations) is not int or not 0 <= iterations < 2 ** 63:
            fail(f'the optimizer\'s "iterations" must be a non-negative integer, got {iterations!r}')
        expected = list(getattr(opt, "slots", ()))
        if slots != [] and slots != expected:
            fail(f"{cls.__name__} keeps the state slots {expected}, but the file lists {slots!r}")
        if slots == [] and iterations > 0 and expected:
            fail(f"{cls.__name__} has taken {iterations} steps but its state {expected} is missing")
        n = len(self.weight_shapes)
        variables = spec.get("variables", list(range(n)))
        if not isinstance(variables, list) or not all(type(v) is int and 0 <= v < n for v in variables) \
                or len(set(variables)) != len(variables):
            fail(f'the optimizer\'s "variables" must be distinct weight numbers in [0, {n}), got {variables!r:.80}')
        return opt, iterations, slots, variables

    def build(self, arrays):
        """The model, its parameters and state filled from ``arrays`` (already checked)."""
        model = self.model
        try:
            for layer in self.layers:
                model.add(layer)
            if self.optimizer is not None:
                model.compile(optimizer=self.optimizer, loss=self.loss, metrics=self.metrics)
        except (TypeError, ValueError) as e:
            self.fail(f"the model cannot be rebuilt from its config: {e}")
        params = model.weights
        if [p.shape for p in params] != self.weight_shapes:
            self.fail(f"the layers built parameters of shapes {[p.shape for p in params]}, but their "
                      f"weight_shapes promised {self.weight_shapes}")
        model.set_weights([arrays[f"weight_{i}"] for i in range(len(params))])
        model.rng = self.generators["model"]
        for layer in model.layers:
            if _has_rng(layer):
                layer.rng = self.generators[layer.name]
        opt = self.optimizer
        if opt is not None and (self.slots or self.iterations):
            opt.build([params[w] for w in self.variables])    # zeros; sets iterations to 0
            for slot in self.slots:
                for i, state in enumerate(opt.state[slot]):
                    state[...] = arrays[f"opt_{slot}_{i}"]
            opt.iterations = self.iterations
        return model


def _schedule(spec, fail):
    """A learning-rate schedule from ``{"class_name": <a class of schedules.py>, "config": {...}}``."""
    _check_keys(spec, ("class_name", "config"), (), 'the "learning_rate" schedule', fail)
    name, config = spec["class_name"], spec["config"]
    if name not in schedules.__all__[1:] or not isinstance(config, dict):
        fail(f"unknown learning-rate schedule {name!r}; this nnscratch has {', '.join(schedules.__all__[1:])}")
    cls = getattr(schedules, name)
    accepted, required = _init_parameters(cls)
    _check_keys(config, required, accepted - set(required), f"the {name} config", fail)
    for key, value in config.items():
        if not _plain_value(value):
            fail(f"the {name} config's {key!r} must be a number, a boolean, a string or a list, got {value!r}")
    try:
        return cls(**config)
    except (TypeError, ValueError) as e:
        fail(f"the {name} config {config} is invalid: {e}")


def _check_keys(obj, required, optional, what, fail):
    if not isinstance(obj, dict):
        fail(f"{what} must be a JSON object, got {obj!r:.80}")
    missing = [k for k in required if k not in obj]
    if missing:
        fail(f"{what} lacks {missing}; the file was edited or is damaged")
    unknown = sorted(k for k in obj if k not in required and k not in optional)
    if unknown:
        fail(f"{what} has unknown keys {unknown}; it may hold only {sorted(required) + sorted(optional)}")


def _init_parameters(cls):
    """The keyword arguments ``cls.__init__`` accepts, and those it requires."""
    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)][1:]    # [1:]: self
    return {p.name for p in params}, [p.name for p in params if p.default is p.empty]


def _plain_value(value, nested=0):
    """A value a layer or optimizer config may hold: None, a boolean, an integer, a finite float, a
    short string, or a short list of those (shapes, kernel sizes), or of such lists (paddings)."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) < 2 ** 64
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return len(value) <= 256
    if isinstance(value, list) and nested < 2:
        return len(value) <= 16 and all(_plain_value(v, nested + 1) for v in value)
    return False


def _layer_from_config(spec, i, fail):
    """The layer ``{"class_name": ..., "config": ...}`` describes, constructed (not built), after checking
    the class is a registered layer (``registry.py``) and the config keys are arguments of its ``__init__``."""
    _check_keys(spec, ("class_name", "config"), (), f"layer {i}", fail)
    name = spec["class_name"]
    cls = registry.get(name)
    if cls is None:
        fail(f"layer {i} has unknown class {name!r}; this nnscratch can load "
             f"{', '.join(registry.names())}")
    config = spec["config"]
    accepted, required = _init_parameters(cls)
    _check_keys(config, required, accepted - set(required), f"layer {i} ({name}) config", fail)
    for key, value in config.items():
        if not _plain_value(value):
            fail(f"layer {i} ({name}) config {key!r} holds {value!r:.80}, not a plain value")
    try:
        return cls(**config)
    except (TypeError, ValueError, OverflowError) as e:
        fail(f"layer {i} ({name}) config {config} is invalid: {e}")


def _dims(shape, what, fail):
    """``shape`` as a tuple of positive Python ints, or a ValueError."""
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if dims is None or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1
                               for d in dims):
        fail(f"{what} must be a tuple of positive integers, got {shape!r}")
    return tuple(int(d) for d in dims)


def _generator(state, what, fail):
    """A ``numpy.random.Generator`` in exactly the saved ``state`` (its bit generator named inside)."""
    try:
        return counter_random.generator_from_state(state)
    except ValueError as e:
        fail(f"{what} {e}")
