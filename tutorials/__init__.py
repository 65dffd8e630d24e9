"""Tutorials students already know, run on nnscratch: see ``runner.py`` and ``docs/keras-compatibility.md``."""
