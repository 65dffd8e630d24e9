"""A model that is a graph of layers (Keras's functional API), and one training step through it.

Read ``models.py`` (a stack: each layer's output is the next one's input) and ``symbolic.py`` (how
``keras.Input`` and layer calls record a graph) first.  A graph differs from a stack in two ways,
and each is one line of the step below::

    forward:   for node in graph order:     values[node.output] = layer.forward(values[node.inputs])
    backward:  for node in reverse order:   g = grads.pop(node.output)       dL/d(output), complete
                                            dx = layer.backward(g)
                                            grads[x] += dx  for each input x     <- gradients add
                                                                                    at a fan-out

A tensor that feeds two layers (``x`` in the residual ``y = x + f(x)``) influences the loss along
both paths, so by the chain rule ``dL/dx`` is the *sum* of what comes back along each.  The reverse
order guarantees every path has delivered before ``grads.pop`` reads it.  A layer called at two nodes
(shared weights) runs twice, so its weight gradient is the sum over its calls as well: each call keeps
its own cache (a replica of the layer, the same weights) and the model adds the calls' ``dW`` up.

``fit`` runs exactly this step (``compute_gradients``), with no tape; ``model(x)`` on an open
``GradientTape`` runs :meth:`Functional.call` instead, each layer call one node of the tape, which
finds the same gradients (a test holds the two equal).  Walked through in docs/functional.md.
"""
import numpy as np

from . import backend, data_adapter, graph_io, losses, registry, symbolic, tape
from .engine import fast, inference
from .errors import NotImplementedInNnscratch
from .input_layer import InputLayer
from .layers import Dense
from .models import head_activation
from .tape import Tensor
from .training import Model

_CATEGORICAL = losses.CategoricalCrossentropy()


class Functional(Model):
    """``keras.Model(inputs, outputs)``: a model whose layers form any directed acyclic graph.

    ``inputs``/``outputs``: a KerasTensor, or a list, tuple or dict of them (``keras.Input`` tensors for
    the inputs).  ``model.layers`` lists the layers in Keras's order, InputLayers included;
    ``inputs``/``outputs`` are flat lists, ``input``/``output`` as given; ``input_shape`` and
    ``output_shape`` carry the batch axis, as Keras's (``(None, 784)``; a list for several).  Several
    inputs take a list (or dict) of arrays; several outputs give one.  (Its ``sample_shape`` and
    ``output_dim`` are nnscratch's, without the batch axis.)"""
    _saveable = True
    is_graph = True                                     # the .npz format refuses it: .keras and .h5 hold graphs

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        if kwargs:
            raise TypeError(f"keras.Model(inputs, outputs): unexpected arguments {sorted(kwargs)}")
        flat_in, flat_out = symbolic.flatten(inputs), symbolic.flatten(outputs)
        for what, flat, given in (("inputs", flat_in, inputs), ("outputs", flat_out, outputs)):
            if not flat or not all(isinstance(t, symbolic.KerasTensor) for t in flat):
                raise ValueError(f"keras.Model: all `{what}` values must be KerasTensors (keras.Input, or a layer "
                                 f"called on one); received {what}={given!r:.200}")
        if not all(t.node.is_input for t in flat_in):
            raise NotImplementedInNnscratch("keras.Model with an intermediate tensor as an input (a model cut "
                                            "out of a bigger graph) is not implemented in nnscratch; its inputs "
                                            "are keras.Input tensors")
        if len({id(t) for t in flat_in}) != len(flat_in):
            raise ValueError("keras.Model: the same keras.Input is listed twice among the inputs")
        graph = symbolic.map_graph(flat_in, flat_out)
        dtypes = sorted({layer.dtype.name for layer in graph.layers if not isinstance(layer, InputLayer)})
        if len(dtypes) > 1:
            raise ValueError(f"keras.Model: the layers compute in {' and '.join(dtypes)}; an nnscratch model "
                             "has one dtype: create every layer with the same dtype")
        super().__init__(name=name, dtype=dtypes[0] if dtypes else flat_in[0].dtype)
        self.input, self.output = inputs, outputs       # as given (Keras's model.input, model.output)
        self.inputs, self.outputs = flat_in, flat_out   # flat lists of KerasTensors
        self._graph, self._layers = graph, list(graph.layers)
        self._calls = [node for node in graph.nodes if not node.is_input]     # the order the step runs in
        self._position = {id(n): next(i for i, l in enumerate(self._layers) if l is n.layer) for n in self._calls}
        self._shared = [(layer, [np.zeros_like(g) for g in layer.grads]) for layer in self._layers
                        if len(graph.calls[id(layer)]) > 1]
        self._shared_ids = {id(layer) for layer, _ in self._shared}
        self._replicas = {}                             # node -> the replica that ran it (shared layers)
        self._first = {id(n) for n in self._calls if all(t.node.is_input for t in n.inputs)}
        used = [id(t) for n in self._calls for t in n.inputs] + [id(t) for t in flat_out]
        self._fusable = {k for k, t in enumerate(flat_out) if used.count(id(t)) == 1}
        self.output_loss_weights = [1.0] * len(flat_out)
        self.output_names = [t.node.layer.name for t in flat_out]
        if not trainable:
            self.trainable = False

    # ------------------------------------------------------------------ what Keras shows of it
    @property
    def layers(self):
        """Every layer of the graph, InputLayers included, in Keras's order (deepest first)."""
        return self._layers

    @layers.setter
    def layers(self, layers):
        """The engine's replicas (``engine/inference.py``) run the graph on copies of the layers, with
        replicas of their own."""
        self._layers, self._replicas = layers, {}

    @property
    def weights(self):
        """Every parameter array, trainable or frozen, layer by layer in :attr:`layers`' order (Keras's)."""
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self):
        """The arrays ``fit`` updates, in :attr:`weights`' order; :attr:`gradients` follow it."""
        return [w for layer in self._layers for w in layer.trainable_weights] if self.trainable else []

    @property
    def gradients(self):
        """The gradient arrays of :attr:`trainable_weights`, filled by :meth:`backward`."""
        return [g for layer in self._layers for g in layer.trainable_grads] if self.trainable else []

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def get_layer(self, name=None, index=None):
        """A layer by ``name``, or by ``index`` in :attr:`layers` (Keras's ``get_layer``)."""
        if (name is None) == (index is None):
            raise ValueError("get_layer: give either name or index, not both and not neither")
        if index is not None:
            if not isinstance(index, int) or not -len(self._layers) <= index < len(self._layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has "
                                 f"{len(self._layers)} layers.")
            return self._layers[index]
        found = [layer for layer in self._layers if layer.name == name]
        if not found:
            raise ValueError(f"No such layer: {name}. Existing layers are: {[l.name for l in self._layers]}.")
        return found[0]

    def summary_connections(self):
        """``{layer name: 'Connected to' text}`` for ``summary()`` (``dense[0][0], ...``: the layer, its call
        and output index of each input), or None when the graph is a plain chain (Keras then prints
        the Sequential table)."""
        if self._graph.is_chain():
            return None
        nodes = set(self._graph.nodes)
        return {layer.name: ", ".join(f"{t.node.layer.name}[{t.node.index}][0]" for node in layer._inbound_nodes
                                      if node in nodes for t in node.inputs) or "-" for layer in self._layers}

    # ------------------------------------------------------------------ the graph's training step, readable
    def forward(self, x, training=False):
        """Each layer call in graph order, every node after the nodes that make its inputs.
        ``x``: the input array ``(N, ...)``, or a list (one per input); returns the output array, or a
        list (one per output).  Each value is kept by the tensor it belongs to."""
        values = dict(zip(map(id, self.inputs), x if len(self.inputs) > 1 else [x]))   # tensor -> its array
        for node in self._calls:
            args = node.gather(values)                  # its input's array (a list of them for Add, Concatenate)
            values[id(node.output)] = self._run(node, new=True).forward(args, training=training)
        out = [values[id(t)] for t in self.outputs]
        return out if len(out) > 1 else out[0]

    def _run(self, node, new=False):
        """The layer that runs ``node``: the model's own, or, for a layer called at several nodes, a replica of
        it for this node (the same weights, its own cache and work arrays), made by ``forward`` and kept
        for ``backward``, so two calls of one layer never overwrite each other's cache."""
        layer = self._layers[self._position[id(node)]]
        if id(node.layer) not in self._shared_ids:
            return layer
        if new:
            self._replicas[id(node)] = inference.call_replica(layer)
        return self._replicas[id(node)]

    def loss_and_gradient(self, y, p, sample_weight=None):
        """The batch's loss and the gradient that starts the backward pass, for each output as
        ``Sequential``'s: the compiled loss's ``dL/dp``, or, where the output layer ends in the activation
        the loss fuses with (a softmax with a cross-entropy: Keras's shortcut), ``dL/dz`` on its input.
        Several outputs (``compile(loss=[...], loss_weights=[...])``, as Keras's ``CompileLoss``)::

            L = sum_k w_k L_k          dL/dp_k = w_k dL_k/dp_k      (w_k = 1 without loss_weights)

        returned as ``(L, [dL/dp_1, ...])``; ``L.parts`` keeps each ``L_k`` (Keras logs them unweighted)."""
        if len(self.outputs) == 1:
            return self._output_loss(0, self.compiled_loss or _CATEGORICAL, y, p, sample_weight)
        parts, grads = [], []
        for k, (loss, weight, yk, pk) in enumerate(zip(self.compiled_loss, self.output_loss_weights, y, p)):
            value, g = self._output_loss(k, loss, yk, pk, sample_weight)
            parts.append(value)
            grads.append(g if weight == 1 else g * g.dtype.type(weight))        # dL/dp_k = w_k dL_k/dp_k
        f = self.dtype.type
        total = sum(f(v) * f(w) for v, w in zip(parts, self.output_loss_weights))     # L = sum_k w_k L_k
        return graph_io.LossValue(total, parts), grads

    def _output_loss(self, k, loss, y, p, sample_weight):
        """Output ``k``'s ``(L_k, dL_k/dp_k)``, or ``dL_k/dz_k`` from its head's cached input ``z``."""
        head = self._run(self.outputs[k].node)
        if self._fuses(k, loss):
            return loss.logits_value_and_gradient(y, head.cache[-2], p, owner=head, sample_weight=sample_weight)
        return loss.value_and_gradient(y, p, owner=head, sample_weight=sample_weight)

    def _fuses(self, k, loss):
        """True if output ``k``'s loss takes its head activation's input ``z`` (see ``Sequential.fused_head``);
        only for an output that feeds nothing else (its gradient then comes from the loss alone)."""
        return (k in self._fusable and loss.fuses is not None
                and head_activation(self.outputs[k].node.layer) == loss.fuses)

    def backward(self, grad, input_grad=False):
        """The chain rule over the graph, from the outputs back to the inputs, filling every layer's
        ``grads``.  ``grad``: what :meth:`loss_and_gradient` returned (a list for several outputs).
        Returns dL/dx for the input (a list for several) if ``input_grad``, else None."""
        losses_now = self.compiled_loss if len(self.outputs) > 1 else [self.compiled_loss or _CATEGORICAL]
        fused = {id(self.outputs[k].node) for k, loss in enumerate(losses_now) if self._fuses(k, loss)}
        grads = {}                                      # id(tensor) -> dL/d(tensor), summed over its uses
        for t, g in zip(self.outputs, grad if len(self.outputs) > 1 else [grad]):
            self._add(grads, t, g)
        for node in reversed(self._calls):              # a node after every node its output feeds
            g = grads.pop(id(node.output))              # complete: every use has added its share
            layer = self._run(node)
            need_dx = input_grad or id(node) not in self._first
            if id(node) in fused:                       # a softmax (sigmoid) head: g is dL/dz already
                dx = layer.backward_from_z(g, need_dx=need_dx) if isinstance(layer, Dense) else g
            else:
                dx = layer.backward(g, need_dx=need_dx)
            for shared, totals in self._shared:
                if shared is node.layer:
                    for total, d in zip(totals, shared.trainable_grads):
                        total += d                      # a shared layer: its gradients add up over its calls
            for t, dt in zip(node.inputs, dx if isinstance(dx, list) else [dx]):
                if dt is not None:
                    self._add(grads, t, dt)
        for shared, totals in self._shared:             # each shared layer's grads: the sum over its calls
            for d, total in zip(shared.trainable_grads, totals):
                d[...] = total
                total[...] = 0
        if input_grad:
            found = [grads.get(id(t)) for t in self.inputs]
            return found if len(found) > 1 else found[0]
        return None

    def _add(self, grads, t, g):
        """``grads[t] += g``: a tensor used in several places gets the sum of their gradients."""
        if id(t) not in grads:
            grads[id(t)] = g
        elif backend.fast():
            grads[id(t)] = fast.add_all(self, f"d{id(t)}", [grads[id(t)], g])   # the line below, into a reused array
        else:
            grads[id(t)] = grads[id(t)] + g             # gradients add at a fan-out

    def compute_gradients(self, x, y, training=True, sample_weight=None):
        """Forward + backward on one batch without updating anything: ``(loss, output, grads)``."""
        p = self.forward(x, training=training)
        loss, grad = self.loss_and_gradient(y, p, sample_weight)
        self.backward(grad)
        return loss, p, self.gradients

    # ------------------------------------------------------------------ model(x) and the tape
    def __call__(self, x, training=None):
        """``model(x)``: the outputs for all of ``x`` as Tensors (in the structure of ``model.output``:
        a list or dict for several).  On an open ``GradientTape``: :meth:`call`, each layer call one node
        of the tape."""
        if symbolic.is_symbolic(x):
            raise NotImplementedInNnscratch("calling a functional model on symbolic tensors (a model used "
                                            "as a layer of another graph) is not implemented in nnscratch")
        if tape.is_recording():
            return self.call(x, training=training)
        x = self.check_inputs(x, "model(x)")
        if backend.fast() and not training:
            out = inference.direct_call(self, x)       # the line below, in pieces over the cores
        else:
            out = data_adapter.copied(self.forward(x, training=bool(training)))
        return symbolic.pack(self.output, [Tensor(a) for a in (out if len(self.outputs) > 1 else [out])])

    def call(self, inputs, training=None):
        """The graph run with each layer *called*, ``layer(x)``: on a tape, one node per layer call."""
        values = dict(zip(map(id, self.inputs), graph_io.flat_inputs(self, inputs, "model(x)")))
        for node in self._calls:
            values[id(node.output)] = node.layer(node.gather(values), training=training)
        return symbolic.pack(self.output, [values[id(t)] for t in self.outputs])

    # ------------------------------------------------------------------ the data of several inputs and outputs
    def check_inputs(self, x, what):
        """``x`` checked as ``checks.features`` checks it, for each input (``graph_io.py``)."""
        return graph_io.checked_inputs(self, x, what)

    def check_targets(self, y, n, what):
        """``y`` checked for each output's loss (``graph_io.py``)."""
        return graph_io.checked_targets(self, y, n, what)

    @property
    def sample_shape(self):
        """One input sample's shape (a list for several inputs), without the batch axis."""
        shapes = [tuple(t.shape[1:]) for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_sample_shapes(self):
        """One output sample's shape for each output, without the batch axis: ``[(10,)]``."""
        return [tuple(t.shape[1:]) for t in self.outputs]

    @property
    def output_dim(self):
        return self.outputs[0].shape[-1] if len(self.outputs) == 1 else [t.shape[-1] for t in self.outputs]

    @property
    def output_keys(self):
        """The outputs' names for losses, metrics, targets and logs: the keys of ``model.output`` where it
        is a dict, else the output layers' names (Keras's ``model.output_names``)."""
        return sorted(self.output) if isinstance(self.output, dict) else list(self.output_names)

    built = True

    def build(self, input_shape=None):
        """A graph model is built when it is made; Keras's ``model.build(...)`` changes nothing."""

    # ------------------------------------------------------------------ compile and the logs
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                **kwargs):
        """``compile`` as any model's; with several outputs ``loss`` (one for every output, or one per
        output), ``loss_weights`` and ``metrics`` are lists or dicts keyed by :attr:`output_keys`, as in
        Keras (``graph_io.py``)."""
        if loss is None:
            raise ValueError("compile: give a loss, e.g. loss='categorical_crossentropy'")
        if len(self.outputs) == 1:
            self._several = None
            return super().compile(optimizer, *graph_io.one_output(self, loss, loss_weights, metrics, weighted_metrics),
                                   **kwargs)
        several = graph_io.CompiledOutputs(self.output_keys, self.dtype, loss, loss_weights, metrics, weighted_metrics)
        super().compile(optimizer, several.losses[0], None, None, None, **kwargs)
        self.loss, self.compiled_loss, self.loss_weights = loss, several.losses, loss_weights
        self.output_loss_weights, self._several = several.weights, several
        self._metric_specs = (metrics, weighted_metrics)
        self._compiled_hook()

    _several = None

    def _compiled_hook(self):
        loss_objects = self.compiled_loss if isinstance(self.compiled_loss, list) else [self.compiled_loss]
        for k, loss in enumerate(loss_objects):
            if self._fuses(k, loss):
                losses.warn_if_logits_output(loss, self.outputs[k].node.layer.name)

    def _scaled(self, w, n):
        return w if self._several else super()._scaled(w, n)      # several outputs: loss_and_gradient's w_k

    def compiled_metrics(self):
        return self._several.metric_objects() if self._several else super().compiled_metrics()

    @property
    def metrics_names(self):
        if not self._several:
            return super().metrics_names
        return ["loss"] + ["compile_metrics"] * bool(self._several.built) + [m.name for m in self._several.loss_means]

    def update_metrics(self, loss, y, p, sample_weight=None):
        if not self._several:
            return super().update_metrics(loss, y, p, sample_weight)
        self.loss_tracker.update_state(loss, sample_weight=len(y))
        self._several.update(loss, y, p, sample_weight)

    def get_metrics_result(self):
        if not self._several:
            return super().get_metrics_result()
        return {"loss": self.loss_tracker.result(), **self._several.results()}

    def all_layers(self):
        return list(self._layers)

    def submodels(self):
        return []

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype.name,
                "layers": [{"class_name": type(l).__name__, "config": l.get_config()} for l in self._layers]}


registry.register(Functional, kind="model")                          # keras.Model(inputs, outputs) finds it here
