"""The optimizer exercises: one step of SGD with momentum (and Nesterov), of Adam and of RMSprop, each
checked over three steps against nnscratch and Keras (no finite differences: a step is not a gradient)."""
import numpy as np

from .. import backend, optimizers
from .exercise import Exercise, _header


# ============================================================================================= Adam
ADAM_HYPER = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}


def _adam_inputs(rng):
    grads = [rng.standard_normal((3, 4)) for _ in range(3)]
    grads = [g + 0.1 * np.sign(g) for g in grads]            # |g| >= 0.1: far from epsilon
    return {"N": 1, "w": rng.standard_normal((3, 4)), "grads": grads, **ADAM_HYPER}


def _adam_answer(ws, m, v):
    out = {f"step {t}": ws[t] - ws[t - 1] for t in range(1, len(ws))}
    out.update(m=m, v=v)
    return out


def _adam_run(mod, i):
    w, m, v = i["w"].copy(), np.zeros_like(i["w"]), np.zeros_like(i["w"])
    ws = [w.copy()]
    for t, g in enumerate(i["grads"], start=1):
        w, m, v = (np.array(a, dtype=np.float64) for a in
                   mod.adam_step(w.copy(), g.copy(), m.copy(), v.copy(), t, *[i[k] for k in ADAM_HYPER]))
        ws.append(w.copy())
    return _adam_answer(ws, m, v)


def _adam_library(i):
    w, opt = i["w"].copy(), optimizers.Adam(**{k: i[k] for k in ADAM_HYPER})
    ws = [w.copy()]
    with backend.use("numpy"):
        for g in i["grads"]:
            opt.apply([w], [g])
            ws.append(w.copy())
    return _adam_answer(ws, opt.state["m"][0], opt.state["v"][0])


def _adam_keras(ref, i):
    steps = ref.optimizer_steps("adam", i["w"], i["grads"], **{k: i[k] for k in ADAM_HYPER})
    return _adam_answer([i["w"]] + [s["w"] for s in steps], steps[-1]["m"], steps[-1]["v"]), {}


def _adam_mistake(correct_bias=True, update_first=True):
    def wrong(i):
        lr, b1, b2, eps = (i[k] for k in ADAM_HYPER)
        w, m, v = i["w"].copy(), np.zeros_like(i["w"]), np.zeros_like(i["w"])
        ws = [w.copy()]
        for t, g in enumerate(i["grads"], start=1):
            m_new, v_new = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            mm, vv = (m_new, v_new) if update_first else (m, v)
            if correct_bias:
                mm, vv = mm / (1 - b1 ** t), vv / (1 - b2 ** t)
            w = w - lr * mm / (np.sqrt(vv) + eps)
            m, v = m_new, v_new
            ws.append(w.copy())
        return _adam_answer(ws, m, v)
    return wrong


ADAM = Exercise(
    "adam_step", "one step of Adam", "adam",
    "adam_step(w, g, m, v, t, learning_rate, beta_1, beta_2, epsilon) -> (w, m, v)",
    _header("adam_step", "one step of Adam", "adam", """
Adam (Kingma & Ba, Algorithm 1) keeps two moving averages per weight, both started at zero: m of the
gradient g, v of its square.  Step t (t = 1, 2, 3, ...):

    m = beta_1 m + (1 - beta_1) g          v = beta_2 v + (1 - beta_2) g^2
    m_hat = m / (1 - beta_1^t)             v_hat = v / (1 - beta_2^t)       (why? see the derivation)
    w = w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)

Return the new w, m and v (arrays of the shape of w).  The checker runs three steps, t = 1, 2, 3.
(Keras adds epsilon to the uncorrected sqrt(v) instead; for gradients far from epsilon the two agree
to about 1e-5, within the check's tolerance; the derivation shows when they differ.)""") + '''

def adam_step(w, g, m, v, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """w, g, m, v: arrays of one shape; t >= 1, the step number  ->  the new (w, m, v)."""
    # TODO
    raise NotImplementedError("TODO: write one Adam step")
''',
    _adam_inputs, _adam_run, _adam_library, "nnscratch.optimizers.Adam.update (float64)",
    _adam_keras, "keras.optimizers.Adam on a float64 variable",
    mistakes=[
        ("no bias correction: divide m by (1 - beta_1**t) and v by (1 - beta_2**t); a moving average "
         "started at zero is too small in the first steps", _adam_mistake(correct_bias=False)),
        ("update m and v with this step's gradient first, then take the step", _adam_mistake(update_first=False)),
    ],
    tol=1e-4, tol_note="tolerance 1e-4: the paper's and Keras's places for epsilon differ by about "
                       "1e-7 / sqrt(1 - beta_2**t) / |g| (docs/derivations.md#adam)",
)


# ================================================================================== SGD and RMSprop
def _optimizer_exercise(name, title, anchor, kind, signature, hyper, slots, library, body, code, mistakes,
                        variants=({},)):
    """An optimizer step: the checker runs 3 steps from the same start for each of ``variants`` (extra
    keyword arguments, e.g. ``nesterov=True``) and compares each step's change of w and the slots after
    the last step."""
    def inputs(rng):
        grads = [rng.standard_normal((3, 4)) for _ in range(3)]
        return {"N": 1, "w": rng.standard_normal((3, 4)), "grads": [g + 0.1 * np.sign(g) for g in grads], **hyper}

    def label(variant, key):
        return " ".join([k for k, v in variant.items() if v] + [key])

    def answer(variant, ws, state):
        out = {label(variant, f"step {t}"): ws[t] - ws[t - 1] for t in range(1, len(ws))}
        out.update({label(variant, k): v for k, v in state.items()})
        return out

    def run(mod, i):
        out = {}
        for variant in variants:
            w, state = i["w"].copy(), {k: np.zeros_like(i["w"]) for k in slots}
            ws = [w.copy()]
            for g in i["grads"]:
                result = getattr(mod, name)(w.copy(), g.copy(), *[state[k].copy() for k in slots],
                                            **{k: i[k] for k in hyper}, **variant)
                w, *new = (np.array(a, dtype=np.float64) for a in result)
                state = dict(zip(slots, new))
                ws.append(w.copy())
            out.update(answer(variant, ws, state))
        return out

    def lib(i):
        out = {}
        for variant in variants:
            opt, w = library(**{k: i[k] for k in hyper}, **variant), i["w"].copy()
            ws = [w.copy()]
            with backend.use("numpy"):
                for g in i["grads"]:
                    opt.apply([w], [g])
                    ws.append(w.copy())
            out.update(answer(variant, ws, {k: opt.state[s][0] for k, s in slots.items()}))
        return out

    def keras(ref, i):
        out = {}
        for variant in variants:
            steps = ref.optimizer_steps(kind, i["w"], i["grads"], **{k: i[k] for k in hyper}, **variant)
            out.update(answer(variant, [i["w"]] + [s["w"] for s in steps], {k: steps[-1][k] for k in slots}))
        return out, {}

    return Exercise(name, title, anchor, signature, _header(name, title, anchor, body) + code, inputs, run, lib,
                    f"nnscratch.optimizers.{library.__name__}.update (float64)", keras,
                    f"keras.optimizers.{library.__name__} on a float64 variable", mistakes=mistakes, tol=1e-6,
                    tol_note="tolerance 1e-6: Keras and nnscratch compute with the float32 value of the "
                             "learning rate (Keras's variable), yours with the Python float")


def _sgd_mistake(i, variant_nesterov_as_plain=False, sign=False):
    lr, mu = i["learning_rate"], i["momentum"]
    out = {}
    for nesterov in (False, True):
        w, v = i["w"].copy(), np.zeros_like(i["w"])
        ws = [w.copy()]
        for g in i["grads"]:
            v = mu * v - lr * g
            w = w + (mu * v - lr * g if nesterov and not variant_nesterov_as_plain else v)
            ws.append(w.copy())
        prefix = "nesterov " if nesterov else ""
        out.update({f"{prefix}step {t}": ws[t] - ws[t - 1] for t in range(1, 4)})
        out[f"{prefix}v"] = -v if sign else v
    return out


SGD = _optimizer_exercise(
    "sgd_momentum_step", "one step of SGD with momentum (and Nesterov)", "sgd", "sgd",
    "sgd_momentum_step(w, g, v, learning_rate, momentum, nesterov=False) -> (w, v)",
    {"learning_rate": 0.01, "momentum": 0.9}, {"v": "velocity"}, optimizers.SGD, """
SGD with momentum, as Keras computes it (keras.optimizers.SGD): a velocity v per weight, started at
zero, accumulates the steps, and the weights move by it:

    v = momentum * v - learning_rate * g
    w = w + v                                       (nesterov=False)
    w = w + momentum * v - learning_rate * g        (nesterov=True: the look-ahead; see the derivation)

Return the new w and v.  The checker runs three steps from the same start, without and with Nesterov.""",
    '''

def sgd_momentum_step(w, g, v, learning_rate=0.01, momentum=0.9, nesterov=False):
    """w, g, v: arrays of one shape  ->  the new (w, v)."""
    # TODO
    raise NotImplementedError("TODO: write one step of SGD with momentum")
''',
    [("Nesterov moves the weights by momentum * v - learning_rate * g (with the new v), not by v",
      lambda i: _sgd_mistake(i, variant_nesterov_as_plain=True))],
    variants=({"nesterov": False}, {"nesterov": True}))


def _rmsprop_mistake(i, update_first=True):
    lr, rho, eps = i["learning_rate"], i["rho"], i["epsilon"]
    w, v = i["w"].copy(), np.zeros_like(i["w"])
    ws = [w.copy()]
    for g in i["grads"]:
        new_v = rho * v + (1 - rho) * g * g
        used = new_v if update_first else v
        w = w - lr * g / np.sqrt(used + eps)
        v = new_v
        ws.append(w.copy())
    return {**{f"step {t}": ws[t] - ws[t - 1] for t in range(1, 4)}, "v": v}


RMSPROP = _optimizer_exercise(
    "rmsprop_step", "one step of RMSprop", "rmsprop", "rmsprop",
    "rmsprop_step(w, g, v, learning_rate, rho, epsilon) -> (w, v)",
    {"learning_rate": 0.001, "rho": 0.9, "epsilon": 1e-7}, {"v": "velocity"}, optimizers.RMSprop, """
RMSprop, as Keras computes it (keras.optimizers.RMSprop, without momentum, not centered): a running
mean v of the squared gradient, started at zero, and a step measured in units of its square root:

    v = rho * v + (1 - rho) * g^2
    w = w - learning_rate * g / sqrt(v + epsilon)          (epsilon INSIDE the root, unlike Adam)

Return the new w and v.  The checker runs three steps.""",
    '''

def rmsprop_step(w, g, v, learning_rate=0.001, rho=0.9, epsilon=1e-7):
    """w, g, v: arrays of one shape  ->  the new (w, v)."""
    # TODO
    raise NotImplementedError("TODO: write one RMSprop step")
''',
    [("update v with this step's gradient first, then take the step",
      lambda i: _rmsprop_mistake(i, update_first=False))])
