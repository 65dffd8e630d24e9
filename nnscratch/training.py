"""``Model``: Keras's training API, the loop around one step, shared by every model.

Read ``models.py`` first: there :class:`~nnscratch.models.Sequential` computes one step's loss and
gradients (forward, loss, backward).  Here is everything around that step::

    train_step(x, y, w):  loss, p, grads = compute_gradients(x, y, w)   the model's forward, loss, backward
                          optimizer.apply(weights, grads)              the only place weights change
    fit:                  for each epoch, for each mini-batch (x, y, w) the data gives:
                              train_step(x, y, w)                      one step
                              update the metrics with (loss, y, p)     running values over the epoch
                              callbacks.on_train_batch_end(logs)       EarlyStopping, checkpoints, ...
    evaluate:             for each batch: forward (dropout off), the loss, the metrics
    predict, model(x):    for each batch: forward (dropout off)

``fit`` runs exactly ``train_step``, and ``evaluate``/``predict`` the same ``forward``: put a
breakpoint in ``Dense.forward`` and ``fit`` stops there.  The metrics (``metrics.py``) are objects
with a state, reset at each epoch; the callbacks (``callbacks.py``) see the ``logs`` they make, as in
Keras.  On the numba backend ``predict``, ``evaluate`` and ``model(x)`` hand their loop over batches
to the engine in one line, which runs the same ``forward`` on one share of the rows per core
(``engine/inference.py``).  The batches come from ``batch_sources.py``: rows of arrays (shuffled,
weighted, a validation split held out: ``data_adapter.py``), or the batches of a ``tf.data.Dataset``
or ``keras.utils.PyDataset``, checked one by one.

A model class supplies ``forward``, ``loss_and_gradient``, ``compute_gradients``, its
``trainable_weights`` and its shapes: ``Sequential`` its hand-written ones (``models.py``), a model you
subclass (``call``) those it inherits from ``subclassing.py``, where the gradients come from the tape.
The API mirrors ``keras.Model`` (this class is ``tf.keras.Model``): ``compile``, ``fit``, ``evaluate``,
``predict``, ``model(x)``, ``train_on_batch``, ``get_weights``, ``set_weights``, ``summary`` and ``save``.
"""
import threading
import warnings

import numpy as np

from . import backend, batch_sources, checks, data_adapter, elementwise_losses, keras_format, losses, optimizers, registry, saving, tape  # noqa: F401
from . import callbacks as callbacks_module
from . import metrics as metrics_module
from .callbacks import History  # noqa: F401  (nnscratch.training.History, as before)
from .data_adapter import batch_slices, within_batches  # noqa: F401
from .engine import inference
from .errors import NotImplementedInNnscratch
from .layers import _snake_case, _unique_name
from .subclassing import SubclassingAPI
from .utils import make_rng

class Model(SubclassingAPI):
    """``keras.Model``: compile, the training loop, inference, weights and saving, shared by every
    nnscratch model; subclass it with ``__init__`` (``super().__init__()``, then layers as attributes)
    and ``call(self, inputs, training=None)``, as in Keras (``subclassing.py``).  ``name``: from the
    class name by default (``MyModel`` -> ``'my_model'``, ``'my_model_1'``, ...).  ``dtype``: Keras's
    ``floatx()`` (``'float32'``) by default, or ``'float64'`` (for tight gradient checks).  ``seed``:
    seeds the shuffling of ``fit``; layers take their own ``seed`` argument.  Without seeds,
    :func:`nnscratch.utils.set_random_seed` makes everything repeatable."""
    _saveable = False              # model.save stores a Sequential's architecture; a call() is code

    def __new__(cls, *args, **kwargs):
        """``keras.Model(inputs, outputs)`` is a graph model, as Keras's ``Model.__new__`` makes it: a
        :class:`~nnscratch.functional.Functional` (found in ``registry.py``, its room is above this one)."""
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            return super().__new__(registry.get("Functional", kind="model"))
        return super().__new__(cls)

    def __init__(self, *args, name=None, dtype=None, seed=None, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise NotImplementedInNnscratch("a subclass of keras.Model made from inputs and outputs "
                                            "(super().__init__(inputs, outputs): Keras's functional "
                                            "subclassing) is not implemented in nnscratch: use "
                                            "keras.Model(inputs, outputs) itself, or write call()")
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(kwargs)}; nnscratch's "
                            "keras.Model takes name, dtype and seed")
        self.name = name or _unique_name(_snake_case(type(self).__name__))
        self.dtype = np.dtype(dtype or tape.floatx())
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"{type(self).__name__}: dtype must be 'float32' or 'float64', got {dtype!r}")
        self.seed = seed
        self.rng = make_rng(seed)
        self.optimizer = None
        self.loss = None              # what compile() was given (a name or a loss object), as in Keras
        self.compiled_loss = None     # the loss object training uses (losses.py)
        self.loss_tracker = None      # the Mean that logs 'loss' (metrics.py)
        self.loss_weights = None
        self._metric_specs, self._compiled = ((), ()), None
        self.stop_training = False
        self.history = None
        self._metrics_lock = threading.RLock()   # one evaluate at a time: the metrics are this model's state

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        """Choose the optimizer (``'rmsprop'``, Keras's default, ``'adam'``, ``'sgd'`` or an instance), the
        loss (a name such as ``'categorical_crossentropy'``, ``'sparse_categorical_crossentropy'``,
        ``'mse'``, ``'binary_crossentropy'``, a loss object or function) and the metrics (names such as
        ``'accuracy'``, ``'mae'``, metric objects, functions ``f(y_true, y_pred) -> (N,)``).
        ``weighted_metrics`` are given the sample weights, ``metrics`` are not (as in Keras).
        ``loss_weights``: a number that scales the loss.  ``run_eagerly``, ``jit_compile='auto'`` and
        ``auto_scale_loss`` change nothing (nnscratch always runs NumPy, eagerly)."""
        checks.refuse_unimplemented("compile", {
            "loss_weights": loss_weights, "steps_per_execution": steps_per_execution, "jit_compile": jit_compile},
            {"loss_weights": lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)),
             "steps_per_execution": lambda v: v == 1, "jit_compile": lambda v: v in ("auto", False, None)})
        if loss is None:
            raise ValueError("compile: give a loss, e.g. loss='categorical_crossentropy'")
        for what, given in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if given is not None and not isinstance(given, (list, tuple)):
                raise ValueError(f"compile: {what} must be a list, e.g. {what}=['accuracy'], got {given!r}")
        compiled_loss = losses.get(loss)
        optimizer = optimizers.get(optimizer)
        self.loss, self.compiled_loss, self.optimizer, self.loss_weights = loss, compiled_loss, optimizer, loss_weights
        self._metric_specs, self._compiled = (tuple(metrics or ()), tuple(weighted_metrics or ())), None
        for spec in self._metric_specs[0] + self._metric_specs[1]:       # unknown names fail now, not in fit
            if isinstance(spec, str) and spec.lower() not in ("accuracy", "acc"):
                metrics_module.get(spec, dtype=self.dtype)
        self.loss_tracker = metrics_module.Mean(name="loss", dtype=self.dtype)
        self._compiled_hook()

    def get_compile_config(self):
        """What ``compile`` was given (Keras's ``model.get_compile_config()``), None before it."""
        if self.compiled_loss is None:
            return None
        return {"optimizer": self.optimizer, "loss": self.loss, "loss_weights": self.loss_weights,
                "metrics": list(self._metric_specs[0]), "weighted_metrics": list(self._metric_specs[1])}

    def _compiled_hook(self):
        """Called at the end of :meth:`compile` (``Sequential`` warns about a softmax head there)."""

    def _require_compiled(self, what):
        if self.optimizer is None or self.compiled_loss is None:
            raise ValueError(f"{what} called before compile(): call model.compile(loss="
                             "'categorical_crossentropy', optimizer='adam', metrics=['accuracy']) first")

    # ------------------------------------------------------------------ metrics
    def compiled_metrics(self):
        """The compiled metric objects (``metrics`` then ``weighted_metrics``), once the first batch has
        shown the shapes that ``'accuracy'`` chooses by; ``[]`` before."""
        return [m for group in self._compiled or () for m in group]

    @property
    def metrics(self):
        """Keras's ``model.metrics``: the loss tracker, then the compiled metrics."""
        return ([self.loss_tracker] if self.loss_tracker is not None else []) + self.compiled_metrics()

    @property
    def metrics_names(self):
        """As Keras 3: ``['loss', 'compile_metrics']`` once metrics are compiled and built."""
        return ["loss"] * (self.loss_tracker is not None) + ["compile_metrics"] * bool(self.compiled_metrics())

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def update_metrics(self, loss, y, p, sample_weight=None):
        """Fold one batch into the metrics (Keras's ``compute_metrics``): the loss weighted by the batch
        size, each metric on ``(y, p)``, the weighted ones with the sample weights."""
        if self._compiled is None and p is not None:   # built on the first batch: 'accuracy' needs the shapes
            self._compiled = tuple([metrics_module.get(s, y, p, dtype=self.dtype) for s in specs]
                                   for specs in self._metric_specs)
        self.loss_tracker.update_state(loss, sample_weight=len(y))
        if p is not None:
            for m in self._compiled[0]:
                m.update_state(y, p)
            for m in self._compiled[1]:
                m.update_state(y, p, sample_weight)

    def get_metrics_result(self):
        """The logs: ``{'loss': ..., <metric name>: ...}``; a repeated name gets ``_1``, ``_2`` (a weighted
        metric ``weighted_<name>``), as Keras names them."""
        logs = {"loss": self.loss_tracker.result()}
        for weighted, group in enumerate(self._compiled or ()):
            for m in group:
                name = m.name if m.name not in logs or not weighted else f"weighted_{m.name}"
                base, k = name, 1
                while name in logs:
                    name, k = f"{base}_{k}", k + 1
                logs[name] = m.result()
        return logs

    def _results(self, logs, return_dict):
        """``evaluate``'s return: the logs, or their values in the metrics' order, the loss first (one
        value alone), as Keras's ``_flatten_metrics_in_order``."""
        if return_dict:
            return logs
        order = [k for k in self.get_metrics_result() if k in logs]
        values = [logs[k] for k in order] + [logs[k] for k in sorted(logs) if k not in order]
        return values[0] if len(values) == 1 else values

    # ------------------------------------------------------------------ one step
    def train_step(self, x, y, sample_weight=None):
        """One optimizer step on one batch; returns ``(loss, output)``; the loss is measured before
        the update (as Keras logs it).  A non-finite loss stops here, before any weight changes."""
        loss, p, grads = self.compute_gradients(x, y, training=True, sample_weight=self._scaled(sample_weight, len(y)))
        if not np.isfinite(loss):
            self._raise_non_finite_loss(loss)
        self.optimizer.apply(self.trainable_weights, grads)
        return loss, p

    def _scaled(self, w, n):
        """Sample weights times ``loss_weights`` (a number scales the loss, as Keras's ``loss_weights``)."""
        if self.loss_weights is None:
            return w
        return (np.ones(n, self.dtype) if w is None else w) * self.dtype.type(self.loss_weights)

    def _raise_non_finite_loss(self, loss):
        bad = [i for i, w in enumerate(self.trainable_weights) if not np.all(np.isfinite(w))]
        if bad:
            state = (f"the weights already held NaN or infinite values before this step (weight arrays "
                     f"{bad}): an earlier update diverged. Lower the learning rate or check the "
                     "optimizer's settings")
        else:
            state = ("the weights were left at their values before this step. Lower the learning rate, "
                     "check the inputs for extreme values, or use float64")
        error = FloatingPointError(f"loss became {loss} during training; {state}.")
        error.loss = loss
        raise error

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """Keras's ``train_on_batch``: one step on the given batch; returns the loss (and the metrics)."""
        self._require_compiled("train_on_batch")
        x, y = checks.features_and_targets(self, x, y, "train_on_batch")
        w = data_adapter.sample_weights(self, y, sample_weight, class_weight, "train_on_batch")
        self.reset_metrics()
        loss, p = self.train_step(x, y, w)
        self.update_metrics(loss, y, p, w)
        return self._results(callbacks_module.pythonify_logs(self.get_metrics_result()), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Keras's ``test_on_batch``: the loss (and metrics) of one batch at inference."""
        return self.evaluate(x, y, batch_size=len(x), verbose=0, sample_weight=sample_weight, return_dict=return_dict)

    def predict_on_batch(self, x):
        return self.predict(x, batch_size=len(x), verbose=0)

    # ------------------------------------------------------------------ fit / evaluate / predict
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` passes over the data, in mini-batches of ``batch_size`` (default 32).

        Every mini-batch is one :meth:`train_step`, then the metrics and the callbacks see the logs.
        As Keras: the last partial batch is used; ``shuffle`` draws a new order each epoch
        (``'batch'``, as Keras 3: the rows of each batch in a new order, the batches in theirs);
        ``validation_split`` holds out the *last* fraction of the data (before shuffling);
        ``validation_data`` is ``(x, y)``, ``(x, y, sample_weight)`` or a dataset; the logged values are
        running means over the epoch (the loss weighted by batch size) of each batch's value before its
        update (dropout active).  ``sample_weight (N,)`` or ``class_weight {class: weight}`` weight the
        loss: ``sum_i w_i L_i / N`` per batch.  ``x`` may be a ``tf.data.Dataset`` or a
        ``keras.utils.PyDataset`` making ``(x, y)`` or ``(x, y, sample_weight)`` batches, with Keras's
        rules for them (``batch_sources.py``).  ``callbacks``: see ``callbacks.py``.  Returns a
        :class:`~nnscratch.callbacks.History` (also kept as ``model.history``).
        """
        self._require_compiled("fit")
        epochs = checks.positive_int(epochs, "fit: epochs")
        verbose = checks.verbosity(verbose, "fit")
        if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, int) or initial_epoch < 0:
            raise ValueError(f"fit: initial_epoch must be an integer >= 0, got {initial_epoch!r}")
        data, validation = batch_sources.for_fit(self, x, y, batch_size, shuffle, sample_weight, class_weight,
                                                 validation_split, validation_data, steps_per_epoch,
                                                 validation_steps, validation_batch_size)
        callbacks = callbacks if isinstance(callbacks, callbacks_module.CallbackList) else callbacks_module.CallbackList(
            callbacks, add_history=True, add_progbar=verbose != 0, model=self,
            verbose=verbose, epochs=epochs, steps=data.num_batches)
        self.stop_training = False
        callbacks.on_train_begin()
        logs = None
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            for batch, (xb, yb, wb) in enumerate(data.epoch()):    # rows of the arrays, or the dataset's next batch
                callbacks.on_train_batch_begin(batch)
                try:
                    loss, p = self.train_step(xb, yb, wb)
                except FloatingPointError as error:  # NaN loss: the weights are as before this batch
                    if not callbacks.terminate_on_nan:
                        raise
                    loss, p = getattr(error, "loss", np.nan), None   # TerminateOnNaN (callbacks.py) stops
                self.update_metrics(loss, yb, p, wb)
                callbacks.on_train_batch_end(batch, self.get_metrics_result)   # called only if a callback reads it
                if self.stop_training:
                    break
            logs = self.get_metrics_result()
            if validation is not None and self._should_validate(epoch, validation_freq):
                val = self.evaluate(validation, verbose=0, callbacks=callbacks, return_dict=True)
                logs.update({f"val_{name}": value for name, value in val.items()})
            callbacks.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        callbacks.on_train_end(logs)
        return self.history

    @staticmethod
    def _should_validate(epoch, validation_freq):
        if isinstance(validation_freq, int) and not isinstance(validation_freq, bool) and validation_freq > 0:
            return (epoch + 1) % validation_freq == 0
        if isinstance(validation_freq, (list, tuple)):
            return epoch + 1 in validation_freq
        raise ValueError(f"fit: validation_freq must be a positive integer or a list of epochs, got {validation_freq!r}")

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Loss and metrics at inference (dropout off): ``[loss, metric, ...]`` (``loss`` alone without
        metrics), or the logs dict with ``return_dict``, as Keras.  The loss is the batch-size-weighted
        mean of per-batch losses (Keras's order); ``sample_weight`` weights each batch's loss.  ``x``
        may be a dataset of ``(x, y)`` or ``(x, y, sample_weight)`` batches (``batch_sources.py``)."""
        self._require_compiled("evaluate")
        verbose = checks.verbosity(verbose, "evaluate")
        data = batch_sources.for_evaluate(self, x, y, batch_size, sample_weight, steps)
        with self._metrics_lock:          # threads evaluating one model take turns: the metrics are shared
            return self._evaluate(data, verbose, callbacks, return_dict)

    def _evaluate(self, data, verbose, callbacks, return_dict):
        callbacks = callbacks if isinstance(callbacks, callbacks_module.CallbackList) else callbacks_module.CallbackList(
            callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1, steps=data.num_batches)
        callbacks.on_test_begin()
        self.reset_metrics()

        def test_step(model, x, y, w, keep=False):
            """One batch's loss and outputs.  ``model``: this model, or on the fast path one of its
            per-thread replicas (the same layers and weights); ``keep``: outputs copied, safe from its
            next batch (the fast path keeps every batch's until they are folded in, in order)."""
            p = model.forward(x, training=False)
            loss, _ = model.loss_and_gradient(y, p, self._scaled(w, len(p)))     # loss_weights too, as in training
            return loss, data_adapter.copied(p) if keep else p

        per_batch = []
        if backend.fast() and data.slices is not None and not callbacks.listens("test_batch"):
            per_batch = inference.map_batches(                                 # the loop below, over the cores
                self, data.slices, lambda m, rows: test_step(m, *data.take(rows), keep=True),
                callbacks.progress("on_test_batch_end"))
        else:
            for i, (xb, yb, wb) in enumerate(data.epoch()):
                callbacks.on_test_batch_begin(i)
                loss, p = test_step(self, xb, yb, wb)
                self.update_metrics(loss, yb, p, wb)
                callbacks.on_test_batch_end(i, self.get_metrics_result)    # called only if a callback reads it
        for rows, (loss, p) in zip(data.slices or (), per_batch):         # the cores' batches, folded in order
            _, yb, wb = data.take(rows)
            self.update_metrics(loss, yb, p, wb)
        logs = callbacks.on_test_end(self.get_metrics_result())
        return self._results(logs, return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for every row of ``x`` (or every batch of a dataset) at inference (dropout off), in
        batches: ``(N, D) -> (N, C)``.  A NumPy array, as Keras's ``predict`` returns (``model(x)``
        returns a Tensor)."""
        verbose = checks.verbosity(verbose, "predict")
        data = batch_sources.for_predict(self, x, batch_size, steps)
        callbacks = callbacks if isinstance(callbacks, callbacks_module.CallbackList) else callbacks_module.CallbackList(
            callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1, steps=data.num_batches)
        callbacks.on_predict_begin()
        if backend.fast() and data.slices is not None and not callbacks.listens("predict_batch"):
            out = inference.forward_all(self, data.x, data.slices, callbacks.progress("on_predict_batch_end"))   # the loop below
        else:
            outputs = []
            for i, (xb, _, _) in enumerate(data.epoch()):
                callbacks.on_predict_batch_begin(i)
                outputs.append(data_adapter.copied(self.forward(xb, training=False)))
                callbacks.on_predict_batch_end(i, {"outputs": outputs[-1]})
            out = batch_sources.joined(outputs)          # (N,) + output shape (one per output)
        callbacks.on_predict_end()
        return data_adapter.predictions(self, out)

    # ------------------------------------------------------------------ weights
    def get_weights(self):
        """Copies of all parameters, trainable or frozen, Keras's order ``[W1, b1, W2, b2, ...]``."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy ``weights`` (Keras's order and shapes, frozen layers' too) into the model's parameter arrays."""
        checks.replace_weights(self.weights, weights, "set_weights")

    def summary(self, print_fn=print):
        """Print a Keras 3 style table: layer (type), output shape, parameter count (``summary.py``)."""
        from .summary import summary_table
        print_fn(summary_table(self))

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Keras's ``save``: the whole model (architecture, weights, optimizer state) in the format the
        name ends in: ``.keras`` (Keras 3's format, which real Keras opens), ``.h5`` (Keras's legacy
        HDF5; ``include_optimizer=False`` leaves the optimizer out) or ``.npz`` (nnscratch's own);
        written atomically (``saving.py``).  A subclassed model's architecture is its ``call`` code,
        which no file stores: it is refused before anything is written (keep its weights with
        ``save_weights`` or ``get_weights``)."""
        if not self._saveable:
            raise ValueError(f"save: {self.name} is a subclassed model, whose architecture is its call() "
                             "code, which a model file cannot store (Keras needs the class too); keep its "
                             "weights with model.save_weights('....weights.h5') or model.get_weights()")
        saving.save_model(self, filepath, overwrite, zipped, **kwargs)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Keras's ``save_weights``: the weights and the optimizer's state in Keras 3's ``.weights.h5``
        file, which real Keras's ``load_weights`` reads too (``keras_format.py``)."""
        keras_format.save_weights(self, filepath, overwrite, max_shard_size)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Keras's ``load_weights``: the weights (and, if compiled, the optimizer's state) of a
        ``.weights.h5`` file (``save_weights``, here or in Keras), or of a ``.keras`` or legacy ``.h5``
        model file, into this model of the same architecture; checked completely before any weight
        changes (``keras_format.py``)."""
        keras_format.load_weights(self, filepath, skip_mismatch, **kwargs)

    def storable_metrics(self):
        """The compiled metrics as names a model file can hold and ``compile`` takes again: a name as it
        was given, a built-in metric object of default configuration by its class name.  Any other
        metric (your own subclass or function, ``weighted_metrics``) is left out, with a warning."""
        names, left = [], list(self._metric_specs[1])
        for spec in self._metric_specs[0]:
            if isinstance(spec, str):
                names.append(spec)
            elif type(spec) in metrics_module.METRICS.values() and spec.get_config() == type(spec)().get_config():
                names.append(type(spec).__name__)
            else:
                left.append(spec)
        if left:
            warnings.warn(f"save: the metrics {left} are not stored in the model file (only Keras's named "
                          "metrics are); compile the loaded model again to use them", stacklevel=3)
        return names

