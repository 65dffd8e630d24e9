"""What an exercise is (:class:`Exercise`), and the helpers every exercise uses."""
import dataclasses
from typing import Callable

from .. import gradcheck


@dataclasses.dataclass
class Exercise:
    name: str
    title: str
    anchor: str                                  # docs/derivations.md#<anchor>
    signature: str                               # what the learner writes, as they call it
    stub: str                                    # the file ``start`` writes
    inputs: Callable                             # rng -> dict of inputs (``N``: the batch size)
    run: Callable                                # (learner module, inputs) -> outputs
    library: Callable                            # inputs -> nnscratch's outputs
    library_what: str
    keras: Callable                              # (keras_reference.exercises, inputs) -> (outputs, input changes)
    keras_what: str
    numeric: Callable = None                     # (learner module, inputs) -> finite-difference outputs
    numeric_what: str = "not applicable"
    mistakes: list = dataclasses.field(default_factory=list)   # [(hint, inputs -> wrong outputs)]
    tol: float = 1e-9                            # against nnscratch and Keras (finite differences: 1e-7)
    tol_note: str = ""


def _fd(f, arrays):
    """Central differences of the scalar ``f()`` with respect to each named array (changed in place)."""
    return {name: gradcheck.numerical_gradient(f, a).reshape(a.shape) for name, a in arrays.items()}


def doc_link(anchor):
    """Where an exercise is explained: ``docs/derivations.md#<anchor>``, or a page of its own."""
    return anchor if anchor.endswith(".md") else f"docs/derivations.md#{anchor}"


def _header(name, title, anchor, body):
    return (f'"""Exercise {name}: {title}.\n\n{body.strip()}\n\n'
            f"Read: {doc_link(anchor)} (in the nnscratch repository).  Check with:\n\n"
            f"    nnscratch exercise check {name}\n\n"
            "Rows are samples, as in Keras.  Everything is float64 NumPy.\n\"\"\"\nimport numpy as np\n")
