"""``start`` writes a stub, ``load`` imports the learner's file, ``check`` compares what it computes with
finite differences, nnscratch and Keras, and explains what it recognises (:func:`hints`)."""
import importlib.util
import os
import sys
import traceback
from pathlib import Path

import numpy as np

from ..gradcheck import relative_error
from .catalog import EXERCISES, doc_link

DEFAULT_FOLDER = "nnscratch-exercises"
NUMERIC_TOL = 1e-7                    # finite differences in float64, as gradcheck


def _exercise(name):
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; `nnscratch exercise list` shows them: "
                         + ", ".join(EXERCISES))
    return EXERCISES[name]


def stub_path(name, folder=DEFAULT_FOLDER):
    """Where the learner's file for exercise ``name`` lives: ``<folder>/<name>.py``."""
    return Path(folder) / f"{_exercise(name).name}.py"


def start(name, folder=DEFAULT_FOLDER):
    """Write the stub of exercise ``name`` into ``folder`` (created if needed).  Returns
    ``(path, written)``: a file already there is the learner's work and is never overwritten
    (``written`` is then False)."""
    ex, path = _exercise(name), stub_path(name, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "x", encoding="utf-8") as f:     # "x": fails if the file exists, atomically
            f.write(ex.stub)
    except FileExistsError:
        return path, False
    return path, True


def load(name, folder=DEFAULT_FOLDER):
    """Import the learner's file for exercise ``name`` (afresh each time) and return the module."""
    path = stub_path(name, folder)
    if not path.is_file():
        raise ValueError(f"{path} does not exist: run `nnscratch exercise start {name}` first "
                         f"(or give the folder your file is in with --dir)")
    spec = importlib.util.spec_from_file_location(f"nnscratch_exercise_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------------ the report
class CheckReport:
    """The rows of one check (``check, output, relative error, max |diff|, tolerance``), the hints, and
    what could not be checked.  ``passed``: every row within its tolerance and nothing failed to run."""

    def __init__(self, ex, path):
        self.exercise, self.path = ex, path
        self.rows, self.hints, self.notes, self.errors = [], [], [], []

    def add(self, check, output, got, ref, tol):
        got_arr = _as_array(got)
        if got_arr is None or got_arr.shape != ref.shape or not np.all(np.isfinite(got_arr)):
            err, diff = float("inf"), float("inf")
        else:
            err, diff = relative_error(got_arr, ref), float(np.max(np.abs(got_arr - ref))) if ref.size else 0.0
        self.rows.append({"check": check, "output": output, "rel_error": err, "max_abs_diff": diff,
                          "tol": tol, "passed": err < tol})
        return err < tol

    @property
    def max_error(self):
        return max((r["rel_error"] for r in self.rows), default=float("inf"))

    @property
    def passed(self):
        return not self.errors and bool(self.rows) and all(r["passed"] for r in self.rows)

    def __str__(self):
        ex = self.exercise
        lines = [f"Exercise {ex.name}: {ex.title}", f"  your code: {self.path}  ({ex.signature})",
                 f"  read:      {doc_link(ex.anchor)}", ""]
        for e in self.errors:
            lines.append(f"  ERROR: {e}")
        if self.rows:
            width = max(len(r["check"]) for r in self.rows)
            lines.append(f"  {'checked against':<{width}}  {'output':<8} {'rel. error':>10} {'max |diff|':>10}")
            for r in self.rows:
                lines.append(f"  {r['check']:<{width}}  {r['output']:<8} {_num(r['rel_error']):>10} "
                             f"{_num(r['max_abs_diff']):>10}  {'ok' if r['passed'] else 'WRONG'}")
        for n in self.notes:
            lines.append(f"  {n}")
        for h in dict.fromkeys(self.hints):
            lines.append(f"  hint: {h}")
        verdict = "PASS" if self.passed else "FAIL"
        largest = f"largest relative error {_num(self.max_error)}" if self.rows else "nothing was compared"
        lines.append(f"-> {verdict} ({largest})")
        return "\n".join(lines)

    __repr__ = __str__


def _num(x):
    return "-" if x == float("inf") else f"{x:.1e}"


def _as_array(value):
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return a


# ------------------------------------------------------------------------------------------- hints
def hints(output, got, ref, inputs, mistakes):
    """What is recognisably wrong with ``got`` (the learner's ``output``) against the right ``ref``."""
    g, N = _as_array(got), inputs.get("N", 1)
    if g is None:
        return [f"{output}: return an array of shape {ref.shape}, not {type(got).__name__}"]
    if not np.all(np.isfinite(g)):
        return [f"{output}: holds NaN or inf (a division by zero? a step number t that starts at 0?)"]
    if g.shape != ref.shape:
        if g.shape == ref.shape[::-1] and np.allclose(g.T, ref, rtol=1e-6, atol=1e-12):
            return [f"{output}: transposed; it has shape {g.shape}, the right one {ref.shape}: check the order "
                    "of your product (dW = x.T @ dz, not dz.T @ x)"]
        if g.shape[1:] == ref.shape and np.allclose(g.sum(axis=0), ref, rtol=1e-6, atol=1e-12):
            return [f"{output}: one value per sample; sum over the batch (a weight shared by every sample "
                    "collects the gradient of each: a broadcast in the forward is a sum in the backward)"]
        return [f"{output}: wrong shape {g.shape}; a gradient has the shape of what it is the gradient of, "
                f"here {ref.shape}"]
    found = []
    for hint, wrong in mistakes:
        w = wrong(inputs).get(output)
        if w is not None and w.shape == g.shape and relative_error(g, w) < 1e-6:
            found.append(f"{output}: {hint}")
    if found:
        return found
    if not np.any(g) and np.any(ref):
        return [f"{output}: all zeros (did you write into a new array instead of the one you return, or "
                "rebind self.d_... instead of writing into it with [...] = ?)"]
    if g.ndim == 2 and g.shape[0] == g.shape[1] and np.allclose(g, ref.T, rtol=1e-6, atol=1e-12) \
            and not np.allclose(g, ref):
        return [f"{output}: transposed: check the order of your matrix product"]
    denom = float(np.vdot(ref, ref))
    if denom > 0:
        c = float(np.vdot(g, ref)) / denom
        if relative_error(g, c * ref) < 1e-6 and abs(c - 1) > 1e-6:
            if abs(c + 1) < 1e-6:
                return [f"{output}: a sign: yours is minus the right one"]
            if N > 1 and abs(c - N) < 1e-6 * N:
                return [f"{output}: a missing 1/N: the loss is the mean over the N = {N} samples of the batch"]
            if N > 1 and abs(c - 1 / N) < 1e-6:
                return [f"{output}: an extra 1/N: the mean's 1/N is already in the incoming gradient"]
            return [f"{output}: off by a constant factor {c:.4g} (a mean where the derivation has a sum, or a "
                    "missing scale?)"]
    return []


# ------------------------------------------------------------------------------------------- check
def _learner_error(e, path):
    """One line about an exception raised by the learner's code, with the line of their file."""
    if isinstance(e, NotImplementedError):
        return f"not implemented yet: {e} (the TODO in {path})"
    frames = [f for f in traceback.extract_tb(e.__traceback__) if os.path.abspath(f.filename) == os.path.abspath(path)]
    where = f" (line {frames[-1].lineno}: {frames[-1].line})" if frames else ""
    return f"your code raised {type(e).__name__}: {e}{where}"


def _keras_reference(mode):
    """``(module, label)`` for Keras's numbers, or ``(None, why not)``."""
    if mode == "off":
        return None, "switched off (--keras off)"
    from ..workshop.keras_side import exercise_reference
    ref, label = exercise_reference()
    if ref is None and mode == "on":
        raise RuntimeError(f"--keras on, but Keras could not be imported: {label}")
    return ref, label


def check(name, folder=DEFAULT_FOLDER, keras="auto"):
    """Load the learner's file for exercise ``name`` from ``folder`` and check it (see the package
    docstring).  ``keras``: ``'auto'`` (when TensorFlow imports), ``'on'`` (required) or ``'off'``.
    Returns a :class:`CheckReport`; ``print`` it."""
    ex = _exercise(name)
    path = stub_path(name, folder)
    report = CheckReport(ex, path)
    try:
        module = load(name, folder)
    except ValueError:
        raise
    except Exception as e:                                   # a syntax error, an import error, ...
        report.errors.append(f"your file does not import: {type(e).__name__}: {e}")
        return report
    inputs = ex.inputs(np.random.default_rng(2025))

    def run(inp):
        try:
            return ex.run(module, inp)
        except Exception as e:
            report.errors.append(_learner_error(e, path))
            return None

    got = run(inputs)
    if got is None:
        return report
    answers = []
    if ex.numeric is not None:
        try:
            answers.append((f"finite differences of {ex.numeric_what}", ex.numeric(module, inputs), got, inputs,
                            NUMERIC_TOL))
        except Exception as e:
            report.errors.append(_learner_error(e, path))
    else:
        report.notes.append("finite differences: not applicable (an optimizer step is not a gradient)")
    answers.append((f"nnscratch: {ex.library_what}", ex.library(inputs), got, inputs, ex.tol))
    ref, label = _keras_reference(keras)
    if ref is None:
        report.notes.append(f"Keras: NOT CHECKED: {label}. Checked: "
                            + ("finite differences and " if ex.numeric is not None else "") + "nnscratch only.")
    else:
        answer, changes = ex.keras(ref, inputs)
        k_inputs = {**inputs, **changes}
        k_got = run(k_inputs) if changes else got
        if k_got is not None:
            answers.append((f"{label}: {ex.keras_what}", answer, k_got, k_inputs, ex.tol))
    for check_name, answer, mine, inp, tol in answers:
        for output, right in answer.items():
            right = np.asarray(right, dtype=np.float64)
            if not report.add(check_name, output, mine.get(output), right, tol):
                report.hints.extend(hints(output, mine.get(output), right, inp, ex.mistakes))
    if ex.tol_note:
        report.notes.append(ex.tol_note)
    if not report.passed and not report.hints and report.rows:
        report.hints.append(f"compare your code, one index at a time, with {doc_link(ex.anchor)}")
    return report


def main_list(stream=None):
    """The exercises, one line each (``nnscratch exercise list``)."""
    stream = stream or sys.stdout
    for ex in EXERCISES.values():
        print(f"  {ex.name:<22} {ex.title}  ({doc_link(ex.anchor)})", file=stream)
