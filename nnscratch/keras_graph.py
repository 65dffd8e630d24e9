"""Graph models (``keras.Model(inputs, outputs)``) in Keras's files, both ways: the ``Functional``
configuration of ``.keras`` and legacy ``.h5`` files (``keras_format.py`` writes and reads the rest).

Keras writes a graph model as its layers, each with the calls it took part in::

    {"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
     "config": {"name": "mnist_model", "trainable": true,
                "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 784], ...},
                            "name": "input_layer", "inbound_nodes": []},
                           {"class_name": "Dense", "config": {...}, "name": "dense",
                            "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
                                                         "config": {"shape": [null, 784], "dtype": "float32",
                                                                    "keras_history": ["input_layer", 0, 0]}}],
                                               "kwargs": {}}]}, ...],
                "input_layers": ["input_layer", 0, 0], "output_layers": ["dense_2", 0, 0]},
     "build_config": {"input_shape": null}, "compile_config": {...}}

Each tensor names the layer that made it, which of that layer's calls (``node_index``, counted within
the model) and which of its outputs (``tensor_index``, always 0 here).  ``input_layers`` and
``output_layers`` keep the structure the model was made with (one, a list, a dict).  The layers are
listed in ``model.layers``' order, which is also the order of their weights in the HDF5 layouts.

Reading trusts nothing: every name a tensor refers to must be a layer listed before the whole graph is
checked; the calls are put in an order in which each comes after the calls it needs (Kahn's algorithm,
so a file cannot make it loop or recurse), every shape is worked out by arithmetic and compared with
the shapes the file states, and only then is anything allocated.
"""
import collections

from . import h5_weights, registry
from .errors import NotImplementedInNnscratch

MAX_NODES = 100_000                # calls of layers in one graph
DROPOUT_KWARGS = ("Dropout",)      # layers whose call takes `training`: Keras records it (False) at each call


# ====================================================================== nnscratch -> Keras
def functional_config(model, layer_config):
    """config.json's model entry for a graph model (``layer_config(layer)``: one layer's entry, as for a
    Sequential), as Keras's ``serialize_keras_object`` writes a ``Functional``."""
    in_graph = set(model._graph.nodes)
    index = {}                                  # node -> its number among its layer's calls in this model
    for layer in model.layers:
        for k, node in enumerate(n for n in layer._inbound_nodes if n in in_graph):
            index[id(node)] = k

    def tensor(t):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(t.shape), "dtype": t.dtype,
                           "keras_history": [t.node.layer.name, index[id(t.node)], 0]}}

    def node_entry(node):
        args = [tensor(t) for t in node.inputs] if isinstance(node.args, (list, tuple)) else tensor(node.inputs[0])
        return {"args": [args], "kwargs": {"training": False} if type(node.layer).__name__ in DROPOUT_KWARGS else {}}

    layers = []
    for layer in model.layers:
        if getattr(layer, "is_input_layer", False):
            entry = {"module": "keras.layers", "class_name": "InputLayer",
                     "config": {"batch_shape": list(layer.batch_shape), "dtype": layer.dtype.name, "sparse": False,
                                "ragged": False, "name": layer.name, "optional": False}, "registered_name": None}
        else:
            if isinstance(getattr(layer, "layers", None), list):
                raise NotImplementedInNnscratch(f"save: {layer.name} is a model inside a graph model, which "
                                                "nnscratch's files do not hold")
            entry = layer_config(layer)
            if getattr(layer, "takes_list", False):            # Add, Concatenate: one shape per input
                entry["build_config"] = {"input_shape": [[None, *s] for s in layer.built_input_shape]}
        entry["name"] = layer.name
        entry["inbound_nodes"] = [node_entry(n) for n in layer._inbound_nodes if n in in_graph and not n.is_input]
        layers.append(entry)

    def refs(structure):
        if isinstance(structure, dict):
            return {key: refs(value) for key, value in structure.items()}
        if isinstance(structure, (list, tuple)):
            return [refs(value) for value in structure]
        return [structure.node.layer.name, index[id(structure.node)], 0]

    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": {"name": model.name, "trainable": bool(model.trainable), "layers": layers,
                       "input_layers": refs(model.input), "output_layers": refs(model.output)},
            "registered_name": "Functional", "build_config": {"input_shape": None}, "compile_config": {}}


def compile_entries(model, loss_config, storable):
    """The compile config's loss, loss_weights and metrics of a graph model with several outputs, in the
    structure compile() was given them (``loss_config(loss)``: one loss as Keras stores it;
    ``storable(spec)``: one metric's name, or None)."""
    def each(value, fn):
        if isinstance(value, dict):
            return {k: each(v, fn) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [each(v, fn) for v in value]
        return fn(value)

    metrics, weighted = model._metric_specs
    if weighted:
        raise ValueError("save: weighted_metrics of a model with several outputs are not stored in Keras's files "
                         "by nnscratch; compile the loaded model again to use them")
    return each(model.loss, loss_config), model.loss_weights, (None if metrics is None else each(metrics, storable))


# ====================================================================== Keras -> nnscratch
def is_ref(value):
    """``["dense", 0, 0]``: a tensor's layer, call and output."""
    return (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:]))


class GraphSpec:
    """A graph model as the file describes it, checked, before anything is built: its layers (nnscratch
    layers, constructed but not built, or input shapes for the InputLayers), each layer's calls, the
    calls in an order that can run, every tensor's shape, and the :class:`h5_weights.Saveable` tree.
    ``plan``: the ``keras_format.Plan`` reading the file (its layer readers, dtype and ``fail``)."""

    def __init__(self, plan, settings, keras_object, settings_class):
        fail = self.fail = plan.fail
        s = settings_class(settings, "the model", fail)
        self.name = s.name()
        self.trainable = s.flag("trainable", True)
        entries, inputs, outputs = s.take("layers"), s.take("input_layers"), s.take("output_layers")
        s.take("dtype")                                     # the model's policy; its layers carry their own
        s.done()
        if not isinstance(entries, list) or not entries or len(entries) > MAX_NODES:
            fail(f"the model's layers must be a non-empty list, got {type(entries).__name__}")
        self.layers, self.shapes, self.calls = {}, {}, {}   # name -> layer; (name, k) -> shape; name -> calls
        self.weight_shapes = {}                             # name -> its weights' shapes, worked out
        self.order = []                                     # layer names in the file's order (model.layers')
        for i, entry in enumerate(entries):
            self._read_layer(plan, entry, f"layer {i} of the model ({self.name!r})", keras_object, settings_class)
        if sum(len(c) for c in self.calls.values()) > MAX_NODES:
            fail(f"the graph has more than {MAX_NODES:,} layer calls; refused")
        self.inputs = self._refs(inputs, "input_layers")
        self.outputs = self._refs(outputs, "output_layers")
        for ref in _leaves(self.inputs):
            if not isinstance(self.layers[ref[0]], tuple):
                fail(f"input_layers names {ref[0]!r}, which is not an InputLayer")
        self.run = self._schedule()
        self.saveable = h5_weights.Saveable("Functional", self.name, layers=[self._saveable(n) for n in self.order])

    def _read_layer(self, plan, entry, where, keras_object, settings_class):
        fail = self.fail
        if not isinstance(entry, dict):
            fail(f"{where} must be a JSON object")
        name, inbound = entry.get("name"), entry.get("inbound_nodes")
        kind, config = keras_object({k: v for k, v in entry.items() if k not in ("name", "inbound_nodes")}, where, fail)
        if kind in ("Sequential", "Functional", "Model"):
            fail(f"{where} is a {kind} model inside the graph, which this nnscratch does not read")
        if kind == "InputLayer":
            layer = (plan.input_layer(config, where),)          # an InputLayer: its sample shape
            config_name = config.get("name")
        else:
            layer, _ = plan.layer(kind, config, where)
            config_name = layer.name
        if not isinstance(name, str) or name != config_name or name in self.layers:
            fail(f"{where} is named {name!r} but its config names {config_name!r} (or the name repeats); "
                 "layer names in a graph are unique")
        if not isinstance(inbound, list) or len(inbound) > MAX_NODES or (kind == "InputLayer") != (not inbound):
            fail(f"{where}'s inbound_nodes must list its calls (none for an InputLayer), got {inbound!r:.80}")
        self.layers[name], self.calls[name] = layer, [self._read_call(n, name, k) for k, n in enumerate(inbound)]
        self.order.append(name)

    def _read_call(self, node, name, k):
        """One call: ``(args, several)`` with each tensor as ``((layer, call), stated shape)``."""
        fail, where = self.fail, f"call {k} of layer {name!r}"
        if isinstance(node, list):
            fail(f"{where} is in Keras 2's format (a list); this nnscratch reads the graphs Keras 3 writes")
        if not isinstance(node, dict) or set(node) - {"args", "kwargs"} or not isinstance(node.get("args"), list) \
                or len(node["args"]) != 1:
            fail(f"{where} must be {{\"args\": [tensor or list of tensors], \"kwargs\": {{...}}}}, got {node!r:.120}")
        kwargs = node.get("kwargs") or {}
        if not isinstance(kwargs, dict) or set(kwargs) - {"training"} or kwargs.get("training") not in (None, False, True):
            fail(f"{where} is called with {kwargs!r:.80}; nnscratch's layer calls take no arguments but the "
                 "tensors (and Keras's recorded training flag)")
        args = node["args"][0]
        several = isinstance(args, list)
        tensors = args if several else [args]
        if not tensors or len(tensors) > 1024:
            fail(f"{where} has {len(tensors)} input tensors")
        return [self._read_tensor(t, where) for t in tensors], several

    def _read_tensor(self, t, where):
        fail = self.fail
        config = t.get("config") if isinstance(t, dict) else None
        if not isinstance(config, dict) or t.get("class_name") != "__keras_tensor__" or set(t) - {"class_name", "config"}:
            fail(f"{where}: an input must be a __keras_tensor__, got {t!r:.80}")
        history, shape = config.get("keras_history"), config.get("shape")
        if not is_ref(history) or history[1] < 0 or history[2] != 0:
            fail(f"{where}: keras_history must be [layer name, call, 0], got {history!r:.80}")
        if not isinstance(shape, list) or not shape or shape[0] is not None or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape[1:]):
            fail(f"{where}: a tensor's shape must be [null, d1, ...], got {shape!r:.80}")
        return (history[0], history[1]), tuple(shape[1:])

    def _refs(self, value, what):
        """``input_layers``/``output_layers``: one ref, or a list or dict of them, each a layer's call."""
        fail = self.fail
        if is_ref(value):
            leaves = [value]
        elif isinstance(value, list) and value and all(is_ref(v) for v in value):
            leaves = value
        elif isinstance(value, dict) and value and all(isinstance(k, str) and is_ref(v) for k, v in value.items()):
            leaves = list(value.values())
        else:
            fail(f"the model's {what} must be [layer, call, 0], a list or a dict of them, got {value!r:.80}")
        for ref in leaves:
            if ref[0] not in self.calls or ref[2] != 0 or not 0 <= ref[1] < max(1, len(self.calls[ref[0]])):
                fail(f"the model's {what} refers to {ref!r}, which is no call of a layer of the model")
        return value

    def _schedule(self):
        """The calls in an order in which each comes after the calls making its inputs (Kahn's algorithm),
        with every tensor's shape worked out and compared with the file's."""
        fail = self.fail
        waiting, users = {}, collections.defaultdict(list)
        ready = collections.deque()
        for name in self.order:
            if isinstance(self.layers[name], tuple):
                self.shapes[(name, 0)] = self.layers[name][0]
                ready.append(("input", name))
            for k, (tensors, _) in enumerate(self.calls[name]):
                for (source, j), _ in tensors:
                    if source not in self.layers or not 0 <= j < max(1, len(self.calls[source])):
                        fail(f"call {k} of layer {name!r} takes a tensor of {source!r} call {j}, which the model "
                             "does not have")
                    users[(source, j)].append((name, k))
                waiting[(name, k)] = len(tensors)
        run, done = [], set()
        while ready:
            item = ready.popleft()
            if item[0] == "input":
                made = (item[1], 0)
            else:
                name, k = item
                tensors, several = self.calls[name][k]
                shapes = [self.shapes[src] for src, _ in tensors]
                for (src, _), stated in zip(tensors, (s for _, s in tensors)):
                    if self.shapes[src] != stated:
                        fail(f"call {k} of layer {name!r} states an input of shape {(None,) + stated}, but "
                             f"{src[0]!r} makes {(None,) + self.shapes[src]}; the file is inconsistent")
                self.shapes[item] = self._output_shape(name, shapes if several else shapes[0], several)
                run.append(item)
                made = item
            if made in done:
                continue
            done.add(made)
            for user in users.get(made, ()):
                waiting[user] -= 1
                if waiting[user] == 0:
                    ready.append(user)
        stuck = [key for key, count in waiting.items() if count > 0]
        if stuck:
            fail(f"the graph's calls {stuck[:4]} never get their inputs (a cycle, or a missing call); the file "
                 "is damaged or was edited")
        return run

    def _output_shape(self, name, shape, several):
        layer = self.layers[name]
        if several != bool(getattr(layer, "takes_list", False)):
            self.fail(f"layer {name!r} ({type(layer).__name__}) is called on {'a list' if several else 'one tensor'}")
        try:
            out = tuple(int(d) for d in layer.compute_output_shape(shape))
            weights = [tuple(int(d) for d in w) for w in layer.weight_shapes(shape)]
        except (TypeError, ValueError, IndexError, OverflowError) as e:
            self.fail(f"layer {name!r} cannot take inputs of shape {shape}: {e}")
        if not all(d >= 1 for s in weights + [out] for d in s):
            self.fail(f"layer {name!r} would output shape {out}; the configuration is inconsistent")
        if self.weight_shapes.setdefault(name, weights) != weights:
            self.fail(f"layer {name!r} is called on inputs of different shapes, which would need different weights")
        return out

    def _saveable(self, name):
        layer = self.layers[name]
        if isinstance(layer, tuple):
            return h5_weights.Saveable("InputLayer", name, [])
        return h5_weights.Saveable(type(layer).__name__, name, self.weight_shapes.get(name, []),
                                   trainable=layer.trainable and self.trainable)

    def rng_owners(self):
        return [self.name] + [f"{self.name}/{n}" for n in self.order if hasattr(self.layers[n], "rng")]

    def build(self, dtype, generators):
        """The graph model: InputLayers, each call made again in order (which builds the layers), then
        ``keras.Model(inputs, outputs)`` with the file's structures."""
        InputLayer, Model = registry.get("InputLayer"), registry.get("Functional", kind="model")
        tensors = {}
        for name in self.order:
            if isinstance(self.layers[name], tuple):
                tensors[(name, 0)] = InputLayer(shape=self.layers[name][0], dtype=dtype, name=name).output
        for name in self.order:
            if not isinstance(self.layers[name], tuple):
                self.layers[name].dtype = dtype          # built in the model's dtype at its first call below
        for name, k in self.run:
            calls, several = self.calls[name][k]
            args = [tensors[src] for src, _ in calls]
            tensors[(name, k)] = self.layers[name](args if several else args[0])

        def pack(value):
            if is_ref(value):
                return tensors[(value[0], value[1])]
            if isinstance(value, dict):
                return {key: pack(v) for key, v in value.items()}
            return [pack(v) for v in value]
        model = Model(pack(self.inputs), pack(self.outputs), name=self.name)
        for name in self.order:
            if f"{self.name}/{name}" in generators:
                self.layers[name].rng = generators[f"{self.name}/{name}"]
        if self.name in generators:
            model.rng = generators[self.name]
        if not self.trainable:
            model.trainable = False
        return model


def _leaves(value):
    if is_ref(value):
        return [value]
    return list(value.values()) if isinstance(value, dict) else list(value)
