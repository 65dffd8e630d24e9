"""Keras's own model files, both ways: Keras 3's ``.keras`` file and Keras's legacy ``.h5`` file.

``model.save('m.keras')`` writes what ``keras/src/saving/saving_lib.py`` writes, and real Keras's
``load_model`` opens it; ``nnscratch.load_model`` opens the ``.keras`` files Keras writes, for the
layers, optimizers and losses nnscratch has.  A ``.keras`` file is a zip archive of three entries::

    metadata.json     {"keras_version": ..., "date_saved": ...}; nnscratch adds {"nnscratch": {"version",
                      "rng_states"}}: its random generators, so training here continues exactly (Keras
                      reads nothing of this file)
    config.json       the model in Keras's configuration schema (below)
    model.weights.h5  the weights and the optimizer's state (``h5_weights.py``)

The configuration, as ``keras.saving.serialize_keras_object`` writes a Sequential::

    {"module": "keras", "class_name": "Sequential", "registered_name": null,
     "config": {"name": ..., "trainable": true, "dtype": <policy>, "build_input_shape": [null, 784],
                "layers": [{"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": ...}},
                           {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense",
                            "units": 512, "activation": "sigmoid", "kernel_initializer": {...}, ...},
                            "build_config": {"input_shape": [null, 784]}},  ... ]},
     "build_config": {"input_shape": [null, 784]},
     "compile_config": {"optimizer": {"class_name": "Adam", "config": {...}}, "loss": ..., "metrics": ...}}

A legacy ``.h5`` file (``model.save('m.h5')``, ``legacy_h5_format.py``) holds the same configuration
without the ``module``/``build_config`` entries as the attribute ``model_config``, the compile
arguments as ``training_config``, and the weights in the groups ``model_weights`` and
``optimizer_weights`` (``h5_weights.py``).

Reading trusts nothing: the archive's directory is checked before it is read (three entries, sizes
that deflate could produce), every class the configuration names is looked up in this module's
tables and in ``registry.py`` (nothing named in a file is imported or evaluated), every setting of
every layer is checked against what nnscratch computes (a regularizer, an unknown activation, a
mixed-precision policy: a clear error naming it), the shape of every weight is worked out from the
configuration without allocating anything, and only then are the weights read, each checked against
its shape before a byte of it is, and the model built.
"""
import datetime
import inspect
import io
import itertools
import json
import math
import os
import warnings
import zipfile

import numpy as np

from . import counter_random, fileio, h5_weights, keras_graph, losses, optimizers, registry, schedules
from .errors import NotImplementedInNnscratch
from .version import __version__

KERAS_VERSION = h5_weights.KERAS_VERSION        # the Keras whose files these are written like (and tested against)
CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"
MAX_JSON_CHARS = 1 << 24        # 16 Mi characters; Keras's configuration of one Dense layer takes ~900
MAX_DEPTH = 16                  # Sequentials inside Sequentials
MAX_ENTRIES = 16                # a .keras archive holds 3
ACTIVATIONS = ("linear", "relu", "sigmoid", "softmax", "tanh")   # Keras's names nnscratch computes


# ====================================================================== nnscratch -> Keras
def policy(dtype):
    """Keras's dtype policy of a float32 or float64 model."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype}, "registered_name": None}


def initializer(layer, name, seed):
    if name == "glorot_uniform":
        return {"module": "keras.initializers", "class_name": "GlorotUniform",
                "config": {"seed": seed, "input_axes": None, "output_axes": None}, "registered_name": None}
    if name == "zeros":
        return {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": None}
    raise ValueError(f"save: {layer.name} has the initializer {name!r}; Keras's files name Keras's "
                     "initializers ('glorot_uniform', 'zeros')")


def activation(layer):
    name = layer.activation.name
    if name not in ACTIVATIONS:
        raise ValueError(f"save: {layer.name} has the activation {name!r}, which is not one of Keras's")
    return name


def seed(layer):
    if layer.seed is not None and (isinstance(layer.seed, bool) or not isinstance(layer.seed, (int, np.integer))):
        raise ValueError(f"save: {layer.name}'s seed is {type(layer.seed).__name__}; Keras's files hold "
                         "an integer seed or none")
    return None if layer.seed is None else int(layer.seed)


def dense_config(layer):
    return {"units": layer.units, "activation": activation(layer), "use_bias": True,
            "kernel_initializer": initializer(layer, layer.kernel_initializer, seed(layer)),
            "bias_initializer": initializer(layer, layer.bias_initializer, None),
            "kernel_regularizer": None, "bias_regularizer": None, "kernel_constraint": None,
            "bias_constraint": None, "quantization_config": None}


def conv2d_config(layer):
    return {"filters": layer.filters, "kernel_size": list(layer.kernel_size), "strides": list(layer.strides),
            "padding": layer.padding, "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
            "activation": activation(layer), "use_bias": layer.use_bias,
            "kernel_initializer": initializer(layer, layer.kernel_initializer, seed(layer)),
            "bias_initializer": initializer(layer, layer.bias_initializer, None),
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None}


# Keras's configuration of each layer nnscratch has, after its name, trainable and dtype; and which
# layers Keras gives a build_config (those whose build() Keras calls with the input shape).
WRITERS = {
    "Dense": dense_config,
    "Activation": lambda layer: {"activation": activation(layer)},
    "Dropout": lambda layer: {"rate": layer.rate, "seed": seed(layer), "noise_shape": None},
    "Flatten": lambda layer: {"data_format": "channels_last"},
    "Softmax": lambda layer: {"axis": -1},
    "Conv2D": conv2d_config,
    "MaxPooling2D": lambda layer: {"pool_size": list(layer.pool_size), "padding": layer.padding,
                                   "strides": list(layer.strides), "data_format": "channels_last"},
    "Add": lambda layer: {},
    "Concatenate": lambda layer: {"axis": layer.axis},
}
BUILD_CONFIG = ("Dense", "Conv2D", "Flatten")


def is_model(layer):
    return isinstance(getattr(layer, "layers", None), list)


def layer_config(layer, dtype):
    """One layer's entry in Keras's schema."""
    name = type(layer).__name__
    cls = registry.get(name)
    if name not in WRITERS or cls is None or not isinstance(layer, cls):
        raise ValueError(f"save: layer {layer.name!r} is a {name}, which Keras's files cannot name; they "
                         f"hold Keras's layers ({', '.join(WRITERS)} here)")
    config = {"name": layer.name, "trainable": bool(getattr(layer, "trainable", True)), "dtype": policy(dtype)}
    entry = {"module": "keras.layers", "class_name": name, "config": {**config, **WRITERS[name](layer)},
             "registered_name": None}
    if name in BUILD_CONFIG:
        entry["build_config"] = {"input_shape": [None, *layer.built_input_shape]}
    return entry


def sequential_config(model, dtype, input_names):
    """A Sequential (the model, or one inside it) in Keras's schema: its InputLayer, then its layers."""
    shape = [None, *model.sample_shape]
    input_layer = {"module": "keras.layers", "class_name": "InputLayer",
                   "config": {"batch_shape": shape, "dtype": dtype, "sparse": False, "ragged": False,
                              "name": next(input_names), "optional": False}, "registered_name": None}
    layers = [sequential_config(l, dtype, input_names) if is_model(l) else layer_config(l, dtype)
              for l in model.layers]
    return {"module": "keras", "class_name": "Sequential",
            "config": {"name": model.name, "trainable": bool(getattr(model, "trainable", True)),
                       "dtype": policy(dtype), "layers": [input_layer] + layers, "build_input_shape": shape},
            "registered_name": None, "build_config": {"input_shape": shape}, "compile_config": {}}


def optimizer_config(opt):
    """``{"module", "class_name", "config", "registered_name"}`` of Keras's twin of ``opt``."""
    if opt.name not in h5_weights.KERAS_OPTIMIZERS:
        raise ValueError(f"save: the optimizer {type(opt).__name__} is not one of Keras's")
    keras_class, keras_name = h5_weights.KERAS_OPTIMIZERS[opt.name]
    schedule = getattr(opt, "schedule", None)
    rate = float(np.float32(opt.learning_rate)) if schedule is None else {     # Keras's float32 variable,
        "module": "keras.optimizers.schedules", "class_name": type(schedule).__name__,   # or its schedule
        "config": schedule.get_config(), "registered_name": None}
    config = {"name": keras_name, "learning_rate": rate, "weight_decay": None, "clipnorm": None,
              "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
              "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None}
    config.update({k: v for k, v in opt.get_config().items() if k not in ("name", "learning_rate")})
    if keras_class == "Adam":
        config["amsgrad"] = False
    return {"module": "keras.optimizers", "class_name": keras_class, "config": config, "registered_name": None}


def loss_config(model):
    """What compile() got, as Keras stores it: a name, or a loss object's class and full config."""
    return loss_entry(model.loss, model.compiled_loss)


def loss_entry(given, loss):
    """One loss as Keras stores it: ``given`` to compile (a name, a function or a loss object) and the
    loss object made of it."""
    if isinstance(given, str):                                  # a name: as it was given, as Keras keeps it
        return given
    if not isinstance(given, losses.Loss):                      # a function: Keras's name of it
        return type(loss).name
    config = {"name": loss.name, "reduction": loss.reduction,
              **{k: v for k, v in loss.get_config().items() if k != "name"}}
    if loss.sparse:
        config["ignore_class"] = None
    elif "from_logits" in config:
        config.update({"label_smoothing": config.get("label_smoothing", 0.0), "axis": -1})
    return {"module": "keras.losses", "class_name": type(loss).__name__, "config": config, "registered_name": None}


def known_metric(name):
    """True if ``metrics.get`` knows the metric ``name`` (a Keras name or class name)."""
    from . import metrics as metrics_module
    try:
        metrics_module.get(name)
        return True
    except (ValueError, NotImplementedError):
        return False


def compile_config(model):
    if isinstance(model.compiled_loss, list):                  # a graph model with several outputs
        loss, loss_weights, metrics = keras_graph.compile_entries(
            model, lambda given: loss_entry(given, losses.get(given)), storable_metric)
    else:
        loss, loss_weights, metrics = loss_config(model), model.loss_weights, model.storable_metrics() or None
    return {"optimizer": optimizer_config(model.optimizer), "loss": loss, "loss_weights": loss_weights,
            "metrics": metrics, "weighted_metrics": None,
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def storable_metric(spec):
    """One metric of an output as a model file holds it: its name, or a built-in metric object of default
    configuration by its class name (as ``Model.storable_metrics``); anything else is refused."""
    from . import metrics as metrics_module
    if isinstance(spec, str):
        return spec
    if type(spec) in metrics_module.METRICS.values() and spec.get_config() == type(spec)().get_config():
        return type(spec).__name__
    raise ValueError(f"save: the metric {spec!r} of a model with several outputs cannot be stored in Keras's "
                     "files (only Keras's named metrics can); compile with metric names to save it")


def model_config(model):
    """config.json: ``model`` as Keras's ``serialize_keras_object`` writes it (without the object-sharing
    ids Keras adds to repeated dtype policies)."""
    Sequential, Functional = registry.get("Sequential", kind="model"), registry.get("Functional", kind="model")
    if not isinstance(model, (Sequential, Functional)):
        raise ValueError(f"save: Keras's model files hold Sequential and functional models here, and "
                         f"{type(model).__name__} is neither; save its weights with model.save_weights('m.weights.h5')")
    if not model.built:
        raise ValueError("save: the model is not built yet (give the first layer input_shape, or fit it first)")
    check_names(model)
    if isinstance(model, Functional):                          # a graph model: keras_graph.py
        config = keras_graph.functional_config(model, lambda layer: layer_config(layer, model.dtype.name))
    else:
        input_names = (f"input_layer_{i}" if i else "input_layer" for i in itertools.count())
        config = sequential_config(model, model.dtype.name, input_names)
    if model.optimizer is not None:
        config["compile_config"] = compile_config(model)
    return config


def check_names(model, where="the model"):
    """Layer names must be distinct within a model (Keras refuses two 'dense') and hold no '/' (the
    legacy .h5 file makes groups of them)."""
    names = [l.name for l in model.layers]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"save: layer names must be unique in {where} (as in Keras), but {repeated} repeat; "
                         "name the layers differently")
    bad = [n for n in names if not isinstance(n, str) or not n or "/" in n]
    if bad:
        raise ValueError(f"save: layer names must be non-empty and hold no '/', got {bad}")
    for l in model.layers:
        if is_model(l):
            check_names(l, l.name)


def rng_states(model):
    """``{path: state}`` of every random generator in the model: its own (``model.rng``, the shuffling of
    ``fit``) and each layer's (a Dropout's), keyed by the names from the model down."""
    states = {}

    def walk(obj, path):
        if isinstance(getattr(obj, "rng", None), np.random.Generator):
            states[path] = counter_random.generator_state(obj.rng)
        for layer in getattr(obj, "layers", None) or []:
            walk(layer, f"{path}/{layer.name}")
    walk(model, model.name)
    return states


def keras_bytes(model):
    """The bytes of ``model``'s ``.keras`` file."""
    config = json.dumps(model_config(model), allow_nan=False)
    metadata = json.dumps({"keras_version": KERAS_VERSION,
                           "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                           "nnscratch": {"version": __version__, "rng_states": rng_states(model)}})
    h5_weights.check_finite(model, "save")
    weights = h5_weights.h5_bytes(lambda f: h5_weights.write_keras3(f, model))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:            # stored, as Keras writes them
        zf.writestr(METADATA, metadata)
        zf.writestr(CONFIG, config)
        zf.writestr(WEIGHTS, weights)
    return buffer.getvalue()


def save_keras(model, path):
    """``model.save('m.keras')``: Keras 3's ``.keras`` file, written atomically."""
    data = keras_bytes(model)
    fileio.write_atomically(path, lambda f: f.write(data))


# ====================================================================== Keras -> nnscratch
class Settings:
    """One object's settings as a file gives them.  ``take(key)`` reads a key; :meth:`done` refuses
    every key left that is not null (a setting nnscratch cannot honour, named in the error), so no
    setting of a file is ever silently dropped."""

    def __init__(self, config, where, fail):
        if not isinstance(config, dict):
            fail(f"{where}'s config must be a JSON object, got {config!r:.80}")
        self.config, self.where, self.fail, self.taken = config, where, fail, set()

    def take(self, key, default=None):
        self.taken.add(key)
        return self.config.get(key, default)

    def done(self):
        for key, value in self.config.items():
            if key not in self.taken and value is not None:
                self.fail(f"{self.where} has {key}={value!r:.120}, which nnscratch cannot honour (it "
                          "implements Keras's defaults for it); load it in Keras, or change that setting there")

    # checks of one value, each returning the value as nnscratch takes it
    def integer(self, key, low=1, default=None):
        value = self.take(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value < 2 ** 31:
            self.fail(f"{self.where}'s {key} must be an integer >= {low}, got {value!r:.80}")
        return value

    def number(self, key, default=None):
        value = self.take(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(f"{self.where}'s {key} must be a finite number, got {value!r:.80}")
        return float(value)

    def flag(self, key, default=None):
        value = self.take(key, default)
        if not isinstance(value, bool):
            self.fail(f"{self.where}'s {key} must be true or false, got {value!r:.80}")
        return value

    def one_of(self, key, options, default=None, what=None):
        value = self.take(key, default)
        if not isinstance(value, (str, int, float, bool, type(None))) or value not in options:
            self.fail(f"{self.where} has {key}={value!r:.80}; nnscratch implements "
                      f"{what or ' or '.join(repr(o) for o in options)}")
        return value

    def pair(self, key, default=None):
        value = self.take(key, default)
        value = [value, value] if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(value, list) or len(value) != 2 or not all(
                isinstance(v, int) and not isinstance(v, bool) and 1 <= v < 2 ** 31 for v in value):
            self.fail(f"{self.where}'s {key} must be two positive integers, got {value!r:.80}")
        return tuple(value)

    def seed(self, key):
        value = self.take(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 2 ** 63):
            self.fail(f"{self.where}'s {key} must be an integer or null, got {value!r:.80}")
        return value

    def name(self, key="name"):
        value = self.take(key)
        if not isinstance(value, str) or not value or len(value) > 256 or "/" in value:
            self.fail(f"{self.where}'s {key} must be a name (1 to 256 characters, no '/'), got {value!r:.80}")
        return value


def shortest_float32(value):
    """The shortest decimal with ``value``'s float32 (Keras stores its learning rate as a float32 and
    writes 0.001 as 0.0010000000474974513; nnscratch rounds it through float32 the same way, so
    0.001 is the same rate, and reads back as the 0.001 the model was compiled with)."""
    short = float(str(np.float32(value)))
    return short if np.float32(short) == np.float32(value) else value


def keras_object(value, where, fail, kinds=None):
    """``(class_name, config)`` of a serialized Keras object ``{"module", "class_name", "config",
    "registered_name"}`` (``module`` and ``registered_name`` only compared, never imported); a plain
    string is ``(string, None)``.  ``kinds``: the class names accepted here."""
    if isinstance(value, str):
        return value, None
    if not isinstance(value, dict) or not isinstance(value.get("class_name"), str):
        fail(f"{where} must be a Keras object (class_name and config), got {value!r:.80}")
    unknown = set(value) - {"module", "class_name", "config", "registered_name", "shared_object_id",
                            "build_config", "compile_config"}
    if unknown:
        fail(f"{where} has unknown keys {sorted(unknown)}")
    name, module, registered = value["class_name"], value.get("module"), value.get("registered_name")
    if registered not in (None, name, "function") or not (module is None or (isinstance(module, str)
                                                                             and module.split(".")[0] == "keras")):
        fail(f"{where} names {module!r}.{name!r} (registered as {registered!r}): a class outside Keras, "
             "which nnscratch never imports")
    if kinds is not None and name not in kinds:
        fail(f"{where} is a {name}, which nnscratch does not implement; it has {', '.join(kinds)}")
    return name, value.get("config")


def dtype_of(value, where, fail):
    """'float32' or 'float64' from a dtype policy (``DTypePolicy`` or a plain name)."""
    name = value
    if isinstance(value, dict):
        _, config = keras_object(value, where, fail, ("DTypePolicy", "FloatDTypePolicy"))
        name = config.get("name") if isinstance(config, dict) else None
    if name not in ("float32", "float64"):
        fail(f"{where} has the dtype policy {name!r:.60}; nnscratch computes in float32 or float64 "
             "(no mixed precision or quantization)")
    return name


def initializer_of(value, where, fail):
    """nnscratch's name of a Keras initializer, and its seed."""
    names = {"GlorotUniform": "glorot_uniform", "Zeros": "zeros",
             "glorot_uniform": "glorot_uniform", "zeros": "zeros"}
    name, config = keras_object(value, where, fail)
    if name not in names:
        fail(f"{where} is the initializer {name!r}; nnscratch has GlorotUniform and Zeros")
    s = Settings(config if config is not None else {}, where, fail)
    seed = s.seed("seed")
    s.done()
    return names[name], seed


def activation_of(s):
    return s.one_of("activation", ACTIVATIONS, "linear", what=f"the activations {', '.join(ACTIVATIONS)}")


def dense_args(s):
    if s.take("use_bias", True) is not True:
        s.fail(f"{s.where} has use_bias=False; nnscratch's Dense always has a bias")
    kernel, seed = initializer_of(s.take("kernel_initializer", "glorot_uniform"), f"{s.where}'s kernel_initializer", s.fail)
    bias, _ = initializer_of(s.take("bias_initializer", "zeros"), f"{s.where}'s bias_initializer", s.fail)
    return {"units": s.integer("units"), "activation": activation_of(s), "kernel_initializer": kernel,
            "bias_initializer": bias, "seed": seed}


def conv2d_args(s):
    s.one_of("data_format", (None, "channels_last"), what="channels_last images")
    if s.pair("dilation_rate", [1, 1]) != (1, 1) or s.take("groups", 1) != 1:
        s.fail(f"{s.where} has a dilation or groups; nnscratch's Conv2D has neither")
    kernel, seed = initializer_of(s.take("kernel_initializer", "glorot_uniform"), f"{s.where}'s kernel_initializer", s.fail)
    bias, _ = initializer_of(s.take("bias_initializer", "zeros"), f"{s.where}'s bias_initializer", s.fail)
    return {"filters": s.integer("filters"), "kernel_size": s.pair("kernel_size"), "strides": s.pair("strides", [1, 1]),
            "padding": s.one_of("padding", ("valid", "same"), "valid"), "activation": activation_of(s),
            "use_bias": s.flag("use_bias", True), "kernel_initializer": kernel, "bias_initializer": bias, "seed": seed}


def dropout_args(s):
    rate = s.number("rate")
    if not 0 <= rate < 1:
        s.fail(f"{s.where}'s rate must be in [0, 1), got {rate}")
    return {"rate": rate, "seed": s.seed("seed")}


def pooling_args(s):
    s.one_of("data_format", (None, "channels_last"), what="channels_last images")
    strides = s.config.get("strides")
    return {"pool_size": s.pair("pool_size", [2, 2]), "strides": None if strides is None else s.pair("strides"),
            "padding": s.one_of("padding", ("valid", "same"), "valid")}


def flatten_args(s):
    s.one_of("data_format", (None, "channels_last"), what="channels_last images")
    return {}


def softmax_args(s):
    axis = s.take("axis", -1)
    if axis not in (-1, [-1]):
        s.fail(f"{s.where} has axis={axis!r:.40}; nnscratch's Softmax normalises over the last axis (-1)")
    return {}


# The Keras layers nnscratch reads: each turns the layer's settings into nnscratch's arguments.
READERS = {"Dense": dense_args, "Activation": lambda s: {"activation": activation_of(s)},
           "Dropout": dropout_args, "Flatten": flatten_args, "Softmax": softmax_args,
           "Conv2D": conv2d_args, "MaxPooling2D": pooling_args, "Add": lambda s: {},
           "Concatenate": lambda s: {"axis": s.integer("axis", low=-(2 ** 31), default=-1)}}
SHAPE_KEYS = ("batch_shape", "batch_input_shape")     # an input shape on a layer: Keras 2 and early Keras 3


class ModelSpec:
    """A Sequential as the file describes it, before anything is built: its name, its input shape (if
    the file gives one) and its entries (nnscratch layers, constructed but not built, or ModelSpecs)."""

    def __init__(self, name, input_shape, entries, trainable=True):
        self.name, self.input_shape, self.entries, self.trainable = name, input_shape, entries, trainable


def batch_shape(value, where, fail):
    """One sample's shape from Keras's ``[null, 28, 28, 1]``."""
    if not isinstance(value, list) or len(value) < 2 or value[0] is not None or not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d < 2 ** 31 for d in value[1:]):
        fail(f"{where} must be [null, d1, d2, ...] (a free batch size, then positive sizes), got {value!r:.80}")
    return tuple(value[1:])


class Plan:
    """Everything a model file describes, validated, before anything is allocated: the model's
    structure (:class:`ModelSpec`), its dtype, the shape of every weight (``saveable``, for
    ``h5_weights``), and the optimizer, loss and metrics it was compiled with (None: not compiled).

    ``config``: config.json (or a legacy file's model_config); ``compile_settings``: its
    compile_config (or a legacy training_config, already shaped like one); ``compile=False``
    ignores them, as Keras's ``load_model(compile=False)`` does."""

    def __init__(self, config, fail, compile=True, compile_settings=None):
        self.fail = fail
        name, settings = keras_object(config, "the model", fail)
        if name not in ("Sequential", "Functional"):
            fail(f"the file holds a {name!r} model; this nnscratch reads Sequential and Functional models "
                 "(keras.Model(inputs, outputs))")
        self.dtype = dtype_of(settings.get("dtype", "float32") if isinstance(settings, dict) else None,
                              "the model", fail)
        if name == "Functional":                            # a graph model: keras_graph.py
            self.dtype = graph_dtype(settings, fail)
            self.spec = keras_graph.GraphSpec(self, settings, keras_object, Settings)
            self.saveable = self.spec.saveable
        else:
            self.spec = self.sequential(settings, "the model", 0, config.get("build_config"))
            if self.spec.input_shape is None:
                fail("the file does not say the model's input shape (no InputLayer, build_input_shape or "
                     "build_config): build the model in Keras (call it once, or start it with keras.Input) "
                     "before saving it")
            self.saveable, _ = self.walk(self.spec, self.spec.input_shape, "the model")
        self.optimizer = self.loss = self.loss_weights = None
        self.metrics = []
        settings = config.get("compile_config") if compile_settings is None else compile_settings
        if compile and settings:
            self.compile_from(settings)

    # ------------------------------------------------------------------ the layers
    def sequential(self, settings, where, depth, build_config):
        fail = self.fail
        if depth > MAX_DEPTH:
            fail(f"{where} nests Sequentials more than {MAX_DEPTH} deep")
        s = Settings(settings, where, fail)
        name = s.name()
        where = f"{where} ({name!r})" if depth == 0 else f"the Sequential {name!r}"
        trainable = s.flag("trainable", True)
        if dtype_of(s.take("dtype", self.dtype), where, fail) != self.dtype:
            fail(f"{where} computes in another dtype than the model; nnscratch models have one dtype")
        layers = s.take("layers")
        if not isinstance(layers, list) or len(layers) > 100_000:
            fail(f"{where}'s layers must be a list, got {type(layers).__name__}")
        shape = None
        if s.config.get("build_input_shape") is not None:
            shape = batch_shape(s.take("build_input_shape"), f"{where}'s build_input_shape", fail)
        if isinstance(build_config, dict) and build_config.get("input_shape") is not None:
            shape = shape or batch_shape(build_config["input_shape"], f"{where}'s build_config", fail)
        entries = []
        for i, entry in enumerate(layers):
            at = f"layer {i} of {where}"
            kind, config = keras_object(entry, at, fail)
            if kind == "InputLayer":
                if i != 0:
                    fail(f"{at} is an InputLayer; only a Sequential's first entry may be one")
                shape = self.input_layer(config, at)
            elif kind == "Sequential":
                entries.append(self.sequential(config, at, depth + 1, entry.get("build_config")))
            else:
                layer, first = self.layer(kind, config, at)
                if first is not None and not entries:
                    shape = shape or first
                entries.append(layer)
        s.done()
        if not entries:
            fail(f"{where} has no layers")
        return ModelSpec(name, shape, entries, trainable)

    def input_layer(self, config, where):
        s = Settings(config, where, self.fail)
        shape = batch_shape(s.take("batch_shape") or s.take("batch_input_shape"), f"{where}'s batch_shape", self.fail)
        dtype_of(s.take("dtype", self.dtype), where, self.fail)
        s.name()
        for key in ("sparse", "ragged", "optional"):
            if s.take(key, False) is not False:
                self.fail(f"{where} has {key}=true; nnscratch's inputs are dense arrays")
        s.done()
        return shape

    def layer(self, kind, config, where):
        """The nnscratch layer (constructed, not built) of one Keras layer, and the input shape its
        settings carry (Keras 2's batch_input_shape), after checking every setting."""
        fail = self.fail
        cls = registry.get(kind)
        if kind not in READERS or cls is None:
            fail(f"{where} is a {kind!r} layer, which this nnscratch does not have; it reads "
                 f"{', '.join(READERS)} (and Sequential)")
        s = Settings(config, f"{where} ({kind})", fail)
        name = s.name()
        s.where = f"{kind} {name!r}"
        trainable = s.flag("trainable", True)
        dtype = dtype_of(s.take("dtype", self.dtype), s.where, fail)
        if dtype != self.dtype:
            fail(f"{s.where} computes in {dtype} but the model in {self.dtype}; nnscratch models have one dtype")
        s.take("autocast")                               # mixed precision only: nothing to honour in float32/64
        first = None
        for key in SHAPE_KEYS:
            if s.config.get(key) is not None:
                first = batch_shape(s.take(key), f"{s.where}'s {key}", fail)
        kwargs = READERS[kind](s)
        s.done()
        try:
            layer = cls(name=name, **kwargs)
        except (TypeError, ValueError, OverflowError) as e:
            fail(f"{s.where} cannot be built here: {e}")
        layer.trainable = trainable
        return layer, first

    def walk(self, spec, shape, where, trainable=True):
        """The :class:`h5_weights.Saveable` tree of ``spec`` for inputs of ``shape``, and its output
        shape: every weight's shape from each layer's ``weight_shapes`` and ``compute_output_shape``,
        arithmetic only."""
        fail = self.fail
        if spec.input_shape is not None and tuple(spec.input_shape) != tuple(shape):
            fail(f"{where} takes inputs of shape {spec.input_shape}, but receives {shape}")
        nodes = []
        for entry in spec.entries:
            if isinstance(entry, ModelSpec):
                node, shape = self.walk(entry, shape, f"the Sequential {entry.name!r}",
                                        trainable and spec.trainable)
            else:
                at = f"{type(entry).__name__} {entry.name!r}"
                try:
                    shapes = [tuple(int(d) for d in w) for w in entry.weight_shapes(shape)]
                    shape = tuple(int(d) for d in entry.compute_output_shape(shape))
                except (TypeError, ValueError, IndexError, OverflowError) as e:
                    fail(f"{at} cannot take inputs of shape {shape}: {e}")
                if not all(d >= 1 for s in shapes + [shape] for d in s):
                    fail(f"{at} would output shape {shape} from its input; the configuration is inconsistent")
                node = h5_weights.Saveable(type(entry).__name__, entry.name, shapes,       # a frozen model's
                                           trainable=entry.trainable and spec.trainable and trainable)  # layers too
            nodes.append(node)
        names = [n.name for n in nodes]
        if len(set(names)) != len(names):
            fail(f"layer names in {where} repeat: {sorted({n for n in names if names.count(n) > 1})}")
        return h5_weights.Saveable("Sequential", spec.name, layers=nodes), shape

    def trainable_shapes(self):
        """The shapes of the weights the optimizer updates, in order: those of the layers not frozen."""
        return [shape for _, node in h5_weights.keras3_layout(self.saveable) if node.trainable
                for shape in node.shapes]

    # ------------------------------------------------------------------ compile
    def compile_from(self, settings):
        fail = self.fail
        s = Settings(settings, "the compile config", fail)
        optimizer = s.take("optimizer")
        if optimizer is None:                           # what Keras's compile() then takes, with a warning
            warnings.warn("load_model: the file's compile config names no optimizer (Keras 3.15 drops it from "
                          "a model it has saved as .h5 before); the model is compiled with Keras's default, "
                          "RMSprop, as Keras loads it", stacklevel=4)
            optimizer = "rmsprop"
        self.optimizer = self.optimizer_from(optimizer)
        graph = isinstance(self.spec, keras_graph.GraphSpec)     # several outputs: a list or dict of each
        self.loss = structured(s.take("loss"), self.loss_from, graph, "the loss", fail)
        self.metrics = structured(s.take("metrics"), self.metrics_from, graph, "the metrics", fail, lists=True)
        self.loss_weights = structured(s.take("loss_weights"), lambda w: self.loss_weight(w), graph, "loss_weights",
                                       fail)
        if s.take("weighted_metrics") not in (None, []):
            fail("the model was compiled with weighted_metrics, which nnscratch's files do not hold")
        for key in ("run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss"):
            s.take(key)                                 # how Keras runs, not what it computes
        s.done()

    def optimizer_from(self, value):
        fail = self.fail
        kinds = {c: name for name, (c, _) in h5_weights.KERAS_OPTIMIZERS.items()}
        if isinstance(value, str):
            if value.lower() not in optimizers.OPTIMIZERS:
                fail(f"the optimizer {value!r} is not one nnscratch has ({', '.join(kinds)}); load with compile=False")
            return optimizers.OPTIMIZERS[value.lower()]()
        kind, config = keras_object(value, "the optimizer", fail)
        if kind not in kinds:
            fail(f"the optimizer is a {kind!r}; nnscratch has {', '.join(kinds)} (load with compile=False to "
                 "read the model without it)")
        cls = optimizers.OPTIMIZERS[kinds[kind]]
        s = Settings(config, f"the {kind} optimizer", fail)
        s.take("name")
        rate = s.config.get("learning_rate", 0.001)
        kwargs = {"learning_rate": self.schedule_from(s.take("learning_rate"), kind) if isinstance(rate, dict)
                  else shortest_float32(s.number("learning_rate", 0.001))}
        if s.take("use_ema", False) is not False or s.take("is_legacy_optimizer", False) is not False:
            fail(f"the {kind} optimizer uses an exponential moving average of the weights (use_ema), which "
                 "nnscratch does not implement")
        s.take("ema_momentum")                           # used only with use_ema
        s.take("jit_compile")
        if s.take("decay", 0) not in (0, 0.0):
            fail(f"the {kind} optimizer has a learning-rate decay, which nnscratch does not implement")
        names = {"Adam": ("beta_1", "beta_2", "epsilon"), "SGD": ("momentum",), "RMSprop": ("rho", "momentum", "epsilon")}
        kwargs.update({key: s.number(key) for key in names[kind] if key in s.config})
        if kind == "SGD" and "nesterov" in s.config:
            kwargs["nesterov"] = s.flag("nesterov")
        if kind == "RMSprop" and "centered" in s.config:
            kwargs["centered"] = s.flag("centered")
        if kind == "Adam" and s.take("amsgrad", False) is not False:
            fail("the Adam optimizer has amsgrad=true, which nnscratch does not implement")
        s.done()
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as e:
            fail(f"the {kind} optimizer's settings are invalid: {e}")

    def schedule_from(self, value, kind):
        """A learning-rate schedule of ``schedules.py`` from Keras's serialized one (same names, same keys)."""
        names = schedules.__all__[1:]
        name, config = keras_object(value, f"the {kind} optimizer's learning rate", self.fail, names)
        s = Settings(config, f"the {name} schedule", self.fail)
        accepted = [p for p in inspect.signature(getattr(schedules, name)).parameters]
        kwargs = {}
        for key in accepted:
            value = s.take(key)
            if value is not None:
                plain = isinstance(value, (bool, int, float, str)) or (
                    isinstance(value, list) and len(value) <= 10_000
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))
                if not plain or (isinstance(value, float) and not math.isfinite(value)):
                    self.fail(f"the {name} schedule's {key} must be a number (or a list of numbers), got {value!r:.60}")
                kwargs[key] = value
        s.done()
        try:
            return getattr(schedules, name)(**kwargs)
        except (TypeError, ValueError) as e:
            self.fail(f"the {name} schedule's settings are invalid: {e}")

    def loss_from(self, value):
        fail = self.fail
        if value is None:
            fail("the compile config has no loss")
        kind, config = keras_object(value, "the loss", fail)
        if config is None or kind == "function":
            name = config if kind == "function" else kind
            try:
                losses.get(name)
                return name                              # as compile() got it, as Keras keeps it
            except ValueError as e:
                fail(f"{e} (load with compile=False to read the model without its loss)")
        classes = {n: registry.get(n, "loss") for n in registry.names("loss") if registry.get(n, "loss").__name__ == n}
        if kind not in classes:
            fail(f"the loss is a {kind!r}; nnscratch implements {', '.join(classes)} (load with compile=False "
                 "to read the model without it)")
        s = Settings(config, f"the loss {kind}", fail)
        kwargs = {}
        for key in ("name", "reduction", "from_logits", "label_smoothing", "axis", "ignore_class"):
            value = s.take(key)
            if value is not None:
                if not isinstance(value, (str, bool, int, float)):
                    fail(f"the loss {kind}'s {key} must be a plain value, got {value!r:.60}")
                kwargs[key] = value
        s.take("dtype")                                  # the dtype loss_fn(...) computes in; training uses the model's
        s.done()
        try:
            return classes[kind](**kwargs)
        except (TypeError, ValueError) as e:
            fail(f"the loss {kind} cannot be made here: {e}")

    def loss_weight(self, value):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
            self.fail(f"the compile config's loss_weights must be numbers, got {value!r:.60}")
        return value

    def metrics_from(self, value):
        fail = self.fail
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > 16:
            fail(f"the metrics must be a list, got {value!r:.80}")
        names = []
        for item in value:
            kind, _ = keras_object(item, "a metric", fail)
            if not isinstance(kind, str) or (kind.lower() not in ("accuracy", "acc") and not known_metric(kind)):
                fail(f"the metric {kind!r} is not one nnscratch computes; load with compile=False")
            names.append(kind)
        return names

    # ------------------------------------------------------------------ generators, building
    def rng_owners(self):
        """The paths of everything built from this plan that keeps a random generator: each Sequential
        (its shuffling) and each layer with one (a Dropout)."""
        if isinstance(self.spec, keras_graph.GraphSpec):
            return self.spec.rng_owners()
        paths = []

        def walk(spec, path):
            paths.append(path)
            for entry in spec.entries:
                if isinstance(entry, ModelSpec):
                    walk(entry, f"{path}/{entry.name}")
                elif isinstance(getattr(entry, "rng", None), np.random.Generator):
                    paths.append(f"{path}/{entry.name}")
        walk(self.spec, self.spec.name)
        return paths

    def generators(self, metadata):
        """The random generators nnscratch saved in metadata.json (a file from Keras has none: the
        layers keep the generators their seeds give)."""
        fail = self.fail
        ours = metadata.get("nnscratch") if isinstance(metadata, dict) else None
        if ours is None:
            return {}
        if not isinstance(ours, dict) or not isinstance(ours.get("rng_states"), dict):
            fail("metadata.json's \"nnscratch\" entry must hold \"rng_states\"; the file was edited")
        states, owners = ours["rng_states"], self.rng_owners()
        if sorted(states) != sorted(owners):
            fail(f"metadata.json's rng_states are for {sorted(states)[:8]}, but the model has generators at "
                 f"{owners[:8]}; the file was edited")
        found = {}
        for owner in owners:
            try:
                found[owner] = counter_random.generator_from_state(states[owner])
            except ValueError as e:
                fail(f'metadata.json\'s rng_states["{owner}"] {e}')
        return found

    def build(self, arrays, optimizer_arrays, generators):
        """The model: built from the checked plan, its weights (``{path: [arrays]}`` of Keras 3's
        layout), its optimizer's state and its generators set."""
        Sequential = registry.get("Sequential", kind="model")

        def make(spec, input_shape, path):
            model = Sequential(name=spec.name, dtype=self.dtype)
            for k, entry in enumerate(spec.entries):
                if isinstance(entry, ModelSpec):
                    entry = make(entry, input_shape if k == 0 else None, f"{path}/{entry.name}")
                elif k == 0 and input_shape is not None:
                    entry.input_shape = tuple(input_shape)
                model.add(entry)
                if f"{path}/{entry.name}" in generators and not isinstance(entry, Sequential):
                    entry.rng = generators[f"{path}/{entry.name}"]
            if path in generators:
                model.rng = generators[path]
            if not spec.trainable:
                model.trainable = False                  # Keras's flag of a frozen model: all its layers
            return model
        try:
            if isinstance(self.spec, keras_graph.GraphSpec):
                model = self.spec.build(self.dtype, generators)
            else:
                model = make(self.spec, self.spec.input_shape, self.spec.name)
            if self.optimizer is not None:
                model.compile(optimizer=self.optimizer, loss=self.loss, metrics=self.metrics,
                              loss_weights=self.loss_weights)
        except (TypeError, ValueError) as e:
            self.fail(f"the model cannot be built from its configuration: {e}")
        live = h5_weights.saveables(model)
        if [(p, s.shapes) for p, s in h5_weights.keras3_layout(live)] != \
                [(p, s.shapes) for p, s in h5_weights.keras3_layout(self.saveable)]:
            self.fail("the layers built weights of other shapes than their weight_shapes promised")
        h5_weights.assign(live, arrays)
        if optimizer_arrays is not None:
            h5_weights.restore_optimizer(model.optimizer, h5_weights.optimizer_params(model), optimizer_arrays)
        return model


def graph_dtype(settings, fail):
    """A graph model's dtype: its layers' policy (Keras writes none for the model itself)."""
    for entry in settings.get("layers") or [] if isinstance(settings, dict) else []:
        config = entry.get("config") if isinstance(entry, dict) else None
        if isinstance(config, dict) and entry.get("class_name") != "InputLayer" and config.get("dtype") is not None:
            return dtype_of(config["dtype"], f"layer {config.get('name')!r:.40}", fail)
    return "float32"


def structured(value, read, graph, what, fail, lists=False):
    """A compile setting read by ``read`` for each output where a graph model gives one per output (a list
    or dict of them); ``lists``: a setting that is itself a list (metrics), per output a list of lists."""
    if not graph or value is None or (isinstance(value, dict) and "class_name" in value):   # one (a Keras object)
        return read(value)
    if isinstance(value, dict):
        if len(value) > 1024:
            fail(f"{what} lists too many outputs")
        return {str(k): read([v] if lists and isinstance(v, str) else v) for k, v in value.items()}
    if isinstance(value, list) and (not lists or any(isinstance(v, list) for v in value)):
        if len(value) > 1024:
            fail(f"{what} lists too many outputs")
        return [read(v) for v in value]
    return read(value)


# ====================================================================== reading the files
def parse_json(data, what, fail):
    """A JSON object from ``data`` (bytes or str): valid UTF-8, no NaN, nesting Python can parse."""
    def no_constant(name):
        raise ValueError(f"{name} is not a number JSON allows")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text, parse_constant=no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        fail(f"{what} is not valid JSON ({type(e).__name__}: {str(e)[:120]}); the file is damaged or was edited")
    if not isinstance(value, dict):
        fail(f"{what} must hold a JSON object, got {type(value).__name__}")
    return value


class open_keras_zip:
    """``with open_keras_zip(path, fail) as zf``: the ``.keras`` archive, after checking its directory:
    a handful of entries (counted before zipfile reads the directory), no duplicates, nothing but
    config.json, metadata.json and model.weights.h5, none encrypted, each compressed at most as
    deflate can (a declared size deflate cannot reach is a zip bomb)."""

    def __init__(self, path, fail):
        self.fail = fail
        count = fileio.zip_entry_count(path, fail)
        if count > MAX_ENTRIES:
            fail(f"the archive declares {count:,} entries; a .keras file holds 3 ({METADATA}, {CONFIG}, "
                 f"{WEIGHTS}); refused unread")
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as e:
            fail(f"the file is damaged or truncated (it starts like a zip archive but cannot be opened as "
                 f"one: {e}); save the model again")
        try:
            self.check(os.path.getsize(path))
        except BaseException:
            self.zf.close()
            raise

    def check(self, size):
        fail, infos = self.fail, self.zf.infolist()
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            fail("the archive holds the same entry twice; the file was edited or is damaged")
        if "model.weights.npz" in names:
            fail("the weights are stored as model.weights.npz (Keras's weights_format='npz'); nnscratch "
                 "reads the default, model.weights.h5: save the model again in Keras without weights_format")
        missing = [n for n in (CONFIG, WEIGHTS) if n not in names]
        if missing:
            fail(f"a .keras archive without {missing}; {'not a Keras model file' if len(missing) == 2 else 'the file is damaged'}")
        extra = [n for n in names if n not in (CONFIG, METADATA, WEIGHTS)]
        if extra:
            fail(f"the archive holds {extra[:5]}, which nnscratch does not read (a model with assets, "
                 "or an edited file); it reads the layers it has, whose files hold no assets")
        if sum(i.compress_size for i in infos) > size:
            fail("the file is damaged or truncated (its zip directory lists more data than the file holds)")
        for info in infos:
            fileio.check_zip_entry(info, fail, "Keras")
            if info.filename != WEIGHTS and info.file_size > MAX_JSON_CHARS:
                fail(f"{info.filename} is {info.file_size:,} bytes; nnscratch reads configurations of at most "
                     f"{MAX_JSON_CHARS:,}")

    def read(self, name):
        info = self.zf.getinfo(name)
        with self.zf.open(info) as f:
            data = f.read(info.file_size + 1)                 # the CRC is checked at the end
        if len(data) != info.file_size:
            self.fail(f"{name} holds {len(data):,} bytes but its directory entry says {info.file_size:,}; "
                      "the file is damaged")
        return data

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        self.zf.close()
        if isinstance(error, (zipfile.BadZipFile, EOFError, OSError)) and not isinstance(error, fileio.FileError):
            self.fail(f"the file is damaged or truncated ({type(error).__name__}: {error}); save the model again")
        return False


def load_keras(path, compile=True):
    """``nnscratch.load_model`` for a ``.keras`` file: Keras's, or nnscratch's own."""
    fail = fileio.Failer("load_model", path)
    with open_keras_zip(path, fail) as archive:
        config = parse_json(archive.read(CONFIG), CONFIG, fail)
        metadata = parse_json(archive.read(METADATA), METADATA, fail) if METADATA in archive.zf.NameToInfo else {}
        plan = Plan(config, fail, compile)
        generators = plan.generators(metadata)
        weights = archive.read(WEIGHTS)
    with h5_weights.open_h5(weights, fail) as h5:
        arrays = h5_weights.read_keras3(h5, plan.saveable, fail)
        state = None
        if plan.optimizer is not None:
            state = h5_weights.read_keras3_optimizer(h5, plan.optimizer, plan.trainable_shapes(), fail)
    return plan.build(arrays, state, generators)


def is_keras_zip(path, fail):
    """True if the zip archive at ``path`` is a Keras model (it holds a config.json): after counting
    its entries, as :class:`open_keras_zip` does, so even this first look never reads a huge directory."""
    if fileio.zip_entry_count(path, fail) >= 65535:
        fail("the archive declares 65,535 entries or more; no model file holds so many; refused unread")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.NameToInfo)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError):
        return False                  # damaged: the .npz reader names the problem
    return CONFIG in names and "__meta__.npy" not in names


# ====================================================================== Keras's legacy .h5 file
def legacy(entry):
    """A model's or layer's entry as Keras's legacy .h5 file holds it: only class_name and config
    (the objects inside a config, a dtype policy or an initializer, keep their module)."""
    config = dict(entry["config"])
    if "layers" in config:
        config["layers"] = [legacy(layer) for layer in config["layers"]]
    graph = {key: entry[key] for key in ("name", "inbound_nodes") if key in entry}     # a graph model's layer
    return {"class_name": entry["class_name"], "config": config, **graph}


def training_config(model):
    """The legacy file's ``training_config``: compile()'s arguments, the optimizer's without module."""
    config = compile_config(model)
    optimizer, loss = config.pop("optimizer"), config["loss"]
    if isinstance(loss, dict):
        config["loss"] = {"class_name": loss["class_name"], "config": loss["config"]}
    config["optimizer_config"] = {"class_name": optimizer["class_name"], "config": optimizer["config"]}
    return config


def compile_settings(training):
    """A legacy ``training_config`` shaped like Keras 3's compile_config (``optimizer_config`` becomes
    ``optimizer``)."""
    settings = dict(training)
    settings["optimizer"] = settings.pop("optimizer_config", None)
    return settings


def legacy_bytes(model, include_optimizer=True):
    """The bytes of ``model``'s legacy ``.h5`` file, as ``legacy_h5_format.save_model_to_hdf5`` writes it."""
    config = json.dumps(legacy(model_config(model)), allow_nan=False)
    compiled = model.optimizer is not None and include_optimizer          # as Keras: no training_config without
    training = json.dumps(training_config(model), allow_nan=False) if compiled else None     # the optimizer
    h5_weights.check_finite(model, "save")

    def fill(f):
        f.attrs["keras_version"] = KERAS_VERSION
        f.attrs["backend"] = "numpy"
        f.attrs["model_config"] = config.encode("utf8")
        if training is not None:
            f.attrs["training_config"] = training.encode("utf8")
        h5_weights.write_legacy(f, model, include_optimizer)
    return h5_weights.h5_bytes(fill)


def save_h5(model, path, include_optimizer=True):
    """``model.save('m.h5')``: Keras's legacy HDF5 model file, written atomically."""
    data = legacy_bytes(model, include_optimizer)
    fileio.write_atomically(path, lambda f: f.write(data))


def load_h5(path, compile=True):
    """``nnscratch.load_model`` for a legacy ``.h5`` model file (Keras's ``model.save('m.h5')``)."""
    fail = fileio.Failer("load_model", path)
    with h5_weights.open_h5(path, fail) as h5:
        text = h5.text(h5.f, "model_config", MAX_JSON_CHARS, "the attribute model_config")
        if text is None:
            fail("an HDF5 file without a model configuration: a weights file (load it into a model with "
                 "model.load_weights), not a whole model")
        config = parse_json(text, "model_config", fail)
        settings = {}
        training = h5.text(h5.f, "training_config", MAX_JSON_CHARS, "the attribute training_config") if compile else None
        if training is not None:
            settings = compile_settings(parse_json(training, "training_config", fail))
        plan = Plan(config, fail, compile, settings)
        arrays = h5_weights.read_legacy(h5, plan.saveable, fail)
        state = None
        if plan.optimizer is not None:
            state = h5_weights.read_legacy_optimizer(h5, plan.optimizer, plan.trainable_shapes(), fail)
    return plan.build(arrays, state, {})


# ====================================================================== weights only
def save_weights(model, filepath, overwrite=True, max_shard_size=None):
    """``model.save_weights(filepath)``: the model's weights and its optimizer's state in Keras 3's
    ``.weights.h5`` file (``h5_weights.py``), written atomically.  ``filepath`` must end in
    ``.weights.h5``, as Keras requires.  ``overwrite=False`` refuses to replace an existing file
    (Keras would ask on the terminal)."""
    if max_shard_size is not None:
        raise NotImplementedInNnscratch("save_weights(max_shard_size=...) (sharded weights) is not implemented "
                                        "in nnscratch; it writes one .weights.h5 file")
    path = os.fspath(filepath)
    if not str(path).endswith(".weights.h5"):
        raise ValueError(f"save_weights: the file name must end in '.weights.h5' (Keras 3's weights file), "
                         f"got {path!r}; model.save(path) writes a whole model (.keras, .h5 or .npz)")
    if not model.built:
        raise ValueError("save_weights: the model is not built yet, so it has no weights (give the first "
                         "layer input_shape, or fit it first)")
    if not overwrite and os.path.exists(path):
        raise ValueError(f"save_weights: {path!r} exists and overwrite=False; nothing was written")
    h5_weights.check_finite(model, "save_weights")
    data = h5_weights.h5_bytes(lambda f: h5_weights.write_keras3(f, model))
    fileio.write_atomically(path, lambda out: out.write(data), what="save_weights")


def load_weights(model, filepath, skip_mismatch=False, **kwargs):
    """``model.load_weights(filepath)``: the weights of a file into ``model`` (built, of the same
    architecture), and its optimizer's state when the model is compiled and the file has it.  Reads
    what Keras's ``load_weights`` reads, by the name's ending: ``.weights.h5`` (Keras 3's weights
    file), ``.keras`` (the weights inside), ``.h5``/``.hdf5`` (Keras's legacy files, matched layer by
    layer in order, as Keras matches them).

    Everything is read and checked before anything changes: a file for another architecture, or
    damaged or hostile, raises ``ValueError`` naming the file and the problem, and the model is left
    as it was."""
    path = os.fspath(filepath)
    fail = fileio.Failer("load_weights", path)
    if skip_mismatch or kwargs.get("by_name") or kwargs.get("objects_to_skip") is not None:
        argument = "skip_mismatch" if skip_mismatch else "by_name" if kwargs.get("by_name") else "objects_to_skip"
        raise NotImplementedInNnscratch(f"load_weights({argument}=...) is not implemented in nnscratch: every "
                                        "weight of the file must fit the model, matched as Keras matches them")
    unknown = sorted(set(kwargs) - {"by_name", "objects_to_skip"})
    if unknown:
        raise ValueError(f"load_weights: invalid keyword arguments {unknown}")
    if not model.built:
        raise ValueError("load_weights: the model is not built yet (give the first layer input_shape, or "
                         "build it), so there is nothing to load the weights into")
    name = str(path)
    kind = "keras" if name.endswith(".keras") else "weights" if name.endswith(".weights.h5") else \
        "legacy" if name.endswith((".h5", ".hdf5")) else None
    if kind is None:
        fail("load_weights reads '.weights.h5' files (model.save_weights writes them), and the weights of "
             "'.keras' and legacy '.h5' model files; nnscratch.load_model reads whole models")
    if fileio.sniff(path, fail) != ("zip" if kind == "keras" else "hdf5"):
        fail(f"not a{' zip' if kind == 'keras' else 'n HDF5'} file, as its name says it is")
    root = h5_weights.saveables(model)
    opt = model.optimizer
    params = h5_weights.optimizer_params(model) if opt is not None else []
    shapes = [p.shape for p in params]
    if kind == "keras":
        with open_keras_zip(path, fail) as archive:
            source = archive.read(WEIGHTS)
    else:
        source = path
    with h5_weights.open_h5(source, fail) as h5:
        if kind == "legacy":
            arrays = h5_weights.read_legacy(h5, root, fail)
            state = h5_weights.read_legacy_optimizer(h5, opt, shapes, fail) if opt is not None else None
        else:
            arrays = h5_weights.read_keras3(h5, root, fail)
            state = h5_weights.read_keras3_optimizer(h5, opt, shapes, fail) if opt is not None else None
    h5_weights.assign(root, arrays)
    if state is not None:
        h5_weights.restore_optimizer(opt, params, state)
