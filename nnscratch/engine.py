"""The lean training loop that ``Sequential.fit`` (and ``evaluate``/``predict``) delegate to.

It computes exactly what ``Sequential.train_step`` computes -- the same layers, the same loss, the
same Keras-exact optimizer arithmetic -- but organised for speed:

* The model is read once into *units*: ``Dense`` + its activation (its own, or a following
  ``Activation`` layer) + an optional ``Dropout``.  A model that does not fit this pattern is trained
  by the readable path instead (``Engine.supports`` is False).
* Buffers (the batch, every ``z``, activation, mask and gradient) are allocated once per batch size
  and reused for every batch: no per-batch allocation, float32 (or float64) end to end.
  The parameters, their gradients (``layer.d_kernel``/``d_bias``) and the optimizer's state are the
  model's own arrays, updated in place, so the model is always up to date.
* Backend ``'numpy'``: NumPy ufuncs with ``out=``, the expressions of ``layers.py``/``losses.py``/
  ``optimizers.py`` one by one (with the same random draws for dropout, so it trains identically to
  the readable path).  Backend ``'numba'``: the fused kernels of ``kernels.py``.

Threads, one deliberate decision: the matrix products run on OpenBLAS's pool (2 threads); every Numba
kernel runs on the calling thread between products (``numba.set_num_threads(1)``; kernels written
with ``prange`` still vectorise), so the two pools never spin against each other on the 2 cores
(measured: the 3-layer model at batch 32 took 13.6 ms per step with both pools at 2 threads, 1.3 ms
with Numba held to 1).  With
``matmul='numba'`` the products run on Numba's pool instead (the register-blocked ``gemm_abt``);
then hold OpenBLAS to 1 thread (``threadpoolctl.threadpool_limits(1, 'blas')``, as the benchmark
does) so that only one pool spins.
"""
import numpy as np

from . import backend as backend_module
from .layers import Activation, Dense, Dropout
from .optimizers import SGD, Adam, _through_float32

ACT_CODES = {"linear": 0, "sigmoid": 1, "relu": 2, "tanh": 3, "softmax": 4}

# float64 models are for exactness (gradient checks, 1e-15 comparisons with Keras): they train on the
# numpy backend, which is bit-for-bit the readable path.  The kernels support float64 too; tests set
# this to compare the backends in float64.
NUMBA_FLOAT64 = False


class _Unit:
    """``Dense`` + activation + optional ``Dropout``; ``drop`` is None when there is none (or rate 0)."""

    def __init__(self, dense):
        self.dense = dense
        self.act = dense.activation.name
        self.drop = None


def _parse(layers):
    units = []
    for layer in layers:
        if isinstance(layer, Dense):
            units.append(_Unit(layer))
        elif isinstance(layer, Activation) and units and units[-1].act == "linear" and units[-1].drop is None:
            units[-1].act = layer.activation.name
        elif isinstance(layer, Dropout) and units and units[-1].drop is None:
            units[-1].drop = layer
        else:
            return None
    for u in units:
        if u.act not in ACT_CODES:
            return None
    return units


class _Buffers:
    """Everything one batch size needs, allocated once."""

    def __init__(self, units, n, dtype, with_dropout):
        e = lambda m: np.empty((n, m), dtype)               # noqa: E731
        d0 = units[0].dense.input_dim
        self.n = n
        self.x = e(d0)
        self.y = e(units[-1].dense.units)
        self.z, self.a, self.out, self.mask, self.dz, self.da, self.tmp = [], [], [], [], [], [], []
        for u in units:
            m = u.dense.units
            self.z.append(e(m))
            self.a.append(e(m) if u.act != "linear" else None)
            drop = with_dropout and u.drop is not None
            self.mask.append(e(m) if drop else np.empty((0, 0), dtype))
            self.out.append(e(m) if drop else None)
            self.dz.append(e(m))
            self.da.append(e(m))
            self.tmp.append(e(m))
        self.col = np.empty((n, 1), dtype)
        self.col2 = np.empty((n, 1), dtype)
        self.keep = [np.empty((n, u.dense.units), bool) for u in units]
        self.u = [np.empty((n, u.dense.units), dtype) for u in units]
        self.packs = {}                                      # numba matmul: transposed operands


class Engine:
    """Per-model training engine; ``Sequential`` creates one lazily and keeps it (``model._engine``)."""

    def __init__(self, model):
        self.model = model
        self.units = _parse(model.layers)
        self.dtype = model.dtype
        self._bufs = {}
        self._opt_tmp = None
        self._signature = None

    @property
    def supports(self):
        return self.units is not None

    # ------------------------------------------------------------------ buffers
    def buffers(self, n, training=True):
        key = (n, training)
        b = self._bufs.get(key)
        if b is None:
            if len(self._bufs) >= 4:                         # full batch + last partial, train + eval
                self._bufs.pop(next(iter(self._bufs)))
            b = self._bufs[key] = _Buffers(self.units, n, self.dtype, training)
        return b

    # ------------------------------------------------------------------ matmul
    def _matmul(self, a, b, out, bufs, key):
        """``out = a @ b`` (BLAS, or the Numba kernel with packing buffers kept in ``bufs``)."""
        if self.matmul == "blas":
            np.matmul(a, b, out=out)
            return
        from . import kernels
        need_a = not a.flags.c_contiguous
        need_b = not b.T.flags.c_contiguous
        pa = pb = None
        if need_a or need_b:
            pk = bufs.packs.get(key)
            if pk is None:
                pk = bufs.packs[key] = (np.empty(a.shape, a.dtype) if need_a else None,
                                        np.empty(b.T.shape, b.dtype) if need_b else None)
            pa, pb = pk
        kernels.matmul(a, b, out, pa, pb)

    # ------------------------------------------------------------------ forward
    def forward(self, x, bufs, training, head_loss=None):
        """Run all units on ``x`` (already in ``bufs.x`` or any C array of n rows); returns the output.

        With ``head_loss=y``: also the loss and its gradient (into ``bufs.da[-1]`` or ``bufs.dz[-1]``)
        and the count of correct predictions: ``(output, loss, correct)``.
        """
        numba_be = self.backend == "numba"
        if numba_be:
            from . import kernels
        h = x
        last = len(self.units) - 1
        softmax_head = self.softmax_head
        for k, u in enumerate(self.units):
            W, bvec = u.dense.kernel, u.dense.bias
            z = bufs.z[k]
            self._matmul(h, W, z, bufs, ("f", k))
            fuse_head = softmax_head and k == last and head_loss is not None
            code = 0 if fuse_head else ACT_CODES[u.act]
            a = z if u.act == "linear" or fuse_head else bufs.a[k]
            if numba_be:
                kernels.bias_act(z, bvec, code, a)
            else:
                np.add(z, bvec, out=z)
                if not fuse_head:
                    self._np_act(u.act, z, a, bufs, k)
            if fuse_head:                                   # a (the softmax) is filled by the loss
                a = bufs.a[k]
            h = a
            if training and u.drop is not None and u.drop.rate > 0:
                h = self._dropout(u.drop, a, bufs, k)
        if head_loss is None:
            return h
        y = head_loss
        if softmax_head:
            z, p, dz = bufs.z[last], bufs.a[last], bufs.dz[last]
            if numba_be:
                loss, correct = kernels.softmax_xent(z, y, p, dz)
            else:
                loss, correct = self._np_softmax_xent(z, y, p, dz, bufs, last)
            return p, loss, correct
        if numba_be:
            loss, correct = kernels.xent(h, y, bufs.da[last])
        else:
            from . import losses
            loss = losses.categorical_crossentropy(y, h)
            bufs.da[last][...] = losses.categorical_crossentropy_gradient(y, h)
            correct = int(np.count_nonzero(h.argmax(axis=1) == y.argmax(axis=1)))
        return h, loss, correct

    def _np_act(self, name, z, a, bufs, k):
        """``a = activation(z)`` with ``out=`` (the expressions of ``activations.py``)."""
        if name == "sigmoid":                               # where(z>=0, 1/(1+e), e/(1+e)), e = exp(-|z|)
            e, d = bufs.tmp[k], bufs.u[k]
            np.abs(z, out=e)
            np.negative(e, out=e)
            np.exp(e, out=e)
            np.add(e, 1.0, out=d)
            np.divide(1.0, d, out=a)
            np.divide(e, d, out=e)
            np.less(z, 0, out=bufs.keep[k])
            np.copyto(a, e, where=bufs.keep[k])
        elif name == "relu":
            np.maximum(z, 0, out=a)
        elif name == "tanh":
            np.tanh(z, out=a)
        elif name == "softmax":
            self._softmax(z, a, bufs, k)

    def _softmax(self, z, a, bufs, k):
        np.max(z, axis=-1, keepdims=True, out=bufs.col)
        np.subtract(z, bufs.col, out=a)
        np.exp(a, out=a)
        np.sum(a, axis=-1, keepdims=True, out=bufs.col)
        np.divide(a, bufs.col, out=a)

    def _np_softmax_xent(self, z, y, p, dz, bufs, k):
        """``losses.softmax_crossentropy_from_logits`` + its gradient + ``p = softmax(z)``, with ``out=``."""
        m, s = bufs.col, bufs.col2
        np.max(z, axis=-1, keepdims=True, out=m)
        np.subtract(z, m, out=p)
        np.exp(p, out=p)
        np.sum(p, axis=-1, keepdims=True, out=s)
        np.divide(p, s, out=p)                              # softmax(z)
        np.log(s, out=s)
        np.add(m, s, out=s)                                 # logsumexp(z)
        t = bufs.tmp[k]
        np.subtract(s, z, out=t)
        np.multiply(y, t, out=t)
        loss = np.sum(t) / y.shape[0]
        np.subtract(p, y, out=dz)
        np.divide(dz, y.shape[0], out=dz)
        correct = int(np.count_nonzero(p.argmax(axis=1) == y.argmax(axis=1)))
        return loss, correct

    def _dropout(self, layer, a, bufs, k):
        """``mask = keep * (1/(1-rate))``, ``out = a * mask``; keep from ``mask_source`` if set."""
        out, mask = bufs.out[k], bufs.mask[k]
        scale = a.dtype.type(1.0 / (1.0 - layer.rate))
        if self.backend == "numba":
            from . import kernels
            if layer.mask_source is not None:
                kernels.apply_keep(a, np.ascontiguousarray(layer.mask_source(a.shape, a.dtype)), scale, mask, out)
            else:
                kernels.dropout_forward(a, layer.rate, scale, int(layer.rng.integers(2 ** 32)), mask, out)
            return out
        keep = bufs.keep[k]
        if layer.mask_source is not None:
            keep[...] = layer.mask_source(a.shape, a.dtype)
        else:
            layer.rng.random(dtype=a.dtype, out=bufs.u[k])   # the draws Dropout.forward makes
            np.greater_equal(bufs.u[k], layer.rate, out=keep)
        np.multiply(keep, scale, out=mask)
        np.multiply(a, mask, out=out)
        return out

    # ------------------------------------------------------------------ backward
    def backward(self, x, bufs, training=True):
        """Fill every ``layer.d_kernel``/``d_bias``; the loss gradient is already in the buffers."""
        numba_be = self.backend == "numba"
        if numba_be:
            from . import kernels
        last = len(self.units) - 1
        for k in range(last, -1, -1):
            u = self.units[k]
            d = u.dense
            dz = bufs.dz[k]
            if not (self.softmax_head and k == last):
                da = bufs.da[k]
                a = bufs.a[k] if bufs.a[k] is not None else bufs.z[k]
                code = ACT_CODES[u.act]
                dropped = training and u.drop is not None and u.drop.rate > 0
                mask = bufs.mask[k] if dropped else bufs.mask[k][:0, :0]
                if numba_be:
                    kernels.act_backward(bufs.z[k], a, da, mask, code, dz, d.d_bias)
                else:
                    self._np_act_backward(u.act, bufs.z[k], a, da, mask, dz, bufs, k)
                    np.sum(dz, axis=0, out=d.d_bias)
            else:
                np.sum(dz, axis=0, out=d.d_bias)
            h = x if k == 0 else self._unit_output(k - 1, bufs, training)
            self._matmul(h.T, dz, d.d_kernel, bufs, ("w", k))
            if k > 0:
                self._matmul(dz, d.kernel.T, bufs.da[k - 1], bufs, ("x", k))

    def _unit_output(self, k, bufs, training):
        u = self.units[k]
        if training and u.drop is not None and u.drop.rate > 0:
            return bufs.out[k]
        return bufs.a[k] if bufs.a[k] is not None else bufs.z[k]

    def _np_act_backward(self, name, z, a, da, mask, dz, bufs, k):
        """``dz = activation.backward(z, a, da * mask)`` with ``out=``."""
        if mask.size:
            np.multiply(da, mask, out=dz)                   # Dropout.backward
        else:
            np.copyto(dz, da)
        t = bufs.tmp[k]
        if name == "sigmoid":                               # da * a * (1 - a)
            np.multiply(dz, a, out=dz)
            np.subtract(1, a, out=t)
            np.multiply(dz, t, out=dz)
        elif name == "relu":                                # da * (z > 0)
            np.greater(z, 0, out=bufs.keep[k])
            np.multiply(dz, bufs.keep[k], out=dz)
        elif name == "tanh":                                # da * (1 - a*a)
            np.multiply(a, a, out=t)
            np.subtract(1, t, out=t)
            np.multiply(dz, t, out=dz)
        elif name == "softmax":                             # a * (da - sum(da * a))
            np.multiply(dz, a, out=t)
            np.sum(t, axis=-1, keepdims=True, out=bufs.col)
            np.subtract(dz, bufs.col, out=dz)
            np.multiply(a, dz, out=dz)

    # ------------------------------------------------------------------ optimizer
    def apply_optimizer(self):
        model = self.model
        opt = model.optimizer
        params, grads = model.trainable_weights, model.gradients
        if type(opt) not in (Adam, SGD) or "apply" in vars(opt):   # a custom or wrapped optimizer
            opt.apply(params, grads)
            return
        if not opt.built:
            opt.build(params)
        dt = self.dtype.type
        if self.backend == "numba":
            from . import kernels
            flat = lambda arrs: tuple(a.reshape(-1) for a in arrs)   # noqa: E731  views, no copies
            if self._signature is None or self._signature[0] is not opt:
                self._signature = (opt, flat(params), flat(grads),
                                   tuple(flat(arrs) for arrs in opt.state.values()))
            _, ws, gs, slots = self._signature
            if isinstance(opt, Adam):
                alpha, omb1, omb2, eps = self._adam_scalars(opt)
                kernels.adam_update(ws, gs, slots[0], slots[1], omb1, omb2, alpha, eps)
            else:
                lr = _through_float32(opt.learning_rate, self.dtype)
                mu = _through_float32(opt.momentum, self.dtype)
                vels = slots[0] if slots else ()
                kernels.sgd_update(ws, gs, vels if vels else ws[:0], lr, mu, opt.nesterov)
            opt.iterations += 1
            return
        if self._opt_tmp is None or len(self._opt_tmp) != len(params):
            self._opt_tmp = [(np.empty_like(p), np.empty_like(p)) for p in params]
        if isinstance(opt, Adam):
            alpha, omb1, omb2, eps = self._adam_scalars(opt)
            for (w, g, m, v, (t1, t2)) in zip(params, grads, opt.state["m"], opt.state["v"], self._opt_tmp):
                np.subtract(g, m, out=t1)                   # m += (g - m) * (1 - beta_1)
                np.multiply(t1, omb1, out=t1)
                np.add(m, t1, out=m)
                np.multiply(g, g, out=t1)                   # v += (g*g - v) * (1 - beta_2)
                np.subtract(t1, v, out=t1)
                np.multiply(t1, omb2, out=t1)
                np.add(v, t1, out=v)
                np.sqrt(v, out=t1)                          # w -= m * alpha / (sqrt(v) + epsilon)
                np.add(t1, eps, out=t1)
                np.multiply(m, alpha, out=t2)
                np.divide(t2, t1, out=t2)
                np.subtract(w, t2, out=w)
        else:
            lr = _through_float32(opt.learning_rate, self.dtype)
            mu = _through_float32(opt.momentum, self.dtype)
            for i, (w, g, (t1, t2)) in enumerate(zip(params, grads, self._opt_tmp)):
                np.multiply(g, lr, out=t1)                  # g * lr
                if opt.momentum == 0:
                    np.subtract(w, t1, out=w)
                    continue
                v = opt.state["velocity"][i]
                np.multiply(v, mu, out=v)
                np.subtract(v, t1, out=v)
                if opt.nesterov:
                    np.multiply(v, mu, out=t2)
                    np.subtract(t2, t1, out=t2)
                    np.add(w, t2, out=w)
                else:
                    np.add(w, v, out=w)
        opt.iterations += 1

    def _adam_scalars(self, opt):
        """Exactly the scalars of ``optimizers.Adam._update`` (Keras's float32 casts)."""
        dt = self.dtype.type
        t = opt.iterations + 1
        lr = _through_float32(opt.learning_rate, self.dtype)
        b1p = _through_float32(opt.beta_1, self.dtype) ** dt(t)
        b2p = _through_float32(opt.beta_2, self.dtype) ** dt(t)
        alpha = lr * np.sqrt(1 - b2p) / (1 - b1p)
        return dt(alpha), dt(1 - opt.beta_1), dt(1 - opt.beta_2), dt(opt.epsilon)

    # ------------------------------------------------------------------ public: one epoch, inference
    def begin(self):
        """Read the current backend settings (called at the start of fit/evaluate/predict)."""
        self.backend = backend_module.get_backend()
        if self.dtype == np.float64 and not NUMBA_FLOAT64:
            self.backend = "numpy"
        self.matmul = backend_module.get_matmul() if self.backend == "numba" else "blas"
        if self.backend == "numba":
            # One pool at a time (see the module docstring): with BLAS products, Numba's kernels run
            # on the calling thread (their ``prange`` loops still vectorise); with Numba products,
            # Numba's pool gets every core.
            import numba
            numba.set_num_threads(1 if self.matmul == "blas" else numba.config.NUMBA_NUM_THREADS)
        last = self.units[-1]
        self.softmax_head = last.act == "softmax" and last.drop is None

    def train_batch(self, x, y, idx):
        """One step on rows ``idx`` of ``x, y``; returns ``(loss, n, correct)``.  A non-finite loss
        raises before the update, exactly as ``Sequential.train_step``."""
        n = len(idx)
        bufs = self.buffers(n, True)
        if self.backend == "numba":
            from . import kernels
            kernels.take_rows(x, idx, bufs.x)
            kernels.take_rows(y, idx, bufs.y)
        else:
            np.take(x, idx, axis=0, out=bufs.x)
            np.take(y, idx, axis=0, out=bufs.y)
        _, loss, correct = self.forward(bufs.x, bufs, True, head_loss=bufs.y)
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"loss became {loss} during training; weights were left at their values before this "
                "step. Lower the learning rate, check the inputs for extreme values, or use float64.")
        self.backward(bufs.x, bufs)
        self.apply_optimizer()
        return float(loss), n, int(correct)

    def infer(self, x, y=None):
        """Forward at inference on a C-contiguous block ``x``; returns the output buffer (reused:
        copy it) and, with ``y``, ``(output, loss, correct)``."""
        bufs = self.buffers(len(x), False)
        if y is None:
            return self.forward(x, bufs, False)
        return self.forward(x, bufs, False, head_loss=np.ascontiguousarray(y))


def get_engine(model):
    """The model's engine, rebuilt if its layers changed; None if the model's shape is unsupported."""
    eng = getattr(model, "_engine", None)
    if eng is None or eng.model is not model or [u.dense for u in eng.units or []] != \
            [l for l in model.layers if isinstance(l, Dense)] or len(model.layers) != eng._n_layers:
        eng = Engine(model)
        eng._n_layers = len(model.layers)
        model._engine = eng
    if not eng.supports:
        return None
    eng.begin()
    return eng
