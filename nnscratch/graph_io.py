"""What ``compile`` makes of a model with several outputs: one loss per output, their weights, and the
metrics of each output, named and logged as Keras 3's ``CompileLoss`` and ``CompileMetrics`` do
(``keras/src/trainers/compile_utils.py``).  The math of the step stays in ``functional.py``
(``L = sum_k w_k L_k``); here is only the bookkeeping around it::

    compile(loss=['sparse_categorical_crossentropy', 'mse'], loss_weights=[1.0, 0.5],
            metrics=[['accuracy'], ['mae']])              # or dicts keyed by the output names
    logs:   loss (the weighted total), <output>_loss (each output's own, unweighted),
            <output>_<metric> (each output's metrics)

An output's name is its layer's name (``model.output_names``), or its key where the model's outputs
are a dict.  A single loss (``loss='mse'``) is every output's; ``metrics`` must say which output
each metric is for (a flat list of one metric per output, a list of lists, or a dict), as in Keras.
"""
import types

import numpy as np

from . import checks, data_adapter, losses, metrics as metrics_module, symbolic
from .errors import NotImplementedInNnscratch


class LossValue(float):
    """A batch's total loss ``L = sum_k w_k L_k`` (a number, as every model's loss is), which also keeps
    each output's unweighted ``L_k`` as ``parts``: Keras logs them as ``<output>_loss``."""

    def __new__(cls, total, parts):
        value = super().__new__(cls, total)
        value.parts = list(parts)
        return value


def per_output(value, names, what):
    """``value`` given for several outputs (a list, tuple or dict keyed by ``names``) as a list in the
    outputs' order."""
    if isinstance(value, dict):
        if set(value) != set(names):
            raise ValueError(f"compile: {what} is a dict with the keys {sorted(value)}, but the model's outputs are "
                             f"named {names}; give one entry per output name")
        return [value[name] for name in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(f"compile: {what} has {len(value)} entries, but the model has {len(names)} outputs "
                             f"{names}; give one per output (or a dict keyed by these names)")
        return list(value)
    raise ValueError(f"compile: {what} for a model with {len(names)} outputs must be a list or a dict keyed by "
                     f"the output names {names}, got {value!r:.80}")


class CompiledOutputs:
    """The losses, loss weights and metrics of each output of a model with several outputs."""

    def __init__(self, names, dtype, loss, loss_weights=None, metrics=None, weighted_metrics=None):
        self.names, self.dtype = list(names), dtype
        given = loss if isinstance(loss, (list, tuple, dict)) else [loss] * len(names)
        if any(entry is None for entry in (given.values() if isinstance(given, dict) else given)):
            raise NotImplementedInNnscratch("compile: an output without a loss (None) is not implemented in "
                                            "nnscratch; give every output a loss")
        self.losses = [losses.get(entry) for entry in per_output(given, self.names, "loss")]
        weights = [1.0] * len(names) if loss_weights is None else per_output(loss_weights, self.names, "loss_weights")
        for w in weights:
            if isinstance(w, bool) or not isinstance(w, (int, float, np.floating, np.integer)):
                raise ValueError(f"compile: loss_weights must be numbers, got {w!r}")
        self.weights = [float(w) for w in weights]
        self.specs = (self._metric_specs(metrics, "metrics"), self._metric_specs(weighted_metrics, "weighted_metrics"))
        self.loss_means = [metrics_module.Mean(name=f"{name}_loss", dtype=dtype) for name in self.names]
        self.built = None                      # the metric objects per output, made on the first batch

    def _metric_specs(self, given, what):
        """Each output's list of metric identifiers, as Keras's ``CompileMetrics`` reads ``metrics``."""
        if not given:
            return [[] for _ in self.names]
        if isinstance(given, dict):
            unknown = set(given) - set(self.names)
            if unknown:
                raise ValueError(f"compile: {what} names outputs {sorted(unknown)}, but the model's outputs are "
                                 f"{self.names}")
            given = [given.get(name) for name in self.names]
        elif not (isinstance(given, (list, tuple)) and len(given) == len(self.names)):
            raise ValueError(f"compile: the model has {len(self.names)} outputs {self.names}, so {what} must say "
                             f"which output each metric is for: a list with one entry per output (e.g. "
                             f"[['accuracy'], ['mae']]) or a dict keyed by the output names; got {given!r:.120}")
        return [[] if m is None else list(m) if isinstance(m, (list, tuple)) else [m] for m in given]

    # ------------------------------------------------------------------ the logs
    def metric_objects(self):
        """Every metric object, the per-output losses' means first (Keras's ``model.metrics`` order after
        ``loss``: its compile metrics, then the losses' trackers)."""
        built = [m for group in self.built or () for per in group for m in per]
        return built + self.loss_means

    def reset(self):
        for m in self.metric_objects():
            m.reset_state()

    def update(self, loss, y, p, sample_weight=None):
        """Fold one batch in: each output's unweighted loss (``loss.parts``), weighted by the batch size,
        and each output's metrics on its ``(y_k, p_k)``."""
        ys, ps = list(y), list(p) if p is not None else None
        if self.built is None and ps is not None:
            self.built = tuple([[metrics_module.get(s, yk, pk, dtype=self.dtype) for s in specs]
                                for specs, yk, pk in zip(group, ys, ps)] for group in self.specs)
        for mean, part in zip(self.loss_means, getattr(loss, "parts", [np.nan] * len(self.names))):
            mean.update_state(part, sample_weight=len(ys[0]))
        if ps is not None:
            for weighted, group in enumerate(self.built):
                for per, yk, pk in zip(group, ys, ps):
                    for m in per:
                        m.update_state(yk, pk, sample_weight) if weighted else m.update_state(yk, pk)

    def results(self):
        """``{'<output>_loss': ..., '<output>_<metric>': ...}``: the losses in the outputs' order, then the
        metrics by name (a repeated name gets ``_1``; a weighted metric that repeats one,
        ``weighted_<name>``), as Keras's ``CompileMetrics.result``."""
        logs, seen = {}, {}
        for weighted, group in enumerate(self.built or ()):
            for name, per in zip(self.names, group):
                for m in per:
                    key = f"{name}_{m.name}"
                    if key in seen and weighted:
                        key = f"{name}_weighted_{m.name}"
                    if key in seen:
                        seen[key], key = seen[key] + 1, f"{key}_{seen[key]}"
                    else:
                        seen[key] = 1
                    logs[key] = m.result()
        return {**{m.name: m.result() for m in self.loss_means}, **dict(sorted(logs.items()))}


def one_output(model, loss, loss_weights, metrics, weighted_metrics):
    """``compile``'s arguments for a graph model with one output, where Keras also takes them as a list
    of one or a dict keyed by the output's name: each as for any model."""
    name = model.output_keys[0]

    def single(value, what):
        if isinstance(value, dict):
            if set(value) != {name}:
                raise ValueError(f"compile: {what} is a dict with the keys {sorted(value)}, but the model's output "
                                 f"is named {name!r}")
            return value[name]
        if isinstance(value, (list, tuple)) and what != "metrics":
            if len(value) != 1:
                raise ValueError(f"compile: {what} has {len(value)} entries, but the model has one output")
            return value[0]
        return value

    def flat(value):                               # Keras's tree.flatten of a single output's metrics
        value = single(value, "metrics")
        return None if value is None else symbolic.flatten(value if isinstance(value, (list, tuple)) else [value])

    return single(loss, "loss"), single(loss_weights, "loss_weights"), flat(metrics), flat(weighted_metrics)


def flat_inputs(model, x, what):
    """``x`` in the model's input order: one array, or a list, tuple or dict shaped like ``model.input``
    (a dict keyed by the input names, as Keras takes it)."""
    if isinstance(x, data_adapter.Arrays):
        return list(x)
    names = [t.name for t in model.inputs]
    if len(names) == 1 and not isinstance(x, (list, tuple, dict)):
        return [x]
    if isinstance(x, dict):
        keys = sorted(model.input) if isinstance(model.input, dict) else names
        if set(x) != set(keys):
            raise ValueError(f"{what}: the model's inputs are named {keys}, but x has the keys {sorted(x)}")
        return [x[k] for k in keys]
    if len(x) != len(names):
        raise ValueError(f"{what}: the model has {len(names)} inputs {names}, but x holds {len(x)} arrays; give one "
                         "array per input (a list, or a dict keyed by the input names)")
    return list(x)


def checked_inputs(model, x, what):
    """Each input's array checked as ``checks.features`` checks a model's ``x`` (shape, numbers, finite,
    cast to the model's dtype): one array, or :class:`~nnscratch.data_adapter.Arrays` for several."""
    xs = []
    for t, a in zip(model.inputs, flat_inputs(model, x, what)):
        one_input = types.SimpleNamespace(built=True, sample_shape=tuple(t.shape[1:]), dtype=model.dtype)
        xs.append(checks.features(one_input, a, what if len(model.inputs) == 1 else f"{what} (input {t.name!r})"))
    if len({len(a) for a in xs}) > 1:
        raise ValueError(f"{what}: the inputs hold different numbers of samples, {[len(a) for a in xs]}")
    return xs[0] if len(xs) == 1 else data_adapter.Arrays(xs)


def checked_targets(model, y, n, what):
    """The targets of each output, checked for its loss (``checks.targets``): one array, or
    :class:`~nnscratch.data_adapter.Arrays` for several outputs (``y``: a list, tuple or dict keyed by the
    output names)."""
    names = model.output_keys
    y = list(y) if isinstance(y, data_adapter.Arrays) else y
    if len(names) == 1:
        y = y[names[0]] if isinstance(y, dict) and set(y) == set(names) else \
            y[0] if isinstance(y, (list, tuple)) and len(y) == 1 and np.ndim(y[0]) > 0 else y
        return checks.targets(model.compiled_loss, y, n, model.output_dim, model.dtype, what)
    if isinstance(y, dict):
        if set(y) != set(names):
            raise ValueError(f"{what}: the model's outputs are named {names}, but y has the keys {sorted(y)}")
        y = [y[name] for name in names]
    if not isinstance(y, (list, tuple)) or len(y) != len(names):
        raise ValueError(f"{what}: the model has {len(names)} outputs {names}, so y must be a list of {len(names)} "
                         f"arrays (or a dict keyed by the output names), got {type(y).__name__}")
    loss_objects = model.compiled_loss if isinstance(model.compiled_loss, list) else [None] * len(names)
    return data_adapter.Arrays([checks.targets(loss, yk, n, t.shape[-1], model.dtype, f"{what} (output {name!r})")
                                for loss, yk, t, name in zip(loss_objects, y, model.outputs, names)])
