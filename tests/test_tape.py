"""The tape itself (``nnscratch/tape.py``): what it records, what ``gradient`` returns, and the values
it works on, each behaviour as TensorFlow's ``GradientTape`` has it (checked live where TensorFlow
decides something: None for an unconnected source, watched variables, nested structures).
Also ``tf.data`` (``nnscratch/data.py``) and ``@tf.function``.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tensorflow as tf  # noqa: E402

import nnscratch as ns  # noqa: E402
from nnscratch import tape as tape_module  # noqa: E402


def both(fn):
    """``fn(T)`` with T = nnscratch and T = tensorflow; each returns a structure of gradients."""
    return fn(ns), fn(tf)


def _arrays(structure):
    return [None if g is None else np.asarray(g) for g in ns.tape._flatten(structure)]


# ----------------------------------------------------------------------------- gradient()
def test_gradients_add_where_a_value_is_used_twice():
    x = ns.Variable(3.0)
    with ns.GradientTape() as tape:
        y = x * x + x                                   # dy/dx = 2x + 1: three uses of x
    assert float(tape.gradient(y, x)) == 7.0
    with ns.GradientTape() as tape:
        h = x * 2.0
        y = h * h                                       # h used twice: 2h * 2 = 24
    assert float(tape.gradient(y, x)) == 24.0


def test_unconnected_sources_get_none_or_zeros_as_in_tensorflow():
    def grads(T, zero=False):
        a, b = T.Variable(2.0), T.Variable([1.0, 2.0])
        with T.GradientTape() as tape:
            y = a * 3.0
        kw = {"unconnected_gradients": "zero"} if zero else {}
        return tape.gradient(y, [a, b], **kw)
    ours, theirs = both(grads)
    assert float(ours[0]) == float(theirs[0]) == 3.0 and ours[1] is None and theirs[1] is None
    ours, theirs = both(lambda T: grads(T, zero=True))
    np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())


def test_sources_in_a_nested_structure_come_back_in_that_structure():
    def grads(T):
        v, w = T.Variable(1.0), T.Variable([2.0, 3.0])
        with T.GradientTape() as tape:
            y = v * 2.0 + T.reduce_sum(w * w)
        return tape.gradient(y, {"a": [v, w], "b": (v,)})
    ours, theirs = both(grads)
    assert isinstance(ours, dict) and isinstance(ours["a"], list) and isinstance(ours["b"], tuple)
    for a, b in zip(_arrays(ours), _arrays(theirs)):
        np.testing.assert_array_equal(a, b)


def test_constants_are_watched_only_when_asked_and_variables_unless_not_trainable():
    def grads(T):
        c, frozen, v = T.constant(3.0), T.Variable(2.0, trainable=False), T.Variable(1.0)
        with T.GradientTape() as tape:
            y = c * frozen * v
        first = tape.gradient(y, [c, frozen, v])
        with T.GradientTape() as tape:
            tape.watch([c, frozen])
            y = c * frozen * v
        return first + tape.gradient(y, [c, frozen, v])
    ours, theirs = both(grads)
    assert [g is None for g in ours] == [g is None for g in theirs] == [True, True, False, False, False, False]
    for a, b in zip(_arrays(ours), _arrays(theirs)):
        if a is not None:
            np.testing.assert_array_equal(a, b)


def test_watch_accessed_variables_false_watches_only_what_is_watched():
    v, w = ns.Variable(1.0), ns.Variable(2.0)
    with ns.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(w)
        y = v * w
    g = tape.gradient(y, [v, w])
    assert g[0] is None and float(g[1]) == 1.0
    assert tape.watched_variables() == [w] or all(a is b for a, b in zip(tape.watched_variables(), [w]))


def test_a_non_persistent_tape_gives_one_set_of_gradients():
    x = ns.Variable(2.0)
    with ns.GradientTape() as tape:
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, x)
    with ns.GradientTape(persistent=True) as tape:
        y = x * x
        z = y * y
    assert float(tape.gradient(z, x)) == 32.0 and float(tape.gradient(y, x)) == 4.0


def test_a_gradient_taken_inside_the_tape_s_block_ends_its_record():
    """As in TensorFlow, a non-persistent tape may give its gradient inside its own block; the
    operations after it are simply not recorded (no error)."""
    x = ns.Variable(2.0)
    with ns.GradientTape() as tape:
        y = x * x
        assert float(tape.gradient(y, x)) == 4.0
        z = y * 3.0
    assert float(z) == 12.0


def test_stop_gradient_and_stop_recording():
    x = ns.Variable(2.0)
    with ns.GradientTape() as tape:
        y = x * ns.stop_gradient(x)
    assert float(tape.gradient(y, x)) == 2.0           # only the first factor is differentiated
    with ns.GradientTape() as tape:
        with tape.stop_recording():
            y = x * x
    assert tape.gradient(y, x) is None


def test_integer_sources_get_none_and_casts_to_integers_stop_the_gradient():
    def grads(T):
        i, x = T.constant(2), T.Variable(1.5)
        with T.GradientTape() as tape:
            tape.watch(i)
            y = T.cast(i * i, T.float32) * x + T.cast(T.cast(x, T.int32), T.float32)
        return tape.gradient(y, [i, x])
    ours, theirs = both(grads)
    assert ours[0] is None and theirs[0] is None and float(ours[1]) == float(theirs[1]) == 4.0


def test_a_non_scalar_target_is_summed_or_weighted_by_output_gradients():
    def grads(T):
        x = T.Variable([1.0, 2.0, 3.0])
        with T.GradientTape(persistent=True) as tape:
            y = x * x
        return [tape.gradient(y, x), tape.gradient(y, x, output_gradients=T.constant([1.0, 0.0, 2.0])),
                tape.gradient([y, x], x)]
    ours, theirs = both(grads)
    for a, b in zip(_arrays(ours), _arrays(theirs)):
        np.testing.assert_array_equal(a, b)


def test_second_derivatives_are_refused_with_a_clear_error():
    x = ns.Variable(3.0)
    with ns.GradientTape() as outer:
        with ns.GradientTape() as inner:
            y = x * x
        with pytest.raises(ns.NotImplementedInNnscratch, match="second derivative"):
            inner.gradient(y, x)
    with ns.GradientTape() as outer:
        with ns.GradientTape() as inner:
            y = x * x
        with outer.stop_recording():
            assert float(inner.gradient(y, x)) == 6.0


def test_nothing_is_recorded_when_no_tape_is_open():
    """An operation with no open tape stores nothing (its record call returns at once)."""
    assert tape_module._open_tapes() == ()
    x = ns.Variable(np.ones((2, 2)))
    with ns.GradientTape() as tape:
        pass
    y = ns.matmul(x, x)
    assert tape._records == [] and not ns.tape.is_recorded(y)
    with ns.GradientTape() as tape:
        ns.matmul(ns.constant(np.ones((2, 2))), ns.constant(np.ones((2, 2))))   # nothing watched
        ns.matmul(x, x)
    assert len(tape._records) == 1


def test_a_mixed_dtype_operation_is_refused_as_tensorflow_refuses_it():
    a, b = ns.constant(1.0), ns.constant(np.float64(1.0))
    with pytest.raises(TypeError, match="tf.cast"):
        a + b
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.constant(1.0) + tf.constant(1.0, tf.float64)
    assert (a + np.float64(2.0)).dtype == np.float32 == (tf.constant(1.0) + np.float64(2.0)).dtype
    assert (ns.constant(np.array([1.0])) * 0.1).numpy()[0] == np.float64(0.1)    # 0.1 exactly, not float32(0.1)
    assert ns.constant(0.1, dtype=ns.float64).numpy() == 0.1 == ns.Variable(0.1, dtype="float64").numpy()


# ----------------------------------------------------------------------------- values
def test_tensor_values_behave_like_tensorflow_s():
    t, tt = ns.constant([[1.0, 2.0], [3.0, 4.0]]), tf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert t.dtype == tt.dtype and t.dtype == ns.float32 and t.shape == tuple(tt.shape) and t.ndim == 2
    assert len(t) == 2 and [r.numpy().tolist() for r in t] == [r.numpy().tolist() for r in tt]
    loss = ns.reduce_mean(t)
    assert f"{loss:.2f}" == f"{tf.reduce_mean(tt):.2f}" == "2.50" and float(loss) == 2.5
    assert type(loss.numpy()) is np.float32
    np.testing.assert_array_equal((t[:, 1:] > 2.0).numpy(), (tt[:, 1:] > 2.0).numpy())
    assert (t == None) is False and (t != None) is True      # noqa: E711  (as in TensorFlow)
    with pytest.raises(TypeError):
        hash(t)
    with pytest.raises(TypeError):
        len(ns.constant(1.0))
    with pytest.raises(ValueError):
        bool(t)
    assert ns.constant(1).dtype == ns.int32 and ns.constant(np.arange(2)).dtype == np.int64
    assert "shape=(2, 2)" in repr(t) and "dtype=float32" in str(t)
    np.testing.assert_array_equal(np.exp(t), np.exp(tt))       # NumPy's functions read it (not recorded)


def test_variable_assign_and_numpy_copy():
    v = ns.Variable([1.0, 2.0], name="w")
    before = v.numpy()
    assert v.assign([3.0, 4.0]) is v and v.assign_add([1.0, 1.0]) is v
    v.assign_sub(ns.constant([0.5, 0.5]))
    np.testing.assert_array_equal(v.numpy(), [3.5, 4.5])
    np.testing.assert_array_equal(before, [1.0, 2.0])          # numpy() was a copy, as in TensorFlow
    assert v.dtype == np.float32 and v.shape == (2,) and v.trainable and v.name == "w"
    with pytest.raises(ValueError, match="shape"):
        v.assign([1.0, 2.0, 3.0])
    assert float(ns.Variable(2.0) + 1) == 3.0 and isinstance(ns.Variable(2.0) * 2, ns.Tensor)
    snapshot = v.value()
    v.assign([0.0, 0.0])
    np.testing.assert_array_equal(snapshot.numpy(), [3.5, 4.5])
    with pytest.raises(ValueError, match="initial_value"):
        ns.Variable()


def test_indexing_and_iteration_are_recorded():
    x = ns.Variable(np.arange(6.0).reshape(2, 3))
    with ns.GradientTape() as tape:
        y = x[0, 1] * 2.0 + ns.reduce_sum(x[:, 1:]) + sum(ns.reduce_sum(row) for row in x)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [[1, 4, 2], [1, 2, 2]])


def test_set_floatx_makes_float64_the_default_of_layers_and_losses():
    ns.keras.backend.set_floatx("float64")
    try:
        assert ns.keras.backend.floatx() == "float64"
        assert ns.keras.losses.CategoricalCrossentropy().dtype == np.float64
    finally:
        ns.keras.backend.set_floatx("float32")
    with pytest.raises(ValueError, match="float32"):
        ns.keras.backend.set_floatx("float16")


def test_function_is_a_documented_pass_through():
    def f(x):
        return x * 2

    assert ns.function(f) is f and ns.function(jit_compile=True)(f) is f


def test_unimplemented_tensorflow_names_raise_naming_them():
    for getter, name in ((lambda: ns.log, "tf.log"), (lambda: ns.nn.conv2d, "tf.nn.conv2d"),
                         (lambda: ns.math.cumsum, "tf.math.cumsum"), (lambda: ns.random.gamma, "tf.random.gamma")):
        with pytest.raises(ns.NotImplementedInNnscratch, match=name.replace(".", r"\.")):
            getter()
    with pytest.raises(ns.NotImplementedInNnscratch, match="jacobian"):
        ns.GradientTape().jacobian(None, None)


# ----------------------------------------------------------------------------- tf.data
def test_dataset_slices_shuffles_and_batches_as_the_tutorials_use_it():
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    ds = ns.data.Dataset.from_tensor_slices((x, y)).shuffle(10, seed=3).batch(4)
    assert len(ds) == 3
    first = [(a.numpy(), b.numpy()) for a, b in ds]
    assert [len(b) for _, b in first] == [4, 4, 2]
    labels = np.concatenate([b for _, b in first])
    assert sorted(labels) == list(range(10)) and list(labels) != list(range(10))
    for a, b in first:
        np.testing.assert_array_equal(a, x[b])                  # rows stay together
    second = [b.numpy() for _, b in ds]
    assert any(not np.array_equal(p[1], q) for p, q in zip(first, second))   # a new order each pass
    again = [b.numpy() for _, b in ns.data.Dataset.from_tensor_slices((x, y)).shuffle(10, seed=3).batch(4)]
    assert all(np.array_equal(p[1], q) for p, q in zip(first, again))         # the seed repeats it
    fixed = ns.data.Dataset.from_tensor_slices(y).shuffle(10, seed=1, reshuffle_each_iteration=False)
    assert [int(v) for v in fixed] == [int(v) for v in fixed]
    assert [len(b) for b in ns.data.Dataset.from_tensor_slices(y).batch(4, drop_remainder=True)] == [4, 4]


def test_a_small_shuffle_buffer_moves_elements_only_so_far_as_tensorflow_s_does():
    """With a buffer of b elements, the element emitted at position k is one of the first k + b."""
    n, b = 200, 10
    order = [int(v) for v in ns.data.Dataset.from_tensor_slices(np.arange(n)).shuffle(b, seed=0)]
    assert sorted(order) == list(range(n))
    assert all(v < k + b for k, v in enumerate(order))
    assert order != list(range(n))
    theirs = [int(v) for v in tf.data.Dataset.from_tensor_slices(np.arange(n)).shuffle(b, seed=0)]
    assert all(v < k + b for k, v in enumerate(theirs))        # the same rule holds for TensorFlow


def test_dataset_map_take_skip_repeat_and_structures():
    ds = ns.data.Dataset.from_tensor_slices({"a": np.arange(5.0), "b": np.arange(5)})
    first = next(iter(ds))
    assert set(first) == {"a", "b"} and isinstance(first["a"], ns.Tensor)
    doubled = [float(v) for v in ns.data.Dataset.from_tensor_slices(np.arange(5.0)).map(lambda v: v * 2).skip(1).take(2)]
    assert doubled == [2.0, 4.0]
    pairs = ns.data.Dataset.from_tensor_slices((np.arange(4.0), np.arange(4))).map(lambda a, b: (a + 1, b)).batch(3)
    assert [p.numpy().tolist() for p, _ in pairs] == [[1.0, 2.0, 3.0], [4.0]]
    assert len(list(ns.data.Dataset.from_tensor_slices(np.arange(3)).repeat(2))) == 6
    forever = iter(ns.data.Dataset.from_tensor_slices(np.arange(3)).repeat().batch(2))
    assert [next(forever).numpy().tolist() for _ in range(3)] == [[0, 1], [2, 0], [1, 2]]
    with pytest.raises(ValueError, match="rows"):
        ns.data.Dataset.from_tensor_slices((np.arange(3), np.arange(4)))
    with pytest.raises(ns.NotImplementedInNnscratch, match="interleave"):
        ds.interleave
