"""``keras.backend`` / ``keras.config``: ``floatx``, ``set_floatx``, ``epsilon`` (``nnscratch/tape.py``)
and ``clear_session`` (layer names count from ``dense`` again).

``tf.keras.backend.set_floatx('float64')`` makes the layers, models and loss objects made afterwards
compute in float64, as in Keras (for tight gradient checks).
"""
from .. import layers as _layers
from .. import models as _models
from ..tape import epsilon, floatx, set_floatx
from ._missing import missing_attribute


def clear_session():
    """Forget the automatic names given so far: the next Dense is ``dense`` again, as in Keras."""
    _layers._name_counts.clear()
    _models.Sequential._count = 0


__all__ = ["floatx", "set_floatx", "epsilon", "clear_session"]
__getattr__ = missing_attribute("keras.backend", __all__)
