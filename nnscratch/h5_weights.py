"""Keras's HDF5 weight files, both ways, through h5py: ``model.save_weights('m.weights.h5')`` and
``model.load_weights(path)``, and the weights inside ``.keras`` files (``keras_format.py``).

Keras 3's layout (``.weights.h5``, and ``model.weights.h5`` inside a ``.keras`` zip), as
``keras/src/saving/saving_lib.py`` writes it::

    vars                                 attrs {name: the model's name}; a Sequential has no variables
    layers/<key>/vars/0, 1, ...          one layer's variables in the layer's order (Dense: kernel, bias)
    layers/<key>/layers/<key>/vars/...   the layers of a nested Sequential, the same way below it
    optimizer/vars/0, 1, 2, ...          iteration (int64), learning_rate (float32), then the state

``<key>`` is the layer's *class* in snake_case, numbered within its model in order (``dense``,
``dense_1``, ``dropout``, ``conv2d``, ``max_pooling2d``, ``sequential``): Keras does not use layer
names, which differ between two builds of one architecture.  Every layer gets its ``vars`` group,
with or without variables.  The optimizer's state follows Keras's ``optimizer.variables``: each
optimizer's ``build`` creates its slots (:data:`KERAS_SLOTS`), interleaving those it creates in one
call (Adam: ``m_1, v_1, m_2, v_2, ...``) and putting separate calls one after the other (RMSprop:
every velocity, then every momentum).

Reading trusts nothing in the file (:class:`SafeH5`): each group and dataset is reached by hard links
only (a soft or external link could point anywhere, even into another file), a dataset must not keep
its data in external files or map other files (virtual), its shape and dtype must be the ones the
model needs before a byte is read, its compression must be gzip (with shuffle or a checksum) at most,
and its declared size must be possible for the bytes it stores (a dataset of terabytes declared over a
few compressed bytes is a bomb).  Everything is read and checked before any weight of the model is
touched, so a refused file leaves the model as it was.
"""
import io
import math
import os
import re
import warnings

import h5py
import numpy as np

from . import fileio

# Keras's class and default object name for each nnscratch optimizer (RMSprop's default name is the
# snake case of its class name, as Keras spells it).
KERAS_OPTIMIZERS = {"adam": ("Adam", "adam"), "sgd": ("SGD", "sgd"), "rmsprop": ("RMSprop", "rm_sprop")}
# Each optimizer's state in the order Keras's build() creates it, as (nnscratch slot, Keras's name)
# pairs; the pairs of one tuple come from one add_optimizer_variables call, interleaved per parameter.
KERAS_SLOTS = {"adam": ((("m", "momentum"), ("v", "velocity")),),
               "sgd": ((("velocity", "momentum"),),),
               "rmsprop": ((("velocity", "velocity"),), (("momentum", "momentum"),),
                           (("average_gradient", "average_gradient"),))}
ALLOWED_FILTERS = {h5py.h5z.FILTER_DEFLATE: "gzip", h5py.h5z.FILTER_SHUFFLE: "shuffle",
                   h5py.h5z.FILTER_FLETCHER32: "fletcher32"}
MAX_EXPANSION = 1100           # gzip expands at most ~1032x: a dataset declaring more is refused unread


# ====================================================================== what is saved
class Saveable:
    """What a layout needs to know of a model or a layer: Keras's class name, its ``name``, the
    ``shapes`` of its variables (Keras's order), for a model its ``layers`` (Saveables), and for a live
    model the arrays themselves (``arrays``).  Built from a live model by :func:`saveables`, or from a
    file's configuration before anything is allocated (``keras_format.py``)."""

    def __init__(self, class_name, name, shapes=(), layers=None, arrays=None):
        self.class_name, self.name = class_name, name
        self.shapes = [tuple(s) for s in shapes]
        self.layers = layers
        self.arrays = arrays


def saveables(model):
    """The :class:`Saveable` tree of a live nnscratch model: a nested ``Sequential`` (anything with a
    list of ``layers``) is a node with layers, every other layer a leaf with its weight arrays."""
    if isinstance(getattr(model, "layers", None), list):
        return Saveable(type(model).__name__, model.name, layers=[saveables(l) for l in model.layers])
    weights = list(model.weights)
    return Saveable(type(model).__name__, model.name, [w.shape for w in weights], arrays=weights)


def snake_case(name):
    """Keras's ``naming.to_snake_case``: ``'MaxPooling2D' -> 'max_pooling2d'``, ``'Dense' -> 'dense'``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def keras3_layout(root):
    """``[(path, saveable)]`` in the order Keras's ``saving_lib`` visits them: the model itself at
    ``''``, then each layer at ``layers/<key>`` (a nested model's layers below it)."""
    found = [("", root)]

    def walk(model, prefix):
        used = {}
        for layer in model.layers:
            base = snake_case(layer.class_name)
            key = base if base not in used else f"{base}_{used[base] + 1}"     # dense, dense_1, dense_2
            used[base] = used.get(base, -1) + 1
            found.append((prefix + "layers/" + key, layer))
            if layer.layers is not None:
                walk(layer, prefix + "layers/" + key + "/")
    walk(root, "")
    return found


def vars_group(path):
    return f"{path}/vars" if path else "vars"


def optimizer_layout(opt, n_params):
    """``[(slot, i, keras_name)]``: nnscratch's state arrays ``opt.state[slot][i]`` in the order of
    Keras's ``optimizer.variables`` (after its ``iteration`` and ``learning_rate``)."""
    if opt.name not in KERAS_SLOTS:
        raise ValueError(f"{type(opt).__name__} is not one of Keras's optimizers "
                         f"({', '.join(c for c, _ in KERAS_OPTIMIZERS.values())}); Keras's files cannot hold it")
    slots, order = list(opt.slots), []
    for group in KERAS_SLOTS[opt.name]:
        if all(slot in slots for slot, _ in group):
            order += [(slot, i, name) for i in range(n_params) for slot, name in group]
    return order


def optimizer_arrays(opt, params):
    """Keras's ``optimizer.variables`` for ``opt`` training ``params``: ``[iteration (int64),
    learning_rate (float32), state...]``.  An optimizer compiled but not yet built gives zeros, the
    state Keras builds for it when it loads the model."""
    arrays = [np.array(opt.iterations, np.int64), np.array(opt.learning_rate, np.float32)]
    for slot, i, _ in optimizer_layout(opt, len(params)):
        state = opt.state[slot][i] if opt.built else np.zeros_like(params[i])
        if state.shape != params[i].shape:
            raise ValueError(f"the optimizer's {slot} state {i} has shape {state.shape}, but the model's "
                             f"weight {i} has {params[i].shape}: the optimizer was built for another model")
        arrays.append(state)
    return arrays


def restore_optimizer(opt, params, arrays):
    """Put Keras's optimizer variables ``arrays`` (checked: :func:`optimizer_arrays`' count, shapes and
    dtypes) into ``opt``, building its state for ``params``: ``[iteration, learning_rate]`` alone is an
    optimizer Keras never built (no step taken), which stays unbuilt here too."""
    iterations, learning_rate = int(arrays[0]), float(arrays[1])
    if np.float32(learning_rate) != np.float32(opt.learning_rate):   # same float32: keep the exact value
        opt.learning_rate = learning_rate
    if len(arrays) == 2 and opt.slots:                # Keras's optimizer was never built: a fresh one
        opt.state, opt.built, opt.iterations = {}, False, iterations
        return
    opt.build(params)                                 # zeros; sets iterations to 0
    for (slot, i, _), array in zip(optimizer_layout(opt, len(params)), arrays[2:]):
        opt.state[slot][i][...] = array
    opt.iterations = iterations


# ====================================================================== writing
def h5_bytes(fill):
    """The bytes of a new HDF5 file that ``fill(f)`` writes (h5py's defaults, as Keras opens its files)."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        fill(f)
    return buffer.getvalue()


def write_keras3(f, model, include_optimizer=True):
    """Write ``model``'s variables (and its optimizer's) into the open h5py file ``f``, Keras 3's layout."""
    for path, saveable in keras3_layout(saveables(model)):
        group = f.create_group(vars_group(path))
        group.attrs["name"] = saveable.name
        for i, array in enumerate(saveable.arrays or []):
            group[str(i)] = array
    opt = model.optimizer
    if include_optimizer and opt is not None:
        group = f.create_group("optimizer/vars")
        group.attrs["name"] = KERAS_OPTIMIZERS[opt.name][1] if opt.name in KERAS_OPTIMIZERS else opt.name
        params = opt.variables if opt.built else model.trainable_weights     # frozen layers have no state
        for i, array in enumerate(optimizer_arrays(opt, params)):
            group[str(i)] = array


def check_finite(model, what):
    """Refuse to write a model whose weights or optimizer state hold NaN or infinity."""
    for i, w in enumerate(model.weights):
        if not np.all(np.isfinite(w)):
            raise ValueError(f"{what}: weight {i} holds NaN or infinite values (the training diverged); "
                             "nothing was written")
    opt = model.optimizer
    if opt is not None and opt.built:
        for slot, arrays in opt.state.items():
            if not all(np.all(np.isfinite(a)) for a in arrays):
                raise ValueError(f"{what}: the optimizer's {slot} state holds NaN or infinite values; "
                                 "nothing was written")


def save_weights(model, filepath, overwrite=True):
    """``model.save_weights(filepath)``: the model's weights and its optimizer's state in Keras 3's
    ``.weights.h5`` file (the layout above), written atomically.  ``filepath`` must end in
    ``.weights.h5``, as Keras requires.  ``overwrite=False`` refuses to replace an existing file
    (Keras would ask on the terminal)."""
    path = os.fspath(filepath)
    if not str(path).endswith(".weights.h5"):
        raise ValueError(f"save_weights: the file name must end in '.weights.h5' (Keras 3's weights file), "
                         f"got {path!r}; model.save(path) writes a whole model (.keras, .h5 or .npz)")
    if not model.built:
        raise ValueError("save_weights: the model is not built yet, so it has no weights (give the first "
                         "layer input_shape, or fit it first)")
    if not overwrite and os.path.exists(path):
        raise ValueError(f"save_weights: {path!r} exists and overwrite=False; nothing was written")
    check_finite(model, "save_weights")
    data = h5_bytes(lambda f: write_keras3(f, model))
    fileio.write_atomically(path, lambda out: out.write(data), what="save_weights")


# ====================================================================== reading
class SafeH5:
    """Reads groups and datasets of an open h5py file without following anything the file could aim
    elsewhere, and without reading a dataset before its shape, dtype and size are the expected ones.
    ``fail(problem)`` raises the caller's error."""

    def __init__(self, f, fail):
        self.f, self.fail = f, fail

    def _child(self, group, name, where):
        link = group.get(name, getlink=True)
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            self.fail(f"{where} is a {type(link).__name__}: Keras's files hold their data themselves, "
                      "and a link could point anywhere (even into another file); refused unread")
        return group[name]

    def group(self, path):
        """The group at ``path`` ('a/b/c'), reached through hard links only; None if it is missing."""
        group = self.f
        for i, part in enumerate(path.split("/")):
            group = self._child(group, part, "/".join(path.split("/")[:i + 1]))
            if group is None:
                return None
            if not isinstance(group, h5py.Group):
                self.fail(f"{path} should be a group, but the file holds a {type(group).__name__} there")
        return group

    def count(self, group):
        """The number of links in ``group`` (datasets and groups), without listing them."""
        return len(group)

    def names(self, group, limit, where):
        """The names in ``group``: at most ``limit`` of them, else a failure (listing is never open-ended)."""
        if len(group) > limit:
            self.fail(f"{where} holds {len(group):,} entries where at most {limit:,} are expected; "
                      "the file is not one written for this model")
        return list(group)

    def array(self, group, name, shape, kinds, where):
        """The dataset ``name`` of ``group`` as a native-byte-order array, after checking it has exactly
        ``shape`` and a dtype of one of ``kinds`` ('f' float, 'i' integer) and that nothing it declares
        is impossible.  Floats must be finite."""
        ds = self._child(group, name, where)
        if ds is None:
            self.fail(f"{where} is missing")
        if not isinstance(ds, h5py.Dataset):
            self.fail(f"{where} should be a dataset, but the file holds a {type(ds).__name__} there")
        if ds.is_virtual:
            self.fail(f"{where} is a virtual dataset (it maps data of other files); refused unread")
        if ds.external:
            self.fail(f"{where} keeps its data in external files {ds.external[:2]}; refused unread")
        dtype = ds.dtype
        if dtype.kind not in kinds or dtype.itemsize not in ((2, 4, 8) if dtype.kind == "f" else (1, 2, 4, 8)):
            self.fail(f"{where} has dtype {dtype}, but a {'float' if 'f' in kinds else 'integer'} is needed")
        if ds.shape != tuple(shape):
            self.fail(f"{where} has shape {ds.shape}, but the model needs {tuple(shape)}; the file was "
                      "written for another architecture (or was edited)")
        plist = ds.id.get_create_plist()
        for k in range(plist.get_nfilters()):
            code = plist.get_filter(k)[0]
            if code not in ALLOWED_FILTERS:
                self.fail(f"{where} is stored with HDF5 filter {code}; nnscratch reads uncompressed data, "
                          f"or {', '.join(ALLOWED_FILTERS.values())}")
        declared = math.prod(shape) * dtype.itemsize
        stored = ds.id.get_storage_size()
        if declared > MAX_EXPANSION * stored + 1024:
            self.fail(f"{where} declares {declared:,} bytes but stores only {stored:,}, which no real "
                      "array can (a decompression bomb, or a damaged file); refused unread")
        out = np.empty(shape, dtype)
        if declared:
            ds.read_direct(out)
        out = out.astype(dtype.newbyteorder("="), copy=False)
        if out.dtype.kind == "f" and not np.all(np.isfinite(out)):
            self.fail(f"{where} holds NaN or infinite values ({np.count_nonzero(~np.isfinite(out))} of "
                      f"{out.size}); a model with them cannot be trained further")
        return out


class open_h5:
    """``with open_h5(source, fail) as h5``: a :class:`SafeH5` over the HDF5 file at a path or in
    bytes; errors of the HDF5 library while reading (a damaged file) become ``fail``'s error."""

    def __init__(self, source, fail):
        self.fail = fail
        try:
            self.f = h5py.File(io.BytesIO(source) if isinstance(source, bytes) else source, "r")
        except (OSError, ValueError) as e:
            fail(f"is not a readable HDF5 file ({e}); the file is damaged or truncated")

    def __enter__(self):
        return SafeH5(self.f, self.fail)

    def __exit__(self, kind, error, tb):
        self.f.close()
        if error is not None and not isinstance(error, fileio.FileError) \
                and isinstance(error, (OSError, KeyError, RuntimeError, ValueError, TypeError)):
            self.fail(f"the file is damaged ({type(error).__name__}: {error})")
        return False


def read_keras3(h5, root, fail):
    """``{path: [arrays]}`` for every saveable of ``root`` (Keras 3's layout), each array checked
    against the shape ``root`` expects.  Layers the model does not have are refused, not ignored: a
    file for another architecture must not half-load."""
    found = {}
    for path, saveable in keras3_layout(root):
        if saveable.layers is not None:                          # a model: its layers, and nothing else
            expected = {p.rsplit("/", 1)[-1] for p, s in keras3_layout(saveable)[1:] if p.count("/") == 1}
            group = h5.group(f"{path}/layers" if path else "layers")
            if group is not None:
                extra = sorted(set(h5.names(group, len(expected) + 64, f"{path or 'the file'}'s layers"))
                               - expected)
                if extra:
                    fail(f"the file holds weights for layers {extra[:5]} under '{path}/layers', which this "
                         f"model does not have (it has {sorted(expected)}); it was saved from another "
                         "architecture")
        group = h5.group(vars_group(path))
        where = f"{vars_group(path)} ({saveable.class_name} {saveable.name!r})"
        if group is None:
            if saveable.shapes:
                fail(f"{where} is missing: the file holds no weights for this layer; it was saved from "
                     "another architecture")
            found[path] = []
            continue
        if h5.count(group) != len(saveable.shapes):
            fail(f"{where} holds {h5.count(group)} variables, but the layer has {len(saveable.shapes)}; the "
                 "file was saved from another architecture")
        found[path] = [h5.array(group, str(i), shape, "f", f"{vars_group(path)}/{i}")
                       for i, shape in enumerate(saveable.shapes)]
    return found


def read_keras3_optimizer(h5, opt, params, fail):
    """Keras's optimizer variables for ``opt`` (``[iteration, learning_rate, state...]``, checked), or
    None with a warning when the file's optimizer does not fit ``opt`` (as Keras skips it, warning)."""
    group = h5.group("optimizer/vars")
    if group is None:
        return None
    layout = optimizer_layout(opt, len(params))
    n = h5.count(group)
    keras_class, keras_name = KERAS_OPTIMIZERS[opt.name]
    saved_name = group.attrs.get("name", "")
    saved_name = saved_name.decode() if isinstance(saved_name, bytes) else str(saved_name)
    base = re.sub(r"_\d+$", "", saved_name)
    other = [c for c, name in KERAS_OPTIMIZERS.values() if name == base and name != keras_name]
    if other or n not in (2, 2 + len(layout)):
        why = (f"it is a {other[0]} optimizer's" if other else
               f"the model's {keras_class} has {2 + len(layout)} variables whereas the file has {n}")
        warnings.warn(f"load: the optimizer's state was not restored: {why}; training continues with "
                      "a fresh optimizer state (Keras skips it the same way)", stacklevel=3)
        return None
    arrays = [h5.array(group, "0", (), "iu", "optimizer/vars/0 (iteration)"),
              h5.array(group, "1", (), "f", "optimizer/vars/1 (learning_rate)")]
    if not 0 <= int(arrays[0]) < 2 ** 62 or not float(arrays[1]) > 0:
        fail(f"the optimizer's iteration ({int(arrays[0])}) must be >= 0 and its learning rate "
             f"({float(arrays[1])}) > 0; the file was edited")
    if n == 2 and layout and int(arrays[0]) > 0:
        fail(f"the optimizer has taken {int(arrays[0])} steps but its state is missing; the file was edited")
    for k, (slot, i, name) in enumerate(layout[:n - 2]):
        arrays.append(h5.array(group, str(k + 2), params[i].shape, "f",
                               f"optimizer/vars/{k + 2} ({name} of weight {i})"))
    return arrays


def load_weights(model, filepath, skip_mismatch=False):
    """``model.load_weights(filepath)``: the weights of a Keras 3 ``.weights.h5`` file into ``model``
    (built, of the same architecture), and its optimizer's state when the model is compiled.

    Everything is read and checked before anything changes: a file for another architecture, or
    damaged or hostile, raises ``ValueError`` naming the file and the problem, and the model is left
    as it was."""
    path = os.fspath(filepath)
    fail = fileio.Failer("load_weights", path)
    if skip_mismatch:
        raise ValueError("load_weights: skip_mismatch=True is not implemented in nnscratch; every weight "
                         "must fit the model")
    if not model.built:
        raise ValueError("load_weights: the model is not built yet (give the first layer input_shape, or "
                         "build it), so there is nothing to load the weights into")
    if not str(path).endswith(".weights.h5"):
        fail("load_weights reads Keras 3's '.weights.h5' files (model.save_weights writes them); "
             "nnscratch.load_model reads whole models")
    if fileio.sniff(path, fail) != "hdf5":
        fail("not an HDF5 file (a .weights.h5 file is one; model.save_weights writes them)")
    root = saveables(model)
    with open_h5(path, fail) as h5:
        arrays = read_keras3(h5, root, fail)
        opt = model.optimizer
        opt_arrays = read_keras3_optimizer(h5, opt, model.trainable_weights, fail) if opt is not None else None
    assign(root, arrays)
    if opt_arrays is not None:
        restore_optimizer(opt, model.trainable_weights, opt_arrays)


def assign(root, arrays):
    """Copy the checked ``arrays`` (``{path: [arrays]}``) into the live weights of ``root``'s layers
    (cast to each weight's dtype, as Keras's ``assign`` casts)."""
    for path, saveable in keras3_layout(root):
        for weight, array in zip(saveable.arrays or [], arrays[path]):
            weight[...] = array
