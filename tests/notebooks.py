"""Running the example notebooks in tests, one way for all of them.

A notebook runs with nbclient and the standard ``python3`` Jupyter kernel in the examples/ folder (so
its relative links and paths are those a reader has).  The kernel inherits this process's environment,
with the repository root on PYTHONPATH (an uninstalled checkout works too), OpenBLAS on one thread
unless the caller chose (see test_workshop._env), and whatever ``env`` adds.
"""
import contextlib
import os
import re

import nbclient   # installed by the [dev] extra: no skip
import nbformat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@contextlib.contextmanager
def _environment(values):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def execute(path, **env):
    """The notebook at ``path``, executed from top to bottom (its outputs filled in)."""
    values = {"PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
              "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1"), **env}
    nb = nbformat.read(path, as_version=4)
    with _environment(values):
        nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                resources={"metadata": {"path": os.path.dirname(path)}}).execute()
    return nb


def outputs(nb):
    """Every output of every code cell, in order."""
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def errors(nb):
    return [o for o in outputs(nb) if o.get("output_type") == "error"]


def printed(nb, stream=None):
    """What the cells printed (``stream='stdout'``: that stream only)."""
    return "".join(o.get("text", "") for o in outputs(nb)
                   if o.get("output_type") == "stream" and stream in (None, o.get("name")))


def missing_links(path):
    """The relative links (``](../...)``) of the notebook's markdown cells that name no file, and how
    many links there are: ``(missing, count)``."""
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    links = set(re.findall(r"\]\((\.\./[^)#]+)", text))
    return [l for l in links if not os.path.exists(os.path.normpath(os.path.join(os.path.dirname(path), l)))], len(links)
