"""Output: the tables printed after a run, the README's speed table (``--readme``) and the plot."""
import os

import numpy as np

from .env import kernels_by_side
from .settings import BATCHES, GROUPS, NOT_RUN, PREDICT_IMAGES, REFERENCE, SIDES, parse_workload


def _fmt_share(x):
    return "-" if x is None else f"{x:.2f}"


def fmt_ratio(a, b):
    return f"{a / b:5.2f}x" if a is not None and b else "   -  "


def kernel_text(kernels, name=str):
    """``{side: kernel}`` in words: the kernel alone if every side had the same, otherwise each kernel
    with the sides (``name(side)``) that had it; None if there is none."""
    distinct = sorted(set(kernels.values()))
    if len(distinct) <= 1:
        return distinct[0] if distinct else None
    return ", ".join(f"{k} ({', '.join(name(s) for s, v in kernels.items() if v == k)})" for k in distinct)


def blas_text(info, runs, threads="on {} threads", name=str):
    """Each BLAS library of the machine (``info['blas']``) as ``library version kernel threads``, the
    kernel from the worker processes' reports of that library (:func:`kernel_text`), or this
    process's where no worker reported one (results files older than the reports)."""
    return "; ".join(
        f"{b['internal_api']} {b['version']} "
        f"{kernel_text(kernels_by_side(runs, os.path.basename(b.get('filepath') or '')), name) or b['architecture']} "
        + threads.format(b["num_threads"]) for b in info["blas"])


def print_main_table(summary, gemm, cfg, sides, groups=GROUPS, kernels=None):
    ref = summary.get(REFERENCE) or {}
    print(f"\nSeconds per epoch, {cfg['samples']:,} images, {cfg['epochs']} timed epochs x {cfg['rounds']} rounds "
          f"after a warm-up each; ratio = this side / Keras default (best/best, median/median); "
          f"cpu = process CPU time / wall; load = 1-min load average; steal = most CPU time the host "
          f"took from this machine in one epoch / wall")
    if kernels:
        print("BLAS kernel of each process (threadpoolctl; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset): "
              + ", ".join(f"{side} {k}" for side, k in kernels.items()))
    print(f"{'workload':12s} {'side':16s} {'best':>7s} {'median':>7s} {'best/K':>7s} {'med/K':>7s} "
          f"{'cpu':>5s} {'load':>5s} {'steal':>5s} {'n':>3s}  test acc")
    for w in [w for g in groups.values() for w in g if w != "predict"]:
        for side in sides:
            s = summary[side].get(w)
            if s is None:
                why = NOT_RUN.get((side, parse_workload(w)[0]))
                print(f"{w:12s} {side:16s}   " + (f"(not run: {why})" if why else "(no result)"))
                continue
            k = ref.get(w) or {}
            print(f"{w:12s} {side:16s} {s['best_s']:7.3f} {s['median_s']:7.3f} "
                  f"{fmt_ratio(s['best_s'], k.get('best_s')):>7s} {fmt_ratio(s['median_s'], k.get('median_s')):>7s} "
                  f"{s['cpu_per_wall_median']:5.2f} {s['load1_median']:5.2f} "
                  f"{_fmt_share(s.get('steal_per_wall_max')):>5s} {s['n']:3d}  "
                  + " ".join(f"{a:.4f}" for a in s["test_accuracy"]))
        model, b = parse_workload(w)
        if model == "3layer" and gemm:
            gm = gemm[str(b)]
            print(f"{w:12s} {'arithmetic limit':16s} {gm['limit_s_per_epoch']:7.3f}          "
                  f"(float32 GEMM on this batch's shapes: best {gm['gflops_best']:.0f}, "
                  f"median {gm['gflops_median']:.0f} GFLOP/s)")
        if model == "convnet" and gemm.get("convnet"):
            gm = gemm["convnet"]
            print(f"{w:12s} {'im2col GEMMs':16s} {gm['im2col_gemm_s_per_epoch']:7.3f}          "
                  f"(nnscratch's products alone, float32, best {gm['gflops_best']:.0f} GFLOP/s; Keras "
                  f"convolves directly, so not a floor for it)")
    if "predict" not in [w for g in groups.values() for w in g]:
        return
    print(f"\nPredict, 3-layer model, {PREDICT_IMAGES:,} test images, ms: predict() with its default batch "
          f"size, and the fastest direct call on all of them; ratio = / Keras default's predict()")
    print(f"{'side':16s} {'pred best':>9s} {'median':>8s} {'/K':>7s} {'direct best':>11s} {'median':>8s} "
          f"{'/K pred':>7s}  direct call")
    kp = (ref.get("predict") or {}).get("predict", {})
    for side in sides:
        s = summary[side].get("predict")
        if s is None:
            print(f"{side:16s}   (no result)")
            continue
        p, d = s["predict"], s["direct"]
        print(f"{side:16s} {p['best_ms']:9.1f} {p['median_ms']:8.1f} {fmt_ratio(p['best_ms'], kp.get('best_ms')):>7s} "
              f"{d['best_ms']:11.1f} {d['median_ms']:8.1f} {fmt_ratio(d['best_ms'], kp.get('best_ms')):>7s}  "
              f"{s['direct_call']}")


SIDE_NAMES = {"nnscratch-numba": "nnscratch", "nnscratch-numpy": "nnscratch (numpy backend)", "keras": "Keras",
              "keras-xla": "Keras `jit_compile=True`", "torch": "PyTorch CPU", "torch-cuda": "PyTorch GPU"}


def readme_table(result, path):
    """The README's speed table, made from one results file (``path``, as the README names it): every
    side and every workload in it, best / median with their ratios to Keras's default (best to best,
    median to median), the arithmetic limit, ``predict()`` and the direct call on all images, and the machine.
    ``python benchmarks/speed.py --readme FILE`` prints it; ``tests/test_docs.py`` checks that the
    README holds exactly this text for the file it names."""
    summary, gemm, cfg, info = result["summary"], result["gemm"], result["config"], result["machine"]
    sides = [s for s in SIDES if any(summary.get(s, {}).values())]
    ref = summary.get(REFERENCE) or {}

    def cell(s, k, best, median, digits):
        text = f"{s[best]:.{digits}f} / {s[median]:.{digits}f}"
        if k and s is not k:
            text += f" ({s[best] / k[best]:.2f}x / {s[median] / k[median]:.2f}x)"
        return text

    blas = blas_text(info, result.get("runs", []), name=lambda s: SIDE_NAMES.get(s, "GEMM" if s == "gemm" else s))
    lines = [f"{info['cores']} cores ({info['cpu_model']}), {blas}, Python {info['python']}, numpy "
             f"{info['numpy']}, numba {info['numba']}, tensorflow {info['tensorflow']}; nnscratch "
             f"{result['nnscratch_git']}, {result['date'][:10]}; {cfg['rounds']} rounds x {cfg['epochs']} "
             f"timed epochs, each side in its own fresh process, rounds interleaved (`{path}`).",
             "",
             f"Seconds per epoch on {cfg['samples']:,} images (`predict`: ms on {PREDICT_IMAGES:,}), "
             "best / median; in brackets the ratio to Keras's default, best to best / median to median.",
             "",
             "| workload | " + " | ".join(SIDE_NAMES[s] for s in sides) + " | GEMM limit |",
             "|---" * (len(sides) + 2) + "|"]
    for w in [w for g in cfg["groups"] for w in GROUPS[g] if w != "predict"]:
        model, b = parse_workload(w)
        row = [f"{model[0]}-layer, batch {b}" if model != "convnet" else f"convnet, batch {b}"]
        row += [cell(summary[s][w], ref.get(w), "best_s", "median_s", 2) if summary[s].get(w) else "-"
                for s in sides]
        row.append(f"{gemm[str(b)]['limit_s_per_epoch']:.2f}" if model == "3layer" else "")
        lines.append("| " + " | ".join(row) + " |")
    if "3layer" in cfg["groups"]:
        for kind, label in (("predict", "`predict()`, ms"), ("direct", "direct call, ms")):
            k = (ref.get("predict") or {}).get(kind)
            row = [label] + [cell(summary[s]["predict"][kind], k, "best_ms", "median_ms", 1)
                             + (f" `{summary[s]['predict']['direct_call']}`" if kind == "direct" else "")
                             if summary[s].get("predict") else "-" for s in sides]
            lines.append("| " + " | ".join(row + [""]) + " |")
    return "\n".join(lines) + "\n"


def plot(summary, gemm, cfg, info, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sides = [s for s in summary if any(v for v in summary[s].values())]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    w = 0.8 / max(1, len(sides))
    for ax, model in zip(axes, ("3layer", "1layer")):
        if not any(summary[side].get(f"{model}/b{b}") for side in sides for b in BATCHES):
            ax.set_axis_off()                        # group not run (--groups)
            continue
        for i, side in enumerate(sides):
            cells = [summary[side].get(f"{model}/b{b}") for b in BATCHES]
            med = [c["median_s"] if c else np.nan for c in cells]
            best = [c["best_s"] if c else np.nan for c in cells]
            xs = np.arange(len(BATCHES)) + i * w
            ax.bar(xs, med, w, label=side)
            ax.plot(xs, best, "k_", ms=8)
        if model == "3layer" and gemm:
            for j, b in enumerate(BATCHES):
                ax.hlines(gemm[str(b)]["limit_s_per_epoch"], j - w / 2, j + 0.8 - w / 2, colors="k",
                          linestyles="--", lw=1, label="arithmetic limit" if j == 0 else None)
        ax.set_xticks(np.arange(len(BATCHES)) + 0.4 - w / 2)
        ax.set_xticklabels([f"batch {b}" for b in BATCHES])
        ax.set_ylabel(f"s per epoch ({cfg['samples']:,} images)")
        ax.set_title(f"{model}: bar = median, tick = best")
        ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    ax = axes[2]
    for i, side in enumerate(sides):
        s = summary[side].get("predict")
        if s:
            ax.bar([i - 0.2, ], [s["predict"]["median_ms"]], 0.4, color="C0", label="predict()" if i == 0 else None)
            ax.bar([i + 0.2], [s["direct"]["median_ms"]], 0.4, color="C1", label="direct call" if i == 0 else None)
    ax.set_xticks(range(len(sides)))
    ax.set_xticklabels(sides, rotation=20, fontsize=7)
    ax.set_ylabel(f"ms for {PREDICT_IMAGES:,} images (median)")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    fig.suptitle(f"{info['cores']} cores, {info['cpu_model']}{' (QUICK)' if cfg.get('quick') else ''}, "
                 f"load {info['loadavg_at_start'][0]:.1f} at start", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)

