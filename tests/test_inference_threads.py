"""Inference split over rows (``engine/inference.py``, ``engine/threads.split``): ``predict``,
``evaluate`` and ``model(x)`` deal their rows out to several threads, each running the model's own
``forward`` on a replica with its own work arrays.  These tests force the split on small inputs (3 threads, a few rows
each) and check it gives what one thread gives, shares no buffer, sees the weights as they are now,
and leaves layers it cannot vouch for on one thread.

BLAS may group a row's sums differently for a different number of rows (batch size already does
that), so float32 results agree to rounding; float64 ones to 1e-12.
"""
import threading
import time

import numpy as np
import pytest

from nnscratch import backend, zoo
from nnscratch import layers as L
from nnscratch.conv import Conv2D, MaxPooling2D
from nnscratch.engine import inference, threads
from nnscratch.models import Sequential

THREADS = 3


@pytest.fixture
def split(monkeypatch):
    """Force the split: 3 threads from 8 rows on; record how many tasks each threads.split call got."""
    calls = []
    real = threads.split

    def spy(tasks):
        calls.append(len(tasks))
        return real(tasks)

    monkeypatch.setattr(threads, "MIN_ROWS_PER_THREAD", 8)
    monkeypatch.setattr(threads, "blas_threads", lambda: THREADS)
    monkeypatch.setattr(threads, "split", spy)
    with backend.use("numba"):
        yield calls


def one_thread(f):
    """``f()`` with the split switched off (every call on the calling thread)."""
    old = threads.MIN_ROWS_PER_THREAD
    threads.MIN_ROWS_PER_THREAD = 10 ** 12
    try:
        return np.array(f())
    finally:
        threads.MIN_ROWS_PER_THREAD = old


def mlp(dtype):
    m = Sequential([L.Dense(32, input_shape=(20,), seed=1), L.Activation("sigmoid"), L.Dropout(0.2, seed=2),
                    L.Dense(16, seed=3), L.Activation("relu"), L.Dense(5, seed=4), L.Activation("softmax")],
                   dtype=dtype)
    m.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return m


def nested(dtype):
    inner = Sequential([L.Dense(12, input_shape=(20,), activation="tanh", seed=5), L.Dense(5, seed=6)],
                       dtype=dtype)
    m = Sequential([inner, L.Softmax()], dtype=dtype)
    m.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    return m


def convnet(dtype):
    m = Sequential([Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1), seed=7), MaxPooling2D(2),
                    L.Flatten(), L.Dense(5, activation="sigmoid", seed=8)], dtype=dtype)
    m.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])   # no softmax head
    return m


def inputs(model, n=101, seed=0):
    return np.random.default_rng(seed).random((n,) + tuple(model.sample_shape))


def tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-7) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make", [mlp, nested, convnet])
def test_split_inference_equals_one_thread(split, make, dtype):
    m = make(dtype)
    x = inputs(m)
    for call, batches in ((lambda: m(x), 1), (lambda: m.predict(x, batch_size=7, verbose=0), 15)):
        expected = one_thread(call)
        split.clear()
        got = np.array(call())
        assert split == [THREADS], "the rows were not split over threads"
        assert got.shape == expected.shape == (len(x),) + tuple(m.output_shape)
        np.testing.assert_allclose(got, expected, **tolerance(dtype))
        if dtype == "float64":        # and they are the numpy backend's numbers, row for row
            with backend.use("numpy"):
                np.testing.assert_allclose(got, np.array(m.forward(x)), rtol=1e-12, atol=1e-14)


def targets(model, n, seed=1):
    labels = np.random.default_rng(seed).integers(0, 5, n)
    if model.loss == "sparse_categorical_crossentropy":
        return labels
    return np.eye(5)[labels]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make", [mlp, nested, convnet])
def test_split_evaluate_equals_one_thread(split, make, dtype):
    """evaluate: each thread adds up its own batches' losses and hits; the totals are summed in batch
    order, so they equal one loop's up to the rounding of the products."""
    m = make(dtype)
    x = inputs(m)
    y = targets(m, len(x))
    expected = one_thread(lambda: m.evaluate(x, y, batch_size=7, verbose=0))
    split.clear()
    got = m.evaluate(x, y, batch_size=7, verbose=0)
    assert split == [THREADS]
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-6 if dtype == "float32" else 1e-12)
    assert got[1] == expected[1]
    # and they are the readable code's: the batch-size-weighted mean of the per-batch losses, and
    # the fraction of rows whose largest output is the label
    with backend.use("numpy"):
        xs = x.astype(dtype)
        parts = [(float(m.loss_and_gradient(y[i:i + 7], m.forward(xs[i:i + 7]))[0]), len(xs[i:i + 7]))
                 for i in range(0, len(x), 7)]
        hits = np.count_nonzero(np.array(m.forward(xs)).argmax(axis=1) == (y.argmax(axis=1) if y.ndim == 2 else y))
    np.testing.assert_allclose(got[0], sum(l * k for l, k in parts) / len(x),
                               rtol=1e-5 if dtype == "float32" else 1e-12)
    assert got[1] == np.float32(hits / len(x))               # a metric is float32, as in Keras


def test_every_row_comes_from_its_own_input(split):
    """Rows must not be swapped or shared between threads: each output row is the forward pass of
    that row alone (a duplicate row gives the same output; distinct rows, distinct outputs)."""
    m = mlp("float64")
    x = inputs(m, n=64)
    x[40] = x[3]
    for p in (np.array(m(x)), np.array(m.predict(x, batch_size=5, verbose=0))):
        alone = np.concatenate([np.array(m.forward(x[i:i + 1])) for i in range(len(x))])
        np.testing.assert_allclose(p, alone, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(p[40], p[3])


def work_arrays(layer):
    return list(layer.__dict__.get("_work", {}).values())


def test_replicas_share_the_weights_and_own_their_work_arrays(split):
    m = mlp("float32")
    m(inputs(m))
    replicas = inference.replicas(m, THREADS - 1)
    assert len(m._replica_work) == THREADS - 1
    for replica in replicas:
        for mine, theirs in zip(m.layers, replica.layers):
            assert type(theirs) is type(mine) and theirs is not mine
            assert all(a is b for a, b in zip(mine.weights, theirs.weights))
            assert all(t is not b for t in work_arrays(theirs) for b in work_arrays(mine))
    buffers = [buf for replica in replicas for layer in replica.layers for buf in work_arrays(layer)]
    buffers += [buf for layer in m.layers for buf in work_arrays(layer)]
    assert len(buffers) > 2 * THREADS
    assert not any(np.shares_memory(a, b) for i, a in enumerate(buffers) for b in buffers[i + 1:])


def test_new_weights_are_used_by_every_thread(split):
    """Replicas are made afresh each call, so weights set (or trained) since the last call count."""
    m = mlp("float64")
    x = inputs(m)
    before = np.array(m.predict(x, verbose=0))
    m.set_weights([w * 0.5 for w in m.get_weights()])
    after = np.array(m.predict(x, verbose=0))
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, one_thread(lambda: m.predict(x, verbose=0)), rtol=1e-12, atol=1e-14)
    m.fit(x, np.eye(5)[np.arange(len(x)) % 5], epochs=1, verbose=0)
    np.testing.assert_allclose(m(x), one_thread(lambda: m(x)), rtol=1e-12, atol=1e-14)


class Doubler(L.Layer):
    """A layer of the user's own: it might keep state that threads would share, so it runs on one."""

    def forward(self, x, training=False):
        return 2 * x

    def backward(self, da, need_dx=True):
        return 2 * da


def test_a_layer_of_your_own_keeps_the_model_on_one_thread(split):
    m = Sequential([L.Dense(5, input_shape=(20,), seed=1), Doubler()])
    x = inputs(m)
    m(x)
    m.predict(x, verbose=0)
    assert split == [1, 1]
    assert m.__dict__.get("_replica_work", []) == []


def test_training_mode_and_the_numpy_backend_stay_on_one_thread(split):
    """The numpy backend runs the plain loops of training.py: the engine is never called."""
    m = mlp("float32")
    x = inputs(m)
    with backend.use("numpy"):
        m(x)
        m.predict(x, verbose=0)
        m.evaluate(x, np.eye(5)[np.arange(len(x)) % 5], verbose=0)
    assert split == []
    m(x, training=True)                       # dropout draws its masks in order: no split at all
    assert split == []


def test_the_default_policy_is_one_thread_per_blas_thread_and_enough_rows():
    cores = threads.blas_threads()
    assert threads.inference_threads(10_000) == max(1, min(cores, 10_000 // threads.MIN_ROWS_PER_THREAD))
    assert threads.inference_threads(threads.MIN_ROWS_PER_THREAD - 1) == 1
    assert threads.inference_threads(32) == 1


def test_pieces_cut_each_share_into_equal_pieces():
    assert inference.pieces(10_000, 2) == 1000          # 5 pieces of 1,000 per thread
    assert inference.pieces(10_000, 1) == 1000
    assert inference.pieces(5_000, 2) == 834            # 3 pieces each, not 1,024 + 1,024 + 452
    assert inference.pieces(inference.CHUNK_ROWS, 1) == inference.CHUNK_ROWS
    assert inference.pieces(100, 1) == 100
    for n in range(1, 5000, 97):
        for n_threads in (1, 2, 3, 16):
            rows = inference.pieces(n, n_threads)
            share = -(-n // n_threads)
            assert rows <= inference.CHUNK_ROWS and -(-share // rows) == -(-share // inference.CHUNK_ROWS)


def test_the_direct_call_goes_through_forward_in_pieces_and_gives_every_row(split, monkeypatch):
    """model(x) on the numba backend: each thread's rows go through forward in pieces of at most
    CHUNK_ROWS rows; together they are every row once, and the output is one forward's."""
    monkeypatch.setattr(inference, "CHUNK_ROWS", 10)
    m = mlp("float64")
    x = inputs(m)
    seen = []
    replicas = inference.replicas(m, THREADS - 1)      # made before the spies, so each has its own
    for model in [m] + replicas:
        first = model.layers[0]
        real = first.forward
        first.forward = lambda a, training=False, real=real: seen.append(len(a)) or real(a, training)
    monkeypatch.setattr(inference, "replicas", lambda model, count: replicas[:count])
    got = np.array(m(x))
    assert split == [THREADS]
    assert sum(seen) == len(x) and max(seen) <= 10 and len(seen) == THREADS * 4    # 34 rows each: 4 x 9
    kept = [b for layer in m.layers for b in work_arrays(layer)]
    kept += [b for replica in m._replica_work for arrays in replica.values() for b in arrays.values()]
    assert kept and max(b.shape[0] for b in kept) <= 10           # work arrays of a piece, not of all rows
    with backend.use("numpy"):
        seen.clear()
        np.testing.assert_allclose(got, np.array(m.forward(x.astype("float64"))), rtol=1e-12, atol=1e-14)
        assert seen == [len(x)]
        seen.clear()
        m(x)
        assert seen == [len(x)]


def test_split_waits_for_every_thread_and_raises_and_restores_blas():
    finished = []

    def slow():
        time.sleep(0.2)
        finished.append(threading.current_thread().name)
        return "slow"

    def bad():
        raise ValueError("row 7 is broken")

    before = threads.blas_threads()
    assert threads.split([lambda: "first", slow, lambda: 3]) == ["first", "slow", 3]
    finished.clear()
    with pytest.raises(ValueError, match="row 7 is broken"):
        threads.split([bad, slow])
    assert len(finished) == 1 and finished[0].startswith("nnscratch-rows")   # slow had finished
    with pytest.raises(ValueError, match="row 7 is broken"):
        threads.split([slow, bad])
    assert threads.blas_threads() == before


def test_blas_runs_on_one_thread_inside_the_split():
    assert threads.split([threads.blas_threads, threads.blas_threads]) == [1, 1]


def test_the_progress_bar_counts_every_batch(split, capsys):
    m = mlp("float32")
    m.predict(inputs(m, n=100), batch_size=10, verbose=1)
    out = capsys.readouterr()
    assert "10/10" in out.out + out.err
    assert split == [THREADS]


def test_real_mnist_sized_call_splits_on_this_machine():
    """No monkeypatching: 10,000 rows of the 3-layer model on however many cores BLAS has here.  The
    result equals one thread's to float32 rounding; with two or more cores it really is split."""
    m = zoo.mlp(seed=0)
    x = np.random.default_rng(1).random((10_000, 784), dtype=np.float32)
    with backend.use("numba"):
        n_threads = threads.inference_threads(len(x))
        got = np.array(m(x))
        expected = one_thread(lambda: m(x))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    assert len(m.__dict__.get("_replica_work", [])) == n_threads - 1


def _split_in_child(queue):
    queue.put(threads.split([lambda: 1, lambda: 2]))


def test_a_forked_child_gets_its_own_row_threads():
    """After a split, the parent's pool holds threads a fork() child does not have; the child must
    make its own pool instead of waiting forever on threads that are not there."""
    import multiprocessing
    threads.split([lambda: 0, lambda: 0])                    # the parent's pool exists
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_split_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung waiting for its parent's row threads")
    assert child.exitcode == 0 and queue.get(timeout=5) == [1, 2]
