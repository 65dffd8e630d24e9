"""MNIST: 70,000 handwritten digits 0-9, 28x28 grey pixels (LeCun, Cortes & Burges; CC BY-SA 3.0).

``load_data()`` mirrors ``keras.datasets.mnist.load_data()``; see ``nnscratch.datasets._fetch``
for where the files are looked for and how they are downloaded.
"""
from . import _fetch

NAME = "mnist"
TITLE = "MNIST"
SUBFOLDERS = ("mnist",)
SYSTEM_FOLDERS = ()
# Tried in order; ``$NNSCRATCH_MIRROR`` (a base URL) replaces this list.
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]
# Official MD5 checksums of the .gz files; every download is checked against them.
MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


def load_data(path=None):
    """Load MNIST as ``((x_train, y_train), (x_test, y_test))``, like Keras.

    ``x_train``: uint8 (60000, 28, 28), pixels 0..255; ``y_train``: uint8 (60000,), digits 0..9;
    ``x_test``, ``y_test``: the same for the 10000 test images.

    ``path``: a folder holding the four IDX files (directly or in ``mnist/``); unlike Keras's
    ``path`` (a file name inside the cache), it is where to read from, and nothing else is
    tried.  Without it: ``$NNSCRATCH_DATA``, then the cache
    ``~/.cache/nnscratch/mnist``, then a checked download into that cache.
    """
    return _fetch.load_dataset(TITLE, NAME, path, SUBFOLDERS, SYSTEM_FOLDERS, MD5, MIRRORS)
