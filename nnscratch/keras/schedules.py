"""``tf.keras.optimizers.schedules``: learning-rate schedules (``nnscratch/schedules.py``)."""
from ..schedules import (CosineDecay, ExponentialDecay, InverseTimeDecay, LearningRateSchedule,
                         PiecewiseConstantDecay)
from ._missing import missing_attribute

__all__ = ["LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay", "CosineDecay"]
__getattr__ = missing_attribute("tf.keras.optimizers.schedules", __all__)
