"""Part II of the workshop: a convolutional network beside the dense one, on altered test digits.

The workshop's question: a dense network learns pixels at fixed places, a convolutional network
learns local patterns wherever they are, so which copes with digits that are shifted, noisy,
rotated, shrunk or inverted?  :func:`variants` builds the five kinds of altered test digits, each at
a few strengths; :func:`run_part2` trains the 3-layer dense network (``zoo.mlp``) and the simple
convnet (``zoo.simple_convnet``) on the ordinary training set, measures test accuracy on every
variant, then trains both again on augmented data (each training image replaced, with probability
1/2, by a random variant of a random strength) and measures again.

All image transforms are plain NumPy on float images in [0, 1] of shape ``(N, 28, 28)``.
"""
import time

import numpy as np

from .. import zoo

# kind -> strengths, with a label for each.  The workshop shows one digit in every variant.
KINDS = {
    "shifted": [2, 4, 6],                          # pixels right and down
    "noise": [(0.2, 0.1), (0.4, 0.2), (0.6, 0.3)],  # (grey level, noise std) added to the background
    "rotated": [15, 30, 45],                       # degrees, anticlockwise
    "shrunk": [0.8, 0.6, 0.4],                     # scale about the centre
    "inverted": [1.0],                             # white digit on black: 1 - x
}


def strength_label(kind, strength):
    """How strong a variant is, in a few words: ``'2 px'``, ``'grey 0.2, sd 0.1'``, ``'1 - x'``."""
    return {"shifted": lambda s: f"{s} px", "noise": lambda s: f"grey {s[0]}, sd {s[1]}",
            "rotated": lambda s: f"{s} deg", "shrunk": lambda s: f"x{s}",
            "inverted": lambda s: "1 - x" if s == 1 else f"{s:g} (1 - x)"}[kind](strength)


def _sample(images, rows, cols):
    """Bilinear sampling of ``images (N, H, W)`` at real coordinates ``rows, cols (H, W)``; 0 outside."""
    N, H, W = images.shape
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    fr, fc = rows - r0, cols - c0
    out = np.zeros_like(images)
    for dr, wr in ((0, 1 - fr), (1, fr)):
        for dc, wc in ((0, 1 - fc), (1, fc)):
            r, c = r0 + dr, c0 + dc
            inside = (r >= 0) & (r < H) & (c >= 0) & (c < W)
            out += images[:, np.clip(r, 0, H - 1), np.clip(c, 0, W - 1)] * (wr * wc * inside)
    return out


def _affine(images, matrix):
    """Each output pixel ``p`` (relative to the centre) takes the input at ``matrix @ p``."""
    H, W = images.shape[1:]
    cy, cx = (H - 1) / 2, (W - 1) / 2
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    src = np.tensordot(matrix, np.stack([yy - cy, xx - cx]), axes=1)
    return _sample(images, src[0] + cy, src[1] + cx).astype(images.dtype)


def alter(images, kind, strength, rng):
    """One variant of ``images (N, 28, 28)`` in [0, 1]."""
    x = images
    if kind == "shifted":
        out = np.zeros_like(x)
        out[:, strength:, strength:] = x[:, :x.shape[1] - strength, :x.shape[2] - strength]
        return out
    if kind == "noise":
        grey, std = strength
        noisy = grey + std * rng.standard_normal(x.shape)
        return np.clip(np.maximum(x, noisy), 0, 1).astype(x.dtype)     # the digit stays on top
    if kind == "rotated":
        t = np.deg2rad(strength)
        return _affine(x, np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]]))
    if kind == "shrunk":
        return _affine(x, np.eye(2) / strength)
    if kind == "inverted":
        return (strength * (1 - x) + (1 - strength) * x).astype(x.dtype)
    raise ValueError(f"unknown variant {kind!r}; choose one of {list(KINDS)}")


def variants(images, seed=0):
    """``[(kind, strength label, altered images), ...]``, the original first, for ``images (N, 28, 28)``."""
    rng = np.random.default_rng(seed)
    out = [("original", "-", images)]
    for kind, strengths in KINDS.items():
        for s in strengths:
            out.append((kind, strength_label(kind, s), alter(images, kind, s, rng)))
    return out


def augment(images, seed=0):
    """Each image replaced, with probability 1/2, by a random variant of a random strength."""
    rng = np.random.default_rng(seed)
    out = images.copy()
    pick = rng.random(len(images)) < 0.5
    kinds = list(KINDS)
    which = rng.integers(0, len(kinds), len(images))
    level = rng.integers(0, 1 << 30, len(images))          # the strength: level mod the kind's count
    for k, kind in enumerate(kinds):
        for j, s in enumerate(KINDS[kind]):
            rows = np.nonzero(pick & (which == k) & (level % len(KINDS[kind]) == j))[0]
            if len(rows):
                out[rows] = alter(images[rows], kind, s, rng)
    return out


NETWORKS = {"dense 784-512-512-10": "dense", "simple convnet": "cnn"}


def _shape(net, x):
    return x.reshape(len(x), 784) if net == "dense" else x[..., None]


def _train(net, x, Y, epochs, batch_size, seed):
    from ..utils import set_random_seed
    set_random_seed(seed)
    model = zoo.mlp(2, 512) if net == "dense" else zoo.simple_convnet()
    start = time.perf_counter()
    model.fit(_shape(net, x), Y, batch_size=batch_size, epochs=epochs, verbose=0)
    return model, time.perf_counter() - start


def run_part2(data, epochs, batch_size, seed, progress, fig_path, train_rows=0, test_rows=0):
    """Train both networks on ordinary and on augmented training images, test on every variant.

    Returns ``{"rows": [{kind, strength, <net>: acc, <net> augmented: acc}], "seconds": {...},
    "models": {<net>: the model trained on ordinary images}}`` (pop ``models`` before saving it) and
    writes ``part2_variants.png`` (one digit in every variant) and ``part2_accuracy.png``."""
    x = data["x"].astype("float32") / 255
    xt = data["xt"].astype("float32") / 255
    Y, yt = data["Y"], data["yt"]
    if train_rows:
        x, Y = x[:train_rows], Y[:train_rows]
    if test_rows:
        xt, yt = xt[:test_rows], yt[:test_rows]
    tests = variants(xt, seed)
    rows = [{"kind": k, "strength": s} for k, s, _ in tests]
    seconds, models = {}, {}
    for training, train_x in (("ordinary", x), ("augmented", augment(x, seed + 1))):
        for name, net in NETWORKS.items():
            column = name if training == "ordinary" else f"{name}, augmented"
            progress(f"part II: {name} on {len(train_x):,} {training} training images, {epochs} epoch(s) ...")
            model, sec = _train(net, train_x, Y, epochs, batch_size, seed)
            models.setdefault(name, model)                 # the first: trained on ordinary images
            seconds[column] = sec
            for row, (_, _, images) in zip(rows, tests):
                p = model.predict(_shape(net, images), batch_size=512, verbose=0)
                row[column] = float(np.mean(p.argmax(1) == yt))
            progress(f"    original {rows[0][column]:.4f}, inverted {rows[-1][column]:.4f} ({sec:.1f} s)")
    _plot_variants(tests, fig_path("part2_variants.png"))
    _plot_accuracy(rows, fig_path("part2_accuracy.png"))
    return {"rows": rows, "seconds": seconds, "models": models, "train_rows": len(x), "test_rows": len(xt), "epochs": epochs,
            "columns": [c for c in rows[0] if c not in ("kind", "strength")]}


def variant_titles(tests):
    """A title per variant: ``'original'``, ``'shifted (2 px)'``, ..., ``'inverted (1 - x)'``."""
    return [f"{k} ({s})" if k != "original" else k for k, s, _ in tests]


def _plot_variants(tests, path):
    from ..plotting import plot_digit_grid
    images = np.stack([t[2][0] for t in tests])
    plot_digit_grid(images, variant_titles(tests), path, ncols=5, cell=1.8)


def _plot_accuracy(rows, path):
    accuracy_figure(rows).savefig(path, format="png", dpi=100)


def accuracy_figure(rows):
    """The bar chart of ``part2_accuracy.png``: test accuracy per variant, one bar per network and training."""
    from matplotlib.figure import Figure
    columns = [c for c in rows[0] if c not in ("kind", "strength")]
    labels = [r["kind"] if r["kind"] == "original" else f"{r['kind']}\n" + r["strength"].replace(", ", "\n")
              for r in rows]                                   # one word per line: no label runs into the next
    fig = Figure(figsize=(13, 5))
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(columns)
    for i, c in enumerate(columns):
        ax.bar(np.arange(len(rows)) + (i - (len(columns) - 1) / 2) * width, [r[c] for r in rows], width, label=c)
    ax.set_xticks(np.arange(len(rows)))
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.axhline(0.1, color="grey", lw=0.8, ls=":")
    ax.legend(fontsize=8, ncol=len(columns), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    ax.set_title("Test accuracy on altered digits (dotted: chance)", pad=24)   # the legend sits between
    fig.tight_layout()
    return fig


def conclusions(part2):
    """What the numbers say, in words computed from them (nothing here is written in advance)."""
    rows = {(r["kind"], r["strength"]): r for r in part2["rows"]}
    cols = part2["columns"]
    dense, cnn = cols[0], cols[1]
    out = []
    for kind in KINDS:
        kr = [r for (k, _), r in rows.items() if k == kind]
        d, c = np.mean([r[dense] for r in kr]), np.mean([r[cnn] for r in kr])
        better = "the CNN" if c > d + 0.01 else ("the dense network" if d > c + 0.01 else "neither")
        out.append(f"{kind}: dense {d:.3f}, CNN {c:.3f} on average over its strengths ({better} holds up better)")
    inv = part2["rows"][-1]
    out.append(f"inverted digits: dense {inv[dense]:.3f}, CNN {inv[cnn]:.3f}: "
               + ("both near chance - a network trained on black-on-white digits has never seen a negative, "
                  "and convolution does not change that" if max(inv[dense], inv[cnn]) < 0.5 else
                  "at least one network keeps some accuracy"))
    if len(cols) >= 4:
        gain = lambda col, base: np.mean([r[col] - r[base] for r in part2["rows"][1:]])  # noqa: E731
        out.append(f"training on augmented images changes the mean accuracy over the variants by "
                   f"{gain(cols[2], dense):+.3f} (dense) and {gain(cols[3], cnn):+.3f} (CNN); on the original "
                   f"test digits by {part2['rows'][0][cols[2]] - part2['rows'][0][dense]:+.3f} and "
                   f"{part2['rows'][0][cols[3]] - part2['rows'][0][cnn]:+.3f}")
    return out
