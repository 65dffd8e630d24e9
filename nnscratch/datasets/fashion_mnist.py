"""Fashion-MNIST: 70,000 28x28 grey images of 10 kinds of clothing (Zalando Research; MIT).

A drop-in replacement for MNIST (same sizes, same file format), harder to classify.  Labels:
0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag,
9 Ankle boot (see ``CLASS_NAMES``).  ``load_data()`` mirrors
``keras.datasets.fashion_mnist.load_data()``; see ``nnscratch.datasets._fetch`` for where the
files are looked for and how they are downloaded.
"""
from . import _fetch

NAME = "fashion-mnist"
TITLE = "Fashion-MNIST"
SUBFOLDERS = ("fashion-mnist", "fashion_mnist")
# Debian's dataset-fashion-mnist package (recompressed .gz files: valid, but not the official
# checksums, so they are checked by structure like any local folder).
SYSTEM_FOLDERS = ("/usr/share/datasets/fashion-mnist",)
# Tried in order; ``$NNSCRATCH_MIRROR`` (a base URL) replaces this list.
MIRRORS = [
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
]
# Official MD5 checksums of the .gz files; every download is checked against them.
MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def load_data(path=None):
    """Load Fashion-MNIST as ``((x_train, y_train), (x_test, y_test))``, like Keras.

    ``x_train``: uint8 (60000, 28, 28), pixels 0..255; ``y_train``: uint8 (60000,), classes
    0..9 (``CLASS_NAMES``); ``x_test``, ``y_test``: the same for the 10000 test images.

    ``path``: a folder holding the four IDX files (directly or in ``fashion-mnist/`` or
    ``fashion_mnist/``); nothing else is tried.  Without it: ``$NNSCRATCH_DATA``, then the
    cache ``~/.cache/nnscratch/fashion-mnist``, then ``/usr/share/datasets/fashion-mnist``
    (Debian), then a checked download into the cache.
    """
    return _fetch.load_dataset(TITLE, NAME, path, SUBFOLDERS, SYSTEM_FOLDERS, MD5, MIRRORS)
