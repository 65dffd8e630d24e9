"""``Sequential``: a stack of layers, trained by mini-batch gradient descent.

One training step, top to bottom (:meth:`Sequential.train_step`)::

    p      = layer_K( ... layer_2( layer_1(x) ) )          forward, each layer caches what it needs
    L, g   = loss(y, p),  dL/dp                            (or dL/dz for a softmax head, fused)
    g      = layer_k.backward(g)   for k = K .. 1          chain rule; each Dense fills its dW, db
    W, b  -= optimizer step                                 the only place weights change

The API mirrors ``keras.Sequential``: ``add``, ``compile``, ``fit``, ``evaluate``, ``predict``,
``summary``, ``get_weights``, ``set_weights``, ``save`` and :func:`load_model`.

``train_step`` is the reference a reader follows.  For speed, ``fit``/``evaluate``/``predict`` hand
the same computation on the same parameter arrays to ``engine.py`` (preallocated buffers; NumPy
``out=`` or fused Numba kernels, see ``backend.py``); stacks the engine does not cover, and
``train_on_batch``, run ``train_step`` itself.  Tests hold both paths to the same numbers.
"""
import time

import numpy as np

from . import layers as layers_module
from . import engine as engine_module
from . import losses, optimizers
from .layers import Activation, Dense, Dropout
from .progress import ProgressBar, format_logs
from .utils import make_rng

class History:
    """What ``fit`` returns, as in Keras: ``history.history['loss'|'accuracy'|'val_loss'|'val_accuracy']``
    (one value per epoch) and ``history.epoch``.  ``history.epoch_seconds`` adds wall-clock time."""

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
    """True if ``layer`` ends in a softmax (a ``Dense(activation='softmax')`` or ``Activation('softmax')``):
    the model then uses the fused softmax + cross-entropy (see ``losses.py``)."""
    return isinstance(layer, (Dense, Activation)) and layer.activation.name == "softmax"


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
        self.loss = None
        self.metrics = []
        self.stop_training = False
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------------ building
    def add(self, layer):
        """Append a layer; it is built (its weights created) as soon as its input size is known."""
        if not isinstance(layer, layers_module.Layer):
            raise ValueError(f"Sequential.add expects an nnscratch layer, got {type(layer).__name__}")
        if self.layers and layer.input_shape is not None:
            raise ValueError(f"{layer.name}: only the first layer takes input_shape")
        self.layers.append(layer)
        if len(self.layers) == 1 and layer.input_shape is not None:
            self.build(layer.input_shape[0])
        elif len(self.layers) > 1 and self.layers[-2].built:
            layer.build(self.layers[-2].output_dim, self.dtype)

    def build(self, input_dim):
        """Create every layer's parameters for inputs of ``input_dim`` features."""
        if not self.layers:
            raise ValueError("Sequential model has no layers: add some with model.add(...)")
        dim = input_dim
        for layer in self.layers:
            if not layer.built:
                layer.build(dim, self.dtype)
            elif layer.input_dim != dim:
                raise ValueError(f"{layer.name} was built for {layer.input_dim} inputs, "
                                 f"but receives {dim}")
            dim = layer.output_dim

    @property
    def built(self):
        return bool(self.layers) and all(layer.built for layer in self.layers)

    @property
    def input_dim(self):
        return self.layers[0].input_dim if self.built else None

    @property
    def output_dim(self):
        return self.layers[-1].output_dim if self.built else None

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
        """Choose the loss, the optimizer (``'adam'``, ``'sgd'`` or an instance) and metrics (``['accuracy']``)."""
        if loss is None:
            raise ValueError("compile: give a loss, e.g. loss='categorical_crossentropy'")
        self.loss = losses.get(loss)
        if optimizer == "rmsprop":
            raise ValueError("compile: Keras's default optimizer 'rmsprop' is not implemented in nnscratch; "
                             "pass optimizer='adam' or optimizer='sgd'")
        self.optimizer = optimizers.get(optimizer)
        metrics = list(metrics or [])
        for m in metrics:
            if m not in ("accuracy", "acc", "categorical_accuracy"):
                raise ValueError(f"compile: unknown metric {m!r}; nnscratch implements 'accuracy'")
        self.metrics = ["accuracy"] if metrics else []

    # ------------------------------------------------------------------ one step, readable
    def forward(self, x, training=False):
        """Run every layer in order.  ``x: (N, D) -> (N, C)``."""
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def loss_and_gradient(self, y, p):
        """The batch's mean loss and the gradient that starts the backward pass.

        Softmax head: ``L = mean(logsumexp(z) - y.z)`` and the fused ``dL/dz = (p - y) / N``.
        Otherwise:    ``L = categorical_crossentropy(y, p)`` and ``dL/dp``.  (See ``losses.py``.)
        """
        if softmax_head(self.layers[-1]):
            z = self.layers[-1].cache[-2]             # the softmax's input, cached by its forward
            return (losses.softmax_crossentropy_from_logits(y, z),
                    losses.softmax_crossentropy_from_logits_gradient(y, p))
        return losses.categorical_crossentropy(y, p), losses.categorical_crossentropy_gradient(y, p)

    def backward(self, grad, input_grad=False):
        """Chain rule from the loss back to the first kernel, filling every layer's ``grads``.

        ``grad`` is what :meth:`loss_and_gradient` returned.  With a softmax head it is already
        dL/dz, so the softmax itself is skipped (a Dense(activation='softmax') continues from z).
        Returns dL/dx for the model's input if ``input_grad``, else None (nobody needs it in training).
        """
        stack = list(self.layers)
        if softmax_head(stack[-1]):
            last = stack.pop()
            if isinstance(last, Dense):
                grad = last.backward_from_z(grad, need_dx=bool(stack) or input_grad)
        for i in range(len(stack) - 1, -1, -1):
            grad = stack[i].backward(grad, need_dx=i > 0 or input_grad)
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
            raise FloatingPointError(
                f"loss became {loss} during training; weights were left at their values before this "
                "step. Lower the learning rate, check the inputs for extreme values, or use float64.")
        self.optimizer.apply(self.trainable_weights, grads)
        return loss, p

    def train_on_batch(self, x, y):
        """Keras's ``train_on_batch``: one step on the given batch; returns the loss (and accuracy)."""
        self._require_compiled("train_on_batch")
        x, y = self._check_xy(x, y, "train_on_batch")
        loss, p = self.train_step(x, y)
        return [float(loss), float(np.mean(p.argmax(1) == y.argmax(1)))] if self.metrics else float(loss)

    # ------------------------------------------------------------------ input checks
    def _require_compiled(self, what):
        if self.optimizer is None or self.loss is None:
            raise ValueError(f"{what} called before compile(): call model.compile(loss="
                             "'categorical_crossentropy', optimizer='adam', metrics=['accuracy']) first")

    def _check_x(self, x, what):
        x = np.asarray(x)
        if x.ndim != 2:
            hint = " Flatten images first, e.g. x.reshape(len(x), -1)." if x.ndim > 2 else ""
            raise ValueError(f"{what}: x must be 2-D (samples, features), got shape {x.shape}.{hint}")
        if not self.built:
            self.build(x.shape[1])
        if x.shape[1] != self.input_dim:
            raise ValueError(f"{what}: x has {x.shape[1]} features per sample but the model expects "
                             f"{self.input_dim} (input_shape=({self.input_dim},))")
        if x.shape[0] == 0:
            raise ValueError(f"{what}: x has no samples")
        x = x.astype(self.dtype, copy=False)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{what}: x contains NaN or infinite values "
                             f"({np.count_nonzero(~np.isfinite(x))} entries); clean or impute them first")
        return x

    def _check_xy(self, x, y, what):
        x = self._check_x(x, what)
        y = np.asarray(y)
        c = self.output_dim
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1 and c != 1):
            raise ValueError(f"{what}: y has shape {y.shape}: integer labels, but categorical_crossentropy "
                             f"needs one-hot rows of width {c}. Use nnscratch.utils.to_categorical(y, {c}).")
        if y.ndim != 2 or y.shape[1] != c:
            raise ValueError(f"{what}: y has shape {y.shape} but the output layer has {c} units; "
                             f"one-hot targets must have shape ({len(x)}, {c})")
        if len(y) != len(x):
            raise ValueError(f"{what}: x has {len(x)} samples but y has {len(y)}")
        y = y.astype(self.dtype, copy=False)
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{what}: y contains NaN or infinite values")
        if y.min() < 0 or y.max() > 1 or not np.allclose(y.sum(axis=1), 1, atol=1e-3):
            raise ValueError(f"{what}: y must hold one-hot (or probability) rows that sum to 1 with values "
                             "in [0, 1]; use nnscratch.utils.to_categorical on integer labels")
        return x, y

    # ------------------------------------------------------------------ fit / evaluate / predict
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", validation_split=0.0,
            validation_data=None, shuffle=True):
        """Train for ``epochs`` passes over the data, in mini-batches of ``batch_size`` (default 32).

        As Keras: the last partial batch is used; ``shuffle`` draws a new order each epoch;
        ``validation_split`` holds out the *last* fraction of the data (before shuffling);
        the logged ``loss``/``accuracy`` are running means over the epoch, weighted by batch size, of
        each batch's value before its update (dropout active).  Returns a :class:`History`.
        """
        self._require_compiled("fit")
        x, y = self._check_xy(x, y, "fit")
        batch_size = 32 if batch_size is None else int(batch_size)
        if batch_size < 1:
            raise ValueError(f"fit: batch_size must be a positive integer, got {batch_size}")
        if not 0 <= validation_split < 1:
            raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split}")
        if validation_data is None and validation_split > 0:
            n_train = int(len(x) * (1 - validation_split))
            if n_train == 0 or n_train == len(x):
                raise ValueError(f"fit: validation_split={validation_split} leaves no training or no "
                                 f"validation samples out of {len(x)}")
            validation_data = (x[n_train:], y[n_train:])
            x, y = x[:n_train], y[:n_train]
        if validation_data is not None:
            validation_data = self._check_xy(*validation_data[:2], "fit (validation_data)")
        verbose = 1 if verbose == "auto" else verbose

        n = len(x)
        steps = -(-n // batch_size)
        y_class = y.argmax(axis=1)
        history = History()
        history.params = {"verbose": verbose, "epochs": epochs, "steps": steps}
        self.stop_training = False
        # The lean loop (engine.py, backend from nnscratch.set_backend) computes what train_step
        # computes, into preallocated buffers; None for layer stacks it does not cover.
        eng = engine_module.get_engine(self)
        if eng is not None:
            x, y = np.ascontiguousarray(x), np.ascontiguousarray(y)
        for epoch in range(epochs):
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs}", flush=True)
            bar = ProgressBar(steps, verbose)
            start = time.perf_counter()
            order = self.rng.permutation(n) if shuffle else None
            if eng is not None and order is None:
                order = np.arange(n)
            loss_sum, correct, seen = 0.0, 0, 0

            def running_logs():
                """Keras's logged values: means over the samples seen so far this epoch."""
                if self.metrics:
                    return {"accuracy": correct / seen, "loss": loss_sum / seen}
                return {"loss": loss_sum / seen}

            for step in range(steps):
                sl = slice(step * batch_size, min((step + 1) * batch_size, n))
                idx = order[sl] if order is not None else sl
                if eng is not None:
                    loss, m, c = eng.train_batch(x, y, idx)
                else:
                    loss, p = self.train_step(x[idx], y[idx])
                    m, c = len(p), int(np.count_nonzero(p.argmax(axis=1) == y_class[idx]))
                loss_sum += float(loss) * m
                correct += c
                seen += m
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
        x, y = self._check_xy(x, y, "evaluate")
        batch_size = 32 if batch_size is None else int(batch_size)
        verbose = 1 if verbose == "auto" else verbose
        n = len(x)
        steps = -(-n // batch_size)
        bar = ProgressBar(steps, verbose)
        loss_sum, correct = 0.0, 0
        eng = engine_module.get_engine(self)
        if eng is not None:
            x, y = np.ascontiguousarray(x), np.ascontiguousarray(y)
        for step in range(steps):
            sl = slice(step * batch_size, min((step + 1) * batch_size, n))
            if eng is not None:
                p, loss, c = eng.infer(x[sl], y[sl])
            else:
                p = self.forward(x[sl], training=False)
                loss, _ = self.loss_and_gradient(y[sl], p)
                c = int(np.count_nonzero(p.argmax(axis=1) == y[sl].argmax(axis=1)))
            loss_sum += float(loss) * len(p)
            correct += c
            bar.update(1)
        logs = {"accuracy": correct / n, "loss": loss_sum / n} if self.metrics else {"loss": loss_sum / n}
        bar.close(logs)
        return [logs["loss"], logs["accuracy"]] if self.metrics else logs["loss"]

    def predict(self, x, batch_size=None, verbose="auto"):
        """Outputs for every row of ``x`` at inference (dropout off), in batches: ``(N, D) -> (N, C)``."""
        x = self._check_x(x, "predict")
        batch_size = 32 if batch_size is None else int(batch_size)
        verbose = 1 if verbose == "auto" else verbose
        n = len(x)
        steps = -(-n // batch_size)
        out = np.empty((n, self.output_dim), dtype=self.dtype)
        bar = ProgressBar(steps, verbose)
        eng = engine_module.get_engine(self)
        if eng is not None:
            x = np.ascontiguousarray(x)
        for step in range(steps):
            sl = slice(step * batch_size, min((step + 1) * batch_size, n))
            out[sl] = eng.infer(x[sl]) if eng is not None else self.forward(x[sl], training=False)
            bar.update(1)
        bar.close()
        return out

    def __call__(self, x, training=False):
        """``model(x)``: one forward pass over all of ``x`` (Keras's direct call)."""
        return self.forward(self._check_x(x, "model(x)"), training=training)

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

    # ------------------------------------------------------------------ summary
    def summary(self, print_fn=print):
        """Print a Keras 3 style table: layer (type), output shape, parameter count."""
        widths = (33, 24, 15)

        def row(cells, sep):
            a, b, c = cells
            return (sep + " " + a.ljust(widths[0] - 2) + " " + sep + " " + b.ljust(widths[1] - 2) + " "
                    + sep + " " + c.rjust(widths[2] - 2) + " " + sep)

        def rule(left, mid, right, fill):
            return left + mid.join(fill * w for w in widths) + right

        lines = [f'Model: "{self.name}"',
                 rule("┏", "┳", "┓", "━"),
                 row(("Layer (type)", "Output Shape", "Param #"), "┃"),
                 rule("┡", "╇", "┩", "━")]
        for i, layer in enumerate(self.layers):
            shape = f"(None, {layer.output_dim})" if layer.built else "?"
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            lines.append(row((f"{layer.name} ({type(layer).__name__})", shape, params), "│"))
            if i < len(self.layers) - 1:
                lines.append(rule("├", "┼", "┤", "─"))
        lines.append(rule("└", "┴", "┘", "─"))
        n = self.count_params()
        size = _format_bytes(n * self.dtype.itemsize)
        lines += [f" Total params: {n:,} ({size})", f" Trainable params: {n:,} ({size})",
                  " Non-trainable params: 0 (0.00 B)"]
        if self.optimizer is not None and self.optimizer.state:
            k = sum(a.size for slot in self.optimizer.state.values() for a in slot) + 2
            lines.append(f" Optimizer params: {k:,} ({_format_bytes(k * self.dtype.itemsize)})")
        print_fn("\n".join(lines))

    # ------------------------------------------------------------------ save / load
    def get_config(self):
        return {"name": self.name, "dtype": self.dtype.name,
                "layers": [{"class_name": type(l).__name__, "config": l.get_config()} for l in self.layers]}

    def save(self, path):
        """Write architecture, weights, optimizer state and random-generator states to one ``.npz``
        file, atomically; see ``saving.py`` for the format."""
        saving.save_model(self, path)


def _format_bytes(n):
    for unit, size in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.2f} B"


# Loading lives in saving.py, with the file format (it imports this module for Sequential).
from . import saving                                     # noqa: E402
from .saving import FILE_FORMAT, load_model              # noqa: E402,F401
