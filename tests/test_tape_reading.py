"""The tape's reading: examples/tape.ipynb executes from top to bottom (the same small network's
gradients by hand, from nnscratch's tape and from TensorFlow's, printed side by side and equal), and
docs/tape.md quotes the code that runs.

The notebook runs with nbclient and the standard ``python3`` Jupyter kernel in the examples/ folder
(as tests/test_notebook.py runs the workshop's notebook)."""
import os
import re

import nbclient
import nbformat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "examples", "tape.ipynb")


def test_tape_notebook_executes_and_its_three_ways_agree(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                     resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "all three equal" in text and "equal to the hand-written step: True" in text
    assert "d(x*x)/dx at 3: 6.0" in text and "the same weights after 4 steps: True" in text
    assert "sigmoid" in text and "sparse_softmax_cross_entropy_with_logits" in text


def test_tape_notebook_links_point_at_real_files():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    links = set(re.findall(r"\]\((\.\./[^)#]+)\)", text))
    assert len(links) >= 4
    for link in links:
        assert os.path.exists(os.path.normpath(os.path.join(ROOT, "examples", link))), link


def test_the_chapter_quotes_the_code_that_runs():
    """Every line of a block marked ``<!-- quote: FILE -->`` in docs/tape.md is a line of FILE
    (spacing aside), so the chapter cannot drift from the code."""
    chapter = open(os.path.join(ROOT, "docs", "tape.md"), encoding="utf-8").read()
    quotes = re.findall(r"<!-- quote: (\S+) -->\n```python\n(.*?)```", chapter, re.S)
    assert len(quotes) >= 3
    squash = lambda line: " ".join(line.split())      # noqa: E731
    for path, block in quotes:
        source = {squash(line) for line in open(os.path.join(ROOT, path), encoding="utf-8")}
        for line in block.splitlines():
            assert squash(line) in source, f"docs/tape.md quotes {line.strip()!r}, which is not in {path}"
    for link in set(re.findall(r"\]\((\.\./[^)#]+)\)", chapter)):
        assert os.path.exists(os.path.normpath(os.path.join(ROOT, "docs", link))), link
