"""keras_reference: the workshop's models in real Keras, and the proof that nnscratch computes the same numbers.

Importing this package imports TensorFlow (slow, a few seconds).  Install with
``pip install -e ".[keras]"``.

* :mod:`keras_reference.models`   -- Keras builders for the workshop's two models, ``keras_twin(nn_model)``
  for any nnscratch ``Sequential`` of Dense/Activation/Dropout/Flatten/Softmax/Conv2D/MaxPooling2D, and
  the loss that the twin trains on (categorical or sparse cross-entropy, ``from_logits`` or not).
* :mod:`keras_reference.transfer` -- weights both ways (nnscratch -> Keras, Keras -> nnscratch).
* :mod:`keras_reference.graphs`   -- twins of graph models (``keras.Model(inputs, outputs)``) both ways,
  weights copied layer by layer, and N optimizer steps on both sides (``compare_graph_steps``).
* :mod:`keras_reference.masks`    -- rebuild the dropout masks Keras draws and replay them in nnscratch.
* :mod:`keras_reference.compare`  -- side-by-side differences: forward, loss, gradients, N optimizer
  steps, a whole ``fit`` epoch, ``evaluate``/``predict``; also ``python -m keras_reference.compare``.
* :mod:`keras_reference.exercises` -- Keras's answers for ``nnscratch exercise check`` (imported on
  demand, through ``nnscratch/workshop/keras_side.py``).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")   # before TensorFlow is imported: quieter logs

from .masks import KerasDropoutMasks, keras_keep_mask, replay_keras_masks  # noqa: E402
from .models import (  # noqa: E402
    ProbabilityCrossentropy, build_1layer, build_3layer, build_convnet, keras_floatx, keras_loss_like,
    keras_metric_like, keras_optimizer_like, keras_schedule_like,
    keras_twin, nnscratch_1layer, nnscratch_3layer, workshop_pair,
)
from .transfer import nnscratch_twin, to_keras, to_nnscratch  # noqa: E402

__all__ = [
    "build_1layer", "build_3layer", "build_convnet", "nnscratch_1layer", "nnscratch_3layer", "workshop_pair",
    "keras_twin", "nnscratch_twin", "keras_optimizer_like", "keras_loss_like", "keras_metric_like",
    "keras_schedule_like", "keras_floatx", "ProbabilityCrossentropy",
    "to_keras", "to_nnscratch", "KerasDropoutMasks", "keras_keep_mask", "replay_keras_masks",
]
