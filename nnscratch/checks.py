"""Input checks shared by ``fit``, ``evaluate``, ``predict`` and ``train_on_batch``.

Each check either returns the value in the form the model computes with, or raises a ``ValueError``
that names the problem and the fix.  Nothing here computes anything a learner needs to read.
"""
import numbers

import numpy as np


from .errors import NotImplementedInNnscratch  # noqa: E402,F401  (raised by refuse_unimplemented below)


def refuse_unimplemented(what, arguments, accepted=None):
    """Raise :class:`NotImplementedInNnscratch` naming the first Keras argument in ``arguments`` (a
    dict of name -> value) whose value is not one nnscratch implements.  ``accepted``: name -> a
    function telling whether a value is implemented (default: only ``None``)."""
    accepted = accepted or {}
    for name, value in arguments.items():
        ok = accepted.get(name, lambda v: v is None)
        if not ok(value):
            raise NotImplementedInNnscratch(f"{what}: the Keras argument {name}={value!r} is not implemented "
                                            "in nnscratch (a from-scratch subset of Keras)")


def replace_weights(own, weights, what, owner="the model"):
    """Copy ``weights`` (a list, Keras's order and shapes) into the arrays ``own``, after checking the
    count, every shape and that all values are finite (nothing is copied if any check fails)."""
    weights = list(weights)
    if len(weights) != len(own):
        raise ValueError(f"{what}: {owner} has {len(own)} weight arrays "
                         f"({', '.join(str(w.shape) for w in own)}) but {len(weights)} were given")
    for i, (w, new) in enumerate(zip(own, weights)):
        new = np.asarray(new)
        if new.shape != w.shape:
            raise ValueError(f"{what}: weight {i} must have shape {w.shape}, got {new.shape}")
        if not np.all(np.isfinite(new)):
            raise ValueError(f"{what}: weight {i} contains NaN or infinite values")
    for w, new in zip(own, weights):
        w[...] = new


def positive_int(value, what, default=None):
    """``value`` as an int >= 1 (``None`` gives ``default``).  Refuses bools, floats and strings, which
    ``int()`` would silently turn into another number (2.7 -> 2, True -> 1)."""
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def fraction(value, what):
    """A number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{what} must be a number in [0, 1), got {value!r}")
    return float(value)


def flag(value, what):
    """``True`` or ``False`` (NumPy's too), as a Python bool; anything else, such as ``'no'`` or ``0``, is
    refused: Keras's flags (``layer.trainable``, ``model.trainable``) are booleans."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{what} must be True or False, got {value!r}")
    return bool(value)


def shuffle(value, what):
    """``True``, ``False`` or ``'batch'`` (Keras's values); anything else, such as ``'no'`` (which is
    truthy and would mean a full shuffle), is refused."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if value == "batch":
        return value
    raise ValueError(f"{what}: shuffle must be True, False or 'batch', got {value!r}")


def validation_pair(data, what):
    """``validation_data`` as ``(x_val, y_val)``: a tuple or list of at least two arrays."""
    if not isinstance(data, (tuple, list)) or len(data) < 2:
        got = f"a {type(data).__name__} of {len(data)}" if isinstance(data, (tuple, list)) else type(data).__name__
        raise ValueError(f"{what}: validation_data must be a tuple (x_val, y_val), got {got}")
    return data


def verbosity(value, what):
    if value == "auto":
        return 1
    if value not in (0, 1, 2) or isinstance(value, bool):
        raise ValueError(f"{what}: verbose must be 0 (silent), 1 (progress bar), 2 (one line per epoch) "
                         f"or 'auto', got {value!r}")
    return int(value)


CHANNELS_LAST = (" nnscratch's images are channels-last, (samples, height, width, channels), as Keras's "
                 "default; x looks channels-first (samples, channels, height, width): use "
                 "x.transpose(0, 2, 3, 1).")


def _array(values, name, what):
    """``np.asarray(values)``, or a ValueError when they are ragged (samples of different lengths)."""
    try:
        return np.asarray(values)
    except ValueError as e:
        raise ValueError(f"{what}: {name} is ragged: its samples have different lengths or shapes ({e}). "
                         "Every sample needs the same shape: pad or crop them first") from None


def features(model, x, what):
    """``x`` as a C-contiguous array of the model's dtype, shape ``(N,) + sample shape`` (``(N, D)``
    for Dense models), finite; builds the model from ``x``'s shape if it is not built yet.  A graph
    model checks each of its inputs this way (its ``check_inputs``, ``graph_io.py``)."""
    if hasattr(model, "check_inputs"):
        return model.check_inputs(x, what)
    x = _array(x, "x", what)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"{what}: x must hold numbers, got an array of {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"{what}: x must have a batch axis and at least one feature axis, "
                         f"(samples, features), got shape {x.shape}")
    if not model.built:
        try:
            model.build(x.shape[1:])
        except ValueError as e:
            if x.ndim == 4 and x.shape[1] in (1, 3, 4) and x.shape[3] > 4:    # (N, C, H, W)?
                raise ValueError(f"{what}: {str(e).rstrip('.')}.{CHANNELS_LAST}") from None
            raise
    expected = tuple(model.sample_shape)
    if x.shape[1:] != expected:
        hint = ""
        if len(expected) == 1 and x.ndim > 2 and int(np.prod(x.shape[1:])) == expected[0]:
            hint = " Flatten images first, e.g. x.reshape(len(x), -1), or start the model with Flatten()."
        elif len(expected) == x.ndim and expected[-1] == 1 and x.shape[1:] == expected[:-1]:
            hint = " Add the channel axis, e.g. x[..., None] or x.reshape(len(x), *input_shape)."
        elif len(expected) == 3 and x.shape[1:] == (expected[2], expected[0], expected[1]):
            hint = CHANNELS_LAST
        if len(expected) == 1 and x.ndim == 2:
            raise ValueError(f"{what}: x has {x.shape[1]} features per sample but the model expects "
                             f"{expected[0]} (input_shape={expected})")
        raise ValueError(f"{what}: x has samples of shape {x.shape[1:]} but the model expects "
                         f"{expected} (input_shape={expected}).{hint}")
    if x.shape[0] == 0:
        raise ValueError(f"{what}: x has no samples")
    x = np.ascontiguousarray(x, dtype=model.dtype)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what}: x contains NaN or infinite values "
                         f"({np.count_nonzero(~np.isfinite(x))} entries); clean or impute them first")
    return x


def features_and_targets(model, x, y, what):
    """``(x, y)`` checked: ``x`` as :func:`features`, ``y`` as :func:`targets` for the compiled loss."""
    x = features(model, x, what)
    if hasattr(model, "check_targets"):                   # a graph model: each output's targets
        return x, model.check_targets(y, len(x), what)
    return x, targets(model.compiled_loss, y, len(x), model.output_dim, model.dtype, what)


def targets(loss, y, n, num_classes, dtype, what):
    """``y`` in the form ``loss`` takes (``loss.targets``): integer labels ``(N,)`` for a sparse loss
    (:func:`integer_labels`), any finite numbers ``(N, C)`` for the regression and binary losses
    (:func:`target_values`), one-hot (or probability) rows ``(N, C)`` (:func:`one_hot_rows`) for the
    other cross-entropies, and any numbers (one row per sample) for a loss function of your own."""
    if loss is not None and loss.sparse is None:          # a loss function of your own: any numbers
        y = _numbers(y, what)
        if len(y) != n:
            raise ValueError(f"{what}: x has {n} samples but y has {len(y)}")
        return np.ascontiguousarray(y, dtype=dtype)
    kind = getattr(loss, "targets", "rows") if loss is not None else "rows"
    if kind == "labels":
        return integer_labels(y, n, num_classes, what)
    if kind == "values":
        return target_values(y, n, num_classes, dtype, what)
    return one_hot_rows(y, n, num_classes, dtype, what)


def target_values(y, n, num_classes, dtype, what):
    """Finite numbers of shape ``(N, C)`` in ``dtype``; ``(N,)`` is taken as ``(N, 1)`` when the output
    has one unit (Keras's ``squeeze_or_expand_to_same_rank``)."""
    y = _numbers(y, what)
    if y.ndim == 1 and num_classes == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[1] != num_classes:
        raise ValueError(f"{what}: y has shape {y.shape} but the output layer has {num_classes} units; "
                         f"targets must have shape ({n}, {num_classes})"
                         + (" (for integer class labels use loss='sparse_categorical_crossentropy')"
                            if y.ndim == 1 else ""))
    if len(y) != n:
        raise ValueError(f"{what}: x has {n} samples but y has {len(y)}")
    y = np.ascontiguousarray(y, dtype=dtype)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{what}: y contains NaN or infinite values")
    return y


def sample_weights(w, n, dtype, what):
    """Per-sample weights ``(N,)`` in ``dtype`` (a trailing axis of size 1 dropped), finite, or None."""
    if w is None:
        return None
    w = _numbers(w, f"{what} (sample_weight)")
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.ndim != 1 or len(w) != n:
        raise ValueError(f"{what}: sample_weight must have one weight per sample, shape ({n},), got {w.shape}")
    w = np.ascontiguousarray(w, dtype=dtype)
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{what}: sample_weight contains NaN or infinite values")
    return w


def _numbers(y, what):
    y = _array(y, "y", what)
    if y.dtype == object or not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise ValueError(f"{what}: y must hold numbers, got an array of {y.dtype}")
    return y


def one_hot_rows(y, n, num_classes, dtype, what):
    """One-hot (or probability) rows ``(N, C)`` in ``dtype``, finite, in [0, 1], summing to 1."""
    y = _numbers(y, what)
    c = num_classes
    if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1 and c != 1):
        raise ValueError(f"{what}: y has shape {y.shape}: integer labels, but categorical_crossentropy "
                         f"needs one-hot rows of width {c}. Use nnscratch.utils.to_categorical(y, {c}), or "
                         "compile with loss='sparse_categorical_crossentropy', which takes integer labels.")
    if y.ndim != 2 or y.shape[1] != c:
        raise ValueError(f"{what}: y has shape {y.shape} but the output layer has {c} units; "
                         f"one-hot targets must have shape ({n}, {c})")
    if len(y) != n:
        raise ValueError(f"{what}: x has {n} samples but y has {len(y)}")
    y = np.ascontiguousarray(y, dtype=dtype)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{what}: y contains NaN or infinite values")
    if y.min() < 0 or y.max() > 1 or not np.allclose(y.sum(axis=1), 1, atol=1e-3):
        raise ValueError(f"{what}: y must hold one-hot (or probability) rows that sum to 1 with values "
                         "in [0, 1]; use nnscratch.utils.to_categorical on integer labels")
    return y


def integer_labels(y, n, num_classes, what):
    """Class indices ``(N,)`` as int64, each in ``[0, C)``, for the sparse loss.  A trailing axis of
    size 1 is dropped; whole-number floats are accepted (Keras casts labels to int64)."""
    y = _numbers(y, what)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        hint = (" These look like one-hot rows: compile with loss='categorical_crossentropy', or pass "
                "the labels y.argmax(axis=1)." if y.ndim == 2 and y.shape[1] == num_classes else "")
        raise ValueError(f"{what}: y has shape {y.shape}, but sparse_categorical_crossentropy takes "
                         f"integer class labels of shape ({n},).{hint}")
    if len(y) != n:
        raise ValueError(f"{what}: x has {n} samples but y has {len(y)}")
    if not np.issubdtype(y.dtype, np.integer) and (not np.all(np.isfinite(y)) or np.any(y != np.round(y))):
        raise ValueError(f"{what}: integer labels must be whole numbers (class indices), got values like "
                         f"{y[:5]}")
    y = np.ascontiguousarray(y, dtype=np.int64)
    outside = (y < 0) | (y >= num_classes)
    if np.any(outside):
        raise ValueError(f"{what}: label {y[outside][0]} is outside the valid range [0, {num_classes}) of "
                         f"the output's {num_classes} classes")
    return y
