"""The workshop's data: load a data set, prepare it as the workshop does, take the first rows."""
from ..datasets import fashion_mnist


def load_data(name):
    """``x, y, xt, yt``: uint8 images and integer labels, plus the workshop's preparation:
    ``X = x.reshape(n, 784).astype('float32') / 255`` and one-hot ``Y = to_categorical(y, 10)``."""
    from .. import datasets
    from ..utils import to_categorical
    (x, y), (xt, yt) = getattr(datasets, name).load_data()
    X = x.reshape(len(x), 784).astype("float32") / 255
    Xt = xt.reshape(len(xt), 784).astype("float32") / 255
    return dict(x=x, y=y, xt=xt, yt=yt, X=X, Xt=Xt, Y=to_categorical(y, 10), Yt=to_categorical(yt, 10))


def subset(full, train_rows=0, test_rows=0, knn_train_rows=0, knn_test_rows=0):
    """The first rows of each split (0 = all), for the networks; ``*_knn`` for kNN.

    A negative count is refused: ``a[:-5]`` would silently mean "all but the last 5".
    """
    counts = dict(train_rows=train_rows, test_rows=test_rows, knn_train_rows=knn_train_rows,
                  knn_test_rows=knn_test_rows)
    for name, n in counts.items():
        if int(n) < 0:
            raise ValueError(f"{name} must be >= 0 (0 = all rows), got {n!r}")

    def first(a, n):
        return a[:n] if n else a
    d = {k: first(full[k], train_rows) for k in ("x", "y", "X", "Y")}
    d.update({k: first(full[k], test_rows) for k in ("xt", "yt", "Xt", "Yt")})
    d.update(X_knn=first(full["X"], knn_train_rows), y_knn=first(full["y"], knn_train_rows),
             Xt_knn=first(full["Xt"], knn_test_rows), yt_knn=first(full["yt"], knn_test_rows))
    return d


def class_names(dataset):
    """The ten class names: Fashion-MNIST's clothing names, or the digits '0' .. '9'."""
    return list(fashion_mnist.CLASS_NAMES) if dataset == "fashion_mnist" else [str(i) for i in range(10)]
