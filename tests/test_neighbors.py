"""nnscratch.neighbors against the real scikit-learn KNeighborsClassifier(algorithm='brute').

Equality is exact: the same neighbour indices in the same order, the same predictions, and the
same distances and probabilities bit for bit (assert_array_equal), on data full of ties.
"""
import tracemalloc

import numpy as np
import pytest

import sklearn  # noqa: E402,F401  (a hard dependency: no skip)
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.metrics._pairwise_distances_reduction import ArgKmin  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier as SkKNN  # noqa: E402

from nnscratch import neighbors as nb  # noqa: E402
from nnscratch.neighbors import _search, _sklearn_order  # noqa: E402
from nnscratch.neighbors import KNeighborsClassifier, NotFittedError  # noqa: E402
from nnscratch.utils import accuracy, confusion_matrix  # noqa: E402

KS = (1, 3, 5, 9)


def assert_same_as_sklearn(Xtr, ytr, Xte, p, ks=KS, weights=("uniform", "distance"), dist_rtol=0):
    sk = SkKNN(n_neighbors=max(ks), p=p, algorithm="brute").fit(Xtr, ytr)
    for k in ks:
        me = KNeighborsClassifier(n_neighbors=k, p=p).fit(Xtr, ytr)
        sk.set_params(n_neighbors=k)
        d_sk, i_sk = sk.kneighbors(Xte)                # the same for both weights
        d_me, i_me = me.kneighbors(Xte)
        np.testing.assert_array_equal(i_me, i_sk, err_msg=f"k={k} p={p}")
        if dist_rtol:   # float64 data with no short binary expansion: last-bit differences
            np.testing.assert_allclose(d_me, d_sk, rtol=dist_rtol, err_msg=f"k={k} p={p}")
        else:
            np.testing.assert_array_equal(d_me, d_sk, err_msg=f"k={k} p={p}")
        for w in weights:
            sk.set_params(weights=w)
            me.set_params(weights=w)
            msg = f"k={k} weights={w} p={p}"
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
    assert_same_as_sklearn(Xtr, ytr, Xte, p, ks=(1, 4, 9))


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
    n_threads = _sklearn_order.sklearn_n_threads()
    for strategy in ("parallel_on_X", "parallel_on_Y"):
        for k in (2, 7, 17, 40):
            d_sk, i_sk = ArgKmin.compute(X, Y, k=k, metric="manhattan", strategy=strategy,
                                         return_distance=True)
            v, ind = np.empty(k), np.empty(k, dtype=np.int64)
            for a in range(len(X)):
                _sklearn_order.replay_argkmin(np.abs(X[a] - Y).sum(1), k, strategy == "parallel_on_Y",
                                   n_threads, v, ind)
                np.testing.assert_array_equal(ind, i_sk[a], err_msg=f"{strategy} k={k} row {a}")
                np.testing.assert_array_equal(v, d_sk[a])


def test_thread_count_is_sklearns():
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
    assert _sklearn_order.sklearn_n_threads() == _openmp_effective_n_threads()


def test_numba_kernels_match_numpy_references(mnist_small):
    Xtr, _, Xte = mnist_small
    Xc, Y = Xte[:37], Xtr[:300]
    V = np.empty((37, 300))
    _search.manhattan_chunk(np.ascontiguousarray(Xc.T), Y, True, V)
    ref = np.array([[_search.manhattan_pair(x, y, True) for y in Y] for x in Xc])
    np.testing.assert_array_equal(V, ref)
    np.testing.assert_allclose(V, np.abs(Xc[:, None, :].astype(np.float64) - Y[None]).sum(-1),
                               rtol=1e-6)
    H = (Xc @ Y.T).astype(np.float32)
    for cap in (1, 4, 10):
        probes = np.full((37, cap), -1, dtype=np.int64)
        finite = np.arange(37) != 5                          # row 5 is skipped
        _search.smallest_rows(H, cap, finite, probes)
        part = np.argpartition(H, cap - 1, axis=1)[:, :cap]
        np.testing.assert_array_equal(np.sort(np.take_along_axis(H[finite], probes[finite], 1), 1),
                                      np.sort(np.take_along_axis(H[finite], part[finite], 1), 1))
        assert (probes[5] == -1).all()


def test_chunked_equals_unchunked(mnist_small):
    Xtr, ytr, Xte = mnist_small
    Xte = Xte[-120:]                                        # includes the distance-0 queries
    for p in (2, 1):
        ref = KNeighborsClassifier(5, weights="distance", p=p, chunk_rows=10**6).fit(Xtr, ytr)
        d0, i0 = ref.kneighbors(Xte)
        q0 = ref.predict_proba(Xte)
        for kw in ({"chunk_rows": 1}, {"chunk_rows": 37, "n_jobs": 1}, {"chunk_rows": 7, "n_jobs": 3},
                   {"selection": "argpartition"}):
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
    me = KNeighborsClassifier(3, n_jobs=2).fit(np.zeros((60000, 2), np.float32), np.zeros(60000))
    assert me._plan(10000) == (64, 2)                        # 64 rows per chunk, 2 threads
    assert me._plan(3) == (2, 2) and me._plan(1) == (1, 1)   # no idle thread, no empty chunk
    me.n_features_in_ = 784
    assert me.memory_bound(10000) < 0.17e9 < 4.8e9           # ~165 MB vs the full 4.8 GB
    me.n_jobs, me.working_memory = 16, 64                    # the budget caps threads * rows
    R, T = me._plan(10000)
    assert T == 16 and T * R * 60000 * 16 <= 64 * 2**20 and R == 4


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_huge_and_tiny_values_equal_sklearn(dtype):
    """Data scaled by 1e20 (float32 ||y||^2 overflows) or 1e-20 (float32 underflows): the screen is
    rescaled by a power of two; queries far larger than the training rows overflow it, and then
    every training row is a candidate.  Old code: indices from uninitialised buffers."""
    rng = np.random.default_rng(11)
    for d in (5, 200):                                       # identity screen, projected screen
        X, Q = rng.standard_normal((400, d)), rng.standard_normal((60, d))
        y = rng.integers(0, 3, 400)
        for scale, qscale in ((1e20, 1e20), (1e-20, 1e-20), (1.0, 1e36 if dtype == np.float32 else 1e40)):
            Xs, Qs = (X * scale).astype(dtype), (Q * qscale).astype(dtype)
            assert np.isfinite(Xs).all() and np.isfinite(Qs).all()
            assert_same_as_sklearn(Xs, y, Qs, 2, ks=(1, 3), weights=("uniform",), dist_rtol=1e-13)


def test_fast_estimator_equals_reference_knn():
    """The ten-line reference (argsort of every distance, majority vote) gives the same classes."""
    rng = np.random.default_rng(12)
    for d in (3, 150):
        X, Q = rng.standard_normal((500, d)), rng.standard_normal((80, d))
        y = rng.integers(0, 4, 500)
        for p in (2, 1):
            for k in (1, 4, 7):
                me = KNeighborsClassifier(k, p=p).fit(X, y)
                np.testing.assert_array_equal(me.predict(Q), nb.reference_knn_predict(X, y, Q, k, p),
                                              err_msg=f"d={d} p={p} k={k}")


def test_blas_threads_restored_and_results_independent_of_threads(digits):
    from threadpoolctl import threadpool_info
    X, y = digits
    before = [(i["filepath"], i["num_threads"]) for i in threadpool_info()]
    preds = [KNeighborsClassifier(5, n_jobs=j, chunk_rows=50).fit(X[:1000], y[:1000]).kneighbors(X[1000:])
             for j in (1, 2, 4)]
    after = [(i["filepath"], i["num_threads"]) for i in threadpool_info() if i["filepath"] in dict(before)]
    assert [b for b in before if b[0] in dict(after)] == after   # no process-wide setting left behind
    for d, i in preds[1:]:
        np.testing.assert_array_equal(i, preds[0][1])
        np.testing.assert_array_equal(d, preds[0][0])


def test_params_checked_again_at_predict(digits):
    """scikit-learn validates at fit and at predict: parameters set after fit are checked too."""
    X, y = digits
    for name, value, match in (("n_neighbors", 0, "positive integer"), ("n_neighbors", 2.5, "positive integer"),
                               ("weights", "bogus", "weights"), ("p", 3, "p must be"),
                               ("n_neighbors", 101, "larger than the training set"),
                               ("working_memory", float("nan"), "working_memory"),
                               ("n_jobs", 0, "n_jobs")):
        me = KNeighborsClassifier(3).fit(X[:100], y[:100])
        setattr(me, name, value)
        for method in (me.predict, me.predict_proba, me.kneighbors):
            with pytest.raises(ValueError, match=match):
                method(X[100:110])
    me = KNeighborsClassifier(3).fit(X[:300], y[:300])     # p changed after fit: still scikit-learn's
    me.p = 1
    sk = SkKNN(3, p=1, algorithm="brute").fit(X[:300], y[:300])
    np.testing.assert_array_equal(me.kneighbors(X[300:400])[1], sk.kneighbors(X[300:400])[1])


def test_bad_working_memory_and_labels_refused(digits):
    X, y = digits
    for wm in (float("nan"), float("inf"), 0, -5, "256", True):
        with pytest.raises(ValueError, match="working_memory"):
            KNeighborsClassifier(3, working_memory=wm).fit(X[:20], y[:20])
    for bad in (np.array([0.0, 1.0, np.nan, 1.0]), np.array([0.0, np.inf, 1.0, 1.0]),
                np.array(["a", None, "b", "a"], dtype=object), np.array([1, float("nan"), 2, 1], dtype=object)):
        with pytest.raises(ValueError, match="y contains"):
            KNeighborsClassifier(1).fit(X[:4], bad)
    with pytest.raises(ValueError, match="real numbers"):
        KNeighborsClassifier(1).fit(X[:4] + 1j, y[:4])
    with pytest.raises(ValueError, match="too large"):
        KNeighborsClassifier(1).fit(np.full((4, 3), 1e300), y[:4])


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
