"""The exercises: for each, the stub a learner starts from, the inputs it is checked on, and the three
answers it is checked against (finite differences, nnscratch's method, Keras), with the typical
mistakes the checker recognises.  In the order of ``docs/derivations.md``.

Each answer is a dict ``{output name: array}``; every array is float64.  ``run`` calls the learner's
code, ``library`` nnscratch's own method (on the numpy backend: the plain lines), ``numeric`` central
differences of a forward pass (nnscratch's, or the learner's own where the learner writes it too),
``keras`` the functions of ``keras_reference/exercises.py`` (through ``workshop/keras_side.py``).
"""
from .backward import CONV, DENSE, DROPOUT, POOL, RELU, SCALE, SIGMOID, SOFTMAX, SOFTMAX_CE, TANH
from .exercise import Exercise, doc_link  # noqa: F401  (the names the checker and tests use)
from .steps import ADAM, RMSPROP, SGD

EXERCISES = {e.name: e for e in (DENSE, SIGMOID, TANH, RELU, SOFTMAX, SOFTMAX_CE, DROPOUT, SGD, ADAM, RMSPROP, CONV,
                                  POOL, SCALE)}
