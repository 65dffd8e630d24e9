"""examples/workshop.ipynb executes from top to bottom without error (quick setting, NNSCRATCH_QUICK=1).

Run with nbclient and the standard ``python3`` Jupyter kernel, in the examples/ folder (so the
notebook's relative links and paths are those a reader has).  The kernel inherits this process's
environment; PYTHONPATH gains the repository root so an uninstalled checkout works too.
"""
import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "examples", "workshop.ipynb")

import nbformat  # noqa: E402  (installed by the [dev] extra: no skip)
import nbclient  # noqa: E402


def test_notebook_executes(monkeypatch):
    monkeypatch.setenv("NNSCRATCH_QUICK", "1")
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", os.environ.get("OPENBLAS_NUM_THREADS", "1"))  # see test_workshop._env
    inline = importlib.util.find_spec("matplotlib_inline") is not None
    if inline:   # figures as image/png outputs, whatever MPLBACKEND the test run has
        monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                     resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
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
    import re
    nb = nbformat.read(NOTEBOOK, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    links = set(re.findall(r"\]\((\.\./[^)#]+)\)", text))
    assert len(links) >= 8
    for link in links:
        assert os.path.exists(os.path.normpath(os.path.join(ROOT, "examples", link))), link
