"""Keras beside nnscratch.  The one module of ``nnscratch`` that imports ``keras_reference`` (and so
TensorFlow), and only when asked: nnscratch itself never needs TensorFlow."""
import sys


class KerasSide:
    """Keras beside nnscratch: the twin of an nnscratch model (``keras_reference.keras_twin``: same
    layers, same initial weights, the workshop's stock ``categorical_crossentropy``), trained with
    the same settings.  ``available`` is False (with ``reason``) when TensorFlow does not import."""

    def __init__(self, mode, progress):
        self.available, self.reason, self.version = False, "", None
        if mode == "off":
            self.reason = "switched off (--keras off)"
            return
        progress("importing TensorFlow/Keras for the side-by-side runs ...")
        try:
            import keras
            import keras_reference
        except Exception as e:           # ImportError, or TensorFlow failing to initialise
            if mode == "on":
                raise RuntimeError(f"--keras on, but Keras could not be imported: {e}") from e
            self.reason = (f"TensorFlow/Keras not available ({type(e).__name__}: {e}); install it with "
                           "pip install 'nnscratch[keras]' to see Keras's numbers beside nnscratch's")
            progress(self.reason)
            return
        self.keras, self.kr = keras, keras_reference
        import tensorflow as tf
        self.available = True
        self.version = f"TensorFlow {tf.__version__}, Keras {keras.__version__}"

    def twin(self, nn_model, seed):
        """The Keras twin of ``nn_model`` (same layers and initial weights), Keras seeded with ``seed``."""
        self.keras.utils.set_random_seed(seed)
        return self.kr.keras_twin(nn_model, loss="keras", seed=seed)


def exercise_reference():
    """``(keras_reference.exercises, 'Keras <version>')``: Keras's numbers for ``nnscratch exercise check``;
    ``(None, why not)`` when TensorFlow/Keras does not import."""
    try:
        from keras_reference import exercises          # first: it quiets TensorFlow's logs before importing it
        import keras
    except Exception as e:               # ImportError, or TensorFlow failing to initialise
        return None, (f"TensorFlow/Keras is not available ({type(e).__name__}: {e}); install it with "
                      "pip install 'nnscratch[keras]'")
    return exercises, f"Keras {keras.__version__}"


def compare_main(argv):
    """``nnscratch compare ...``: ``python -m keras_reference.compare ...``; exit status 2 without TensorFlow."""
    try:
        from keras_reference import compare
    except ImportError as e:
        print(f"nnscratch compare needs TensorFlow/Keras ({e}); install with pip install 'nnscratch[keras]'",
              file=sys.stderr)
        return 2
    return compare.main(argv)
