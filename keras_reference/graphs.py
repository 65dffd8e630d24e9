"""Keras twins of graph models (``keras.Model(inputs, outputs)``), both ways, and their comparison.

* :func:`keras_graph_twin` -- the Keras functional model that computes what an nnscratch one does: the
  same layers (the same names), called in the same order on the same inputs, the same weights.
* :func:`nnscratch_graph_twin` -- the other way: an nnscratch graph model replayed from a Keras one.
* :func:`compare_graph_steps` -- ``steps`` optimizer steps on one batch on both sides (fresh
  optimizers, Keras's dropout masks replayed), every step's loss and every weight after them.

Both libraries order ``model.layers`` by the same rule (Keras's ``map_graph``), so ``get_weights()``
lists the same arrays in the same order; the twins also copy weights layer by layer, by name, and
check that the two orders agree.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import nnscratch  # noqa: E402
from nnscratch import layers as nn_layers  # noqa: E402
from nnscratch import losses as nn_losses  # noqa: E402
from nnscratch import merging as nn_merging  # noqa: E402
from nnscratch import symbolic  # noqa: E402
from nnscratch.models import head_activation  # noqa: E402

from .masks import replay_keras_masks  # noqa: E402
from .models import keras_floatx, keras_layer_like, keras_loss_like, keras_optimizer_like  # noqa: E402
from .transfer import nnscratch_layer_like  # noqa: E402


def _flat(structure):
    return symbolic.flatten(structure)


def _pack(structure, leaves):
    return symbolic.pack(structure, leaves)


def keras_layer_twin(layer, dtype, seed=None):
    """The Keras layer of an nnscratch layer of a graph, with the same name."""
    if isinstance(layer, nn_merging.Add):
        k = keras.layers.Add(dtype=dtype)
    elif isinstance(layer, nn_merging.Concatenate):
        k = keras.layers.Concatenate(axis=layer.axis, dtype=dtype)
    elif isinstance(layer, nn_layers.Dropout):
        k = keras.layers.Dropout(layer.rate, seed=seed, dtype=dtype)
    else:
        k = keras_layer_like(layer, dtype)
    k.name = layer.name
    k.trainable = layer.trainable
    return k


def copy_weights(source, target):
    """Copy every layer's weights from ``source`` to ``target`` (an nnscratch or Keras model each), layer
    by layer, matched by name; the layers' orders must agree (it checks)."""
    names = [l.name for l in source.layers]
    if names != [l.name for l in target.layers]:
        raise ValueError(f"copy_weights: the layer orders differ: {names} vs {[l.name for l in target.layers]}")
    for a, b in zip(source.layers, target.layers):
        weights = [np.asarray(w) for w in (a.get_weights() if isinstance(a, keras.layers.Layer) else a.weights)]
        own = b.get_weights() if isinstance(b, keras.layers.Layer) else b.weights     # nnscratch's: the arrays
        if [w.shape for w in weights] != [tuple(w.shape) for w in own]:
            raise ValueError(f"copy_weights: {a.name} has weights {[w.shape for w in weights]}, its twin "
                             f"{[tuple(w.shape) for w in own]}")
        if isinstance(b, keras.layers.Layer):
            b.set_weights([w.astype(o.dtype, copy=False) for w, o in zip(weights, own)])
        else:
            for o, w in zip(own, weights):
                o[...] = w
    return target


def keras_loss_of(nn_model, k, loss, dtype, kind="consistent"):
    """The Keras twin of the loss of output ``k`` (see ``keras_reference.models.keras_loss_like``)."""
    head = nn_model.outputs[k].node.layer
    fused = loss is not None and loss.fuses is not None and head_activation(head) == loss.fuses
    return keras_loss_like(loss, dtype, kind, fused)


def keras_graph_twin(nn_model, loss="consistent", optimizer=None, copy=True, compile=True, seed=None, metrics=None):
    """The Keras functional model computing what the nnscratch graph model ``nn_model`` computes.

    Each node of ``nn_model`` is replayed in its order (``nn_model._calls``) with the Keras twin of its
    layer (one twin per layer: a shared layer stays shared), on ``keras.Input`` tensors of the same
    names, shapes and dtype; the outputs keep ``nn_model.output``'s structure.  ``copy``: copy the
    weights.  ``compile``: with the nnscratch model's losses (or categorical cross-entropy) and
    ``loss_weights``, a fresh twin of its optimizer (or Adam) and ``metrics``.  ``seed``: seeds the
    Keras Dropout layers (``seed + k`` for the k-th)."""
    dtype = nn_model.dtype.name
    twins, values, n_dropout = {}, {}, 0
    for t in nn_model.inputs:
        values[id(t)] = keras.Input(t.shape[1:], dtype=dtype, name=t.node.layer.name)
    for node in nn_model._calls:
        layer = node.layer
        if id(layer) not in twins:
            drop_seed = None
            if isinstance(layer, nn_layers.Dropout):
                drop_seed, n_dropout = (None if seed is None else seed + n_dropout), n_dropout + 1
            twins[id(layer)] = keras_layer_twin(layer, dtype, drop_seed)
        args = node.args
        mapped = [values[id(t)] for t in args] if isinstance(args, (list, tuple)) else values[id(args)]
        values[id(node.output)] = twins[id(layer)](mapped)
    km = keras.Model(_pack(nn_model.input, [values[id(t)] for t in nn_model.inputs]),
                     _pack(nn_model.output, [values[id(t)] for t in nn_model.outputs]), name=nn_model.name)
    if copy:
        copy_weights(nn_model, km)
    if compile:
        several = len(nn_model.outputs) > 1
        nn_losses_ = (nn_model.compiled_loss if several else [nn_model.compiled_loss]) \
            if nn_model.compiled_loss is not None else [nn_losses.CategoricalCrossentropy()] * len(nn_model.outputs)
        k_losses = [keras_loss_of(nn_model, k, l, dtype, loss) for k, l in enumerate(nn_losses_)]
        weights = list(nn_model.output_loss_weights) if several else None
        opt = optimizer or nn_model.optimizer or "adam"
        with keras_floatx(dtype):
            km.compile(optimizer=keras_optimizer_like(opt), loss=k_losses if several else k_losses[0],
                       loss_weights=weights, metrics=metrics)
    return km


def nnscratch_graph_twin(km, dtype=None):
    """The nnscratch graph model replayed from the Keras functional model ``km``: its nodes deepest
    first (Keras's order of execution), each layer's nnscratch twin (same name) called on the mapped
    tensors, and ``km``'s weights copied.  Not compiled."""
    dtype = dtype or km.inputs[0].dtype
    values, twins = {}, {}
    for t in km.inputs:
        layer = t._keras_history.operation
        values[id(t)] = nnscratch.keras.Input(tuple(t.shape[1:]), dtype=dtype, name=layer.name)
    for depth in sorted(km._nodes_by_depth, reverse=True):
        for node in km._nodes_by_depth[depth]:
            if node.is_input:
                continue
            layer = node.operation
            if id(layer) not in twins:
                if isinstance(layer, keras.layers.Add):
                    twin = nn_merging.Add(dtype=dtype)
                elif isinstance(layer, keras.layers.Concatenate):
                    twin = nn_merging.Concatenate(axis=layer.axis, dtype=dtype)
                else:
                    twin = nnscratch_layer_like(layer)
                twin.name, twin.dtype = layer.name, dtype
                twins[id(layer)] = twin
            args = node.arguments.args[0]
            mapped = [values[id(t)] for t in args] if isinstance(args, (list, tuple)) else values[id(args)]
            values[id(node.outputs[0])] = twins[id(layer)](mapped)
    model = nnscratch.keras.Model(_pack(km._inputs_struct, [values[id(t)] for t in km.inputs]),
                                  _pack(km._outputs_struct, [values[id(t)] for t in km.outputs]), name=km.name)
    return copy_weights(km, model)


def compare_graph_steps(nn_model, km, x, y, steps=100, sample_weight=None):
    """``steps`` optimizer steps on the batch ``(x, y)`` (lists for several inputs or outputs) on both
    models as they are (their optimizers start fresh), nnscratch through ``fit`` (one batch, one epoch
    at a time), Keras through ``train_on_batch``; Keras's dropout masks replayed.  Returns
    ``(nn_losses, keras_losses, weight differences)``: each step's loss before its update, and
    ``max|a - b|`` of every weight array after the last step."""
    replays = replay_keras_masks(nn_model, km)
    n_losses, k_losses = [], []
    n = len(_flat(x)[0])
    try:
        with keras_floatx(nn_model.dtype.name):
            for _ in range(steps):
                k = km.train_on_batch(x, y, sample_weight=sample_weight)
                k_losses.append(float(k[0] if isinstance(k, list) else k))
                history = nn_model.fit(x, y, batch_size=n, epochs=1, shuffle=False, verbose=0,
                                       sample_weight=sample_weight)
                n_losses.append(history.history["loss"][0])
    finally:
        for layer in nn_model.layers:
            if isinstance(layer, nn_layers.Dropout):
                layer.mask_source = None
    if replays and not all(r.in_step_with_keras() for r in replays):
        raise RuntimeError("compare_graph_steps: Keras drew another number of dropout masks than were replayed")
    diffs = [float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
             for a, b in zip(nn_model.get_weights(), km.get_weights())]
    return np.array(n_losses), np.array(k_losses), diffs


__all__ = ["keras_graph_twin", "nnscratch_graph_twin", "copy_weights", "compare_graph_steps", "keras_layer_twin"]
