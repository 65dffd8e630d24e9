"""``Sequential``: a stack of layers, trained by mini-batch gradient descent.

One training step, top to bottom (:meth:`Sequential.train_step`)::

    p      = layer_K( ... layer_2( layer_1(x) ) )          forward, each layer caches what it needs
    L, g   = loss(y, p),  dL/dp                            (or dL/dz for a softmax head, fused)
    g      = layer_k.backward(g)   for k = K .. 1          chain rule; each Dense fills its dW, db
    W, b  -= optimizer step                                 the only place weights change

``fit`` runs exactly this ``train_step`` on every mini-batch, and ``evaluate``/``predict`` run the
same ``forward``: put a breakpoint in ``Dense.forward`` and ``fit`` stops there.  Speed comes from
inside those methods (``backend.py``: a Numba kernel beside each NumPy expression), and for
inference over many rows from running that ``forward`` on one share of the rows per core (``_infer``).

(Longer than ~400 lines on purpose: it is one class, Keras's model API, whose parts a reader needs
together: building and nesting, ``compile``, the readable step, ``fit``/``evaluate``/``predict``,
weights.  Input checks live in ``checks.py``, the file format in ``saving.py``, the table in
``summary.py``.)

The API mirrors ``keras.Sequential``: ``add``, ``compile``, ``fit``, ``evaluate``, ``predict``,
``summary``, ``get_weights``, ``set_weights``, ``save`` and :func:`load_model`.  A ``Sequential`` can
itself be a layer of another one (``Sequential([model, Softmax()])``): it then shares its layers and
weights with the outer model, as in Keras.
"""
import copy
import threading
import time

import numpy as np

from . import backend, checks, losses, optimizers
from . import layers as layers_module
from .layers import Activation, Dense, Dropout
from .progress import ProgressBar
from .tensor import Tensor
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


def softmax_head(layer):
    """True if ``layer`` ends in a softmax (a ``Dense(activation='softmax')``, ``Activation('softmax')``,
    ``Softmax()``, or a nested ``Sequential`` whose last layer does): the model then uses the fused
    softmax + cross-entropy on the softmax's input (see ``losses.py``)."""
    if isinstance(layer, Sequential):
        return bool(layer.layers) and softmax_head(layer.layers[-1])
    return isinstance(layer, (Dense, Activation)) and layer.activation.name == "softmax"


_CATEGORICAL = losses.CategoricalCrossentropy()


class Sequential:
    """A linear stack of layers (``keras.Sequential``).

    ``dtype``: ``'float32'`` (Keras's default) or ``'float64'`` (for tight gradient checks).
    ``seed``: seeds the shuffling of ``fit``; layers take their own ``seed`` argument.  Without seeds,
    :func:`nnscratch.utils.set_random_seed` makes everything repeatable.
    """

    _count = 0

    def __init__(self, layers=None, name=None, dtype="float32", seed=None):
        if name is None:
            name = "sequential" if Sequential._count == 0 else f"sequential_{Sequential._count}"
            Sequential._count += 1
        self.name = name
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"Sequential: dtype must be 'float32' or 'float64', got {dtype!r}")
        self.seed = seed
        self.rng = make_rng(seed)
        self.layers = []
        self.optimizer = None
        self.loss = None              # what compile() was given (a name or a loss object), as in Keras
        self.compiled_loss = None     # the loss object training uses (losses.py)
        self.metrics = []
        self.stop_training = False
        self.history = None
        self._batch_buffers = {}
        self._twin_buffers = []          # work arrays of the inference twins (_infer)
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------------ building
    def add(self, layer):
        """Append a layer; it is built (its weights created) as soon as its input size is known.

        A ``Sequential`` may be added as a layer: the outer model then runs it as one step and trains
        its weights (the same arrays: both models see every change), as Keras nests models."""
        nested = isinstance(layer, Sequential)
        if not isinstance(layer, layers_module.Layer) and not nested:
            raise ValueError(f"Sequential.add expects an nnscratch layer, got {type(layer).__name__}")
        if nested and (layer is self or self in layer.submodels()):
            raise ValueError(f"Sequential.add: {layer.name} cannot contain itself")
        if nested and layer.dtype != self.dtype:
            raise ValueError(f"Sequential.add: {layer.name} is {layer.dtype.name} but {self.name} is "
                             f"{self.dtype.name}; create both with the same dtype")
        if self.layers and not nested and layer.input_shape is not None:
            raise ValueError(f"{layer.name}: only the first layer takes input_shape")
        self.layers.append(layer)
        input_shape = layer.sample_shape if nested else layer.input_shape
        if len(self.layers) == 1 and input_shape is not None:
            self.build(input_shape)
        elif len(self.layers) > 1 and self.layers[-2].built:
            layer.build(self.layers[-2].output_shape, self.dtype)

    def build(self, input_shape, dtype=None):
        """Create every layer's parameters for inputs of ``input_shape`` (``(784,)``, or just 784).
        (``dtype``: the outer model's, when this model is a layer of another; it must be this one's.)"""
        if not self.layers:
            raise ValueError("Sequential model has no layers: add some with model.add(...)")
        if dtype is not None and np.dtype(dtype) != self.dtype:
            raise ValueError(f"{self.name} is {self.dtype.name} but is built as a layer of a "
                             f"{np.dtype(dtype).name} model; create both with the same dtype")
        shape = (int(input_shape),) if isinstance(input_shape, (int, np.integer)) else tuple(input_shape)
        for layer in self.layers:
            if not layer.built:
                layer.build(shape, self.dtype)
            elif layer.built_input_shape != shape:
                raise ValueError(f"{layer.name} was built for inputs of shape {layer.built_input_shape}, "
                                 f"but receives {shape}")
            shape = layer.output_shape

    @property
    def built(self):
        return bool(self.layers) and all(layer.built for layer in self.layers)

    @property
    def input_dim(self):
        """Features per sample for flat inputs (the last axis of :attr:`sample_shape`)."""
        return self.layers[0].input_dim if self.built else None

    @property
    def sample_shape(self):
        """The shape of one input sample, without the batch axis: ``(784,)``, ``(28, 28, 1)``."""
        return self.layers[0].built_input_shape if self.built else None

    @property
    def output_dim(self):
        return self.layers[-1].output_dim if self.built else None

    # The layer contract, for a Sequential inside another one: built_input_shape, output_shape,
    # weights, grads, forward, backward(grad, need_dx=...).
    @property
    def built_input_shape(self):
        return self.sample_shape

    @property
    def output_shape(self):
        """The shape of one output sample, without the batch axis: ``(10,)``."""
        return self.layers[-1].output_shape if self.built else None

    @property
    def weights(self):
        return self.trainable_weights

    @property
    def grads(self):
        return self.gradients

    @property
    def head(self):
        """The layer that makes the model's output: the last layer (inside a nested Sequential, its last)."""
        last = self.layers[-1]
        return last.head if isinstance(last, Sequential) else last

    def submodels(self):
        """Every Sequential nested in this one, at any depth."""
        inner = [l for l in self.layers if isinstance(l, Sequential)]
        return inner + [m for l in inner for m in l.submodels()]

    @property
    def trainable_weights(self):
        """All parameter arrays, Keras's order: ``[W1, b1, W2, b2, ...]`` (the arrays themselves)."""
        return [w for layer in self.layers for w in layer.weights]

    @property
    def gradients(self):
        """The gradient arrays, same order as :attr:`trainable_weights`, filled by ``backward``."""
        return [g for layer in self.layers for g in layer.grads]

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

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
        if self.built and softmax_head(self.layers[-1]):
            losses.warn_if_softmax_output(compiled_loss, self.head.name)

    # ------------------------------------------------------------------ one step, readable
    def forward(self, x, training=False):
        """Run every layer in order.  ``x: (N, D) -> (N, C)``.  (The result may be a layer's work
        array, valid until the next ``forward``; ``model(x)`` and ``predict`` return copies.)"""
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def loss_and_gradient(self, y, p):
        """The batch's mean loss and the gradient that starts the backward pass (see ``losses.py``).

        Softmax head (for every loss and both ``from_logits``, Keras's shortcut): on the softmax's
        input ``z``, ``L = mean(logsumexp(z) - y.z)`` and the fused ``dL/dz = (p - y) / N``.
        Otherwise: the compiled loss's ``L`` and ``dL/dp`` on the output ``p`` (with ``from_logits``,
        the same fused form with ``z = p``).  ``y``: one-hot rows ``(N, C)``, or labels ``(N,)`` for a
        sparse loss.  The fast paths write into the head layer's buffers.  (Before ``compile``:
        categorical cross-entropy, e.g. for ``gradcheck.check_model``.)
        """
        loss = self.compiled_loss if self.compiled_loss is not None else _CATEGORICAL
        head = self.head
        if softmax_head(head):
            z = head.cache[-2]                        # the softmax's input, cached by its forward
            return loss.logits_value_and_gradient(y, z, p, head.buffer)
        return loss.value_and_gradient(y, p, head.buffer)

    def backward(self, grad, input_grad=False, *, need_dx=None):
        """Chain rule from the loss back to the first kernel, filling every layer's ``grads``.

        ``grad`` is what :meth:`loss_and_gradient` returned.  With a softmax head it is already
        dL/dz, so the softmax itself is skipped (a Dense(activation='softmax') continues from z).
        Returns dL/dx for the model's input if ``input_grad``, else None (nobody needs it in training).
        As a layer of another model (the layer contract, ``need_dx`` given), ``grad`` is dL/d(output)
        and every layer runs its full backward; the outer model decides about a softmax head.
        """
        if need_dx is not None:
            return self._backward(grad, need_dx, from_z=False)
        return self._backward(grad, input_grad, from_z=softmax_head(self.layers[-1]))

    def _backward(self, grad, need_dx, from_z):
        stack = list(self.layers)
        if from_z:                                    # grad is dL/dz of the softmax head
            last = stack.pop()
            if isinstance(last, Dense):
                grad = last.backward_from_z(grad, need_dx=bool(stack) or need_dx)
            elif isinstance(last, Sequential):
                grad = last._backward(grad, bool(stack) or need_dx, from_z=True)
            # an Activation('softmax') / Softmax(): dL/dz is the gradient for its input, as it is
        for i in range(len(stack) - 1, -1, -1):
            grad = stack[i].backward(grad, need_dx=i > 0 or need_dx)
        return grad

    def compute_gradients(self, x, y, training=True):
        """Forward + backward on one batch without updating anything: ``(loss, output, grads)``."""
        p = self.forward(x, training=training)
        loss, grad = self.loss_and_gradient(y, p)
        self.backward(grad)
        return loss, p, self.gradients

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

    def _require_compiled(self, what):
        if self.optimizer is None or self.compiled_loss is None:
            raise ValueError(f"{what} called before compile(): call model.compile(loss="
                             "'categorical_crossentropy', optimizer='adam', metrics=['accuracy']) first")

    def _batch(self, x, idx, name):
        """Rows ``idx`` of ``x``: ``x[idx]``, gathered into a reused array on the fast path."""
        if not backend.fast():
            return x[idx]
        shape = (len(idx),) + x.shape[1:]
        buf = self._batch_buffers.get(name)
        if buf is None or buf.shape != shape or buf.dtype != x.dtype:
            buf = self._batch_buffers[name] = np.empty(shape, x.dtype)
        return np.take(x, idx, axis=0, out=buf)

    # ------------------------------------------------------------------ fit / evaluate / predict
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", validation_split=0.0,
            validation_data=None, shuffle=True):
        """Train for ``epochs`` passes over the data, in mini-batches of ``batch_size`` (default 32).

        Every mini-batch is one :meth:`train_step`.  As Keras: the last partial batch is used;
        ``shuffle`` draws a new order each epoch; ``validation_split`` holds out the *last* fraction
        of the data (before shuffling); the logged ``loss``/``accuracy`` are running means over the
        epoch, weighted by batch size, of each batch's value before its update (dropout active).
        Returns a :class:`History` (also kept as ``model.history``).
        """
        self._require_compiled("fit")
        batch_size = checks.positive_int(batch_size, "fit: batch_size", default=32)
        epochs = checks.positive_int(epochs, "fit: epochs")
        verbose = checks.verbosity(verbose, "fit")
        validation_split = checks.fraction(validation_split, "fit: validation_split")
        x, y = checks.features_and_targets(self, x, y, "fit")
        if validation_data is None and validation_split > 0:
            n_train = int(len(x) * (1 - validation_split))
            if n_train == 0 or n_train == len(x):
                raise ValueError(f"fit: validation_split={validation_split} leaves no training or no "
                                 f"validation samples out of {len(x)}")
            validation_data = (x[n_train:], y[n_train:])
            x, y = x[:n_train], y[:n_train]
        if validation_data is not None:
            validation_data = checks.features_and_targets(self, *validation_data[:2], "fit (validation_data)")

        n = len(x)
        batches = _batches(n, batch_size)
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
            order = self.rng.permutation(n) if shuffle else None
            loss_sum, correct, seen = 0.0, 0, 0

            def running_logs():
                """Keras's logged values: means over the samples seen so far this epoch."""
                if self.metrics:
                    return {"accuracy": correct / seen, "loss": loss_sum / seen}
                return {"loss": loss_sum / seen}

            for rows in batches:
                if order is None:
                    xb, yb, labels = x[rows], y[rows], y_class[rows]
                else:
                    idx = order[rows]
                    xb, yb, labels = self._batch(x, idx, "x"), self._batch(y, idx, "y"), y_class[idx]
                loss, p = self.train_step(xb, yb)
                loss_sum += float(loss) * len(p)
                correct += int(np.count_nonzero(p.argmax(axis=1) == labels))
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
        batches = _batches(n, batch_size)
        bar = ProgressBar(len(batches), verbose)

        def batch_loss_and_hits(model, rows):
            p = model.forward(x[rows], training=False)
            loss, _ = model.loss_and_gradient(y[rows], p)
            hits = np.count_nonzero(p.argmax(axis=1) == self.compiled_loss.classes(y[rows]))
            return float(loss) * len(p), int(hits)

        per_batch = self._infer(n, batches, batch_loss_and_hits, bar.update)
        loss_sum = sum(loss for loss, _ in per_batch)          # in batch order, as one loop would add them
        correct = sum(hits for _, hits in per_batch)
        logs = {"accuracy": correct / n, "loss": loss_sum / n} if self.metrics else {"loss": loss_sum / n}
        bar.close(logs)
        return [logs["loss"], logs["accuracy"]] if self.metrics else logs["loss"]

    def predict(self, x, batch_size=None, verbose="auto"):
        """Outputs for every row of ``x`` at inference (dropout off), in batches: ``(N, D) -> (N, C)``.
        A NumPy array (a :class:`~nnscratch.tensor.Tensor`, which also answers ``.numpy()``)."""
        batch_size = checks.positive_int(batch_size, "predict: batch_size", default=32)
        verbose = checks.verbosity(verbose, "predict")
        x = checks.features(self, x, "predict")
        batches = _batches(len(x), batch_size)
        bar = ProgressBar(len(batches), verbose)
        out = self._forward_all(x, batches, bar.update)
        bar.close()
        return Tensor(out)

    def __call__(self, x, training=False):
        """``model(x)``: the outputs for all of ``x`` (Keras's direct call); a new array.  On the numpy
        backend, one ``forward`` over all rows; on the numba backend, the rows go through ``forward``
        in pieces of at most ``backend.CHUNK_ROWS``, dealt out to the cores (the work arrays the layers
        keep are then a piece's size, not all rows').

        It is plain NumPy: a :class:`~nnscratch.tensor.Tensor` (an ``np.ndarray`` subclass) that also
        answers TensorFlow's ``.numpy()``, so ``model(x_train[:1]).numpy()`` runs as in the tutorials.
        As in Keras, ``x`` is cast to the model's dtype first (``x / 255.0`` is float64; a float32 model
        rounds it to float32, as Keras's layers cast their inputs)."""
        x = checks.features(self, x, "model(x)")
        if training:                       # dropout draws its masks in order: one pass, one thread
            return Tensor(np.array(self.forward(x, training=True), copy=True))
        n = len(x)
        threads = self._inference_threads(n)
        rows = backend.direct_call_rows(n, threads)      # pieces of <= 1,024 rows
        return Tensor(self._forward_all(x, _batches(n, rows), threads=threads))

    def _forward_all(self, x, batches, progress=lambda steps: None, threads=None):
        """``forward(x[rows])`` for every slice ``rows`` in ``batches``, dropout off, into one new array
        ``(N,) + output_shape``: ``predict`` and ``model(x)``."""
        out = np.empty((len(x),) + tuple(self.output_shape), dtype=self.dtype)

        def fill(model, rows):
            out[rows] = model.forward(x[rows], training=False)

        self._infer(len(x), batches, fill, progress, threads)
        return out

    def _infer(self, n, batches, each, progress=lambda steps: None, threads=None):
        """``[each(model, rows) for rows in batches]``, at inference over ``n`` rows: what ``predict``,
        ``model(x)`` and ``evaluate`` run (``each`` calls ``model.forward(x[rows])``, dropout off).

        Over many rows, the batches are dealt out in contiguous runs to several threads
        (:meth:`_inference_threads`, ``backend.split_rows``).  The first run goes through this
        model itself; each other one through a twin (:func:`_twin`: the same layers' ``forward``, the
        same weight arrays, its own work arrays), so threads never share a buffer.  The results come
        back in batch order.  Rows are independent at inference, so any split gives the same numbers
        up to rounding (BLAS may group a row's sums differently for another number of rows, as
        another batch size does).  ``threads``: the caller's ``_inference_threads(n)``, if it has it.
        """
        threads = min(self._inference_threads(n) if threads is None else threads, len(batches))
        k = len(batches)
        runs = [batches[k * t // threads:k * (t + 1) // threads] for t in range(threads)]
        bar_lock = threading.Lock()          # progress() may draw a bar: one thread at a time

        def run(model, run_batches):
            results = []
            for rows in run_batches:
                results.append(each(model, rows))
                with bar_lock:
                    progress(1)
            return results

        twins = self._twins(threads - 1)
        per_run = backend.split_rows([lambda m=m, r=r: run(m, r) for m, r in zip([self] + twins, runs)])
        return [result for results in per_run for result in results]

    def _inference_threads(self, n):
        """Threads for inference over ``n`` rows: ``backend.inference_threads``, if this model can be
        twinned; else 1."""
        return backend.inference_threads(n) if self._twinnable() else 1

    def _twinnable(self):
        """Every layer is one of nnscratch's own, whose per-call state is ``cache`` and ``_buffers``
        alone (a layer of your own may keep more: it runs on one thread)."""
        return all(type(layer).__module__.startswith("nnscratch.") and
                   (layer._twinnable() if isinstance(layer, Sequential) else True) for layer in self.layers)

    def _twins(self, count):
        """``count`` twins of this model for the row threads of :meth:`_infer`; their work arrays are
        kept from call to call (``self._twin_buffers``), so a twin allocates only when shapes change."""
        while len(self._twin_buffers) < count:
            self._twin_buffers.append({})
        return [_twin(self, buffers) for buffers in self._twin_buffers[:count]]

    # ------------------------------------------------------------------ weights
    def get_weights(self):
        """Copies of all parameters, Keras's order ``[W1, b1, W2, b2, ...]``."""
        return [w.copy() for w in self.trainable_weights]

    def set_weights(self, weights):
        """Copy ``weights`` (Keras's order and shapes) into the model's parameter arrays."""
        own = self.trainable_weights
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

    # ------------------------------------------------------------------ save / load
    def get_config(self):
        return {"name": self.name, "dtype": self.dtype.name,
                "layers": [{"class_name": type(l).__name__, "config": l.get_config()} for l in self.layers]}

    def save(self, path):
        """Write architecture, weights, optimizer state and random-generator states to one ``.npz``
        file, atomically; see ``saving.py`` for the format."""
        saving.save_model(self, path)


def _batches(n, batch_size):
    """Row slices ``[0:b], [b:2b], ...`` over ``n`` rows, ``b = batch_size`` (the last may be shorter)."""
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def _twin(layer, buffers):
    """A shallow copy of ``layer`` (a layer or a nested ``Sequential``) for another thread: the same
    weight arrays and settings, but its own ``cache`` and work arrays, taken from ``buffers`` (a dict
    kept by the model, one entry per layer).  Made afresh for every call, so it always sees the
    layer as it is now."""
    twin = copy.copy(layer)
    if isinstance(layer, Sequential):
        twin.layers = [_twin(inner, buffers) for inner in layer.layers]
    else:
        twin.cache = None
        twin._buffers = buffers.setdefault(id(layer), {})
    return twin


# Loading lives in saving.py, with the file format (it imports this module for Sequential).
from . import saving                                     # noqa: E402
from .saving import FILE_FORMAT, load_model              # noqa: E402,F401

