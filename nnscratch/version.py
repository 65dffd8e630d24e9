"""The version of nnscratch, in one place (setup.cfg reads it too)."""
__version__ = "0.1.0"
VERSION = __version__   # tf.version.VERSION (``import nnscratch as tf``): the version of what runs
