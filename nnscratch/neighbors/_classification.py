"""k-nearest-neighbour classification: a ten-line reference, then the estimator that equals scikit-learn.

Rows are samples: ``X`` is ``(n_samples, n_features)``; flatten images first
(``x.reshape(len(x), -1)``).  For a query x, N_k(x) are the k training rows y_j nearest to x
(p=2: ||x - y||_2, p=1: sum_f |x_f - y_f|), and the class scores are

    uniform:   s_c(x) = #{ j in N_k(x) : c_j = c }
    distance:  s_c(x) = sum_{ j in N_k(x), c_j = c } 1 / d(x, y_j)
               (if some d(x, y_j) == 0, those neighbours get weight 1 and all others 0)

``predict_proba`` returns s_c / sum_c s_c; ``predict`` the class with the largest score, the
smallest class label on a tie.  ``reference_knn_predict`` below is that definition, plainly; the
estimator computes the same thing fast (``_search.py``) and breaks exact distance ties as
scikit-learn does (``_sklearn_order.py``).  ``docs/knn.md`` explains the method and its timings.
"""
import math
import numbers
import time

import numpy as np

from ._search import SEARCHES, kneighbors, plan
from ._sklearn_order import SK_CHUNK, parallel_on_y, sklearn_n_threads, usable_cpus


def reference_knn_predict(X_train, y_train, X_query, k=5, p=2):
    """The kNN vote as a learner writes it: every distance, argsort, majority (smallest label on a tie)."""
    classes, y_index = np.unique(y_train, return_inverse=True)
    predictions = []
    for x in X_query:
        d = np.linalg.norm(X_train - x, ord=p, axis=1)           # distance to every training row
        nearest = np.argsort(d, kind="stable")[:k]              # the k smallest
        votes = np.bincount(y_index[nearest], minlength=len(classes))
        predictions.append(classes[np.argmax(votes)])           # argmax: first = smallest label
    return np.array(predictions)


class NotFittedError(ValueError, AttributeError):
    """Raised when ``predict``/``kneighbors`` is called before ``fit`` (as scikit-learn does)."""


class KNeighborsClassifier:
    """k-nearest-neighbour vote, brute force, with scikit-learn's API and identical answers.

    Parameters
    ----------
    n_neighbors : int, default 5 -- k.
    weights : 'uniform' | 'distance' -- vote weights (module docstring).
    p : 2 | 1 -- Euclidean (float32 screen + exact float64 candidates) or Manhattan (Numba kernel).
    n_jobs : int or None -- threads over query chunks; None or -1: every usable core.
    chunk_rows : int or None -- queries per chunk; None: at most 64, within ``working_memory``.
    working_memory : float, MiB, default 256 -- budget for n_threads * chunk_rows * n_train * 16 B.
    selection : 'scan' | 'argpartition' -- how the k+1 smallest screen values are found: a
        one-pass Numba buffer (default) or ``np.argpartition`` (the reference); same results.

    Attributes after ``fit``: ``classes_`` (sorted labels), ``n_features_in_``,
    ``n_samples_fit_``, ``fit_time_`` (s), ``model_size_bytes``; after each
    ``kneighbors``/``predict``/``predict_proba``: ``predict_time_`` (s).
    """

    def __init__(self, n_neighbors=5, weights="uniform", p=2, chunk_rows=None, working_memory=256,
                 selection="scan", n_jobs=None):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.p = p
        self.chunk_rows = chunk_rows
        self.working_memory = working_memory
        self.selection = selection
        self.n_jobs = n_jobs

    # -- checks: at fit and again at every prediction (parameters may change in between) --------
    def _check_params(self):
        k = self.n_neighbors
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"n_neighbors must be a positive integer, got {k!r}")
        if self.weights not in ("uniform", "distance"):
            raise ValueError(f"weights must be 'uniform' or 'distance', got {self.weights!r}")
        if self.p not in (1, 2) or isinstance(self.p, bool):
            raise ValueError(f"p must be 1 (Manhattan) or 2 (Euclidean), got {self.p!r}")
        if self.selection not in ("scan", "argpartition"):
            raise ValueError(f"selection must be 'scan' or 'argpartition', got {self.selection!r}")
        if self.chunk_rows is not None and (isinstance(self.chunk_rows, bool) or not isinstance(
                self.chunk_rows, numbers.Integral) or self.chunk_rows < 1):
            raise ValueError(f"chunk_rows must be a positive integer or None, got {self.chunk_rows!r}")
        wm = self.working_memory
        if isinstance(wm, bool) or not isinstance(wm, numbers.Real) or not (math.isfinite(wm) and wm > 0):
            raise ValueError(f"working_memory must be a finite number of MiB > 0, got {wm!r}")
        j = self.n_jobs
        if j is not None and (isinstance(j, bool) or not isinstance(j, numbers.Integral)
                              or not (j == -1 or j >= 1)):
            raise ValueError(f"n_jobs must be None, -1 (all cores) or a positive integer, got {j!r}")

    @staticmethod
    def _as_matrix(X, what, dtype=None):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"{what} must be 2-D (n_samples, n_features), got shape {X.shape}"
                             + ("; flatten images first: X.reshape(len(X), -1)" if X.ndim > 2 else ""))
        if X.shape[0] == 0:
            raise ValueError(f"{what} is empty: it has 0 samples")
        if X.shape[1] == 0:
            raise ValueError(f"{what} has 0 features")
        if not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)
                or X.dtype == bool):
            raise ValueError(f"{what} must be real numbers (int, float or bool), got dtype {X.dtype}")
        if dtype is None:
            dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        X = np.ascontiguousarray(X, dtype=dtype)
        if not np.isfinite(X).all():
            raise ValueError(f"{what} contains NaN or infinity; kNN distances need finite values")
        return X

    def _check_fitted(self):
        if not hasattr(self, "_Y"):
            raise NotFittedError("This KNeighborsClassifier is not fitted yet: call fit(X, y) first")

    @staticmethod
    def _check_labels(y, n):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D class labels (multi-output is not supported), got shape {y.shape}")
        if y.shape[0] != n:
            raise ValueError(f"X has {n} samples but y has {y.shape[0]}")
        if y.dtype.kind in "fc" and not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinity; class labels must be finite")
        if y.dtype.kind in "fc" and np.any(y != np.round(y)):      # scikit-learn's check and message
            raise ValueError("Unknown label type: continuous. Maybe you are trying to fit a classifier, which "
                             "expects discrete classes on a regression target with continuous values.")
        if y.dtype == object and any(v is None or v != v for v in y):
            raise ValueError("y contains None or NaN; every sample needs a class label")
        return y

    # -- fit -------------------------------------------------------------------------------------
    def fit(self, X, y):
        """Store the training data (brute force has nothing else to learn) and the search's
        precomputed screen.  X: (n_train, n_features), float32 kept as float32, anything else as
        float64; y: (n_train,) class labels, any sortable type.  Returns self."""
        t0 = time.perf_counter()
        self._check_params()
        X = self._as_matrix(X, "X")
        y = self._check_labels(y, X.shape[0])
        self._search = SEARCHES[self.p](X, self.selection)
        self._search_key = (self.p, self.selection)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        self._y = y_index.astype(np.intp).ravel()
        self._Y = X
        self.n_features_in_, self.n_samples_fit_ = X.shape[1], X.shape[0]
        self.fit_time_ = time.perf_counter() - t0
        return self

    @property
    def model_size_bytes(self):
        """Bytes the fitted model keeps: training rows, labels and the search's screen."""
        self._check_fitted()
        return int(self._Y.nbytes + self._y.nbytes + self._search.nbytes())

    def _n_threads(self):
        return usable_cpus() if self.n_jobs in (None, -1) else int(self.n_jobs)

    def _plan(self, n_queries):
        """(rows per chunk, threads) for n_queries."""
        return plan(n_queries, self.n_samples_fit_, self._n_threads(), self.working_memory,
                    self.chunk_rows)

    def memory_bound(self, n_queries):
        """Upper bound (bytes) of what kneighbors/predict allocate besides the fitted data.

        T threads, R rows per chunk, n training rows, d features, k neighbours:
        T * (R n 16 + R (d + 1) 16 + n 168 + 4 MiB + 256 (2 d + 288) 8)    per thread: chunk, replay
        + n 8 (BLAS norms) + n_q (k + 1) 16 (outputs) + n_q n_classes 24 (scores) + 1 MiB.
        """
        self._check_fitted()
        R, T = self._plan(n_queries)
        n, d, k = self.n_samples_fit_, self.n_features_in_, self.n_neighbors
        return int(T * (R * n * 16 + R * (d + 1) * 16 + n * 168 + 2**22 + SK_CHUNK * (2 * d + SK_CHUNK + 32) * 8)
                   + n * 8 + n_queries * (k + 1) * 16 + n_queries * len(self.classes_) * 24 + 2**20)

    def _check_query(self, X, k):
        self._check_params()
        self._check_fitted()
        X = self._as_matrix(X, "X", dtype=self._Y.dtype)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but this classifier was fitted with "
                             f"{self.n_features_in_} features")
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"n_neighbors must be a positive integer, got {k!r}")
        if k > self.n_samples_fit_:
            raise ValueError(f"n_neighbors={k} is larger than the training set "
                             f"({self.n_samples_fit_} samples); need n_neighbors <= n_samples_fit")
        return X

    def _neighbors(self, X, k, heap_order):
        """k nearest per query: (values (n_q, k) ascending, indices).  Values are squared
        distances for p=2, distances for p=1.  heap_order 'auto': scikit-learn's kneighbors;
        'parallel_on_X': its p=1 uniform vote (``ArgKminClassMode``, heap in training order)."""
        on_y = heap_order == "auto" and parallel_on_y(X.shape[0], self.n_samples_fit_,
                                                      sklearn_n_threads())
        if self._search_key != (self.p, self.selection):      # set_params after fit
            self._search = SEARCHES[self.p](self._Y, self.selection)
            self._search_key = (self.p, self.selection)
        rows, threads = self._plan(X.shape[0])
        return kneighbors(self._search, X, k, on_y, rows, threads)

    # -- public API --------------------------------------------------------------------------------
    def kneighbors(self, X, n_neighbors=None, return_distance=True):
        """Distances (n_q, k) ascending and indices (n_q, k) of the k nearest training rows.

        p=2: sqrt(max(0, ||x||^2 - 2 x.y + ||y||^2)); p=1: sum_f |x_f - y_f|.  Equal distances
        are ordered as scikit-learn orders them.
        """
        t0 = time.perf_counter()
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        X = self._check_query(X, k)
        vals, inds = self._neighbors(X, k, "auto")
        self.predict_time_ = time.perf_counter() - t0
        if not return_distance:
            return inds
        if self.p == 2 and self._Y.dtype == np.float32:
            # scikit-learn's float32 _rdist_to_dist: float32(sqrt(float32(squared distance)))
            vals = np.sqrt(vals.astype(np.float32).astype(np.float64)).astype(np.float32).astype(np.float64)
        elif self.p == 2:
            vals = np.sqrt(vals)
        return vals, inds

    def _uniform_scores(self, X):
        """Counts s_c = #neighbours of class c (float64).

        scikit-learn counts the neighbours ``kneighbors`` returns, except for p=1 with a query
        that is a C-contiguous ndarray of the training dtype: then ``ArgKminClassMode`` counts
        them with its heap in training order.  The two differ on tied distances, so we take the
        same branch.  (p=2 never uses ArgKminClassMode: 'euclidean' is excluded from it.)
        """
        self._check_params()
        self._check_fitted()
        class_mode = (self.p == 1 and isinstance(X, np.ndarray) and X.flags.c_contiguous
                      and X.dtype == self._Y.dtype)
        X = self._check_query(X, self.n_neighbors)
        _, inds = self._neighbors(X, self.n_neighbors, "parallel_on_X" if class_mode else "auto")
        scores = np.zeros((X.shape[0], len(self.classes_)))
        lab = self._y[inds]
        rows = np.arange(X.shape[0])
        for a in range(self.n_neighbors):
            scores[rows, lab[:, a]] += 1.0
        return scores

    def _distance_weights(self, X):
        """w = 1/d per neighbour; a row with a zero distance gets w = [d == 0] (scikit-learn's rule)."""
        dist, inds = self.kneighbors(X)
        with np.errstate(divide="ignore"):
            w = 1.0 / dist
        inf_mask = np.isinf(w)
        inf_row = np.any(inf_mask, axis=1)
        w[inf_row] = inf_mask[inf_row]
        return w, self._y[inds]

    def predict_proba(self, X):
        """(n_q, n_classes) probabilities s_c / sum_c s_c, columns in ``classes_`` order."""
        t0 = time.perf_counter()
        self._check_params()
        if self.weights == "uniform":
            scores = self._uniform_scores(X)
            scores /= scores.sum(axis=1, keepdims=True)
        else:
            w, lab = self._distance_weights(X)
            scores = np.zeros((w.shape[0], len(self.classes_)))
            rows = np.arange(w.shape[0])
            for a in range(w.shape[1]):               # neighbour by neighbour, as scikit-learn
                scores[rows, lab[:, a]] += w[:, a]
            scores /= scores.sum(axis=1)[:, np.newaxis]
        self.predict_time_ = time.perf_counter() - t0
        return scores

    def predict(self, X):
        """Class with the largest score s_c; a tie goes to the smallest class label."""
        t0 = time.perf_counter()
        self._check_params()
        if self.weights == "uniform":
            scores = self._uniform_scores(X)          # counts: argmax needs no normalising
        else:
            # sklearn.utils.extmath.weighted_mode: per class, np.sum over a row of w-or-0.
            w, lab = self._distance_weights(X)
            scores = np.stack([np.where(lab == c, w, 0.0).sum(axis=1)
                               for c in range(len(self.classes_))], axis=1)
        pred = self.classes_[np.argmax(scores, axis=1)]
        self.predict_time_ = time.perf_counter() - t0
        return pred

    def score(self, X, y):
        """Mean accuracy of ``predict(X)`` against y."""
        y = np.asarray(y)
        pred = self.predict(X)
        if y.shape != pred.shape:
            raise ValueError(f"y has shape {y.shape} but X gives {pred.shape} predictions")
        return float(np.mean(pred == y))

    def get_params(self, deep=True):
        return {"n_neighbors": self.n_neighbors, "weights": self.weights, "p": self.p,
                "chunk_rows": self.chunk_rows, "working_memory": self.working_memory,
                "selection": self.selection, "n_jobs": self.n_jobs}

    def set_params(self, **params):
        """Set parameters by name, as scikit-learn does; they are checked at the next fit/predict."""
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"unknown parameter {name!r}; valid parameters: {sorted(valid)}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        return (f"KNeighborsClassifier(n_neighbors={self.n_neighbors}, weights={self.weights!r}, "
                f"p={self.p})")


def knn_report(clf):
    """What the workshop's comparison table needs: fit time, last predict time, model size."""
    return {"fit_time_s": clf.fit_time_, "predict_time_s": getattr(clf, "predict_time_", None),
            "model_size_bytes": clf.model_size_bytes}
