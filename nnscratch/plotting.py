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


# ------------------------------------------------------------------------------------------------
# What the network learned: weights, filters, feature maps, activations, gradients, its mistakes.
# Same conventions: a bare Figure, saved as PNG when ``path`` is given, returned.
# ------------------------------------------------------------------------------------------------
def _colour_map(name):
    """A matplotlib colour map that draws NaN (a value left out) in light grey."""
    import matplotlib
    return matplotlib.colormaps[name].with_extremes(bad="0.82")


def _symmetric(values):
    """``vmax`` for a diverging colour map centred on 0 (blue negative, red positive)."""
    vmax = float(np.max(np.abs(values))) if np.size(values) else 1.0
    return vmax if vmax > 0 else 1.0


def _image_grid(images, titles, path, ncols, cell, title, cmap="RdBu_r", symmetric=True, colorbar_label=None):
    images = np.asarray(images, dtype=np.float64)
    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig = _new_figure((cell * ncols + (0.8 if colorbar_label else 0), cell * nrows + (0.5 if title else 0)))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    vmax = _symmetric(images[np.isfinite(images)]) if symmetric else None
    cmap = _colour_map(cmap)
    im = None
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k < n:
            kw = dict(vmin=-vmax, vmax=vmax) if symmetric else {}
            im = ax.imshow(images[k], cmap=cmap, interpolation="nearest", **kw)
            ax.set_title(titles[k], fontsize=8)
    if colorbar_label and im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.03, pad=0.02, label=colorbar_label)
    if title:
        fig.suptitle(title)
    if not colorbar_label:
        fig.tight_layout()
    if path is not None:
        fig.savefig(path, format="png", dpi=100)
    return fig


def plot_weight_templates(kernel, path=None, class_names=None, title="What each output unit looks for",
                          never_inked=None, initial=None):
    """The kernel of a one-layer model, ``W (784, C)``, as C images of 28 x 28: column ``j`` holds the
    weight of every pixel in unit ``j``'s sum ``z_j = sum_p x_p W[p, j] + b_j``.  Red pixels push ``z_j``
    up when they are inked, blue ones down: a template of class ``j`` (and of what it is not).  One
    colour scale, symmetric around 0, for all C images.

    ``never_inked``: optional boolean ``(784,)``, the pixels that are 0 in every training image; they
    are drawn grey.  Their weights never move from their random start (``dW = x.T @ dz`` is 0 there),
    so they only add noise to the picture.  ``initial``: optional, the kernel before training; a second
    row then shows ``kernel - initial``, what training changed (each row on its own colour scale)."""
    kernel = np.array(kernel, dtype=np.float64)
    rows = [("", kernel)] + ([("change ", kernel - np.asarray(initial, dtype=np.float64))] if initial is not None else [])
    if never_inked is not None:
        for _, k in rows:
            k[np.asarray(never_inked, dtype=bool)] = np.nan
    if initial is not None:
        return _weight_rows(rows, path, class_names, title)
    if kernel.ndim != 2:
        raise ValueError(f"plot_weight_templates: expects a kernel (pixels, classes), got shape {kernel.shape}")
    side = int(round(np.sqrt(kernel.shape[0])))
    if side * side != kernel.shape[0]:
        raise ValueError(f"plot_weight_templates: {kernel.shape[0]} inputs are not a square image")
    names = class_names or [str(j) for j in range(kernel.shape[1])]
    images = kernel.T.reshape(-1, side, side)
    return _image_grid(images, [f"unit {names[j]}" for j in range(len(images))], path, 5, 1.9, title,
                       colorbar_label="weight")


def _weight_rows(rows, path, class_names, title):
    """Rows of C weight images (``(label, kernel (784, C))``), each row on its own symmetric scale."""
    C = rows[0][1].shape[1]
    side = int(round(np.sqrt(rows[0][1].shape[0])))
    names = class_names or [str(j) for j in range(C)]
    fig = _new_figure((1.45 * C + 1.2, 1.75 * len(rows) + 0.5))
    axes = fig.subplots(len(rows), C, squeeze=False)
    cmap = _colour_map("RdBu_r")
    for (label, k), row in zip(rows, axes):
        vmax = _symmetric(k[np.isfinite(k)])
        for j, ax in enumerate(row):
            im = ax.imshow(k[:, j].reshape(side, side), cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest")
            ax.set_title(f"{label}unit {names[j]}", fontsize=8)
            ax.axis("off")
        fig.colorbar(im, ax=list(row), fraction=0.02, pad=0.01, label=(label or "weight ").strip() or "weight")
    fig.suptitle(title)
    if path is not None:
        fig.savefig(path, format="png", dpi=100)
    return fig


def plot_conv_filters(kernel, path=None, title="First convolutional layer: the filters"):
    """A Conv2D kernel ``(kh, kw, C, F)`` as F small images (input channel 0), one colour scale
    symmetric around 0: red weights respond to ink, blue ones to its absence."""
    kernel = np.asarray(kernel)
    if kernel.ndim != 4:
        raise ValueError(f"plot_conv_filters: expects a kernel (kh, kw, C, F), got shape {kernel.shape}")
    images = np.moveaxis(kernel[:, :, 0, :], -1, 0)
    return _image_grid(images, [f"filter {f}" for f in range(len(images))], path, 8, 1.2, title,
                       colorbar_label="weight")


def plot_feature_maps(image, maps, path=None, title="Feature maps of one digit", max_maps=16):
    """One input ``image (H, W)`` and what a convolutional layer made of it: ``maps (OH, OW, F)``
    (after the activation), the first ``max_maps`` of them.  Bright: the filter found its pattern there."""
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"plot_feature_maps: expects maps (height, width, filters), got shape {maps.shape}")
    k = min(max_maps, maps.shape[-1])
    img = np.asarray(image)
    if img.ndim == 1:                                     # a flat (784,) row
        side = int(round(np.sqrt(img.size)))
        img = img.reshape(side, side)
    elif img.ndim == 3:                                   # (H, W, 1)
        img = img[:, :, 0]
    images = [img] + [maps[:, :, f] for f in range(k)]
    titles = ["input"] + [f"map {f}" for f in range(k)]
    fig = _new_figure((1.5 * 6, 1.5 * (-(-len(images) // 6)) + 0.5))
    axes = fig.subplots(-(-len(images) // 6), 6, squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i], cmap="gray" if i == 0 else "viridis", interpolation="nearest")
            ax.set_title(titles[i], fontsize=8)
    fig.suptitle(title)
    return _finish(fig, path)


def plot_activation_histograms(values, path=None, title="Hidden activations", bins=50, value_range=None,
                               saturation=None):
    """One histogram per layer: ``values`` is ``{layer label: array of its outputs}`` (e.g. the
    sigmoid outputs of each hidden layer on a batch of test images).  Mass piled up near 0 and 1 is
    saturation: there sigmoid' = a(1 - a) is near 0 and the unit passes almost no gradient.
    ``saturation``: optional ``{layer label: fraction}``, written in each panel's title."""
    if not values:
        raise ValueError("plot_activation_histograms: no layers to draw")
    fig = _new_figure((3.6 * len(values), 3.0))
    axes = fig.subplots(1, len(values), squeeze=False)[0]
    for ax, (label, v) in zip(axes, values.items()):
        v = np.asarray(v).ravel()
        ax.hist(v, bins=bins, range=value_range, color="C0")
        note = f"\n{100 * saturation[label]:.1f}% saturated (< 0.05 or > 0.95)" if saturation else ""
        ax.set_title(label + note, fontsize=9)
        ax.set_xlabel("activation")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("count")
    fig.suptitle(title)
    return _finish(fig, path)


def plot_misclassified(images, probabilities, labels, path=None, class_names=None, max_images=8,
                       title="Misclassified test digits and the network's outputs"):
    """Each wrong prediction as its image beside a bar chart of the network's C outputs (probabilities
    for a softmax output; a sigmoid output's do not sum to 1): the true class's bar green, the predicted
    one red.  ``images (n, 784)`` or ``(n, 28, 28)``, ``probabilities (n, C)``, ``labels (n,)``; only the
    rows where ``argmax(probabilities) != label`` are drawn."""
    images, probabilities, labels = np.asarray(images), np.asarray(probabilities), np.asarray(labels)
    wrong = np.nonzero(probabilities.argmax(axis=1) != labels)[0][:max_images]
    C = probabilities.shape[1]
    names = class_names or [str(j) for j in range(C)]
    fig = _new_figure((10, 1.6 * max(len(wrong), 1) + 0.5))
    if len(wrong) == 0:
        ax = fig.add_subplot(1, 1, 1)
        ax.axis("off")
        ax.text(0.5, 0.5, "no misclassified digits", ha="center", va="center")
        return _finish(fig, path)
    axes = fig.subplots(len(wrong), 2, squeeze=False, gridspec_kw={"width_ratios": [1, 4]})
    side = int(round(np.sqrt(images[0].size)))
    for row, i in enumerate(wrong):
        ax_img, ax_bar = axes[row]
        ax_img.imshow(images[i].reshape(side, side), cmap="gray", interpolation="none")
        ax_img.axis("off")
        predicted = int(probabilities[i].argmax())
        colours = ["C2" if j == labels[i] else ("C3" if j == predicted else "0.7") for j in range(C)]
        ax_bar.bar(range(C), probabilities[i], color=colours)
        ax_bar.set_ylim(0, 1)
        ax_bar.set_xticks(range(C), labels=names, fontsize=7)
        ax_bar.set_ylabel("output", fontsize=8)
        ax_bar.set_title(f"true {names[labels[i]]} (green), predicted {names[predicted]} (red, "
                         f"output {probabilities[i, predicted]:.2f})", fontsize=8)
    fig.suptitle(title)
    return _finish(fig, path)


def plot_gradient_norms(norms, path=None, title="Gradient size per layer at initialisation"):
    """Mean ``|dW|`` of each Dense layer's kernel, first layer to last, on a log scale.  ``norms`` is
    ``{label: [mean |dW| of layer 1, ..., of the last layer]}``, e.g. ``{'sigmoid, 6 layers': [...],
    'relu, 6 layers': [...]}``; sigmoid curves solid, others dashed, one colour per depth."""
    if not norms:
        raise ValueError("plot_gradient_norms: nothing to draw")
    fig = _new_figure((8, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    depths = sorted({len(v) for v in norms.values()})
    for label, values in norms.items():
        colour = f"C{depths.index(len(values))}"
        style = "-o" if "sigmoid" in label else "--s"
        ax.plot(range(1, len(values) + 1), values, style, color=colour, label=label, ms=4)
    ax.set_yscale("log")
    ax.set_xlabel("Dense layer (1 = first, next to the input)")
    ax.set_ylabel("mean |dL/dW| (log scale)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, ncol=2)
    ax.set_title(title)
    return _finish(fig, path)
