"""Keras-style progress output for ``fit``, ``evaluate`` and ``predict``, drawn with tqdm.

verbose=1: a bar per epoch, ``1875/1875 ━━━━━━━━━━━━━━━━━━━━ 3s 1ms/step - accuracy: 0.91 - loss: 0.31``
verbose=2: one line per epoch, ``1875/1875 - 3s - 1ms/step - accuracy: 0.91 - loss: 0.31``
verbose=0: silent.

Without a terminal (output to a log file, a pipe, CI) there is nobody to watch a bar move: verbose=1
then writes only each epoch's finished bar, one line, instead of every redraw joined by carriage
returns.  (Keras means to do the same, but its test ``"posix" in sys.modules`` is true on every
Linux and macOS, so Keras 3.15 writes the redraws into log files there.)  A Jupyter notebook counts
as a terminal: it draws the redraws in place.
"""
import os
import sys
import time

from tqdm import tqdm

_BAR_FORMAT = "{n_fmt}/{total_fmt} {bar:20} {elapsed} {logs}"


class _KerasBar(tqdm):
    """tqdm with one extra field, ``{logs}``: Keras's ``- 5ms/step - accuracy: ... - loss: ...``."""
    logs = ""

    @property
    def format_dict(self):
        d = super().format_dict
        d["logs"] = self.logs
        return d


def format_logs(logs):
    """``{'accuracy': 0.9, 'loss': 0.3}`` -> ``'accuracy: 0.9000 - loss: 0.3000'`` (Keras's order: as given)."""
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


def live(file):
    """Whether ``file`` shows a bar that moves: a terminal, a Jupyter notebook's output (ipykernel's
    stream) or PyCharm's console.  (Not merely "ipykernel is imported": a test run or a script may
    import it and still write to a log.)"""
    isatty = getattr(file, "isatty", None)
    return (bool(callable(isatty) and isatty()) or type(file).__module__.startswith("ipykernel")
            or "PYCHARM_HOSTED" in os.environ)


class ProgressBar:
    """One epoch's (or one evaluate/predict call's) progress; ``update`` is cheap to call every step."""

    def __init__(self, total_steps, verbose=1, file=None):
        self.total = total_steps
        self.verbose = verbose
        self.file = file or sys.stdout
        self.start = time.perf_counter()
        self._last_postfix = 0.0
        self.bar = None
        if verbose == 1 and live(self.file):
            self.bar = _KerasBar(total=total_steps, bar_format=_BAR_FORMAT, ascii=" ━", file=self.file,
                            mininterval=0.1, dynamic_ncols=False, leave=True)
        self.counted = 0
        if total_steps is None and self.bar is None:   # an unknown number of steps (a dataset of unknown length)
            self.update = self._count                  # and no bar to move: count them for the last line

    def update(self, steps, logs=None):
        """Advance ``steps``; refresh the running metrics at most 10 times a second.  ``logs`` is a
        function returning the metrics dict, called only then (no per-step work when silent)."""
        if self.bar is None:
            return
        self.bar.update(steps)
        now = time.perf_counter()
        if logs is not None and now - self._last_postfix > 0.1:
            self._last_postfix = now
            self.bar.logs = self._per_step() + " - " + format_logs(logs())

    def _count(self, steps, logs=None):
        self.counted += steps

    def _per_step(self):
        elapsed = time.perf_counter() - self.start
        n = self.bar.n if self.bar is not None else self.total
        per = elapsed / max(n, 1)
        return f"{per * 1e3:.0f}ms/step" if per >= 1e-3 else f"{per * 1e6:.0f}us/step"

    def close(self, logs=None):
        """Finish the bar (verbose=1; without a terminal, write the finished bar once) or print the
        epoch's single line (verbose=2).  A bar of unknown length learns it here, as Keras's does."""
        if self.total is None:
            self.total = self.bar.n if self.bar is not None else self.counted
            if self.bar is not None:
                self.bar.total = self.total
        if self.verbose == 1 and self.bar is not None:
            self.bar.logs = self._per_step() + (" - " + format_logs(logs) if logs else "")
            self.bar.close()
        elif self.verbose == 1:                            # no terminal: the finished bar, one line
            elapsed = time.perf_counter() - self.start
            line = f"{self.total}/{self.total} {'━' * 20} {elapsed:.0f}s {self._per_step()}"
            if logs:
                line += " - " + format_logs(logs)
            print(line, file=self.file, flush=True)
        elif self.verbose == 2:
            elapsed = time.perf_counter() - self.start
            line = f"{self.total}/{self.total} - {elapsed:.0f}s - {self._per_step()}"
            if logs:
                line += " - " + format_logs(logs)
            print(line, file=self.file, flush=True)
