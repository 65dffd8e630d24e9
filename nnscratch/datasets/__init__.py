"""Data sets with the ``keras.datasets`` API: ``mnist.load_data()``, ``fashion_mnist.load_data()``.

Each returns ``((x_train, y_train), (x_test, y_test))`` as uint8 NumPy arrays.  Files are read
from ``load_data(path=...)``, ``$NNSCRATCH_DATA``, the cache ``~/.cache/nnscratch/<name>``
(Fashion-MNIST also Debian's ``/usr/share/datasets/fashion-mnist``), else downloaded into the
cache and checked against the official checksums.
"""
from . import fashion_mnist, mnist
from ._fetch import DownloadError

__all__ = ["mnist", "fashion_mnist", "DownloadError"]
