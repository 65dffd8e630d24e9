"""``tf.keras.callbacks``: ``Callback`` and the built-in callbacks (``nnscratch/callbacks.py``, ``nnscratch/monitors.py``)."""
from ..callbacks import (Callback, CallbackList, CSVLogger, History, LambdaCallback, ProgbarLogger, TensorBoard,
                         TerminateOnNaN)
from ..monitors import EarlyStopping, LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau
from ._missing import missing_attribute

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint",
           "LearningRateScheduler", "ReduceLROnPlateau", "CSVLogger", "LambdaCallback", "TerminateOnNaN",
           "TensorBoard"]
__getattr__ = missing_attribute("tf.keras.callbacks", __all__)
