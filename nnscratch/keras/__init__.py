"""``tf.keras`` for the workshop: ``import nnscratch as tf`` and the workshop's code runs unchanged.

    import nnscratch as tf
    print("Keras/Tensorflow version", tf.keras.__version__)
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
    Y_train = tf.keras.utils.to_categorical(y_train, 10)
    model = tf.keras.Sequential()
    model.add(tf.keras.layers.Dense(10, input_shape=(784,)))
    model.add(tf.keras.layers.Activation('sigmoid'))
    model.add(tf.keras.layers.Dropout(0.2))
    model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])

``tf.keras.Model`` is what you subclass (``__init__`` and ``call``, ``nnscratch/subclassing.py``: its
gradients come from the tape); ``keras.ops`` are the tape's operations under Keras's names,
``keras.Variable`` is ``tf.Variable``, ``keras.backend.set_floatx`` sets the default float type.

Everything here is a thin alias of the nnscratch implementation (``nnscratch/layers.py``,
``nnscratch/models.py``, ...); nothing is computed in this package.  A Keras name that nnscratch does
not implement (``tf.keras.layers.Conv1D``, ``model.predict_classes``, ...) raises
:class:`NotImplementedInNnscratch` naming it.

``tf.keras.__version__`` is ``"nnscratch 0.1.0 (Keras 3 API subset)"``: the workshop prints it, and it
should say honestly which library runs (``nnscratch.keras.KERAS_API`` is ``"3"``, the Keras whose
behaviour is reproduced).
"""
from ..version import __version__ as _nnscratch_version
from ..tape import Variable
from ..input_layer import Input
from ..training import Model
from . import activations, backend, callbacks, datasets, layers, losses, metrics, models, ops, optimizers, utils
from ._missing import NotImplementedInNnscratch, missing_attribute
from .models import Sequential, load_model

config = backend                         # keras.config.floatx / set_floatx / epsilon

__version__ = f"nnscratch {_nnscratch_version} (Keras 3 API subset)"
KERAS_API = "3"

__all__ = ["Sequential", "Model", "Input", "Variable", "load_model", "activations", "backend", "callbacks", "config",
           "datasets", "layers", "losses", "metrics", "models", "ops", "optimizers", "utils",
           "NotImplementedInNnscratch", "__version__"]

__getattr__ = missing_attribute("tf.keras", __all__[:-2])
