"""What a run ran on: cores, CPU model, BLAS libraries and kernels, versions, the thread variables, the
git revision and the date; and how a results file names paths: never as this machine's absolute paths
(:func:`portable_path`, :func:`library_path`, :func:`portable_command`)."""
import datetime
import os
import platform
import subprocess

import numpy as np

from .env import unset_record
from .settings import ENV_KEYS, HERE

ROOT = os.path.dirname(HERE)                         # the repository


def machine_info():
    """Cores, CPU model, BLAS (library, kernel, threads), Numba threads, versions, thread env vars, and
    the OpenBLAS variables the measuring processes ran without (``openblas_unset``: :mod:`.env`)."""
    from threadpoolctl import threadpool_info
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cores": os.cpu_count(), "cores_usable": len(os.sched_getaffinity(0)), "cpu_model": model,
            "platform": platform.platform(), "python": platform.python_version(), "numpy": np.__version__,
            "blas": [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                     | {"filepath": library_path(i.get("filepath"))}
                     for i in threadpool_info() if i.get("user_api") == "blas"],
            "env": {k: portable_path(v) if os.path.isabs(v) else v for k, v in sorted(os.environ.items())
                    if k.startswith("OPENBLAS_") or k in ENV_KEYS},
            "openblas_unset": unset_record()}
    for dist in ("numba", "tensorflow", "keras", "torch", "threadpoolctl"):
        info[dist] = _version(dist)
    try:
        import numba
        info["numba_threads"] = numba.config.NUMBA_NUM_THREADS
    except ImportError:
        pass
    info["loadavg_at_start"] = os.getloadavg()
    return info


def _version(dist):
    """An installed distribution's version without importing it (TensorFlow would start its thread
    pools in this process); None if it is not installed here (the PyTorch side may use --torch-path)."""
    from importlib.metadata import PackageNotFoundError, version
    for name in ([dist + "-cpu", dist] if dist == "tensorflow" else [dist]):
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return None


def git(*args, cwd=HERE):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def portable_path(path, root=ROOT):
    """``path`` as a results file names it: relative to ``root`` (the repository, or the tree a worker
    was given) when inside it, otherwise a label, its last component in brackets (``<datasets>``)."""
    path, root = os.path.realpath(path), os.path.realpath(root)
    if path == root or path.startswith(root + os.sep):
        return os.path.relpath(path, root)
    return f"<{os.path.basename(path) or path}>"


def library_path(path):
    """A shared library's file as a results file names it: from its Python package's folder on
    (``numpy.libs/libscipy_openblas64_-....so``), or its file name alone."""
    if not path:
        return path
    for folder in ("site-packages", "dist-packages"):
        if f"{os.sep}{folder}{os.sep}" in path:
            return path.rsplit(f"{os.sep}{folder}{os.sep}", 1)[1]
    return os.path.basename(path)


def portable_command(argv):
    """The command line as a results file keeps it: every absolute path in it as :func:`portable_path`
    gives it (``--torch-path <torch-cpu>``, ``--compare HEAD .``)."""
    def one(arg):
        key, eq, value = arg.rpartition("=") if arg.startswith("--") and "=" in arg else ("", "", arg)
        return key + eq + (portable_path(value) if os.path.isabs(value) else value)
    return " ".join(one(a) for a in argv)


def _now():
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _git_describe():
    try:
        return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if git(
            "status", "--porcelain", "--untracked-files=no") else "")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None

