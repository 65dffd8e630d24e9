"""Training with the tape: a tape loop equals ``fit``, ``optimizer.apply_gradients`` equals Keras's,
and a subclassed ``keras.Model`` trains with ``compile``/``fit`` (gradients from the tape) as Keras's
does.  A loss function of your own, written with the tape's operations, trains in ``fit`` as in Keras.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_reference as kr  # noqa: E402
import nnscratch as ns  # noqa: E402
from nnscratch import backend, zoo  # noqa: E402
from nnscratch import layers as L  # noqa: E402
from nnscratch import optimizers as nn_opt  # noqa: E402


@pytest.fixture
def float64():
    ns.keras.backend.set_floatx("float64")
    yield
    ns.keras.backend.set_floatx("float32")


def _batches(n=96, d=784, seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    return rng.random((n, d)).astype(dtype), np.eye(10, dtype=dtype)[rng.integers(0, 10, n)]


# ----------------------------------------------------------------------------- a tape loop is fit
@pytest.mark.parametrize("which", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_tape_loop_over_the_workshop_model_is_fit_step_by_step(which, dtype):
    """The workshop's 784-512-512-10 model (sigmoid, Dropout 0.2, softmax; units cut to 64 to stay
    quick), Adam, batches of 32: ``fit``'s steps and a ``GradientTape`` loop give the same weights after
    every step, with the same dropout masks (each Dropout draws from its own generator, in the same
    order), on both backends.  They run the same forward, backward, loss and update code."""
    x, y = _batches(96, dtype=dtype)
    with backend.use(which):
        fitted = zoo.mlp(2, 64, 0.2, dtype=dtype, seed=11)
        looped = zoo.mlp(2, 64, 0.2, dtype=dtype, seed=11)
        fitted.compile(loss="categorical_crossentropy", optimizer="adam")
        loss_fn = ns.keras.losses.CategoricalCrossentropy(dtype=dtype)
        optimizer = ns.keras.optimizers.Adam()
        for step in range(3):
            rows = slice(32 * step, 32 * step + 32)
            fit_loss = fitted.train_on_batch(x[rows], y[rows])
            with ns.GradientTape() as tape:
                p = looped(x[rows], training=True)
                loss = loss_fn(y[rows], p)
            grads = tape.gradient(loss, looped.trainable_variables)
            optimizer.apply_gradients(zip(grads, looped.trainable_variables))
            assert float(loss) == float(np.asarray(fit_loss, dtype))          # the loss object's dtype
            for a, b in zip(fitted.get_weights(), looped.get_weights()):
                np.testing.assert_array_equal(a, b)
        # and a whole epoch of fit against the loop, shuffle off
        fitted.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        for batch_x, batch_y in ns.data.Dataset.from_tensor_slices((x, y)).batch(32):
            with ns.GradientTape() as tape:
                loss = loss_fn(batch_y, looped(batch_x, training=True))
            optimizer.apply_gradients(zip(tape.gradient(loss, looped.trainable_variables), looped.trainable_variables))
        for a, b in zip(fitted.get_weights(), looped.get_weights()):
            np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- apply_gradients
OPTIMIZERS = [("sgd", lambda: nn_opt.SGD(0.1)), ("momentum", lambda: nn_opt.SGD(0.1, momentum=0.9)),
              ("nesterov", lambda: nn_opt.SGD(0.1, momentum=0.9, nesterov=True)), ("adam", lambda: nn_opt.Adam(0.01)),
              ("rmsprop", lambda: nn_opt.RMSprop(0.01)),
              ("rmsprop-centered", lambda: nn_opt.RMSprop(0.01, momentum=0.5, centered=True))]


@pytest.mark.parametrize("which", ["numpy", "numba"])
@pytest.mark.parametrize("name,make", OPTIMIZERS, ids=[n for n, _ in OPTIMIZERS])
def test_apply_gradients_equals_keras_s_on_the_same_gradients(name, make, which):
    rng = np.random.default_rng(0)
    start = [rng.normal(size=(4, 3)), rng.normal(size=(3,))]
    ours, theirs = [ns.Variable(w) for w in start], [tf.Variable(w) for w in start]
    opt, kopt = make(), kr.keras_optimizer_like(make())
    with backend.use(which):
        for step in range(4):
            grads = [rng.normal(size=w.shape) for w in start]
            assert opt.apply_gradients(zip(grads, ours)) == step + 1
            kopt.apply_gradients(zip([tf.constant(g) for g in grads], theirs))
            for a, b in zip(ours, theirs):
                np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-13, atol=1e-15)


def test_apply_gradients_runs_the_update_that_fit_runs(monkeypatch):
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=(5, 2)), rng.normal(size=(2,))]
    grads = [rng.normal(size=(5, 2)), rng.normal(size=(2,))]
    variables, plain = [ns.Variable(w) for w in weights], [w.copy() for w in weights]
    a, b = nn_opt.Adam(), nn_opt.Adam()
    seen = []
    update = nn_opt.Adam.update
    monkeypatch.setattr(nn_opt.Adam, "update", lambda self, p, g, s: seen.append(len(p)) or update(self, p, g, s))
    a.apply_gradients(zip(grads, variables))
    b.apply(plain, grads)                          # what fit's train_step calls
    assert seen == [2, 2]
    for v, w in zip(variables, plain):
        np.testing.assert_array_equal(v.numpy(), w)


def test_apply_gradients_skips_a_variable_without_gradient_and_refuses_a_stranger():
    v, w = ns.Variable([1.0, 2.0]), ns.Variable([3.0])
    opt = nn_opt.Adam(0.1)
    opt.apply_gradients(zip([np.ones(2), np.ones(1)], [v, w]))
    m_w, w_before = opt.state["m"][1].copy(), w.numpy()
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply_gradients(zip([np.ones(2), None], [v, w]))
    np.testing.assert_array_equal(w.numpy(), w_before)                   # untouched, as Keras skips it
    np.testing.assert_array_equal(opt.state["m"][1], m_w)
    assert opt.iterations == 2
    opt.apply_gradients([(np.ones(1), w)])                                # a subset, in any order
    assert opt.iterations == 3
    with pytest.raises(ValueError, match="built for"):
        opt.apply_gradients([(np.ones(3), ns.Variable([0.0, 0.0, 0.0]))])
    with pytest.raises(TypeError, match="Variable"):
        opt.apply_gradients([(np.ones(2), np.ones(2))])
    with pytest.raises(ValueError, match="shape"):
        opt.apply_gradients([(np.ones(3), v)])


# ----------------------------------------------------------------------------- keras.Model subclassing
class MLP(ns.keras.Model):
    def __init__(self, hidden=16, rate=0.0, seed=0):
        super().__init__()
        self.hidden = L.Dense(hidden, activation="sigmoid", seed=seed)
        self.blocks = [L.Dropout(rate, seed=seed + 1)]
        self.heads = {"out": L.Dense(10, activation="softmax", seed=seed + 2)}

    def call(self, x, training=None):
        return self.heads["out"](self.blocks[0](self.hidden(x), training=training))


class KerasMLP(keras.Model):
    def __init__(self, hidden=16):
        super().__init__(dtype="float64")
        self.hidden = keras.layers.Dense(hidden, activation="sigmoid", dtype="float64")
        self.out = keras.layers.Dense(10, activation="softmax", dtype="float64")

    def call(self, x):
        return self.out(self.hidden(x))


def test_a_subclassed_model_finds_its_layers_and_is_named_as_in_keras():
    a, b = MLP(), MLP()
    assert a.name.startswith("mlp") and b.name != a.name and isinstance(a, ns.keras.Model)
    assert [type(l).__name__ for l in a.layers] == ["Dense", "Dropout", "Dense"]
    assert not a.built and a.trainable_variables == []
    a(np.zeros((1, 784)))
    assert a.built and [v.shape for v in a.trainable_variables] == [(784, 16), (16,), (16, 10), (10,)]
    assert all(v.array is w for v, w in zip(a.trainable_variables, a.trainable_weights))
    with pytest.raises(ValueError, match="KerasTensors"):         # keras.Model(inputs, outputs): a graph model
        ns.keras.Model(inputs=None, outputs=None)
    with pytest.raises(ns.NotImplementedInNnscratch, match="functional subclassing"):
        ns.keras.Model.__init__(MLP.__new__(MLP), inputs=None, outputs=None)

    class NoCall(ns.keras.Model):
        pass
    with pytest.raises(NotImplementedError, match="call"):
        NoCall()(np.zeros((1, 3)))


def test_a_subclassed_model_fits_as_the_same_sequential_does(float64):
    """compile/fit/evaluate/predict on a subclassed model (gradients from the tape) equal the same
    layers as a Sequential (its hand-written backward), dropout masks included."""
    x, y = _batches(64)
    sub = MLP(rate=0.3, seed=5)
    seq = ns.Sequential([L.Dense(16, activation="sigmoid", seed=5, input_shape=(784,)), L.Dropout(0.3, seed=6),
                         L.Dense(10, activation="softmax", seed=7)], seed=0)
    for m in (sub, seq):
        m.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    sub.rng = np.random.default_rng(0)                  # the same shuffling
    h_sub = sub.fit(x, y, batch_size=16, epochs=2, verbose=0)
    h_seq = seq.fit(x, y, batch_size=16, epochs=2, verbose=0)
    np.testing.assert_allclose(h_sub.history["loss"], h_seq.history["loss"], rtol=1e-12)
    assert h_sub.history["accuracy"] == h_seq.history["accuracy"]
    for a, b in zip(sub.get_weights(), seq.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sub.evaluate(x, y, verbose=0), seq.evaluate(x, y, verbose=0), rtol=1e-12)
    p = sub.predict(x, verbose=0)
    assert type(p) is np.ndarray
    np.testing.assert_allclose(p, seq.predict(x, verbose=0), rtol=1e-12, atol=1e-15)
    assert "mlp" in _summary(sub) and "Total params: 12,730" in _summary(sub)
    with pytest.raises(ValueError, match="subclassed"):
        sub.save("never-written.npz")
    assert not os.path.exists("never-written.npz")


def _summary(model):
    lines = []
    model.summary(print_fn=lines.append)
    return "\n".join(lines)


def test_a_subclassed_model_fits_as_keras_s_subclassed_model_does(float64):
    """The same subclassed model in Keras, the same starting weights, shuffle off: the same weights
    after an epoch of fit, and the same evaluate."""
    x, y = _batches(64, seed=2)
    ours, theirs = MLP(seed=1), KerasMLP()
    ours(x[:1])
    theirs(x[:1])
    theirs.set_weights(ours.get_weights())
    ours.compile(loss="categorical_crossentropy", optimizer="adam")
    optimizer = keras.optimizers.Adam()          # made outside floatx float64: its learning rate a float32, as usual
    with kr.keras_floatx("float64"):
        theirs.compile(loss="categorical_crossentropy", optimizer=optimizer)
        theirs.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        k_eval = theirs.evaluate(x, y, verbose=0)
    ours.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(k_eval, rel=1e-10)


# ----------------------------------------------------------------------------- a loss of your own
def _mse_ours(y_true, y_pred):
    return ns.reduce_mean(ns.square(y_true - y_pred), axis=-1)


def _mse_keras(y_true, y_pred):
    return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


@pytest.mark.parametrize("head", ["softmax", "sigmoid"])
def test_a_loss_function_of_your_own_trains_in_fit_as_in_keras(head, float64):
    """``compile(loss=my_mse)``, written with the tape's operations: its gradient dL/dp comes from the
    tape (through the softmax head's backward, where there is one); fit equals Keras's fit with the
    same function written with keras.ops."""
    x, y = _batches(48, d=20, seed=3)
    nn = ns.Sequential([L.Dense(8, activation="tanh", input_shape=(20,), seed=1), L.Dense(10, activation=head, seed=2)])
    nn.compile(loss=_mse_ours, optimizer="sgd")
    km = kr.keras_twin(nn, compile=False)
    optimizer = keras.optimizers.SGD()           # its learning rate a float32 variable, as usual
    with kr.keras_floatx("float64"):
        km.compile(loss=_mse_keras, optimizer=optimizer)
        km.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        k_loss = km.evaluate(x, y, verbose=0)
    h = nn.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(nn.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert nn.evaluate(x, y, verbose=0) == pytest.approx(k_loss, rel=1e-10)
    assert h.history["loss"][0] > h.history["loss"][1]
    with pytest.raises(ValueError, match="of your own"):
        nn.save("custom-loss.npz")
    assert not os.path.exists("custom-loss.npz")


def test_loss_objects_on_a_tape_equal_keras_s(float64):
    rng = np.random.default_rng(4)
    z = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, 6)
    y = np.eye(4)[labels]
    cases = [(ns.keras.losses.CategoricalCrossentropy(), keras.losses.CategoricalCrossentropy(dtype="float64"), y,
              "softmax"),
             (ns.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64"), labels, None),
             (ns.keras.losses.SparseCategoricalCrossentropy(),
              keras.losses.SparseCategoricalCrossentropy(dtype="float64"), labels, "sigmoid")]
    for ours, theirs, target, f in cases:
        zt, zk = ns.Variable(z), tf.Variable(z)
        with ns.GradientTape() as tape:
            out = ns.keras.ops.softmax(zt) if f == "softmax" else ns.sigmoid(zt) if f else zt
            loss = ours(target, out) * 3.0 + 1.0            # the loss's node receives g = 3
        with tf.GradientTape() as ktape:
            kout = keras.ops.softmax(zk) if f == "softmax" else tf.sigmoid(zk) if f else zk
            kloss = theirs(target, kout) * 3.0 + 1.0
        assert float(loss) == pytest.approx(float(kloss), rel=1e-12)
        np.testing.assert_allclose(tape.gradient(loss, zt).numpy(), ktape.gradient(kloss, zk).numpy(),
                                   rtol=1e-10, atol=1e-14)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ns.keras.losses.CategoricalCrossentropy(from_logits=True)(y, ns.keras.ops.softmax(z))
    assert any("does not represent logits" in str(w.message) for w in caught)


class Saturated(ns.keras.Model):
    """Dense -> Dropout (not given ``training``: Keras's call context reaches it) -> Dense(softmax)."""

    def __init__(self, dtype=None):
        super().__init__(dtype=dtype)
        self.hidden = L.Dense(8, activation="relu", seed=1, dtype=dtype)
        self.drop = L.Dropout(0.5, seed=2, dtype=dtype)      # a layer takes floatx() unless told, as in Keras
        self.out = L.Dense(3, activation="softmax", seed=3, dtype=dtype)

    def call(self, x):
        return self.out(self.drop(self.hidden(x)))


def test_training_reaches_the_layers_a_call_uses_without_passing_it():
    """``model(x, training=True)`` with a ``call(self, x)`` that does not pass ``training`` on: the
    Dropout inside is active anyway (Keras's call context), and inactive for ``training=False``."""
    m = Saturated(dtype="float64")
    x = np.ones((4, 5))
    np.testing.assert_array_equal(m(x).numpy(), m(x, training=False).numpy())
    assert not np.allclose(m(x, training=True).numpy(), m(x).numpy())


def test_a_subclassed_float64_model_trains_in_float64_and_evaluates_from_its_logits():
    """dtype='float64' with floatx float32: the compiled loss still computes in the model's float64
    (as a Sequential's); and with a saturated softmax (probabilities below the 1e-7 clip) evaluate
    uses the logits, as fit and Keras do, not the clipped probabilities."""
    rng = np.random.default_rng(8)
    x, labels = rng.normal(size=(32, 5)) * 20, rng.integers(0, 3, 32)
    y = np.eye(3)[labels]
    sub = Saturated(dtype="float64")
    seq = ns.Sequential([L.Dense(8, activation="relu", seed=1, input_shape=(5,)), L.Dropout(0.5, seed=2),
                         L.Dense(3, activation="softmax", seed=3)], dtype="float64", seed=0)
    sub.rng = np.random.default_rng(0)
    for m in (sub, seq):
        m.compile(loss="categorical_crossentropy", optimizer=nn_opt.SGD(0.01))
    sub.fit(x, y, batch_size=8, epochs=2, verbose=0)
    seq.fit(x, y, batch_size=8, epochs=2, verbose=0)
    for a, b in zip(sub.get_weights(), seq.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert sub.predict(x, verbose=0).min() < 1e-7                      # saturated: the clip would bite
    assert sub.evaluate(x, y, verbose=0) == pytest.approx(seq.evaluate(x, y, verbose=0), rel=1e-12)


# ----------------------------------------------------------------------------- a book's "from scratch" loop
def _from_scratch_training(T, images, labels, start, steps=4, learning_rate=1e-2, batch_size=64):
    """The MNIST network as the books rebuild it "from scratch in TensorFlow" (a naive Dense with a
    tf.Variable kernel and bias, relu then softmax, sparse_categorical_crossentropy per sample, a
    GradientTape, w.assign_sub): the same text runs with T = nnscratch and T = tensorflow."""
    class NaiveDense:
        def __init__(self, W, b, activation):
            self.W, self.b, self.activation = T.Variable(W), T.Variable(b), activation

        def __call__(self, inputs):
            return self.activation(T.matmul(inputs, self.W) + self.b)

    layers = [NaiveDense(start[0], start[1], T.nn.relu), NaiveDense(start[2], start[3], T.nn.softmax)]
    weights = [w for layer in layers for w in (layer.W, layer.b)]
    losses_seen = []
    for step in range(steps):
        x = images[step * batch_size:(step + 1) * batch_size]
        y = labels[step * batch_size:(step + 1) * batch_size]
        with T.GradientTape() as tape:
            predictions = layers[1](layers[0](x))
            per_sample = T.keras.losses.sparse_categorical_crossentropy(y, predictions)
            average_loss = T.reduce_mean(per_sample)
        gradients = tape.gradient(average_loss, weights)
        for g, w in zip(gradients, weights):
            w.assign_sub(g * learning_rate)
        losses_seen.append(float(average_loss))
    return [w.numpy() for w in weights], losses_seen


def test_a_from_scratch_loop_as_the_books_write_it_runs_as_in_tensorflow(mnist_data):
    """float32, real MNIST: the same weights and losses as TensorFlow after every step, to float32's
    rounding (the softmax is TensorFlow's tf.nn.softmax: no logits shortcut on either side)."""
    X, _, _, _, labels, _ = mnist_data
    rng = np.random.default_rng(0)
    start = [rng.uniform(0, 0.1, (784, 64)).astype(np.float32), np.zeros(64, np.float32),
             rng.uniform(0, 0.1, (64, 10)).astype(np.float32), np.zeros(10, np.float32)]
    ours, our_losses = _from_scratch_training(ns, X, labels, start)
    theirs, their_losses = _from_scratch_training(tf, X, labels, start)
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-5)
    assert our_losses[-1] < our_losses[0]
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def _top_margin_ours(y_true, y_pred):
    """A metric of your own, written with the tape's operations: the probability the true class gets
    beyond the mean probability, per sample."""
    return ns.reduce_sum(y_true * y_pred, axis=-1) - ns.reduce_mean(y_pred, axis=-1)


def _top_margin_keras(y_true, y_pred):
    return keras.ops.sum(y_true * y_pred, axis=-1) - keras.ops.mean(y_pred, axis=-1)


def test_a_metric_function_of_your_own_works_in_fit_as_in_keras(float64):
    x, y = _batches(48, d=20, seed=5)
    nn = ns.Sequential([L.Dense(8, activation="tanh", input_shape=(20,), seed=1), L.Dense(10, activation="softmax", seed=2)])
    nn.compile(loss=_mse_ours, optimizer="sgd", metrics=[_top_margin_ours])
    km = kr.keras_twin(nn, compile=False)
    optimizer = keras.optimizers.SGD()
    with kr.keras_floatx("float64"):
        km.compile(loss=_mse_keras, optimizer=optimizer, metrics=[_top_margin_keras])
        k_history = km.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    history = nn.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(history["_top_margin_ours"], k_history["_top_margin_keras"], rtol=1e-10)
    np.testing.assert_allclose(history["loss"], k_history["loss"], rtol=1e-10)
