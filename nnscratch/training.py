"""``Model``: Keras's training API, the loop around one step, shared by every model.

Read ``models.py`` first: there :class:`~nnscratch.models.Sequential` computes one step's loss and
gradients (forward, loss, backward).  Here is everything around that step::

    train_step(x, y):   loss, p, grads = compute_gradients(x, y)     the model's forward, loss, backward
                        optimizer.apply(weights, grads)              the only place weights change
    fit:                for each epoch, for each mini-batch: train_step(x[rows], y[rows])
    evaluate:           for each batch: forward (dropout off), then the loss
    predict, model(x):  for each batch: forward (dropout off)

``fit`` runs exactly ``train_step``, and ``evaluate``/``predict`` the same ``forward``: put a
breakpoint in ``Dense.forward`` and ``fit`` stops there.  On the numba backend ``predict``,
``evaluate`` and ``model(x)`` hand their loop over batches to the engine in one line, which runs the
same ``forward`` on one share of the rows per core (``engine/inference.py``).

A model class supplies ``forward``, ``loss_and_gradient``, ``compute_gradients``, its
``trainable_weights`` and its shapes: ``Sequential`` its hand-written ones (``models.py``), a model you
subclass (``call``) those it inherits from ``subclassing.py``, where the gradients come from the tape.
The API mirrors ``keras.Model`` (this class is ``tf.keras.Model``): ``compile``, ``fit``, ``evaluate``,
``predict``, ``model(x)``, ``train_on_batch``, ``get_weights``, ``set_weights``, ``summary`` and ``save``.
"""
import time

import numpy as np

from . import backend, checks, keras_format, losses, optimizers, saving, tape
from .engine import fast, inference
from .errors import NotImplementedInNnscratch
from .layers import _snake_case, _unique_name
from .progress import ProgressBar
from .subclassing import SubclassingAPI
from .utils import make_rng


class History:
    """What ``fit`` returns, as in Keras: ``history.history['loss'|'accuracy'|'val_loss'|'val_accuracy']``
    (one value per epoch) and ``history.epoch``.  ``history.epoch_seconds`` adds wall-clock time.
    ``fit`` also keeps it as ``model.history``, so the finished epochs survive an interrupt or error."""

    def __init__(self):
        self.history = {}
        self.epoch = []
        self.epoch_seconds = []
        self.params = {}

    def _append(self, epoch, logs, seconds):
        self.epoch.append(epoch)
        self.epoch_seconds.append(seconds)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self):
        return f"<History epochs={len(self.epoch)} keys={list(self.history)}>"


class Model(SubclassingAPI):
    """``keras.Model``: compile, the training loop, inference, weights and saving, shared by every
    nnscratch model; subclass it with ``__init__`` (``super().__init__()``, then layers as attributes)
    and ``call(self, inputs, training=None)``, as in Keras (``subclassing.py``).  ``name``: from the
    class name by default (``MyModel`` -> ``'my_model'``, ``'my_model_1'``, ...).  ``dtype``: Keras's
    ``floatx()`` (``'float32'``) by default, or ``'float64'`` (for tight gradient checks).  ``seed``:
    seeds the shuffling of ``fit``; layers take their own ``seed`` argument.  Without seeds,
    :func:`nnscratch.utils.set_random_seed` makes everything repeatable."""
    _saveable = False              # model.save stores a Sequential's architecture; a call() is code

    def __init__(self, *args, name=None, dtype=None, seed=None, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise NotImplementedInNnscratch("keras.Model(inputs, outputs), Keras's functional API, is not "
                                            "implemented in nnscratch yet: build a Sequential, or subclass "
                                            "keras.Model with __init__ and call()")
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
        self.metrics = []
        self.stop_training = False
        self.history = None

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer (``'rmsprop'``, Keras's default, ``'adam'``, ``'sgd'`` or an instance), the
        loss (``'categorical_crossentropy'`` for one-hot targets, ``'sparse_categorical_crossentropy'``
        for integer labels, or a loss object such as ``SparseCategoricalCrossentropy(from_logits=True)``)
        and metrics (``['accuracy']``: compares ``argmax(p)`` with the label, as Keras picks categorical
        or sparse accuracy from the targets).  ``model.loss`` keeps what was given, as in Keras;
        ``model.compiled_loss`` is the loss object training uses."""
        if loss is None:
            raise ValueError("compile: give a loss, e.g. loss='categorical_crossentropy'")
        compiled_loss = losses.get(loss)
        optimizer = optimizers.get(optimizer)
        metrics = list(metrics or [])
        for m in metrics:
            if m not in ("accuracy", "acc", "categorical_accuracy", "sparse_categorical_accuracy"):
                raise ValueError(f"compile: unknown metric {m!r}; nnscratch implements 'accuracy'")
        self.loss, self.compiled_loss, self.optimizer = loss, compiled_loss, optimizer
        self.metrics = ["accuracy"] if metrics else []
        self._compiled()

    def _compiled(self):
        """Called at the end of :meth:`compile` (``Sequential`` warns about a softmax head there)."""

    def _require_compiled(self, what):
        if self.optimizer is None or self.compiled_loss is None:
            raise ValueError(f"{what} called before compile(): call model.compile(loss="
                             "'categorical_crossentropy', optimizer='adam', metrics=['accuracy']) first")

    # ------------------------------------------------------------------ one step
    def train_step(self, x, y):
        """One optimizer step on one batch; returns ``(loss, output)``; the loss is measured before
        the update (as Keras logs it).  A non-finite loss stops here, before any weight changes."""
        loss, p, grads = self.compute_gradients(x, y, training=True)
        if not np.isfinite(loss):
            self._raise_non_finite_loss(loss)
        self.optimizer.apply(self.trainable_weights, grads)
        return loss, p

    def _raise_non_finite_loss(self, loss):
        bad = [i for i, w in enumerate(self.trainable_weights) if not np.all(np.isfinite(w))]
        if bad:
            state = (f"the weights already held NaN or infinite values before this step (weight arrays "
                     f"{bad}): an earlier update diverged. Lower the learning rate or check the "
                     "optimizer's settings")
        else:
            state = ("the weights were left at their values before this step. Lower the learning rate, "
                     "check the inputs for extreme values, or use float64")
        raise FloatingPointError(f"loss became {loss} during training; {state}.")

    def train_on_batch(self, x, y):
        """Keras's ``train_on_batch``: one step on the given batch; returns the loss (and accuracy)."""
        self._require_compiled("train_on_batch")
        x, y = checks.features_and_targets(self, x, y, "train_on_batch")
        loss, p = self.train_step(x, y)
        accuracy = float(np.mean(p.argmax(1) == self.compiled_loss.classes(y)))
        return [float(loss), accuracy] if self.metrics else float(loss)

    # ------------------------------------------------------------------ fit / evaluate / predict
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", validation_split=0.0,
            validation_data=None, shuffle=True):
        """Train for ``epochs`` passes over the data, in mini-batches of ``batch_size`` (default 32).

        Every mini-batch is one :meth:`train_step`.  As Keras: the last partial batch is used;
        ``shuffle`` draws a new order each epoch (``'batch'``, as Keras 3: the rows of each batch in a
        new order, the batches in theirs); ``validation_split`` holds out the *last* fraction
        of the data (before shuffling); the logged ``loss``/``accuracy`` are running means over the
        epoch, weighted by batch size, of each batch's value before its update (dropout active).
        Returns a :class:`History` (also kept as ``model.history``).
        """
        self._require_compiled("fit")
        batch_size = checks.positive_int(batch_size, "fit: batch_size", default=32)
        epochs = checks.positive_int(epochs, "fit: epochs")
        verbose = checks.verbosity(verbose, "fit")
        validation_split = checks.fraction(validation_split, "fit: validation_split")
        shuffle = checks.shuffle(shuffle, "fit")
        x, y = checks.features_and_targets(self, x, y, "fit")
        if validation_data is None and validation_split > 0:
            n_train = int(len(x) * (1 - validation_split))
            if n_train == 0 or n_train == len(x):
                raise ValueError(f"fit: validation_split={validation_split} leaves no training or no "
                                 f"validation samples out of {len(x)}")
            validation_data = (x[n_train:], y[n_train:])
            x, y = x[:n_train], y[:n_train]
        if validation_data is not None:
            validation_data = checks.validation_pair(validation_data, "fit")
            validation_data = checks.features_and_targets(self, *validation_data[:2], "fit (validation_data)")

        n = len(x)
        batches = batch_slices(n, batch_size)
        steps = len(batches)
        y_class = self.compiled_loss.classes(y)        # (N,): what 'accuracy' compares argmax(p) with
        history = self.history = History()
        history.params = {"verbose": verbose, "epochs": epochs, "steps": steps}
        self.stop_training = False
        for epoch in range(epochs):
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs}", flush=True)
            bar = ProgressBar(steps, verbose)
            start = time.perf_counter()
            order = None                                   # shuffle=False: the rows in their order
            if shuffle:
                order = self.rng.permutation(n) if shuffle is True else within_batches(n, batch_size, self.rng)
            loss_sum, correct, seen = 0.0, 0, 0

            def running_logs():
                """Keras's logged values: means over the samples seen so far this epoch."""
                if self.metrics:
                    return {"accuracy": correct / seen, "loss": loss_sum / seen}
                return {"loss": loss_sum / seen}

            for rows in batches:
                idx = rows if order is None else order[rows]    # this batch's rows: a slice, or shuffled
                if backend.fast() and order is not None:
                    xb, yb = fast.take_rows(self, "x", x, idx), fast.take_rows(self, "y", y, idx)   # into reused arrays
                else:
                    xb, yb = x[idx], y[idx]
                loss, p = self.train_step(xb, yb)
                loss_sum += float(loss) * len(p)
                correct += int(np.count_nonzero(p.argmax(axis=1) == y_class[idx]))
                seen += len(p)
                bar.update(1, running_logs)         # called only when the bar redraws
            logs = running_logs()
            if validation_data is not None:
                val = self.evaluate(*validation_data, batch_size=batch_size, verbose=0)
                val = val if isinstance(val, list) else [val]
                if self.metrics:
                    logs["val_accuracy"] = val[1]
                logs["val_loss"] = val[0]
            seconds = time.perf_counter() - start
            bar.close(logs)
            history._append(epoch, logs, seconds)
            if self.stop_training:
                break
        return history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto"):
        """Loss (and accuracy) at inference (dropout off): ``[loss, accuracy]``, or ``loss`` alone without
        metrics, as Keras.  The loss is the batch-size-weighted mean of per-batch means (Keras's order)."""
        self._require_compiled("evaluate")
        batch_size = checks.positive_int(batch_size, "evaluate: batch_size", default=32)
        verbose = checks.verbosity(verbose, "evaluate")
        x, y = checks.features_and_targets(self, x, y, "evaluate")
        n = len(x)
        batches = batch_slices(n, batch_size)
        bar = ProgressBar(len(batches), verbose)

        def batch_loss_and_hits(model, rows):
            """This batch's summed loss and correct predictions.  ``model``: this model, or on the
            fast path one of its per-thread replicas (the same layers and weights)."""
            p = model.forward(x[rows], training=False)
            loss, _ = model.loss_and_gradient(y[rows], p)
            hits = np.count_nonzero(p.argmax(axis=1) == self.compiled_loss.classes(y[rows]))
            return float(loss) * len(p), int(hits)

        if backend.fast():
            per_batch = inference.map_batches(self, batches, batch_loss_and_hits, bar.update)   # the loop below
        else:
            per_batch = []
            for rows in batches:
                per_batch.append(batch_loss_and_hits(self, rows))
                bar.update(1)
        loss_sum = sum(loss for loss, _ in per_batch)          # in batch order, as one loop would add them
        correct = sum(hits for _, hits in per_batch)
        logs = {"accuracy": correct / n, "loss": loss_sum / n} if self.metrics else {"loss": loss_sum / n}
        bar.close(logs)
        return [logs["loss"], logs["accuracy"]] if self.metrics else logs["loss"]

    def predict(self, x, batch_size=None, verbose="auto"):
        """Outputs for every row of ``x`` at inference (dropout off), in batches: ``(N, D) -> (N, C)``.
        A NumPy array, as Keras's ``predict`` returns (``model(x)`` returns a Tensor)."""
        batch_size = checks.positive_int(batch_size, "predict: batch_size", default=32)
        verbose = checks.verbosity(verbose, "predict")
        x = checks.features(self, x, "predict")
        batches = batch_slices(len(x), batch_size)
        bar = ProgressBar(len(batches), verbose)
        if backend.fast():
            out = inference.forward_all(self, x, batches, bar.update)    # the loop below, split over the cores
        else:
            out = np.empty((len(x),) + tuple(self.output_shape), dtype=self.dtype)
            for rows in batches:
                out[rows] = self.forward(x[rows], training=False)
                bar.update(1)
        bar.close()
        return out

    # ------------------------------------------------------------------ weights
    def get_weights(self):
        """Copies of all parameters, trainable or frozen, Keras's order ``[W1, b1, W2, b2, ...]``."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy ``weights`` (Keras's order and shapes, frozen layers' too) into the model's parameter arrays."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(f"set_weights: the model has {len(own)} weight arrays "
                             f"({', '.join(str(w.shape) for w in own)}) but {len(weights)} were given")
        for i, (w, new) in enumerate(zip(own, weights)):
            new = np.asarray(new)
            if new.shape != w.shape:
                raise ValueError(f"set_weights: weight {i} must have shape {w.shape}, got {new.shape}")
            if not np.all(np.isfinite(new)):
                raise ValueError(f"set_weights: weight {i} contains NaN or infinite values")
        for w, new in zip(own, weights):
            w[...] = new

    def summary(self, print_fn=print):
        """Print a Keras 3 style table: layer (type), output shape, parameter count (``summary.py``)."""
        from .summary import summary_table
        print_fn(summary_table(self))

    def save(self, filepath, overwrite=True):
        """Keras's ``save``: the whole model (architecture, weights, optimizer state) in the format the
        name ends in: ``.keras`` (Keras 3's format, which real Keras opens), ``.h5`` (Keras's legacy
        HDF5) or ``.npz`` (nnscratch's own); written atomically (``saving.py``).  A subclassed model's
        architecture is its ``call`` code, which no file stores: it is refused before anything is
        written (keep its weights with ``save_weights`` or ``get_weights``)."""
        if not self._saveable:
            raise ValueError(f"save: {self.name} is a subclassed model, whose architecture is its call() "
                             "code, which a model file cannot store (Keras needs the class too); keep its "
                             "weights with model.save_weights('....weights.h5') or model.get_weights()")
        saving.save_model(self, filepath, overwrite)

    def save_weights(self, filepath, overwrite=True):
        """Keras's ``save_weights``: the weights and the optimizer's state in Keras 3's ``.weights.h5``
        file, which real Keras's ``load_weights`` reads too (``keras_format.py``)."""
        keras_format.save_weights(self, filepath, overwrite)

    def load_weights(self, filepath, skip_mismatch=False):
        """Keras's ``load_weights``: the weights (and, if compiled, the optimizer's state) of a
        ``.weights.h5`` file (``save_weights``, here or in Keras), or of a ``.keras`` or legacy ``.h5``
        model file, into this model of the same architecture; checked completely before any weight
        changes (``keras_format.py``)."""
        keras_format.load_weights(self, filepath, skip_mismatch)


def within_batches(n, batch_size, rng):
    """Keras 3's ``shuffle='batch'``: the rows of each batch in a random order, the batches in order
    (row ``i`` sorts by its batch number plus a random fraction)."""
    return np.argsort(np.arange(n) // batch_size + rng.random(n), kind="stable")


def batch_slices(n, batch_size):
    """Row slices ``[0:b], [b:2b], ...`` over ``n`` rows, ``b = batch_size`` (the last may be shorter)."""
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
