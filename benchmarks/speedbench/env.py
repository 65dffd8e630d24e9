"""Benchmarks run as on a user's machine: OpenBLAS picks its own kernel, and every result names it.

The machines this project is developed on may set ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``.  On
an AVX-512 host they hold NumPy's OpenBLAS to its AVX2 (Haswell) kernel, which slows nnscratch's matrix
products and not TensorFlow's (its oneDNN picks AVX-512 either way; ``docs/speed.md#blas-kernel`` has
the measurements).  A user's machine sets neither, so no benchmark measures with them:

* ``speed.py`` starts every worker (each side, the GEMM process) with :func:`worker_env`;
* every other benchmark script calls :func:`user_machine_env` first thing, before NumPy is imported:
  if either variable is set, the script starts itself again (``os.execve``) without them;
* each records what the caller had set (:func:`caller_settings`) and the kernel OpenBLAS chose
  (:func:`blas_kernel`, threadpoolctl's ``architecture``: ``SkylakeX``, ``Haswell``, ...).

Tests and CI keep the variables: nothing under ``tests/`` or ``.ci/`` uses this module.  Importing it
imports nothing but the standard library, so a script can call it before NumPy loads OpenBLAS.
"""
import json
import os
import sys

FORCING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# What the caller had set, carried across the re-exec (and into a worker's environment) as JSON
MARKER = "NNSCRATCH_BENCH_OPENBLAS_UNSET"


def caller_settings():
    """``{name: value}`` of the :data:`FORCING` variables the caller had set (``{}`` if none): read from
    the environment, or, in a process started without them, from what its parent handed over."""
    if MARKER in os.environ:
        return json.loads(os.environ[MARKER])
    return {k: os.environ[k] for k in FORCING if k in os.environ}


def unset_record():
    """What a results file says about the variables: which were unset for the measurement and what
    the caller had set them to."""
    return {"unset": list(FORCING), "caller_had": caller_settings()}


def worker_env(env=None):
    """A copy of ``env`` (default ``os.environ``) without the :data:`FORCING` variables, for a process
    that measures; what the caller had set goes along in :data:`MARKER`."""
    env = dict(os.environ if env is None else env)
    had = caller_settings()
    for k in FORCING:
        env.pop(k, None)
    if had:
        env[MARKER] = json.dumps(had, sort_keys=True)
    return env


def user_machine_env():
    """Call at the top of a benchmark script, before NumPy is imported (only when the script runs as
    ``__main__``): if either :data:`FORCING` variable is set, start this same script again, with the
    same interpreter and arguments, without them, so that OpenBLAS is loaded choosing its own kernel.
    Returns (in the process that goes on) what the caller had set."""
    if any(k in os.environ for k in FORCING):
        sys.stdout.flush()
        sys.stderr.flush()
        args = list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
        os.execve(sys.executable, [sys.executable, *args[1:]], worker_env())
    return caller_settings()


def blas_kernel(threadpools=None):
    """The kernel (threadpoolctl's ``architecture``, e.g. ``SkylakeX``, ``Haswell``) of the BLAS NumPy
    uses, from ``threadpools`` (entries as threadpoolctl's ``threadpool_info()`` gives them, or as a
    worker reported them) or from this process.  If none of the BLAS libraries is NumPy's, the
    distinct kernels of all of them, joined by ``, ``; None when no BLAS reports one."""
    if threadpools is None:
        try:
            from threadpoolctl import threadpool_info
        except ImportError:
            return None
        threadpools = threadpool_info()
    blas = [t for t in threadpools if t.get("user_api", "blas") == "blas" and t.get("internal_api") != "openmp"]
    numpy_blas = [t for t in blas if "numpy" in (t.get("filepath") or "")]
    kernels = sorted({t.get("architecture") for t in numpy_blas or blas} - {None})
    return ", ".join(kernels) or None


def kernels_by_side(runs, library=None):
    """``{side: kernel}`` from the thread pools each worker process of a run reported (``runs`` as a
    results file holds them; the GEMM process is the side ``gemm``): :func:`blas_kernel` of each
    process, or of the library file named ``library`` only; kernels that differ between rounds are
    joined by `` / ``.  Sides without a report are left out."""
    found = {}
    for x in runs:
        pools = (x.get("result") or {}).get("threadpools")
        if not pools:
            continue
        if library:
            pools = [t for t in pools if os.path.basename(t.get("filepath") or "") == library]
        kernel = blas_kernel(pools)
        if kernel and kernel not in found.setdefault(x["side"], []):
            found[x["side"]].append(kernel)
    return {side: " / ".join(kernels) for side, kernels in found.items() if kernels}
