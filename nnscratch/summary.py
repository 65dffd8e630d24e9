"""``model.summary()``: the Keras 3 table of layers, output shapes and parameter counts.

    Model: "sequential"
    ┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
    ┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
    ┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
    │ dense (Dense)                   │ (None, 10)             │         7,850 │
    └─────────────────────────────────┴────────────────────────┴───────────────┘
     Total params: 7,850 (30.66 KB)
"""
WIDTHS = (33, 24, 15)


def _row(cells, sep):
    a, b, c = cells
    return (sep + " " + a.ljust(WIDTHS[0] - 2) + " " + sep + " " + b.ljust(WIDTHS[1] - 2) + " "
            + sep + " " + c.rjust(WIDTHS[2] - 2) + " " + sep)


def _rule(left, mid, right, fill):
    return left + mid.join(fill * w for w in WIDTHS) + right


def format_bytes(n):
    """Keras's size column: ``30.66 KB``, ``2.55 MB``."""
    for unit, size in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.2f} B"


def summary_table(model):
    """The table as one string: a row per layer (``(None,) + output shape``, parameters), then totals
    and, once the optimizer has state, Keras's "Optimizer params" line (its slots plus 2 counters)."""
    lines = [f'Model: "{model.name}"',
             _rule("┏", "┳", "┓", "━"),
             _row(("Layer (type)", "Output Shape", "Param #"), "┃"),
             _rule("┡", "╇", "┩", "━")]
    for i, layer in enumerate(model.layers):
        shape = str((None,) + tuple(layer.output_shape)) if layer.built else "?"
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        lines.append(_row((f"{layer.name} ({type(layer).__name__})", shape, params), "│"))
        if i < len(model.layers) - 1:
            lines.append(_rule("├", "┼", "┤", "─"))
    lines.append(_rule("└", "┴", "┘", "─"))
    n = model.count_params()
    trainable = int(sum(w.size for w in model.trainable_weights))      # frozen layers' weights are not
    lines += [f" Total params: {n:,} ({format_bytes(n * model.dtype.itemsize)})",
              f" Trainable params: {trainable:,} ({format_bytes(trainable * model.dtype.itemsize)})",
              f" Non-trainable params: {n - trainable:,} ({format_bytes((n - trainable) * model.dtype.itemsize)})"]
    if model.optimizer is not None and model.optimizer.state:
        k = sum(a.size for slot in model.optimizer.state.values() for a in slot) + 2
        lines.append(f" Optimizer params: {k:,} ({format_bytes(k * model.dtype.itemsize)})")
    return "\n".join(lines)
