"""nnscratch.neighbors against the real scikit-learn KNeighborsClassifier(algorithm='brute').

Equality is exact: the same neighbour indices in the same order, the same predictions, and the
same distances and probabilities bit for bit (assert_array_equal), on data full of ties.
"""
import tracemalloc

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.metrics._pairwise_distances_reduction import ArgKmin  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier as SkKNN  # noqa: E402

from nnscratch import neighbors as nb  # noqa: E402
from nnscratch.neighbors import KNeighborsClassifier, NotFittedError  # noqa: E402
from nnscratch.utils import accuracy, confusion_matrix  # noqa: E402

KS = (1, 3, 5, 9)


def assert_same_as_sklearn(Xtr, ytr, Xte, p, ks=KS, weights=("uniform", "distance")):
    sk = SkKNN(n_neighbors=max(ks), p=p, algorithm="brute").fit(Xtr, ytr)
    for k in ks:
        for w in weights:
            sk.set_params(n_neighbors=k, weights=w)
            me = KNeighborsClassifier(n_neighbors=k, weights=w, p=p).fit(Xtr, ytr)
            msg = f"k={k} weights={w} p={p}"
            d_sk, i_sk = sk.kneighbors(Xte)
            d_me, i_me = me.kneighbors(Xte)
            np.testing.assert_array_equal(i_me, i_sk, err_msg=msg)
            np.testing.assert_array_equal(d_me, d_sk, err_msg=msg)
            np.testing.assert_array_equal(me.predict(Xte), sk.predict(Xte), err_msg=msg)
            np.testing.assert_array_equal(me.predict_proba(Xte), sk.predict_proba(Xte), err_msg=msg)


def with_duplicates(X, y, rng, n_dup):
    """Append n_dup copies of training rows, half with their label, half with a random label."""
    idx = rng.choice(len(X), n_dup, replace=False)
    lab = y[idx].copy()
    lab[: n_dup // 2] = rng.integers(0, 10, n_dup // 2)
    return np.concatenate([X, X[idx]]), np.concatenate([y, lab])


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return np.ascontiguousarray(X / 16.0, dtype=np.float32), y


@pytest.fixture(scope="module")
def mnist_small():
    from nnscratch.datasets import mnist
    (xtr, ytr), (xte, _) = mnist.load_data()
    rng = np.random.default_rng(1)
    tr = rng.choice(len(xtr), 2000, replace=False)
    te = rng.choice(len(xte), 250, replace=False)
    f = lambda x: (x.reshape(len(x), -1).astype(np.float32) / np.float32(255))  # noqa: E731
    Xtr, ytr = with_duplicates(f(xtr[tr]), ytr[tr].astype(np.int64), rng, 200)
    Xte = np.concatenate([f(xte[te]), Xtr[:50]])           # 50 queries at distance 0
    return Xtr, ytr, Xte


@pytest.mark.parametrize("p", [2, 1])
def test_digits_equal_sklearn(digits, p):
    X, y = digits
    rng = np.random.default_rng(0)
    # 500 train < 1297+ queries: scikit-learn's 'parallel_on_X' heap order
    Xtr, ytr = with_duplicates(X[:500], y[:500], rng, 100)
    Xte = np.concatenate([X[500:], Xtr[:50]])
    assert_same_as_sklearn(Xtr, ytr, Xte, p)
    # float64 input, more training than queries: the 'parallel_on_Y' (per-thread heaps) order
    X64 = X.astype(np.float64)
    assert_same_as_sklearn(X64[:1400], y[:1400], X64[1400:], p, ks=(3, 9))


@pytest.mark.parametrize("p", [2, 1])
def test_mnist_sample_equal_sklearn(mnist_small, p):
    Xtr, ytr, Xte = mnist_small
    assert_same_as_sklearn(Xtr, ytr, Xte, p)


def test_massive_ties_equal_sklearn():
    """Integer grid points: most distances tie, in every heap order, k up to 20 (introsort)."""
    rng = np.random.default_rng(3)
    X = rng.integers(0, 3, (900, 5)).astype(np.float64)
    y = rng.integers(0, 4, 900)
    for p in (1, 2):
        assert_same_as_sklearn(X[:700], y[:700], X[700:], p, ks=(1, 4, 9, 20))   # parallel_on_Y
        assert_same_as_sklearn(X[:150], y[:150], X[150:], p, ks=(3, 16))         # parallel_on_X


def test_query_layout_branch_equal_sklearn(digits):
    """scikit-learn's p=1 uniform vote differs for non-C-contiguous queries; so must ours."""
    X, y = digits
    Xtr, ytr = np.ascontiguousarray(X[:1200].astype(np.float64)), y[:1200]
    Xte = np.asfortranarray(X[1200:].astype(np.float64))
    for k in (5, 9):
        sk = SkKNN(n_neighbors=k, p=1, algorithm="brute").fit(Xtr, ytr)
        me = KNeighborsClassifier(n_neighbors=k, p=1).fit(Xtr, ytr)
        for q in (Xte, np.ascontiguousarray(Xte), Xte.tolist()):
            np.testing.assert_array_equal(me.predict_proba(q), sk.predict_proba(q))
            np.testing.assert_array_equal(me.predict(q), sk.predict(q))


def test_replay_is_sklearns_heap():
    """_replay_argkmin on a row of tied values == scikit-learn's ArgKmin, both strategies."""
    rng = np.random.default_rng(5)
    Y = rng.integers(0, 2, (1500, 4)).astype(np.float64)
    X = rng.integers(0, 2, (40, 4)).astype(np.float64)
    n_threads = nb._sklearn_n_threads()
    for strategy in ("parallel_on_X", "parallel_on_Y"):
        for k in (2, 7, 17, 40):
            d_sk, i_sk = ArgKmin.compute(X, Y, k=k, metric="manhattan", strategy=strategy,
                                         return_distance=True)
            v, ind = np.empty(k), np.empty(k, dtype=np.int64)
            for a in range(len(X)):
                nb._replay_argkmin(np.abs(X[a] - Y).sum(1), k, strategy == "parallel_on_Y",
                                   n_threads, v, ind)
                np.testing.assert_array_equal(ind, i_sk[a], err_msg=f"{strategy} k={k} row {a}")
                np.testing.assert_array_equal(v, d_sk[a])


def test_thread_count_is_sklearns():
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
    assert nb._sklearn_n_threads() == _openmp_effective_n_threads()


def test_numba_kernels_match_numpy_references(mnist_small):
    Xtr, _, Xte = mnist_small
    Xc, Y = Xte[:37], Xtr[:300]
    V = np.empty((37, 300))
    nb._manhattan_chunk(np.ascontiguousarray(Xc.T), Y, True, V)
    ref = np.array([[nb._manhattan_pair(x, y, True) for y in Y] for x in Xc])
    np.testing.assert_array_equal(V, ref)
    np.testing.assert_allclose(V, np.abs(Xc[:, None, :].astype(np.float64) - Y[None]).sum(-1),
                               rtol=1e-6)
    H = (Xc @ Y.T).astype(np.float32)
    for cap in (1, 4, 10):
        out = np.empty(37)
        nb._kth_smallest_rows(H, cap, out)
        part = np.argpartition(H, cap - 1, axis=1)[:, cap - 1:cap]
        np.testing.assert_array_equal(out, np.take_along_axis(H, part, 1)[:, 0])


def test_chunked_equals_unchunked(mnist_small):
    Xtr, ytr, Xte = mnist_small
    Xte = Xte[-120:]                                        # includes the distance-0 queries
    for p in (2, 1):
        ref = KNeighborsClassifier(5, weights="distance", p=p, chunk_rows=10**6).fit(Xtr, ytr)
        d0, i0 = ref.kneighbors(Xte)
        q0 = ref.predict_proba(Xte)
        for kw in ({"chunk_rows": 1}, {"chunk_rows": 37}, {"selection": "argpartition"}):
            me = KNeighborsClassifier(5, weights="distance", p=p, **kw).fit(Xtr, ytr)
            d1, i1 = me.kneighbors(Xte)
            np.testing.assert_array_equal(i1, i0)
            np.testing.assert_array_equal(d1, d0)
            np.testing.assert_array_equal(me.predict_proba(Xte), q0)


@pytest.mark.parametrize("p", [2, 1])
def test_memory_stays_within_stated_bound(mnist_small, p):
    Xtr, ytr, Xte = mnist_small
    peaks = {}
    # Xte[:250]: real test images; Xte: plus 50 distance-0 queries, which run the BLAS tie replay
    for rows, Xq in ((16, Xte[:250]), (250, Xte[:250]), (16, Xte)):
        me = KNeighborsClassifier(5, weights="distance", p=p, chunk_rows=rows).fit(Xtr, ytr)
        me.predict(Xq[-8:])  # compile and cache outside the measurement
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        me.predict(Xq)
        me.kneighbors(Xq)
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        bound = me.memory_bound(len(Xq))
        assert peak <= bound, f"chunk_rows={rows}: peak {peak} B > stated bound {bound} B"
        peaks[rows, len(Xq)] = peak
    # the probe sees the chunk: unchunked, the whole (n_query x n_train) block is allocated
    assert peaks[250, 250] >= 250 * len(Xtr) * (4 if p == 2 else 8)


def test_default_chunk_for_full_mnist_is_bounded():
    me = KNeighborsClassifier(3).fit(np.zeros((60000, 2), np.float32), np.zeros(60000))
    assert me._chunk_rows(10000) == (256 * 2**20) // (16 * 60000) == 279
    me.n_features_in_ = 784
    assert me.memory_bound(10000) < 0.3e9 < 4.8e9   # ~280 MB vs the full 4.8 GB


def test_bad_input_errors(digits):
    X, y = digits
    me = KNeighborsClassifier(3)
    with pytest.raises(NotFittedError, match="fit"):
        me.predict(X[:5])
    with pytest.raises(ValueError, match="larger than the training set"):
        KNeighborsClassifier(11).fit(X[:10], y[:10]).predict(X[:3])
    me.fit(X[:100], y[:100])
    with pytest.raises(ValueError, match="features"):
        me.predict(X[:5, :10])
    bad = X[:5].copy()
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        me.predict(bad)
    with pytest.raises(ValueError, match="NaN"):
        KNeighborsClassifier(3).fit(bad, y[:5])
    with pytest.raises(ValueError, match="empty"):
        me.predict(X[:0])
    with pytest.raises(ValueError, match="empty"):
        KNeighborsClassifier(3).fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="flatten"):
        me.predict(X[:4].reshape(4, 8, 8))
    with pytest.raises(ValueError, match="samples"):
        KNeighborsClassifier(3).fit(X[:10], y[:9])
    for kw in ({"n_neighbors": 0}, {"weights": "gauss"}, {"p": 3}):
        with pytest.raises(ValueError):
            KNeighborsClassifier(**kw).fit(X[:10], y[:10])


def test_score_report_and_analysis(digits, tmp_path):
    X, y = digits
    me = KNeighborsClassifier(3).fit(X[:1000], y[:1000])
    pred = me.predict(X[1000:])
    assert me.score(X[1000:], y[1000:]) == accuracy(y[1000:], pred) > 0.95
    rep = nb.knn_report(me)
    assert rep["model_size_bytes"] == me.model_size_bytes >= X[:1000].nbytes
    assert rep["fit_time_s"] >= 0 and rep["predict_time_s"] > 0

    from nnscratch.plotting import plot_confusion_matrix
    cm = confusion_matrix(y[1000:], pred)
    assert cm.sum() == len(pred) and np.trace(cm) == (pred == y[1000:]).sum()
    path = tmp_path / "cm.png"
    fig = plot_confusion_matrix(cm, path=str(path), title="kNN, k=3")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    texts = {t.get_text() for t in ax.texts}
    assert str(cm[0, 0]) in texts and len(ax.texts) == cm.size
