"""``tf.keras.models`` / ``tf.keras.Sequential``: nnscratch's ``Sequential`` (``nnscratch/models.py``).

The class here is nnscratch's ``Sequential`` plus one thing: asking it for a Keras method that
nnscratch does not implement (``model.predict_classes``, ``model.fit_generator``, ...) raises
:class:`~nnscratch.keras.NotImplementedInNnscratch` naming it, instead of a bare ``AttributeError``.
"""
from .. import models as _models
from .. import saving as _saving
from ..training import Model  # noqa: F401  (keras.models.Model: subclass it, see subclassing.py)
from ._missing import NotImplementedInNnscratch, message, missing_attribute

_METHODS = ["add", "compile", "fit", "evaluate", "predict", "summary", "get_weights", "set_weights",
            "train_on_batch", "save", "save_weights", "load_weights", "count_params"]


class Sequential(_models.Sequential):
    __doc__ = _models.Sequential.__doc__

    def __getattr__(self, name):
        # Only called when normal lookup fails.  Private and dunder names are Python's or our own
        # probes (hasattr, copy, pickle, IPython): a plain AttributeError for those.
        if name.startswith("_"):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        raise NotImplementedInNnscratch(message(f"Sequential.{name}", _METHODS))


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """``tf.keras.models.load_model``: a ``.keras`` or legacy ``.h5`` file (Keras's or nnscratch's) or
    nnscratch's ``.npz``, recognised by content (``nnscratch/saving.py``, ``keras_format.py``)."""
    model = _saving.load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    if type(model) is _models.Sequential:
        model.__class__ = Sequential
    return model


def save_model(model, filepath, overwrite=True):
    """``tf.keras.models.save_model(model, path)``: ``model.save(path)``."""
    model.save(filepath, overwrite=overwrite)


__all__ = ["Sequential", "Model", "load_model", "save_model"]
__getattr__ = missing_attribute("tf.keras.models", __all__)
