"""``model.summary()``: the Keras 3 table of layers, output shapes and parameter counts.

    Model: "sequential"
    ┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
    ┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
    ┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
    │ dense (Dense)                   │ (None, 10)             │         7,850 │
    └─────────────────────────────────┴────────────────────────┴───────────────┘
     Total params: 7,850 (30.66 KB)
"""
WIDTHS = (33, 24, 15)                 # Keras's columns on an 80-column terminal (or none: a log, a test)
GRAPH_WIDTHS = (21, 19, 12, 19)       # the same for a graph model's four columns (with "Connected to")


def wrap(text, width):
    """``text`` in lines of at most ``width`` characters, broken between words, a longer word cut short
    with an ellipsis, as the table Keras draws (``rich``) wraps a cell."""
    lines, line = [], ""
    for word in text.split(" "):
        word = word if len(word) <= width else word[:width - 1] + "…"
        if line and len(line) + 1 + len(word) <= width:
            line += " " + word
            continue
        if line:
            lines.append(line)
        line = word
    return lines + [line]


def _row(cells, sep, widths):
    """One row of the table, as many lines as its tallest cell; the last column of three is the
    parameter count, aligned right."""
    cells = [wrap(c, w - 2) for c, w in zip(cells, widths)]
    lines = []
    for k in range(max(len(c) for c in cells)):
        parts = [c[k] if k < len(c) else "" for c in cells]
        padded = [p.rjust(w - 2) if i == 2 else p.ljust(w - 2) for i, (p, w) in enumerate(zip(parts, widths))]
        lines.append(sep + sep.join(f" {p} " for p in padded) + sep)
    return "\n".join(lines)


def _rule(left, mid, right, fill, widths=WIDTHS):
    return left + mid.join(fill * w for w in widths) + right


def format_bytes(n):
    """Keras's size column: ``30.66 KB``, ``2.55 MB``."""
    for unit, size in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.2f} B"


def summary_table(model):
    """The table as one string: a row per layer (``(None,) + output shape``, parameters; for a graph
    model that is not a plain chain, Keras's "Connected to" column), then totals and, once the
    optimizer has state, Keras's "Optimizer params" line (its slots plus 2 counters)."""
    connections = model.summary_connections() if hasattr(model, "summary_connections") else None
    widths = WIDTHS if connections is None else GRAPH_WIDTHS
    header = ("Layer (type)", "Output Shape", "Param #") + (("Connected to",) if connections else ())
    lines = [f'Model: "{model.name}"',
             _rule("┏", "┳", "┓", "━", widths),
             _row(header, "┃", widths),
             _rule("┡", "╇", "┩", "━", widths)]
    for i, layer in enumerate(model.layers):
        shape = str((None,) + tuple(layer.output_shape)) if layer.built else "?"
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        cells = (f"{layer.name} ({type(layer).__name__})", shape, params)
        lines.append(_row(cells + ((connections[layer.name],) if connections else ()), "│", widths))
        if i < len(model.layers) - 1:
            lines.append(_rule("├", "┼", "┤", "─", widths))
    lines.append(_rule("└", "┴", "┘", "─", widths))
    n = model.count_params()
    trainable = int(sum(w.size for w in model.trainable_weights))      # frozen layers' weights are not
    lines += [f" Total params: {n:,} ({format_bytes(n * model.dtype.itemsize)})",
              f" Trainable params: {trainable:,} ({format_bytes(trainable * model.dtype.itemsize)})",
              f" Non-trainable params: {n - trainable:,} ({format_bytes((n - trainable) * model.dtype.itemsize)})"]
    if model.optimizer is not None and model.optimizer.state:
        k = sum(a.size for slot in model.optimizer.state.values() for a in slot) + 2
        lines.append(f" Optimizer params: {k:,} ({format_bytes(k * model.dtype.itemsize)})")
    return "\n".join(lines)
