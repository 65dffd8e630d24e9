"""``Tensor``: a NumPy array that also answers ``.numpy()``, for code written for TensorFlow.

TensorFlow tutorials call ``.numpy()`` on what a model, a loss or ``tf.nn.softmax`` returns::

    predictions = model(x_train[:1]).numpy()
    loss_fn(y_train[:1], predictions).numpy()

nnscratch returns a :class:`Tensor` in those places.  It is plain NumPy underneath: a subclass of
``numpy.ndarray`` with one extra method, so every NumPy function, indexing and arithmetic work as on
any array (and results of arithmetic on a Tensor are Tensors too).  Nothing is computed differently.
"""
import numpy as np


class Tensor(np.ndarray):
    """An ``np.ndarray`` with TensorFlow's ``.numpy()``.  ``Tensor(array)`` views ``array`` (no copy)."""

    def __new__(cls, array):
        return np.asarray(array).view(cls)

    def numpy(self):
        """The values as plain NumPy, as ``tf.Tensor.numpy()`` gives them: an ``np.ndarray`` (a view of
        the same memory), or a NumPy scalar such as ``np.float32`` for a 0-d tensor."""
        array = self.view(np.ndarray)
        return array[()] if array.ndim == 0 else array
