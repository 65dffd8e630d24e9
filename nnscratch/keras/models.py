"""``tf.keras.models`` / ``tf.keras.Sequential``: nnscratch's ``Sequential`` (``nnscratch/models.py``).

The class here is nnscratch's ``Sequential`` plus one thing: asking it for a Keras method that
nnscratch does not implement (``model.predict_classes``, ``model.fit_generator``, ...) raises
:class:`~nnscratch.keras.NotImplementedInNnscratch` naming it, instead of a bare ``AttributeError``.
"""
from .. import models as _models
from .. import saving as _saving
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


def load_model(path):
    """``tf.keras.models.load_model`` for files written by ``model.save`` (nnscratch's ``.npz`` format)."""
    model = _saving.load_model(path)
    model.__class__ = Sequential
    return model

__all__ = ["Sequential", "load_model"]
__getattr__ = missing_attribute("tf.keras.models", __all__)
