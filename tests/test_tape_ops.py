"""Every operation of the tape against TensorFlow's own ``GradientTape``, in float64.

For each operation ``y = op(x1, x2, ...)`` both libraries compute ``L = sum(y * R)`` (``R`` a fixed
random array, so every element of ``y`` gets its own upstream gradient) and ``dL/dx_i``; the values
and every gradient must agree to 1e-10 relative (``max|ours - tf| <= 1e-10 * max(1, max|tf|)``).
Broadcasting shapes, ties at kinks (``maximum``, ``reduce_max``, ``clip_by_value``'s bounds) and
repeated indices (``gather``) are included: there TensorFlow's conventions are the ones to match.
Random compositions of the operations are drawn by hypothesis and run, as the same program text,
once with ``import nnscratch as T`` and once with ``import tensorflow as T``.  Each operation also
passes nnscratch's finite-difference check (``gradcheck.check_function``).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import nnscratch as ns  # noqa: E402
from nnscratch import gradcheck  # noqa: E402

TOL = 1e-10


def close(ours, theirs, tol=TOL):
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    same = (ours == theirs) | (np.isnan(ours) & np.isnan(theirs))   # infinities (sqrt'(0)) and NaNs alike
    ours, theirs = np.where(same, 0, ours), np.where(same, 0, theirs)
    scale = max(1.0, float(np.max(np.abs(theirs)))) if theirs.size else 1.0
    diff = float(np.max(np.abs(ours - theirs))) if theirs.size else 0.0
    assert diff <= tol * scale, f"max |diff| {diff:.3e} > {tol:g} * {scale:.3g}"


def _dense(g):
    return None if g is None else tf.convert_to_tensor(g).numpy()    # gather's IndexedSlices -> dense


def against_tensorflow(op, *arrays, check_numeric=True):
    """Run ``op(T, *xs)`` with T = nnscratch and with T = tensorflow on Variables holding ``arrays``
    (float64), and compare the value and ``d sum(y * R) / d x`` for every input."""
    rng = np.random.default_rng(len(arrays))
    ours = [ns.Variable(a, name=f"x{i}") for i, a in enumerate(arrays)]
    theirs = [tf.Variable(a) for a in arrays]
    with ns.GradientTape() as tape:
        y = op(ns, *ours)
        R = rng.standard_normal(y.shape)
        loss = ns.reduce_sum(y * R)
    g_ours = tape.gradient(loss, ours)
    with tf.GradientTape() as ttape:
        ty = op(tf, *theirs)
        tloss = tf.reduce_sum(ty * R)
    g_theirs = ttape.gradient(tloss, theirs)
    close(y.numpy(), ty.numpy())
    for a, b in zip(g_ours, g_theirs):
        assert (a is None) == (b is None), (a, b)
        if a is not None:
            close(a.numpy(), _dense(b))
    if check_numeric and any(g is not None for g in g_ours):
        report = gradcheck.check_function(lambda *xs: ns.reduce_sum(op(ns, *xs) * R), ours, max_entries=40)
        assert report.passed, str(report)
    return y, g_ours


def data(*shape, low=-1.0, high=1.0, seed=0):
    return np.random.default_rng(seed + sum(shape)).uniform(low, high, shape)


POS = dict(low=0.5, high=2.0)
BROADCAST = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((3, 4), ())]


# ----------------------------------------------------------------------------- arithmetic
@pytest.mark.parametrize("shapes", BROADCAST, ids=str)
@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "divide", "pow", "maximum", "minimum"])
def test_binary_operations_with_broadcasting(name, shapes):
    a = data(*shapes[0], **(POS if name == "pow" else {}))
    b = data(*shapes[1], seed=1, **(POS if name == "divide" else {}))
    against_tensorflow(lambda T, x, y: getattr(T, name)(x, y), a, b)


@pytest.mark.parametrize("expression", [
    lambda T, x, y: x + y * 2.0 - x / (y * y + 1.0),
    lambda T, x, y: -x ** 2.0 + 3.0 ** (x * 0.5) - abs(y),
    lambda T, x, y: x * x * x,                                      # x used three times: the gradients add
    lambda T, x, y: (x - y) @ T.transpose(y) + 1.0,
    lambda T, x, y: x % 0.7,
], ids=["mixed", "pow-neg-abs", "cube", "matmul-operator", "mod"])
def test_python_operators(expression):
    against_tensorflow(expression, data(3, 4), data(3, 4, seed=2))


@pytest.mark.parametrize("shapes,kw", [(((3, 4), (4, 5)), {}), (((2, 3, 4), (4, 5)), {}),
                                       (((2, 3, 4), (2, 4, 5)), {}), (((4, 3), (4, 5)), {"transpose_a": True}),
                                       (((3, 4), (5, 4)), {"transpose_b": True})], ids=str)
def test_matmul(shapes, kw):
    against_tensorflow(lambda T, a, b: T.matmul(a, b, **kw), data(*shapes[0]), data(*shapes[1], seed=3))


# ----------------------------------------------------------------------------- element-wise
@pytest.mark.parametrize("name,domain", [
    ("exp", {}), ("math.log", POS), ("sqrt", POS), ("square", {}), ("abs", {}), ("tanh", {}),
    ("sigmoid", {}), ("nn.relu", {}), ("nn.softmax", {}), ("nn.log_softmax", {}), ("math.reduce_logsumexp", {}),
])
def test_unary_operations(name, domain):
    def op(T, x):
        f = T
        for part in name.split("."):
            f = getattr(f, part)
        return f(x)
    against_tensorflow(op, data(3, 5, **domain) * (3 if not domain else 1))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_and_log_softmax_along_an_axis(axis):
    against_tensorflow(lambda T, x: T.nn.softmax(x, axis=axis) * T.nn.log_softmax(x, axis=axis), data(2, 3, 4))


def test_kinks_follow_tensorflow_s_conventions():
    """At the kinks TensorFlow chooses a side: relu'(0) = 0, abs'(0) = 0, maximum and minimum give a tie
    to their first argument, clip_by_value passes the gradient at its bounds, sqrt'(0) is infinite."""
    x = np.array([[-1.0, 0.0, 0.5, 2.0, 3.0]])
    against_tensorflow(lambda T, x: T.nn.relu(x) + T.abs(x) + T.maximum(x, 0.5) + T.minimum(x, 2.0)
                       + T.clip_by_value(x, 0.5, 2.0), x, check_numeric=False)
    _, (g,) = against_tensorflow(lambda T, x: T.sqrt(x), np.array([0.0, 1.0]), check_numeric=False)
    assert np.isinf(g.numpy()[0])
    against_tensorflow(lambda T, x, y: T.pow(x, y), np.array([0.0, 2.0]), np.array([2.0, 3.0]), check_numeric=False)


def test_where_and_clip_by_value():
    a, b = data(3, 4), data(3, 4, seed=5)
    against_tensorflow(lambda T, x, y: T.where(x > y, x * 2.0, y), a, b)
    against_tensorflow(lambda T, x, lo, hi: T.clip_by_value(x, lo, hi), a * 3, -np.ones((3, 4)), np.full((3, 4), 0.5))


# ----------------------------------------------------------------------------- reductions
@pytest.mark.parametrize("name", ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_logsumexp"])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), ((0, 2), False), (-1, True)])
def test_reductions(name, axis, keepdims):
    against_tensorflow(lambda T, x: getattr(T.math, name)(x, axis=axis, keepdims=keepdims), data(2, 3, 4))


@pytest.mark.parametrize("name", ["reduce_max", "reduce_min"])
def test_reduce_max_shares_the_gradient_among_ties(name):
    """TensorFlow splits the gradient equally among tied maxima; so does nnscratch."""
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    _, (g,) = against_tensorflow(lambda T, x: getattr(T, name)(x, axis=1), x, check_numeric=False)
    against_tensorflow(lambda T, x: getattr(T, name)(x), x, check_numeric=False)


# ----------------------------------------------------------------------------- moving numbers
@pytest.mark.parametrize("op", [
    lambda T, x: T.reshape(x, (4, -1)),
    lambda T, x: T.transpose(x, (2, 0, 1)),
    lambda T, x: T.transpose(x),
    lambda T, x: T.expand_dims(x, 1) * 2.0,
    lambda T, x: T.squeeze(T.expand_dims(x, -1)),
    lambda T, x: T.concat([x, x * 2.0, x[:, :1]], axis=1),
    lambda T, x: T.stack([x, -x], axis=1),
    lambda T, x: T.gather(x, [2, 0, 2, 2], axis=2),                # repeated indices add up
    lambda T, x: T.gather(x, [[1, 0], [1, 1]], axis=1),
    lambda T, x: x[0] + x[1, :, 1:2],
    lambda T, x: x[:, 1:, ::2] * x[:, 1:, :1],
    lambda T, x: x[1, T.newaxis, :, 3],
    lambda T, x: T.cast(T.cast(x, T.float32), T.float64) + x,
    lambda T, x: T.identity(x) * T.stop_gradient(x),
    lambda T, x: T.unstack(x, axis=1)[2] * 3.0,
], ids=["reshape", "transpose-perm", "transpose", "expand_dims", "squeeze", "concat", "stack", "gather",
        "gather-2d", "index", "slices", "newaxis", "cast", "stop_gradient", "unstack"])
def test_operations_that_move_numbers(op, request):
    # float32 rounding (cast) and a stopped gradient (stop_gradient) are what finite differences cannot see
    numeric = not any(k in request.node.name for k in ("cast", "stop_gradient"))
    against_tensorflow(op, data(2, 3, 4), check_numeric=numeric)


def test_making_tensors_and_reading_shapes():
    for name in ("zeros", "ones"):
        a, b = getattr(ns, name)((2, 3)), getattr(tf, name)((2, 3))
        assert a.dtype == b.dtype.as_numpy_dtype and a.shape == tuple(b.shape)
    np.testing.assert_array_equal(ns.shape(np.zeros((2, 5))).numpy(), tf.shape(np.zeros((2, 5))).numpy())
    assert ns.shape(np.zeros((2, 5))).dtype == np.int32
    np.testing.assert_array_equal(ns.one_hot([0, 2, 1], 3).numpy(), tf.one_hot([0, 2, 1], 3).numpy())
    assert ns.one_hot([0, 2], 3).dtype == np.float32
    np.testing.assert_array_equal(ns.range(1, 10, 3).numpy(), tf.range(1, 10, 3).numpy())
    assert ns.range(5).dtype == tf.range(5).dtype.as_numpy_dtype
    np.testing.assert_array_equal(ns.argmax(data(3, 4)).numpy(), tf.argmax(data(3, 4)).numpy())
    np.testing.assert_array_equal(ns.zeros_like(data(2, 2)).numpy(), tf.zeros_like(data(2, 2)).numpy())


def test_random_tensors_have_the_asked_distribution_and_repeat_with_a_seed():
    ns.random.set_seed(3)
    u, n = ns.random.uniform((20000,), 2.0, 5.0), ns.random.normal((20000,), mean=1.0, stddev=2.0)
    assert u.dtype == np.float32 and 2.0 <= u.numpy().min() and u.numpy().max() < 5.0
    assert abs(u.numpy().mean() - 3.5) < 0.05 and abs(n.numpy().mean() - 1.0) < 0.06
    assert abs(n.numpy().std() - 2.0) < 0.06
    ns.random.set_seed(3)
    np.testing.assert_array_equal(ns.random.uniform((20000,), 2.0, 5.0).numpy(), u.numpy())
    k = ns.random.uniform((1000,), 0, 10, dtype=ns.int32)
    assert k.dtype == np.int32 and set(np.unique(k.numpy())) == set(range(10))
    with pytest.raises(ValueError, match="maxval"):
        ns.random.uniform((3,), dtype=ns.int32)


# ----------------------------------------------------------------------------- the losses as functions
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_categorical_crossentropy_per_sample(from_logits, label_smoothing):
    y = np.eye(5)[[0, 3, 1, 4]]
    z = data(4, 5) * 3 if from_logits else data(4, 5, low=0.01, high=1.0)

    def op(T, p):
        K = keras if T is tf else ns.keras
        return K.losses.categorical_crossentropy(y, p, from_logits=from_logits, label_smoothing=label_smoothing)
    y_ours, _ = against_tensorflow(op, z)
    assert y_ours.shape == (4,)                                       # one loss per sample, as Keras


@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_categorical_crossentropy_per_sample(from_logits):
    labels = np.array([0, 3, 1, 4])
    z = data(4, 5) * 3 if from_logits else data(4, 5, low=0.01, high=1.0)

    def op(T, p):
        K = keras if T is tf else ns.keras
        return K.losses.sparse_categorical_crossentropy(labels, p, from_logits=from_logits)
    against_tensorflow(op, z)


def test_clipped_probabilities_get_no_gradient_as_in_tensorflow():
    p = np.array([[1e-9, 0.5, 0.5 - 1e-9], [1.0, 1e-12, 1e-12]])
    y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    for K in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        target = y if K.startswith("cat") else y.argmax(1)
        against_tensorflow(lambda T, p: getattr((keras if T is tf else ns.keras).losses, K)(target, p), p,
                           check_numeric=False)


def test_the_fused_cross_entropies_of_tf_nn():
    y, labels = np.eye(4)[[1, 0, 3]], np.array([1, 0, 3])
    against_tensorflow(lambda T, y, z: T.nn.softmax_cross_entropy_with_logits(y, z), y, data(3, 4))
    against_tensorflow(lambda T, z: T.nn.sparse_softmax_cross_entropy_with_logits(labels, z), data(3, 4))


def test_a_keras_softmax_output_gives_its_logits_to_the_cross_entropy():
    """Keras's softmax remembers its input; the cross-entropy of its output uses the fused form on it
    (not the clipped probabilities), on both sides.  tf.nn.softmax does not remember."""
    y = np.eye(3)[[0, 2]]
    z = np.array([[30.0, 0.0, -30.0], [0.0, 1.0, 40.0]])          # saturated: the clipped form would differ

    def keras_softmax(T, z):
        K = keras if T is tf else ns.keras
        return K.losses.categorical_crossentropy(y, K.ops.softmax(z))
    loss, (g,) = against_tensorflow(keras_softmax, z, check_numeric=False)
    assert loss.numpy()[0] < 1e-12                                # the clip would have given 1e-7
    plain, _ = against_tensorflow(lambda T, z: (keras if T is tf else ns.keras).losses.categorical_crossentropy(
        y, T.nn.softmax(z)), z, check_numeric=False)
    assert plain.numpy()[0] == pytest.approx(-np.log1p(-1e-7), rel=1e-6)


def test_keras_ops_names():
    x = data(3, 4)
    K = ns.keras.ops
    close(K.sum(x, axis=1).numpy(), keras.ops.sum(x, axis=1))
    close(K.mean(x).numpy(), keras.ops.mean(x))
    close(K.take(x, [0, 5]).numpy(), keras.ops.take(x, [0, 5]))
    close(K.clip(x, -0.1, 0.2).numpy(), keras.ops.clip(x, -0.1, 0.2))
    close(K.concatenate([x, x], axis=0).numpy(), keras.ops.concatenate([x, x], axis=0))
    assert K.shape(x) == (3, 4) and int(K.argmax(x)) == int(keras.ops.argmax(x))
    close(K.add(x.astype(np.float32), x).numpy(), keras.ops.add(x.astype(np.float32), x))   # promoted
    assert K.add(x.astype(np.float32), x).dtype == np.float64


# ----------------------------------------------------------------------------- random compositions
_UNARY = [
    lambda T, a: T.tanh(a), lambda T, a: T.sigmoid(a), lambda T, a: T.exp(T.tanh(a)),
    lambda T, a: T.math.log(a * a + 1.0), lambda T, a: T.sqrt(a * a + 0.5), lambda T, a: T.square(a),
    lambda T, a: T.abs(a), lambda T, a: T.nn.relu(a), lambda T, a: -a, lambda T, a: a * 0.5 + 1.0,
    lambda T, a: T.clip_by_value(a, -0.5, 0.6),
]
_BINARY = [
    lambda T, a, b: a + b, lambda T, a, b: a - b, lambda T, a, b: a * b,
    lambda T, a, b: a / (b * b + 1.0), lambda T, a, b: T.maximum(a, b), lambda T, a, b: T.minimum(a, b),
    lambda T, a, b: T.where(a > b, a, b * 2.0),
]


def _reduce(T, a, kind, axis, keepdims):
    f = [T.reduce_sum, T.reduce_mean, T.reduce_max, T.math.reduce_logsumexp][kind]
    return f(a, axis=axis, keepdims=keepdims)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_compositions_equal_tensorflow(draw):
    """A random program over four leaves of broadcastable shapes, each step an operation on earlier
    values (a value may be used many times: its gradients add); L sums every value made."""
    shapes = [(3, 4), (4,), (3, 1), ()]
    leaves = [np.round(np.random.default_rng(i).uniform(-1, 1, s), 3) + 0.0005 for i, s in enumerate(shapes)]
    program = []
    values_shapes = list(shapes)
    for _ in range(draw.draw(st.integers(2, 9), label="steps")):
        kind = draw.draw(st.sampled_from(["unary", "binary", "reduce", "softmax", "matmul", "index"]))
        i = draw.draw(st.integers(0, len(values_shapes) - 1))
        si = values_shapes[i]
        if kind == "unary":
            program.append(("unary", draw.draw(st.integers(0, len(_UNARY) - 1)), i))
            values_shapes.append(si)
        elif kind == "binary":
            j = draw.draw(st.integers(0, len(values_shapes) - 1))
            try:
                shape = np.broadcast_shapes(si, values_shapes[j])
            except ValueError:
                continue
            program.append(("binary", draw.draw(st.integers(0, len(_BINARY) - 1)), i, j))
            values_shapes.append(shape)
        elif kind == "reduce" and si:
            axis = draw.draw(st.sampled_from([None] + list(range(len(si)))))
            keepdims = draw.draw(st.booleans())
            program.append(("reduce", draw.draw(st.integers(0, 3)), i, axis, keepdims))
            values_shapes.append(tuple(np.sum(np.zeros(si), axis=axis, keepdims=keepdims).shape))
        elif kind == "softmax" and si:
            program.append(("softmax", i))
            values_shapes.append(si)
        elif kind == "matmul" and len(si) == 2:
            j = draw.draw(st.sampled_from([k for k, s in enumerate(values_shapes) if len(s) == 2 and s[1] == si[1]]))
            program.append(("matmul", i, j))
            values_shapes.append((si[0], values_shapes[j][0]))
        elif kind == "index" and si and si[0] > 1:
            program.append(("index", i))
            values_shapes.append((si[0] - 1,) + si[1:])

    def run(T, *xs):
        values = list(xs)
        for step in program:
            if step[0] == "unary":
                values.append(_UNARY[step[1]](T, values[step[2]]))
            elif step[0] == "binary":
                values.append(_BINARY[step[1]](T, values[step[2]], values[step[3]]))
            elif step[0] == "reduce":
                values.append(_reduce(T, values[step[2]], step[1], step[3], step[4]))
            elif step[0] == "softmax":
                values.append(T.nn.softmax(values[step[1]]))
            elif step[0] == "matmul":
                values.append(T.matmul(values[step[1]], values[step[2]], transpose_b=True))
            else:
                values.append(values[step[1]][1:])
        return sum(T.reduce_sum(v * (k + 1.0)) for k, v in enumerate(values[len(xs):])) + T.reduce_sum(values[0])
    against_tensorflow(run, *leaves, check_numeric=False)
