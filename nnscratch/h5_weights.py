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
import re
import warnings

import numpy as np

from . import fileio, registry

# Keras's class and default object name for each nnscratch optimizer (RMSprop's default name is the
# snake case of its class name, as Keras spells it).
KERAS_OPTIMIZERS = {"adam": ("Adam", "adam"), "sgd": ("SGD", "sgd"), "rmsprop": ("RMSprop", "rm_sprop")}
# Each optimizer's state in the order Keras's build() creates it, as (nnscratch slot, Keras's name)
# pairs; the pairs of one tuple come from one add_optimizer_variables call, interleaved per parameter.
KERAS_SLOTS = {"adam": ((("m", "momentum"), ("v", "velocity")),),
               "sgd": ((("velocity", "momentum"),),),
               "rmsprop": ((("velocity", "velocity"),), (("momentum", "momentum"),),
                           (("average_gradient", "average_gradient"),))}
ALLOWED_FILTERS = {1: "gzip", 2: "shuffle", 3: "fletcher32"}    # HDF5's H5Z_FILTER_DEFLATE, _SHUFFLE, _FLETCHER32
MAX_EXPANSION = fileio.MAX_EXPANSION   # gzip is deflate: a dataset declaring more is refused unread


# ====================================================================== what is saved
class Saveable:
    """What a layout needs to know of a model or a layer: Keras's class name, its ``name``, the
    ``shapes`` of its variables (Keras's order), for a model its ``layers`` (Saveables, in the order
    their weights are the model's) and ``children``, the keys Keras files them under, and for a live
    model the arrays themselves (``arrays``).  Built from a live model by :func:`saveables`, or from a
    file's configuration before anything is allocated (``keras_format.py``).

    A Sequential's children are its ``layers``, filed under ``layers/<key>`` (:func:`keyed`); a
    subclassed model's are its attributes, filed under their names (a list or dict of layers under
    ``<attribute>/<key>``), as Keras walks a model's attributes."""

    def __init__(self, class_name, name, shapes=(), layers=None, arrays=None, trainable=True, children=None):
        self.class_name, self.name, self.trainable = class_name, name, trainable
        self.shapes = [tuple(s) for s in shapes]
        self.layers = layers
        self.arrays = arrays
        if children is None and layers is not None:
            children, self.containers = keyed("layers", layers), ["layers"]
        else:
            self.containers = [key.split("/")[0] for key, _ in children or [] if "/" in key]
        self.children = children or []


def keyed(container, items):
    """``[(key, saveable)]``: the saveables of a list, each filed under its class in snake_case,
    numbered within the list (``dense``, ``dense_1``, ``dropout``): Keras does not use layer names,
    which differ between two builds of one architecture."""
    used, found = {}, []
    for item in items:
        base = snake_case(item.class_name)
        found.append((f"{container}/{base}" if base not in used else f"{container}/{base}_{used[base] + 1}", item))
        used[base] = used.get(base, -1) + 1
    return found


def saveables(model):
    """The :class:`Saveable` tree of a live nnscratch model: a model of a class model files name
    (``registry.py``: a ``Sequential``, its list of ``layers``) and a subclassed model (layers among
    its attributes) are nodes, every layer a leaf with its weight arrays."""
    if isinstance(model, tuple(registry.get(n, kind="model") for n in registry.names("model"))):
        return Saveable(type(model).__name__, model.name,          # a Sequential: its list of layers
                        layers=[saveables(l) for l in model.layers])
    if isinstance(getattr(model, "layers", None), list):                 # a subclassed model
        made = {id(layer): saveables(layer) for layer in model.layers}
        return Saveable(type(model).__name__, model.name, layers=[made[id(l)] for l in model.layers],
                        children=attribute_children(model, made))
    weights = list(model.weights)
    return Saveable(type(model).__name__, model.name, [w.shape for w in weights], arrays=weights,
                    trainable=bool(getattr(model, "trainable", True)))


def attribute_children(model, made):
    """A subclassed model's children as Keras's ``saving_lib`` walks them: its attributes by name,
    sorted (private ones last), each layer once (where it is met first); a list, tuple or dict of
    layers is a container whose layers are :func:`keyed` under the attribute's name."""
    found, seen = [], set()
    for name, value in sorted(vars(model).items(), key=lambda item: ("~" if item[0].startswith("_") else "")
                              + item[0]):
        if id(value) in made:
            if id(value) not in seen:
                seen.add(id(value))
                found.append((name, made[id(value)]))
        elif isinstance(value, (list, tuple, dict)):
            items = [v for v in (value.values() if isinstance(value, dict) else value)
                     if id(v) in made and id(v) not in seen]
            seen.update(id(v) for v in items)
            found += keyed(name, [made[id(v)] for v in items])
    return found


def snake_case(name):
    """Keras's ``naming.to_snake_case``: ``'MaxPooling2D' -> 'max_pooling2d'``, ``'Dense' -> 'dense'``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def keras3_layout(root):
    """``[(path, saveable)]`` in the order Keras's ``saving_lib`` visits them: the model itself at
    ``''``, then each child at its key (a nested model's children below it)."""
    found = [("", root)]

    def walk(node, prefix):
        for key, child in node.children:
            found.append((prefix + key, child))
            walk(child, prefix + key + "/")
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


def optimizer_params(model):
    """The arrays whose state the model's optimizer keeps, in order: those it was built for, or, not
    yet built, the model's trainable weights (a frozen layer's have no state, as in Keras)."""
    opt = model.optimizer
    return list(opt.variables) if opt.built else model.trainable_weights


def head(opt):
    """The variables Keras's optimizer keeps before its state: ``iteration`` and ``learning_rate``
    (none for a learning-rate schedule, which Keras computes from the iteration)."""
    return ["iteration"] if getattr(opt, "schedule", None) is not None else ["iteration", "learning_rate"]


def optimizer_arrays(opt, params):
    """Keras's ``optimizer.variables`` for ``opt`` training ``params``: ``[iteration (int64),
    learning_rate (float32, unless a schedule gives it), state...]``.  An optimizer compiled but not
    yet built gives zeros, the state Keras builds for it when it loads the model."""
    state = opt.state_of(params) if opt.built else None     # refuses an optimizer built for another model
    arrays = [np.array(opt.iterations, np.int64), np.array(opt.learning_rate, np.float32)][:len(head(opt))]
    for slot, i, _ in optimizer_layout(opt, len(params)):
        arrays.append(state[slot][i] if state is not None else np.zeros_like(params[i]))
    return arrays


def restore_optimizer(opt, params, arrays):
    """Put Keras's optimizer variables ``arrays`` (checked: :func:`optimizer_arrays`' count, shapes and
    dtypes) into ``opt``, building its state for ``params``: ``[iteration, learning_rate]`` alone is an
    optimizer Keras never built (no step taken), which stays unbuilt here too."""
    n = len(head(opt))
    iterations = int(arrays[0])
    if n == 2 and np.float32(arrays[1]) != np.float32(opt.learning_rate):   # the same float32: the same rate
        opt.learning_rate = float(str(np.float32(arrays[1])))                # its shortest decimal, e.g. 0.001
    if len(arrays) == n and opt.slots:                # Keras's optimizer was never built: a fresh one
        opt.variables, opt.state, opt.built, opt.iterations = [], {}, False, iterations
        return
    opt.build(params)                                 # zeros; sets iterations to 0
    for (slot, i, _), array in zip(optimizer_layout(opt, len(params)), arrays[n:]):
        opt.state[slot][i][...] = array
    opt.iterations = iterations


def other_optimizer(saved_name, opt):
    """The Keras class of the optimizer that wrote a state named ``saved_name``, if that is one of
    Keras's default names ('adam', 'sgd_2', 'rm_sprop') for another optimizer than ``opt``; else None."""
    base = re.sub(r"_\d+$", "", saved_name)
    ours = KERAS_OPTIMIZERS[opt.name][1]
    return next((c for c, name in KERAS_OPTIMIZERS.values() if name == base and name != ours), None)


def skip_optimizer(why):
    """Keras's answer to a saved optimizer state that does not fit: a warning, and a fresh state."""
    warnings.warn(f"load: the optimizer's state was not restored: {why}; training continues with a fresh "
                  "optimizer state (Keras skips it the same way)", stacklevel=4)


def checked_optimizer_arrays(arrays, layout, n, fail):
    """``arrays`` (iteration, learning_rate unless ``n`` is 1, state) if their values can be an optimizer's."""
    iteration, learning_rate = int(arrays[0]), float(arrays[1]) if n == 2 else 1.0
    if not 0 <= iteration < 2 ** 62 or not learning_rate > 0:
        fail(f"the optimizer's iteration ({iteration}) must be >= 0 and its learning rate ({learning_rate}) "
             "> 0; the file was edited")
    if len(arrays) == n and layout and iteration > 0:
        fail(f"the optimizer has taken {iteration} steps but its state is missing; the file was edited")
    return arrays


# ====================================================================== writing
def h5_bytes(fill):
    """The bytes of a new HDF5 file that ``fill(f)`` writes (h5py's defaults, as Keras opens its files)."""
    import h5py                                       # here, not at the top: `import nnscratch` stays quick
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
        for i, array in enumerate(optimizer_arrays(opt, optimizer_params(model))):
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


# ====================================================================== reading
class SafeH5:
    """Reads groups and datasets of an open h5py file without following anything the file could aim
    elsewhere, and without reading a dataset before its shape, dtype and size are the expected ones.
    ``fail(problem)`` raises the caller's error."""

    def __init__(self, f, fail):
        import h5py
        self.f, self.fail, self.h5py = f, fail, h5py

    def _child(self, group, name, where):
        link = group.get(name, getlink=True)
        if link is None:
            return None
        if not isinstance(link, self.h5py.HardLink):
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
            if not isinstance(group, self.h5py.Group):
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

    def component(self, name, what):
        """``name`` if it can be one step of a path in the file (not empty, no '/', not '.' or '..')."""
        if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or len(name) > 1024:
            self.fail(f"{what} {name!r:.80} cannot name a group or dataset; the file was edited")
        return name

    def strings(self, obj, name, limit, where):
        """The list of names stored as attribute ``name`` of ``obj`` (or split into ``name0``,
        ``name1``, ..., as Keras stores long lists): at most ``limit`` of them, each decoded from UTF-8."""
        keys = [name]
        if name not in obj.attrs:
            keys = []
            while f"{name}{len(keys)}" in obj.attrs and len(keys) < 1024:
                keys.append(f"{name}{len(keys)}")
        found = []
        for key in keys:
            count = math.prod(obj.attrs.get_id(key).shape or ())
            if len(found) + count > limit:
                self.fail(f"{where} lists more than {limit:,} names; the file is not one written for this model")
            values = np.atleast_1d(obj.attrs[key])
            if values.size and values.dtype.kind not in "OSU":
                self.fail(f"{where} must be a list of names, got an array of {values.dtype}")
            found += [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values.ravel()]
        return found

    def text(self, obj, name, limit, where):
        """The string attribute ``name`` of ``obj`` (a JSON text), at most ``limit`` bytes; None if absent."""
        if name not in obj.attrs:
            return None
        attr = obj.attrs.get_id(name)
        if attr.get_storage_size() > limit or math.prod(attr.shape or ()) != 1:
            self.fail(f"{where} must be one string of at most {limit:,} bytes")
        value = obj.attrs[name]
        value = value.item() if isinstance(value, np.ndarray) else value
        if isinstance(value, bytes):
            value = value.decode("utf8", errors="strict")
        if not isinstance(value, str) or len(value) > limit:
            self.fail(f"{where} must be one string of at most {limit:,} bytes, got {type(value).__name__}")
        return value

    def array(self, group, name, shape, kinds, where):
        """The dataset ``name`` of ``group`` as a native-byte-order array, after checking it has exactly
        ``shape`` and a dtype of one of ``kinds`` ('f' float, 'i' integer) and that nothing it declares
        is impossible.  Floats must be finite."""
        ds = self._child(group, name, where)
        if ds is None:
            self.fail(f"{where} is missing")
        if not isinstance(ds, self.h5py.Dataset):
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
        import h5py
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
        for container in saveable.containers:                    # a model's list of layers: nothing else
            expected = {key.split("/")[1] for key, _ in saveable.children if key.startswith(container + "/")}
            where = f"{path}/{container}" if path else container
            group = h5.group(where)
            if group is not None:
                extra = sorted(set(h5.names(group, len(expected) + 64, where)) - expected)
                if extra:
                    fail(f"the file holds weights for layers {extra[:5]} under '{where}', which this model "
                         f"does not have (it has {sorted(expected)}); it was saved from another architecture")
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


def read_keras3_optimizer(h5, opt, shapes, fail):
    """Keras's optimizer variables for ``opt`` training weights of ``shapes`` (``[iteration,
    learning_rate, state...]``, checked), or None with a warning when the file's optimizer does not fit
    ``opt`` (Keras skips it the same way, warning)."""
    group = h5.group("optimizer/vars")
    if group is None:
        return None
    layout, first = optimizer_layout(opt, len(shapes)), head(opt)
    n = h5.count(group)
    saved_name = group.attrs.get("name", "")
    other = other_optimizer(saved_name.decode() if isinstance(saved_name, bytes) else str(saved_name), opt)
    if other or n not in (len(first), len(first) + len(layout)):
        return skip_optimizer(f"it is a {other} optimizer's" if other else
                              f"the model's {KERAS_OPTIMIZERS[opt.name][0]} has {len(first) + len(layout)} "
                              f"variables whereas the file has {n}")
    arrays = [h5.array(group, str(k), (), "iu" if k == 0 else "f", f"optimizer/vars/{k} ({name})")
              for k, name in enumerate(first)]
    for k, (slot, i, name) in enumerate(layout[:n - len(first)]):
        at = k + len(first)
        arrays.append(h5.array(group, str(at), shapes[i], "f", f"optimizer/vars/{at} ({name} of weight {i})"))
    return checked_optimizer_arrays(arrays, layout, len(first), fail)


def assign(root, arrays):
    """Copy the checked ``arrays`` (``{path: [arrays]}``) into the live weights of ``root``'s layers
    (cast to each weight's dtype, as Keras's ``assign`` casts)."""
    for path, saveable in keras3_layout(root):
        for weight, array in zip(saveable.arrays or [], arrays[path]):
            weight[...] = array


# ====================================================================== the legacy layout (.h5)
KERAS_VERSION = "3.15.1"        # the Keras whose files nnscratch writes like (and is tested against)
VARIABLE_NAMES = {"Dense": ("kernel", "bias"), "Conv2D": ("kernel", "bias")}   # Keras's variable names
ATTRIBUTE_LIMIT = 64512         # Keras splits an attribute list larger than this into name0, name1, ...


def variable_names(saveable):
    names, n = VARIABLE_NAMES.get(saveable.class_name, ()), len(saveable.shapes)
    return list(names[:n]) if len(names) >= n else [f"variable_{i}" for i in range(n)]


class Variable:
    """One variable as Keras's legacy file lists it: its path (``'<model>/<layer>/kernel'``), shape,
    array (a live model's) and place in the model (``layer``, a :class:`Saveable`, and ``index``)."""

    def __init__(self, path, shape, array, layer, index):
        self.path, self.shape, self.array, self.layer, self.index = path, shape, array, layer, index


def legacy_variables(root):
    """``[(top-level layer, [Variable])]``: each layer of the model with its variables as Keras's
    legacy file lists them, ``trainable_weights + non_trainable_weights``: a layer's own in order; a
    nested model's frozen layers' after its others.  Paths name a layer within the model it is in:
    ``'<model>/<layer>/kernel'``, ``'<inner>/<layer>/kernel'`` (as Keras names them when the inner
    model has its own Input, as ``keras_format`` writes it)."""
    def variables(node, model):
        if node.layers is not None:
            found = [v for layer in node.layers for v in variables(layer, node)]
            return [v for v in found if v.layer.trainable] + [v for v in found if not v.layer.trainable]
        arrays = node.arrays or [None] * len(node.shapes)
        scope = "" if model.class_name == "Functional" else f"{model.name}/"      # a graph's layers: no scope
        return [Variable(f"{scope}{node.name}/{name}", shape, array, node, i)
                for i, (name, shape, array) in enumerate(zip(variable_names(node), node.shapes, arrays))]
    return [(layer, variables(layer, root)) for layer in root.layers]


def save_attribute_list(group, name, data):
    """Keras's ``save_attributes_to_hdf5_group``: a list of names as one attribute, or split into
    ``name0``, ``name1``, ... when it is larger than an HDF5 object header holds."""
    array = np.asarray(data)
    chunks = 1
    while array.nbytes / chunks > ATTRIBUTE_LIMIT:
        chunks += 1
    if chunks == 1:
        group.attrs[name] = data
    else:
        for k, part in enumerate(np.array_split(array, chunks)):
            group.attrs[f"{name}{k}"] = part


def write_legacy(f, model, include_optimizer=True):
    """Write ``model``'s weights (and its optimizer's) into the open h5py file ``f`` in Keras's legacy
    layout: group ``model_weights`` (a group per layer, by name) and group ``optimizer_weights``."""
    root = saveables(model)
    group = f.create_group("model_weights")
    save_attribute_list(group, "layer_names", [layer.name.encode("utf8") for layer in root.layers])
    group.attrs["backend"] = b"numpy"
    group.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
    variables = dict((layer.name, found) for layer, found in legacy_variables(root))
    for name in sorted(variables):
        layer_group = group.create_group(name)
        save_attribute_list(layer_group, "weight_names", [v.path.encode("utf8") for v in variables[name]])
        for v in variables[name]:
            layer_group.create_dataset(v.path, data=v.array)
    save_attribute_list(group.create_group("top_level_model_weights"), "weight_names", [])
    opt = model.optimizer
    if include_optimizer and opt is not None:
        params = optimizer_params(model)
        path_of = {id(v.array): v.path for _, found in legacy_variables(root) for v in found}
        paths = [path_of[id(p)] for p in params]
        prefix = KERAS_OPTIMIZERS[opt.name][1]
        names = [f"{prefix}/{name}" for name in head(opt)] + [
            f"{prefix}/{paths[i].replace('/', '_')}_{name}" for _, i, name in optimizer_layout(opt, len(params))]
        group = f.create_group("optimizer_weights")
        save_attribute_list(group, "weight_names", [n.encode("utf8") for n in names])
        for name, array in zip(names, optimizer_arrays(opt, params)):
            group.create_dataset(name, data=array)


def distribute(root, variables, arrays):
    """``{path: [arrays]}`` of Keras 3's layout from a legacy file's ``arrays``, one for each
    :class:`Variable` of ``variables`` (the file's order)."""
    placed = {(id(v.layer), v.index): array for v, array in zip(variables, arrays)}
    return {path: [placed[(id(s), i)] for i in range(len(s.shapes))] for path, s in keras3_layout(root)}


def read_legacy(h5, root, fail):
    """``{path: [arrays]}`` from a legacy file's weights (the group ``model_weights`` of a whole-model
    file, or the file itself for a legacy weights file), matched to ``root``'s layers by order, as
    Keras's ``load_weights_from_hdf5_group`` matches them: the layers with weights in the file's
    ``layer_names`` order, each with its ``weight_names``."""
    base = [] if "layer_names" in h5.f.attrs else ["model_weights"]
    weights = h5.group("/".join(base)) if base else h5.f
    if weights is None:
        fail("an HDF5 file without model_weights or layer_names: not a Keras model or weights file")
    where = "/".join(base + ["layer_names"])
    expected = [(layer, found) for layer, found in legacy_variables(root) if found]
    layer_names = h5.strings(weights, "layer_names", 4 * len(root.layers) + 64, where)
    weighted = []
    for name in layer_names:
        path = base + [h5.component(name, "a layer name")]
        group = h5.group("/".join(path))
        if group is None:
            fail(f"{'/'.join(path)} is missing; the file is damaged")
        names = h5.strings(group, "weight_names", 4096, f"{'/'.join(path)}'s weight_names")
        if names:
            weighted.append((path, names))
    if len(weighted) != len(expected):
        fail(f"the file holds weights for {len(weighted)} layers ({[p[-1] for p, _ in weighted][:6]}), but the "
             f"model has {len(expected)} layers with weights; it was saved from another architecture")
    variables, arrays = [], []
    for (path, names), (layer, found) in zip(weighted, expected):
        if len(names) != len(found):
            fail(f"{'/'.join(path)} holds {len(names)} weights, but the model's layer {layer.name!r} has "
                 f"{len(found)}; the file was saved from another architecture")
        variables += found
        for weight, shape in zip(names, [v.shape for v in found]):
            parts = [h5.component(p, "a weight name") for p in weight.split("/")]
            group = h5.group("/".join(path + parts[:-1]))
            if group is None:
                fail(f"{'/'.join(path)}/{weight} is missing; the file is damaged")
            arrays.append(h5.array(group, parts[-1], shape, "f", "/".join(path + parts)))
    top = h5.group("/".join(base + ["top_level_model_weights"]))
    if top is not None and h5.strings(top, "weight_names", 16, "top_level_model_weights"):
        fail("the file holds weights of the model itself (top_level_model_weights), which a Sequential has none of")
    return distribute(root, variables, arrays)


def read_legacy_optimizer(h5, opt, shapes, fail):
    """The optimizer variables of a legacy file (``optimizer_weights``), or None with a warning when
    they do not fit ``opt`` (Keras warns and starts a fresh optimizer the same way)."""
    group = h5.group("optimizer_weights")
    if group is None:
        return None
    names = h5.strings(group, "weight_names", 2 + 8 * len(shapes) + 8, "optimizer_weights's weight_names")
    layout, first = optimizer_layout(opt, len(shapes)), head(opt)
    saved = names[0].split("/")[0] if names else ""
    if len(names) not in (len(first), len(first) + len(layout)) or other_optimizer(saved, opt) \
            or [n.split("/")[-1] for n in names[:len(first)]] != first:
        return skip_optimizer(f"its saved variables ({len(names)}: {names[:2]}...) are not the "
                              f"{len(first) + len(layout)} of Keras 3's {KERAS_OPTIMIZERS[opt.name][0]}")
    arrays = []
    for k, name in enumerate(names):
        parts = [h5.component(p, "a weight name") for p in name.split("/")]
        sub = h5.group("/".join(["optimizer_weights"] + parts[:-1]))
        if sub is None:
            fail(f"optimizer_weights/{name} is missing; the file is damaged")
        shape, kinds = ((), "iu") if k == 0 else ((), "f") if k < len(first) else \
            (shapes[layout[k - len(first)][1]], "f")
        arrays.append(h5.array(sub, parts[-1], shape, kinds, f"optimizer_weights/{name}"))
    return checked_optimizer_arrays(arrays, layout, len(first), fail)
