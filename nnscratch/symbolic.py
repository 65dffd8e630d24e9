"""Symbolic tensors and the graph they record: how ``keras.Input`` and layer calls describe a model.

Read ``layers.py`` first (a layer's ``forward`` and ``backward``), then this room, then
``functional.py`` (the model made of the record, and its training step).  Keras's functional API
describes a model by calling layers on tensors that hold no numbers yet::

    inputs  = keras.Input(shape=(784,))          a KerasTensor: shape (None, 784), dtype 'float32'
    x       = Dense(64, activation="relu")(inputs)
    outputs = Dense(10)(x)                       each call builds the layer from the shape it gets
    model   = keras.Model(inputs, outputs)       and records one Node:  output = layer(inputs)

A :class:`KerasTensor` knows its shape, its dtype and the :class:`Node` that made it; a Node knows its
layer and the tensors it was called on.  So from the outputs one can walk back to the inputs:
:func:`map_graph` does that walk, as Keras's ``map_graph`` (``keras/src/ops/function.py``) does, and
returns the nodes in an order in which each runs after every node it needs, and the model's layers
in Keras's order (the order of ``model.layers``, of ``get_weights()`` and of Keras's files).

A layer called twice records two Nodes (the same weights, two places in the graph); a tensor used
twice is an input of two Nodes (a fan-out, where the backward pass adds gradients).
"""
import itertools

from .errors import NotImplementedInNnscratch, require_forward
from .tape import floatx

_names = itertools.count()
OPERATORS = ("add", "sub", "mul", "truediv", "matmul", "pow", "neg", "getitem", "radd", "rsub", "rmul")


class KerasTensor:
    """A tensor of a graph being described: ``shape`` (with the batch axis ``None`` first, ``(None,
    784)``), ``dtype`` (``'float32'``), ``name``, and ``node`` (the :class:`Node` that made it; Keras's
    ``_keras_history`` is ``(layer, node_index, tensor_index)``).  It holds no numbers: call a model
    on arrays for those."""

    def __init__(self, shape, dtype, node, name=None):
        self.shape, self.dtype, self.node = tuple(shape), str(dtype), node
        n = next(_names)
        self.name = name or ("keras_tensor" if n == 0 else f"keras_tensor_{n}")
        self.sparse = self.ragged = False

    ndim = property(lambda self: len(self.shape))

    @property
    def _keras_history(self):
        return (self.node.layer, self.node.index, 0)

    def __repr__(self):
        return (f"<KerasTensor shape={self.shape}, dtype={self.dtype}, sparse=False, ragged=False, "
                f"name={self.name}>")

    def __array__(self, *args, **kwargs):
        raise TypeError(f"{self.name} is a symbolic tensor of a graph being built (keras.Input or a layer "
                        "called on one): it holds no numbers. Make a model, keras.Model(inputs, outputs), "
                        "and call it on arrays: model(x) or model.predict(x)")

    def __bool__(self):
        return self.__array__()


def _operator(name):
    def refuse(self, *args):
        raise NotImplementedInNnscratch(
            f"KerasTensor.__{name}__ (arithmetic on symbolic tensors) is not implemented in nnscratch: "
            "a graph here is made of layers. Use keras.layers.Add()([x, y]) for x + y, "
            "keras.layers.Concatenate()([x, y]) to join tensors, or a layer of your own")
    return refuse


for _op in OPERATORS:
    setattr(KerasTensor, f"__{_op}__", _operator(_op))


class Node:
    """One call of a layer in a graph: ``output = layer(args)``.  ``args`` is what the layer was called
    on (one tensor, or a list for ``Add``/``Concatenate``), ``inputs`` the same tensors as a list,
    ``index`` the call's number among the layer's calls (``layer._inbound_nodes[index]`` is this node).
    An InputLayer's node has no inputs."""

    def __init__(self, layer, args, inputs):
        self.layer, self.args, self.inputs = layer, args, list(inputs)
        calls = layer.__dict__.setdefault("_inbound_nodes", [])
        self.index = len(calls)
        calls.append(self)
        self.output = None

    @property
    def is_input(self):
        return not self.inputs

    def gather(self, values):
        """This node's input arrays from ``values`` (``id(tensor) -> array``), shaped as the layer was called:
        one array, or a list."""
        if isinstance(self.args, (list, tuple)):
            return [values[id(t)] for t in self.inputs]
        return values[id(self.inputs[0])]

    @property
    def parents(self):
        """The nodes that made this node's inputs."""
        return [t.node for t in self.inputs]

    def __repr__(self):
        return f"<Node {self.layer.name}[{self.index}]>"


def flatten(structure):
    """The leaves of a tensor, list, tuple or dict, in order (a dict in the order of its sorted keys,
    as Keras's ``tree.flatten``)."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    return [structure]


def pack(structure, leaves):
    """``structure`` rebuilt with ``leaves`` (in :func:`flatten`'s order) in place of its leaves."""
    leaves = iter(leaves)

    def build(s):
        if isinstance(s, (list, tuple)):
            return type(s)(build(item) for item in s)
        if isinstance(s, dict):
            rebuilt = {key: build(s[key]) for key in sorted(s)}
            return {key: rebuilt[key] for key in s}
        return next(leaves)
    return build(structure)


def is_symbolic(value):
    """True if ``value`` (a tensor, or a list / tuple / dict of them) holds a KerasTensor."""
    return isinstance(value, KerasTensor) or (isinstance(value, (list, tuple, dict)) and
                                              any(isinstance(t, KerasTensor) for t in flatten(value)))


def connect(layer, args, training=None):
    """``layer(args)`` on symbolic tensors (``Layer.__call__`` hands it here): build the layer from their
    shapes if it is not built, check them if it is, record one :class:`Node` and return its output."""
    require_forward(layer)                             # a layer written as call() alone cannot run in a graph
    inputs = flatten(args)
    if not all(isinstance(t, KerasTensor) for t in inputs):
        raise ValueError(f"{layer.name} was called on a mix of symbolic tensors and values "
                         f"({[type(t).__name__ for t in inputs]}); in a graph, call layers on keras.Input "
                         "tensors and on other layers' outputs only")
    if training is not None:
        raise NotImplementedInNnscratch(f"{layer.name}(x, training={training!r}) on a symbolic tensor (a "
                                        "layer fixed in training or inference mode inside a graph) is not "
                                        "implemented in nnscratch; the model's fit/predict choose the mode")
    several = isinstance(args, (list, tuple))
    if several != bool(getattr(layer, "takes_list", False)):
        raise ValueError(f"{layer.name} ({type(layer).__name__}) takes "
                         f"{'a list of tensors' if not several else 'one tensor'}, but was called on "
                         f"{'a list of ' + str(len(inputs)) if several else 'one tensor'}")
    shapes = [tuple(t.shape[1:]) for t in inputs]
    shape = shapes if several else shapes[0]
    if not layer.built:
        given = getattr(layer, "input_shape", None)
        if given is not None and not several and tuple(given) != shape:
            raise ValueError(f"{layer.name} was created with input_shape={tuple(given)} but is called on a "
                             f"tensor of shape {(None,) + shape}")
        layer.build(shape, layer.dtype or floatx())
    built = layer.built_input_shape
    if (list(map(tuple, built)) if several else tuple(built)) != shape:
        raise ValueError(f"{layer.name} was built for inputs of shape {_batch(built, several)} but is called "
                         f"on {_batch(shape, several)}; a layer used twice needs inputs of the same shape")
    node = Node(layer, args, inputs)
    node.output = KerasTensor((None,) + tuple(layer.output_shape), layer.dtype.name, node)
    return node.output


def _batch(shape, several):
    return [(None,) + tuple(s) for s in shape] if several else (None,) + tuple(shape)


class Graph:
    """What :func:`map_graph` finds: ``nodes`` in the order they run (each after the nodes that make
    its inputs), ``layers`` in Keras's order, ``calls``: each layer's nodes in this graph, and
    ``depths``: each node's depth (0 at the outputs)."""

    def __init__(self, nodes, layers, depths):
        self.nodes, self.layers, self.depths = nodes, layers, depths
        self.calls = {id(layer): [n for n in nodes if n.layer is layer] for layer in layers}

    def is_chain(self):
        """True if the graph is a plain chain, as Keras's ``summary`` decides it: one node at each depth,
        none with several inputs, no layer called twice."""
        depths = list(self.depths.values())
        return (len(set(depths)) == len(depths) and all(len(n.inputs) <= 1 for n in self.nodes)
                and all(len(calls) == 1 for calls in self.calls.values()))


def map_graph(inputs, outputs):
    """The graph from ``inputs`` to ``outputs`` (flat lists of KerasTensors), as Keras's ``map_graph``.

    1. A depth-first walk back from each output lists the nodes inputs-first (a node after every node
       it needs) and numbers each layer by when the walk first meets it.
    2. Depth: an output's node has depth 0, a node's parents lie at least one deeper, and every node
       of a shared layer gets the layer's greatest depth.
    3. The layers, deepest first, ties by the walk's numbering: Keras's ``model.layers``.  The nodes
       run deepest first as well; every input of each must then be computable from ``inputs``, or the
       graph is disconnected."""
    ordered, finished, first_seen = [], set(), {}
    for out in outputs:                                # 1. the walk, without recursion
        if out.node in finished:
            continue
        first_seen.setdefault(out.node.layer, len(first_seen))
        path = [(out.node, iter(out.node.inputs))]
        while path:
            node, todo = path[-1]
            child = next(todo, None)
            if child is None:
                path.pop()
                finished.add(node)
                ordered.append(node)
            elif child.node not in finished:
                first_seen.setdefault(child.node.layer, len(first_seen))
                path.append((child.node, iter(child.node.inputs)))
    node_depth, layer_depth = {}, {}                   # 2. depths, outputs first
    for node in reversed(ordered):
        depth = max(node_depth.setdefault(node, 0), layer_depth.get(node.layer, 0))
        layer_depth[node.layer] = node_depth[node] = depth
        for parent in node.parents:
            node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
    for t in inputs:                                   # an input no output depends on
        if t.node.layer not in layer_depth:
            layer_depth[t.node.layer], first_seen[t.node.layer], node_depth[t.node] = 0, -1, 0
    layers = sorted(layer_depth, key=lambda layer: (-layer_depth[layer], first_seen[layer]))   # 3.
    nodes = sorted(node_depth, key=lambda node: -node_depth[node])       # stable: the same depth keeps its order
    known = {id(t) for t in inputs}
    for node in nodes:
        for t in node.inputs if not node.is_input else [node.output]:
            if id(t) not in known:
                raise ValueError(f"Graph disconnected: cannot find parent for tensor {t} at layer "
                                 f"'{node.layer.name}'; it comes from {t.node.layer.name!r}, which is not among "
                                 "the model's inputs. Pass every keras.Input the outputs need to keras.Model")
        known.add(id(node.output))
    names = [layer.name for layer in layers]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f'The name "{name}" is used {names.count(name)} times in the model. All layer '
                             "names should be unique.")
    return Graph(nodes, layers, node_depth)
