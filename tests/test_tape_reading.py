"""The tape's reading: examples/tape.ipynb executes from top to bottom (the same small network's
gradients by hand, from nnscratch's tape and from TensorFlow's, printed side by side and equal), and
docs/tape.md quotes the code that runs.

The notebook runs with nbclient and the standard ``python3`` Jupyter kernel in the examples/ folder
(as tests/test_notebook.py runs the workshop's notebook)."""
import os
import re

import notebooks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "examples", "tape.ipynb")


def test_tape_notebook_executes_and_its_three_ways_agree():
    nb = notebooks.execute(NOTEBOOK)
    assert not notebooks.errors(nb)
    text = notebooks.printed(nb)
    assert "all three equal" in text and "equal to the hand-written step: True" in text
    assert "d(x*x)/dx at 3: 6.0" in text and "the same weights after 4 steps: True" in text
    assert "sigmoid" in text and "sparse_softmax_cross_entropy_with_logits" in text


def test_tape_notebook_links_point_at_real_files():
    missing, count = notebooks.missing_links(NOTEBOOK)
    assert count >= 4 and not missing, missing


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
