"""``tf.saved_model.save`` and ``tf.saved_model.load``, for tutorial code that calls them.

TensorFlow's SavedModel is a TensorFlow graph (``saved_model.pb`` and ``variables/``), which nnscratch
does not have.  These two functions keep such code running with **nnscratch's own layout** in the
folder: one file, ``<export_dir>/model.keras``, in Keras 3's format (``keras_format.py``), so real
Keras opens it too (``keras.models.load_model('<export_dir>/model.keras')``).  ``load`` gives back the
model itself, which predicts the same (``loaded(x)``, ``loaded.predict(x)``) and can train on; a
folder that TensorFlow wrote is refused with a clear error.
"""
import os

from . import saving
from .keras import models as keras_models
from .keras._missing import NotImplementedInNnscratch

FILE = "model.keras"


def save(obj, export_dir, signatures=None, options=None):
    """Save the nnscratch model ``obj`` into the folder ``export_dir`` (created if needed) as
    ``model.keras``: nnscratch's layout of a SavedModel folder (see the module docstring)."""
    if signatures is not None or options is not None:
        raise NotImplementedInNnscratch("tf.saved_model.save(signatures=..., options=...) is not implemented in "
                                        "nnscratch: it stores the model itself (model.keras), not a graph")
    if not callable(getattr(obj, "save", None)) or not hasattr(obj, "layers"):
        raise ValueError(f"tf.saved_model.save: nnscratch saves its own models (a Sequential), got "
                         f"{type(obj).__name__}")
    export_dir = os.fspath(export_dir)
    if os.path.exists(export_dir) and not os.path.isdir(export_dir):
        raise ValueError(f"tf.saved_model.save: {export_dir!r} is a file; give a folder")
    os.makedirs(export_dir, exist_ok=True)
    saving.save_model(obj, os.path.join(export_dir, FILE))


def load(export_dir, tags=None, options=None):
    """The model that :func:`save` stored in ``export_dir``."""
    if tags is not None or options is not None:
        raise NotImplementedInNnscratch("tf.saved_model.load(tags=..., options=...) is not implemented in "
                                        "nnscratch: a folder holds one model, model.keras")
    export_dir = os.fspath(export_dir)
    path = os.path.join(export_dir, FILE)
    if not os.path.isfile(path):
        if os.path.isfile(os.path.join(export_dir, "saved_model.pb")):
            raise ValueError(f"tf.saved_model.load: {export_dir!r} is a TensorFlow SavedModel (a TensorFlow "
                             "graph), which nnscratch cannot run; in Keras, save the model with "
                             "model.save('m.keras') and load that file here")
        raise ValueError(f"tf.saved_model.load: {export_dir!r} holds no {FILE}; "
                         "tf.saved_model.save(model, folder) writes one")
    return keras_models.load_model(path)
