"""examples/workshop.ipynb executes from top to bottom without error (quick setting, NNSCRATCH_QUICK=1).

Run with nbclient and the standard ``python3`` Jupyter kernel, in the examples/ folder (so the
notebook's relative links and paths are those a reader has).  The kernel inherits this process's
environment; PYTHONPATH gains the repository root so an uninstalled checkout works too.
"""
import importlib.util
import os

import notebooks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "examples", "workshop.ipynb")


def test_notebook_executes(monkeypatch):
    monkeypatch.setenv("NNSCRATCH_QUICK", "1")
    inline = importlib.util.find_spec("matplotlib_inline") is not None
    if inline:   # figures as image/png outputs, whatever MPLBACKEND the test run has
        monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = notebooks.execute(NOTEBOOK)
    outputs = notebooks.outputs(nb)
    assert not notebooks.errors(nb)
    text = notebooks.printed(nb)
    assert "Keras/Tensorflow version nnscratch" in text
    assert "Total params: 7,850" in text and "Total params: 669,706" in text
    assert "kNN (k=3) accuracy" in text and "NotImplementedInNnscratch: tf.keras.layers.Conv1D" in text
    assert "Total params: 34,826" in text and "CNN test accuracy" in text and "inverted" in text
    # the inside of the networks (issue 25): templates, and gradients that vanish in the sigmoid network
    assert "correlation of what training changed with each class's mean image" in text
    assert "best-matching class mean of each unit: [0 1 2 3 4 5 6 7 8 9]" in text
    assert "sigmoid, 6 layers" in text and "relu, 6 layers" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    if inline:
        assert len(images) >= 15, f"only {len(images)} figures were displayed"


def test_notebook_links_point_at_real_files():
    missing, count = notebooks.missing_links(NOTEBOOK)
    assert count >= 8 and not missing, missing
