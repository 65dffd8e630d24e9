"""k-nearest neighbours from scratch, with scikit-learn's interface and exactly scikit-learn's answers.

    _classification.py  reference_knn_predict (the method in ten lines), KNeighborsClassifier
    _search.py          the distance search: float32 screen with its error bound (p=2), Numba
                        Manhattan kernel (p=1), chunks of queries on a thread pool
    _sklearn_order.py   scikit-learn's heap, sort and thread split, replayed for tied distances

``docs/knn.md`` explains the method, its exactness and its measured speed.
"""
from ._classification import KNeighborsClassifier, NotFittedError, knn_report, reference_knn_predict

__all__ = ["KNeighborsClassifier", "NotFittedError", "knn_report", "reference_knn_predict"]
