"""Exercises: from reading a backward pass to writing it, checked against nnscratch and Keras.

    nnscratch exercise list                       # the exercises, in the order of docs/derivations.md
    nnscratch exercise start dense_backward       # writes nnscratch-exercises/dense_backward.py (a stub)
    nnscratch exercise check dense_backward       # loads YOUR file and checks it

``start`` writes a stub into your folder (``--dir``, default ``nnscratch-exercises``): the function's
signature, the shapes of every argument and result, a link to the derivation, and a TODO.  It never
overwrites a file that is already there.  ``check`` imports *your* file and checks what it returns in
three ways, each on its own line of the report:

1. **finite differences** (float64): is your backward the derivative of the forward?
   (:mod:`nnscratch.gradcheck`; not for the Adam step, which is not a gradient);
2. **nnscratch**: the library's own method on the same input (float64);
3. **Keras**: real Keras on the same input (float64 layers under ``tf.GradientTape``, or Keras's
   optimizer), when TensorFlow is installed.  When it is not, the report says so and which checks ran.

It prints PASS or FAIL, the largest error, and where your result is wrong in a known way, a hint:
a wrong shape, a sign, a missing ``1/N``, a transposed product, and the mistakes typical of each
exercise (a kernel not flipped, a forgotten ``1/(1 - rate)``, ...).

Python::

    from nnscratch import exercises
    exercises.start("dense_backward", "my-folder")
    print(exercises.check("dense_backward", "my-folder"))
"""
from .catalog import EXERCISES
from .checker import CheckReport, check, load, start, stub_path

__all__ = ["EXERCISES", "CheckReport", "check", "load", "start", "stub_path"]
