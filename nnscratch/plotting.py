"""Plots for the workshop's analysis (matplotlib).  A plain module of functions.

Each function draws on ``ax`` if given (else on a new Figure), saves a PNG when ``path`` is given
and returns the Figure.  A new Figure is a bare ``matplotlib.figure.Figure``, not a pyplot window:
it is rendered by the non-interactive Agg backend, works without a display and leaves pyplot's
state alone.
"""
import numpy as np


def _figure(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure  # a Figure not tied to pyplot: Agg canvas, no display
    fig = Figure(figsize=figsize)
    return fig, fig.add_subplot(1, 1, 1)


def plot_confusion_matrix(cm, path=None, ax=None, class_names=None, title="Confusion matrix"):
    """Heat map of a confusion matrix with the counts written in each cell.

    ``cm``: (C, C) counts, ``cm[i, j]`` = samples of true class i predicted as j (rows = true, as
    ``nnscratch.utils.confusion_matrix`` returns).  Columns are labelled "predicted", rows "true".
    ``class_names``: C tick labels (default 0..C-1).  Returns the matplotlib Figure.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square (C, C) matrix, got shape {cm.shape}")
    n = cm.shape[0]
    if class_names is None:
        class_names = [str(i) for i in range(n)]
    if len(class_names) != n:
        raise ValueError(f"class_names has {len(class_names)} names for {n} classes")
    fig, ax = _figure(ax, (1.0 + 0.6 * n, 0.8 + 0.6 * n))
    im = ax.imshow(cm, cmap="Blues", interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(n), labels=class_names)
    ax.set_yticks(range(n), labels=class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    vmax = cm.max() if cm.size else 0
    for i in range(n):
        for j in range(n):
            v = cm[i, j]
            text = f"{v:d}" if np.issubdtype(cm.dtype, np.integer) else f"{v:.2g}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if v > vmax / 2 else "black")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, format="png", dpi=100)   # PNG is rendered by Agg; no display needed
    return fig


# ------------------------------------------------------------------------------------------------
# Figures of the workshop report (nnscratch/workshop/): digit grids, training curves, sweeps.
# Same conventions as above: a bare Figure, saved as PNG when ``path`` is given, returned.
# ------------------------------------------------------------------------------------------------
def _new_figure(figsize):
    from matplotlib.figure import Figure
    return Figure(figsize=figsize)


def _finish(fig, path):
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, format="png", dpi=100)
    return fig


def plot_digit_grid(images, titles, path=None, ncols=3, cell=2.4, title=None):
    """Images in a grid with a title above each, drawn as the workshop draws them
    (``imshow(image, cmap='gray', interpolation='none')``).

    ``images``: ``(n, 28, 28)`` or flat ``(n, 784)`` (any square size); ``titles``: n strings such as
    ``"Predicted 4, Class 9"``."""
    images = np.asarray(images)
    if len(images) == 0:
        raise ValueError("plot_digit_grid: no images to draw")
    if len(titles) != len(images):
        raise ValueError(f"plot_digit_grid: {len(images)} images but {len(titles)} titles")
    side = int(round(np.sqrt(images[0].size)))
    if side * side != images[0].size:
        raise ValueError(f"plot_digit_grid: images of {images[0].size} pixels are not square")
    ncols = min(ncols, len(images))
    nrows = -(-len(images) // ncols)
    fig = _new_figure((cell * ncols, cell * nrows + (0.4 if title else 0)))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i].reshape(side, side), cmap="gray", interpolation="none")
            ax.set_title(titles[i], fontsize=9)
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def plot_training_curves(curves, path=None, title=None):
    """Loss and accuracy per epoch, training (solid) and validation (dashed).

    ``curves``: ``{label: history}`` where ``history`` is Keras's ``History.history`` dict
    (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``; missing keys are skipped), e.g.
    ``{'nnscratch': h1.history, 'Keras': h2.history}``; one colour per label."""
    fig = _new_figure((11, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for i, (label, h) in enumerate(curves.items()):
        for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
            for prefix, style, kind in (("", "-o", "training"), ("val_", "--s", "validation")):
                values = h.get(prefix + key)
                if values:
                    ax.plot(range(1, len(values) + 1), values, style, color=f"C{i}", ms=3,
                            label=f"{label} {kind}")
    for ax, name in ((ax_loss, "loss (categorical cross-entropy)"), (ax_acc, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def plot_sweep(x, series, xlabel, path=None, title=None, logx=False):
    """Test accuracy (left) and training time (right) against one setting (epochs, batch size, ...).

    ``x``: the setting's values; ``series``: ``{label: (accuracies, seconds)}`` aligned with ``x``
    (``None`` entries are skipped), e.g. ``{'nnscratch': (...), 'Keras': (...)}``.
    ``logx``: a base-2 logarithmic x axis (batch sizes, hidden units)."""
    fig = _new_figure((11, 4))
    ax_acc, ax_time = fig.subplots(1, 2)
    for i, (label, (acc, sec)) in enumerate(series.items()):
        pts = [(a, float(b), float(c)) for a, b, c in zip(x, acc, sec) if b is not None and c is not None]
        if pts:
            xs, accs, secs = zip(*pts)
            ax_acc.plot(xs, accs, "-o", color=f"C{i}", label=label)
            ax_time.plot(xs, secs, "-o", color=f"C{i}", label=label)
    ax_acc.set_ylabel("test accuracy")
    ax_time.set_ylabel("training time (s)")
    for ax in (ax_acc, ax_time):
        ax.set_xlabel(xlabel)
        if logx:
            ax.set_xscale("log", base=2)
        ax.set_xticks(list(x), labels=[str(v) for v in x])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _finish(fig, path)
