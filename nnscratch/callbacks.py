"""Callbacks: code that ``fit``, ``evaluate`` and ``predict`` call at fixed points (``keras.callbacks``).

``fit`` runs, with ``callbacks`` a :class:`CallbackList` of yours plus ``History`` and the progress bar::

    on_train_begin()
    for epoch:        on_epoch_begin(epoch)
        for batch:        on_train_batch_begin(batch);  train_step;  on_train_batch_end(batch, logs)
        validation:       on_test_begin(); for batch: on_test_batch_begin/end; on_test_end(logs)
                      on_epoch_end(epoch, logs)       logs: {'accuracy', 'loss', 'val_accuracy', 'val_loss'}
    on_train_end(logs of the last epoch)

``evaluate`` calls the ``on_test_*`` hooks, ``predict`` the ``on_predict_*`` hooks.  ``logs`` are as
Keras passes them (``keras/src/callbacks/callback_list.py``): a dict sorted by name, of Python
floats; the batch logs hold the running values over the epoch so far, the epoch logs the epoch's
values and the validation's with ``val_`` in front.  A callback reads ``self.model`` (stop with
``self.model.stop_training = True``) and ``self.params`` (``{'verbose', 'epochs', 'steps'}``).

The callbacks that watch one logged value (``EarlyStopping``, ``ModelCheckpoint``,
``ReduceLROnPlateau``) and ``LearningRateScheduler`` are in ``monitors.py``.

Per-batch logs cost a little (each metric's result); :class:`CallbackList` computes them only when
one of its callbacks overrides a batch hook, so ``EarlyStopping`` or a checkpoint per epoch adds
nothing to a step.
"""
import csv
import os
import time

import numpy as np

from . import checks
from .progress import ProgressBar


class Callback:
    """Base class: every hook does nothing.  Override the ones you need (Keras's names and arguments)."""

    def __init__(self):
        self.params = None
        self.model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None): pass                       # noqa: E704
    def on_train_end(self, logs=None): pass                         # noqa: E704
    def on_epoch_begin(self, epoch, logs=None): pass                # noqa: E704
    def on_epoch_end(self, epoch, logs=None): pass                  # noqa: E704
    def on_batch_begin(self, batch, logs=None): pass                # noqa: E704
    def on_batch_end(self, batch, logs=None): pass                  # noqa: E704
    def on_test_begin(self, logs=None): pass                        # noqa: E704
    def on_test_end(self, logs=None): pass                          # noqa: E704
    def on_predict_begin(self, logs=None): pass                     # noqa: E704
    def on_predict_end(self, logs=None): pass                       # noqa: E704
    def on_test_batch_begin(self, batch, logs=None): pass           # noqa: E704
    def on_test_batch_end(self, batch, logs=None): pass             # noqa: E704
    def on_predict_batch_begin(self, batch, logs=None): pass        # noqa: E704
    def on_predict_batch_end(self, batch, logs=None): pass          # noqa: E704

    def on_train_batch_begin(self, batch, logs=None):
        """Keras keeps ``on_batch_begin`` as its older name: the default calls it."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)


def _overrides(callback, *hooks):
    """True if ``callback`` defines any of ``hooks`` itself (in its class or as an attribute, as
    ``LambdaCallback`` does) rather than inheriting :class:`Callback`'s empty one."""
    for hook in hooks:
        if hook in vars(callback) or getattr(type(callback), hook) is not getattr(Callback, hook):
            return True
    return False


def pythonify_logs(logs):
    """Keras's ``pythonify_logs``: the logs sorted by name, each value a Python float where it is one
    number (arrays, such as predict's ``outputs``, stay as they are)."""
    result = {}
    for key, value in sorted((logs or {}).items()):
        try:
            value = float(value)
        except (TypeError, ValueError):
            pass
        result[key] = value
    return result


class CallbackList(Callback):
    """The callbacks of one ``fit``/``evaluate``/``predict`` call, called in order at each hook.

    ``add_history``/``add_progbar``: append a :class:`History` / :class:`ProgbarLogger` unless the list
    has one (Keras's order: yours, then History, then the progress bar).  ``params`` go to every
    callback's ``set_params``.  ``logs`` may be given as a function (``model.get_metrics_result``): it is
    called only if a callback at that hook reads logs."""

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be keras.callbacks.Callback objects, got {cb!r}")
        if add_history and not any(isinstance(cb, History) for cb in self.callbacks):
            self.callbacks.append(History())
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        self.history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        self.terminate_on_nan = any(isinstance(cb, TerminateOnNaN) for cb in self.callbacks)
        # The batch hooks go only to the callbacks that define them (the rest would do nothing).
        self._batch = {hook: [cb for cb in self.callbacks if _overrides(cb, hook, *aliases)]
                       for hook, aliases in (("on_train_batch_begin", ("on_batch_begin",)),
                                             ("on_train_batch_end", ("on_batch_end",)),
                                             ("on_test_batch_begin", ()), ("on_test_batch_end", ()),
                                             ("on_predict_batch_begin", ()), ("on_predict_batch_end", ()))}
        super().__init__()
        if model is not None:
            self.set_model(model)
        self.set_params(params)

    def set_model(self, model):
        super().set_model(model)
        if self.history is not None:
            model.history = self.history
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        self.params = params
        if params:
            for cb in self.callbacks:
                cb.set_params(params)

    def append(self, callback):
        self.__init__(self.callbacks + [callback], model=self.model, **(self.params or {}))

    def listens(self, kind):
        """True if a callback other than the progress bar reads ``on_<kind>_begin``/``_end`` (then
        ``evaluate``/``predict`` run their batches one by one, in order, to give it the logs)."""
        return any(not getattr(cb, "lazy_logs", False)
                   for hook in (f"on_{kind}_begin", f"on_{kind}_end") for cb in self._batch[hook])

    def progress(self, hook):
        """A function ``progress(steps)`` for the engine's loops: ``hook`` for the progress bar, once
        per batch done (no logs)."""
        callbacks, done = self._batch[hook], [0]

        def progress(steps):
            for _ in range(steps):
                for cb in callbacks:
                    getattr(cb, hook)(done[0], logs=None)
                done[0] += 1
        return progress

    def _call(self, hook, callbacks, *args, logs=None):
        """Every callback's ``hook``; the logs as Keras passes them: positionally to the begin/end and
        epoch hooks, as ``logs=`` to the batch hooks."""
        logs = pythonify_logs(logs() if callable(logs) else logs)
        for cb in callbacks:
            if args and "batch" in hook:
                getattr(cb, hook)(*args, logs=logs)
            else:
                getattr(cb, hook)(*args, logs)
        return logs

    def _batch_call(self, hook, batch, logs):
        callbacks = self._batch[hook]
        if not callbacks:                                        # nobody listens: no logs to make
            return
        if all(getattr(cb, "lazy_logs", False) for cb in callbacks):   # the progress bar alone: logs on redraw
            for cb in callbacks:
                getattr(cb, hook)(batch, logs=lambda: pythonify_logs(logs() if callable(logs) else logs))
            return
        self._call(hook, callbacks, batch, logs=logs)

    def on_train_begin(self, logs=None): self._call("on_train_begin", self.callbacks, logs=logs)      # noqa: E704
    def on_train_end(self, logs=None): self._call("on_train_end", self.callbacks, logs=logs)          # noqa: E704
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", self.callbacks, epoch, logs=logs)  # noqa
    def on_epoch_end(self, epoch, logs=None): return self._call("on_epoch_end", self.callbacks, epoch, logs=logs)  # noqa
    def on_test_begin(self, logs=None): self._call("on_test_begin", self.callbacks, logs=logs)        # noqa: E704
    def on_test_end(self, logs=None): return self._call("on_test_end", self.callbacks, logs=logs)     # noqa: E704
    def on_predict_begin(self, logs=None): self._call("on_predict_begin", self.callbacks, logs=logs)  # noqa: E704
    def on_predict_end(self, logs=None): self._call("on_predict_end", self.callbacks, logs=logs)      # noqa: E704
    def on_train_batch_begin(self, batch, logs=None): self._batch_call("on_train_batch_begin", batch, logs)  # noqa
    def on_train_batch_end(self, batch, logs=None): self._batch_call("on_train_batch_end", batch, logs)      # noqa
    def on_test_batch_begin(self, batch, logs=None): self._batch_call("on_test_batch_begin", batch, logs)    # noqa
    def on_test_batch_end(self, batch, logs=None): self._batch_call("on_test_batch_end", batch, logs)        # noqa
    def on_predict_batch_begin(self, batch, logs=None): self._batch_call("on_predict_batch_begin", batch, logs)  # noqa
    def on_predict_batch_end(self, batch, logs=None): self._batch_call("on_predict_batch_end", batch, logs)  # noqa


# ============================================================================== always there
class History(Callback):
    """What ``fit`` returns, as in Keras: ``history.history['loss'|'accuracy'|'val_loss'|...]`` (one value
    per epoch), ``history.epoch`` and ``history.params``.  ``history.epoch_seconds`` adds each epoch's
    wall-clock time.  ``fit`` also keeps it as ``model.history``, so the finished epochs survive an
    interrupt or error."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []
        self.epoch_seconds = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        self.epoch_seconds.append(time.perf_counter() - getattr(self, "_start", time.perf_counter()))
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        self.model.history = self

    def __repr__(self):
        return f"<History epochs={len(self.epoch)} keys={list(self.history)}>"


class ProgbarLogger(Callback):
    """The progress bar (``verbose=1``) or one line per epoch (``verbose=2``), ``progress.py``.  In
    ``fit`` the validation is silent, as in Keras."""
    lazy_logs = True                 # takes the batch logs as a function, called only on a redraw

    def __init__(self):
        super().__init__()
        self.bar, self.in_fit = None, False

    def set_params(self, params):
        self.verbose, self.epochs, self.steps = params["verbose"], params["epochs"], params["steps"]

    def _open(self):
        self.bar = ProgressBar(self.steps, self.verbose)

    def on_train_begin(self, logs=None):
        self.in_fit = True

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose and self.epochs > 1:                # Keras 3 names the epoch only when there are several
            print(f"Epoch {epoch + 1}/{self.epochs}", flush=True)
        self._open()

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1, logs if callable(logs) or logs is None else (lambda: logs))

    def on_epoch_end(self, epoch, logs=None):
        self.bar.close(logs)
        self.steps = self.bar.total             # an unknown number of steps is known after one epoch (Keras)

    def on_test_begin(self, logs=None):
        if not self.in_fit:
            self._open()

    def on_test_batch_end(self, batch, logs=None):
        if not self.in_fit:
            self.bar.update(1)

    def on_test_end(self, logs=None):
        if not self.in_fit:
            self.bar.close(logs)

    def on_predict_begin(self, logs=None):
        self._open()

    def on_predict_batch_end(self, batch, logs=None):
        self.bar.update(1)

    def on_predict_end(self, logs=None):
        self.bar.close()


# ================================================================================= logging
class CSVLogger(Callback):
    """Append each epoch's logs to a CSV file: a header ``epoch,<keys sorted>``, then one row per
    epoch (``'NA'`` for a value missing)."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.csv_file, self.writer, self.keys, self.append_header = None, None, None, True

    def on_train_begin(self, logs=None):
        if self.append and os.path.exists(self.filename):
            with open(self.filename) as f:
                self.append_header = not bool(len(f.readline()))
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="")
        self.writer, self.keys = None, None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        if self.writer is None:
            dialect = type("Dialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys, dialect=dialect)
            if self.append_header:
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        self.__dict__.update(kwargs)
        for name, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_train_begin", on_train_begin), ("on_train_end", on_train_end),
                         ("on_train_batch_begin", on_train_batch_begin), ("on_train_batch_end", on_train_batch_end)):
            if fn is not None:
                setattr(self, name, fn)


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite (``raise_error``: raise instead).
    nnscratch's ``train_step`` never applies such a step, so the weights stay those of the batch before
    (Keras's have taken the step and hold NaN)."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and (np.isnan(loss) or np.isinf(loss)):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                                   "Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class TensorBoard(Callback):
    """Write the logs as TensorBoard event files, as Keras does: ``log_dir/train`` and
    ``log_dir/validation``, the scalars ``epoch_<name>`` at step ``epoch`` (with ``epoch_learning_rate``),
    ``evaluation_<name>_vs_iterations`` after each validation, ``batch_<name>`` every ``update_freq``
    batches (an int), weight histograms every ``histogram_freq`` epochs.  ``tensorboard --logdir
    log_dir`` shows them.  Needs the optional writer library: ``pip install "nnscratch[tensorboard]"``
    (tensorboardX).  ``write_graph`` writes nothing: nnscratch builds no graph."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        checks.refuse_unimplemented("TensorBoard", {"write_images": write_images,
                                                    "write_steps_per_second": write_steps_per_second,
                                                    "profile_batch": profile_batch, "embeddings_freq": embeddings_freq,
                                                    "embeddings_metadata": embeddings_metadata},
                                    {"write_images": lambda v: not v, "write_steps_per_second": lambda v: not v,
                                     "profile_batch": lambda v: v in (0, None),
                                     "embeddings_freq": lambda v: not v})
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ImportError("TensorBoard needs the tensorboardX writer library, nnscratch's optional extra: "
                              'pip install "nnscratch[tensorboard]" (or pip install tensorboardX)') from None
        self._writer_class = SummaryWriter
        self.log_dir, self.histogram_freq, self.write_graph = os.fspath(log_dir), histogram_freq, write_graph
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self._writers, self._train_batches = {}, 0
        if self.update_freq != "epoch":
            self.on_train_batch_end = self._on_train_batch_end

    def _writer(self, which):
        if which not in self._writers:
            self._writers[which] = self._writer_class(os.path.join(self.log_dir, which))
        return self._writers[which]

    def on_train_begin(self, logs=None):
        self._train_batches = 0

    def _on_train_batch_end(self, batch, logs=None):
        self._train_batches += 1
        if self._train_batches % self.update_freq == 0:
            for name, value in (logs or {}).items():
                self._writer("train").add_scalar(f"batch_{name}", value, self._train_batches)

    def on_test_end(self, logs=None):
        if self.model.optimizer is not None:
            for name, value in (logs or {}).items():
                self._writer("validation").add_scalar(f"evaluation_{name}_vs_iterations", value,
                                                      self.model.optimizer.iterations)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        train["learning_rate"] = float(self.model.optimizer.learning_rate)
        for name, value in train.items():
            self._writer("train").add_scalar(f"epoch_{name}", value, epoch)
        for name, value in logs.items():
            if name.startswith("val_"):
                self._writer("validation").add_scalar(f"epoch_{name[4:]}", value, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            for layer in self.model.layers:
                for weight_name, w in zip(("kernel", "bias"), layer.weights):
                    self._writer("train").add_histogram(f"{layer.name}/{weight_name}/histogram", w, epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "CSVLogger", "LambdaCallback", "TerminateOnNaN",
           "TensorBoard"]
