"""The engine: everything in nnscratch that exists for speed, and nothing a learner needs to read.

The learner's rooms (``models.py``, ``training.py``, ``layers.py``, ``conv.py``, ``activations.py``,
``losses.py``, ``optimizers.py``) hold the math: the plain NumPy expression of every step.  Where a
step is fast, the method says so in one line beside that expression and hands the work here::

    if backend.fast():
        z, a = fast.dense_forward(self, x)                 # the two lines below, in one pass
    else:
        z = x @ self.kernel + self.bias                    # (N, D) @ (D, M) + (M,) -> (N, M)
        a = self.activation.forward(z)

``nnscratch.set_backend('numpy')`` runs the plain expressions instead; tests hold the two equal.

The rooms of the engine:

* ``fast.py``        -- the functions the learner's rooms call: one per fast path, each checking the
  arrays it writes into (shapes, dtypes, contiguity) once per call, then calling a loop;
* ``loops.py``       -- the Numba loops of layers, losses and optimizers (fused, one pass, no threads);
* ``conv_loops.py``  -- the Numba loops of ``Conv2D`` and ``MaxPooling2D`` (im2col, col2im, pooling);
* ``buffers.py``     -- the work arrays each layer reuses from batch to batch;
* ``threads.py``     -- the thread policy: which pool owns the cores for which operation;
* ``inference.py``   -- ``predict``, ``evaluate`` and ``model(x)`` split by rows over the cores.

Importing this package loads nothing heavy: Numba is imported on first use of a loop, so the numpy
backend never loads it.
"""
import enum


class Fused(enum.IntEnum):
    """The activations the engine's loops compute, as ``Activation.fused`` names them (an activation
    you write yourself has ``fused=None`` and always runs its own two functions)."""
    LINEAR = 0
    SIGMOID = 1
    RELU = 2
    TANH = 3
    SOFTMAX = 4
