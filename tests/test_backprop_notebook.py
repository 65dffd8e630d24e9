"""examples/backprop_by_hand.ipynb runs from top to bottom (quick setting) and shows what it says: every
hand-computed gradient of the workshop's 3-layer step equals the model's, the finite differences agree,
the softplus activation and the Scale layer pass their gradient checks, and the softplus + Scale model
takes the same Adam steps as its Keras twin.  docs/write-your-own.md's code is the notebook's code."""
import os
import re

import nbformat
import pytest

import notebooks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "examples", "backprop_by_hand.ipynb")
PAGE = os.path.join(ROOT, "docs", "write-your-own.md")


@pytest.fixture(scope="module")
def executed():
    return notebooks.execute(NOTEBOOK, NNSCRATCH_QUICK="1")


def _stdout(nb):
    return notebooks.printed(nb, "stdout")


def test_every_gradient_by_hand_equals_the_models(executed):
    text = _stdout(executed)
    assert not notebooks.errors(executed)
    rows = dict(re.findall(r"^(\w+)\s+\([\d, ]*\)\s+largest difference from the model: (\S+)$", text, re.M))
    names = {"p", "dz3", "dW3", "db3", "dh2", "da2", "dz2", "dW2", "db2", "dh1", "da1", "dz1", "dW1", "db1"}
    assert names <= set(rows), sorted(rows)
    assert all(float(v) < 1e-12 for v in rows.values()), rows
    error = float(re.search(r"relative error (\S+)\s+\(a correct gradient", text).group(1))
    assert error < 1e-6


def test_the_tape_finds_the_same_gradients(executed):
    """The forward lines again, on nnscratch's GradientTape: the tape's six gradients equal ours."""
    rows = dict(re.findall(r"^(\w+)\s+\([\d, ]*\)\s+largest difference from the tape: (\S+)$", _stdout(executed), re.M))
    assert set(rows) == {"dW1", "db1", "dW2", "db2", "dW3", "db3"}, rows
    assert all(float(v) < 1e-12 for v in rows.values()), rows


def test_write_your_own_checks_trains_and_matches_keras(executed):
    text = _stdout(executed)
    assert text.count("-> PASS") == 3                       # softplus in a Dense, Scale, the whole model
    accuracy = float(re.search(r"test accuracy (\S+); gamma moved", text).group(1))
    assert accuracy > 0.7                                   # 1 epoch on 5,000 images (chance: 0.1)
    diff = float(re.search(r"largest weight difference from Keras is (\S+)", text).group(1))
    assert diff < 1e-12
    losses = re.findall(r"loss nnscratch (\S+), Keras (\S+)", text)
    assert len(losses) == 5 and all(abs(float(a) - float(b)) < 1e-12 for a, b in losses)


def test_the_page_is_the_notebooks_code():
    page = open(PAGE, encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", page, re.S)
    cells = [c.source.strip() for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    assert len(blocks) == 4
    for block in blocks:
        assert block.strip() in cells, block[:80]


def test_links_point_at_real_files():
    missing, count = notebooks.missing_links(NOTEBOOK)
    assert count >= 6 and not missing, missing
    page = open(PAGE, encoding="utf-8").read()
    for link in set(re.findall(r"\]\(([^)#:]+)", page)):
        assert os.path.exists(os.path.normpath(os.path.join(ROOT, "docs", link))), link
