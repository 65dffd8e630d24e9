"""The whole workshop on real data, as one report: ``nnscratch workshop`` (or ``python -m nnscratch workshop``).

The workshop ("Introductie Neurale Netwerken met Keras en TensorFlow") walks students through MNIST:
look at the digits, flatten and scale them, one-hot encode the labels, train a one-layer network
(``Dense(10) -> sigmoid -> Dropout(0.2)``), tune epochs and batch size, train a 784-512-512-10
network and tune its width and depth, then try k-nearest neighbours, and finally Fashion-MNIST.
:func:`run` does all of it with nnscratch and, when TensorFlow is installed, with Keras beside it
(same architecture, same initial weights, same settings; accuracy and training time side by side),
and writes ``report.md`` and ``report.html`` (the same content) with PNG figures and
``results.json`` (every number) into one folder.

Python::

    from nnscratch.workshop import Settings, run
    results = run(Settings.quick(out="my-report"))

Every experiment reports *test* accuracy, as the workshop's exercises do; the training curves'
validation data are the last 10% of the training rows (``validation_split=0.1``, Keras's rule).

The package, one module per concern:

* :mod:`.settings`    -- :class:`Settings` (what to run; ``Settings.quick()``) and :class:`Progress`.
* :mod:`.data`        -- :func:`load_data`, :func:`subset`, :func:`class_names`.
* :mod:`.experiments` -- :func:`train_pair`, :func:`knn_pair` and :func:`run`, the whole workshop.
* :mod:`.inside`      -- the numbers behind the pictures of the inside of the networks: weight templates,
  hidden activations, feature maps, gradient size per layer at initialisation.
* :mod:`.keras_side`  -- :class:`KerasSide`: the only module of nnscratch that imports ``keras_reference``
  (and so TensorFlow), lazily.  The models themselves come from :mod:`nnscratch.zoo`.
* :mod:`.report`      -- :class:`Report`: blocks written as Markdown and as (escaped) HTML.
* :mod:`.writeup`     -- the report's text: :data:`SECTIONS`, :data:`FIGURES`, :func:`write_report`.
"""
from .data import class_names, load_data, subset
from .experiments import knn_pair, run, train_pair
from .keras_side import KerasSide
from .report import Report, matrix_text
from .settings import Progress, Settings
from .writeup import FIGURES, SECTIONS

__all__ = ["Settings", "Progress", "run", "train_pair", "knn_pair", "KerasSide", "load_data", "subset",
           "class_names", "Report", "matrix_text", "SECTIONS", "FIGURES"]
