"""Speed benchmark that can't flatter us: nnscratch (numba / numpy backends) vs Keras (default and
``jit_compile=True``) vs PyTorch CPU (and PyTorch on a CUDA GPU, side ``torch-cuda``, where there is
one), on the workshop's models and full MNIST.

    cd <repo> && NNSCRATCH_DATA=<folder with MNIST> PYTHONPATH=$PWD python benchmarks/speed.py
    ... python benchmarks/speed.py --quick                  # ~3 min on 16 cores, labelled "quick"
    ... python benchmarks/speed.py --compare HEAD~5 HEAD     # nnscratch before/after, same protocol
    ... python benchmarks/speed.py --compare main ../my-branch  # a revision against a directory
    python benchmarks/speed.py --readme benchmarks/results/speed-2core.json   # the README's table

Protocol (docs/speed.md has the long version):

* every side runs in its own fresh process (this script with ``--worker``, one JSON line back);
  rounds are interleaved, A B C A B C ..., one process per side per round and per workload group;
* every worker (each side, the GEMM process) runs with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``
  unset, as on a user's machine, and reports the BLAS kernel OpenBLAS chose (docs/speed.md#blas-kernel);
* one warm-up epoch per workload (JIT, tracing, caches), then ``epochs`` timed epochs, each with
  ``time.perf_counter`` (wall), ``time.process_time`` (CPU of the whole process, all threads) and
  ``os.getloadavg()[0]`` at its end.  Keras: a ``Callback`` (``on_epoch_begin``/``on_epoch_end``)
  inside one ``fit``; nnscratch: the same clock around each one-epoch ``fit`` call (its setup is
  counted, Keras's is not: the asymmetry is against us); PyTorch: the same clock around a plain loop
  (on a GPU the clock stops after ``torch.cuda.synchronize()``);
* per side and workload: best and median over all timed epochs of all rounds;
* the float32 GEMM rate on the 3-layer model's eight training products, measured in the same run,
  gives the arithmetic limit: 3,209,216 FLOP per sample per epoch / rate.

Writes ``benchmarks/results/speed-<cores>core[-quick].json`` and ``.png`` (``--compare``:
``speed-compare-<cores>core.json``) and prints every number in a table.

This file is the command line; the benchmark itself is the package ``benchmarks/speedbench/``, one
module per concern (workers, GEMM limit, protocol, report, compare; its ``__init__`` lists them).
"""
import argparse
import json
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:                    # speedbench/ lies beside this file; it is on the path already when
    sys.path.insert(0, _HERE)                # this file runs as a script, not when tests/test_docs.py loads it
from speedbench.compare import main_compare  # noqa: E402
from speedbench.machine import machine_info  # noqa: E402,F401  (threads.py and one_pool.py import it from here)
from speedbench.protocol import main_benchmark  # noqa: E402
from speedbench.report import readme_table  # noqa: E402
from speedbench.settings import FULL, GROUPS, QUICK, SIDES  # noqa: E402
from speedbench.workers import run_worker_mode  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help=f"fewer rounds and images, labelled quick: {QUICK}")
    p.add_argument("--rounds", type=int, help="interleaved rounds (full: 3)")
    p.add_argument("--epochs", type=int, help="timed epochs per workload after one warm-up (full: 3)")
    p.add_argument("--samples", type=int, help="training images, the first N of MNIST (full: 60,000)")
    p.add_argument("--predict-reps", type=int, help="timed predict calls per side and round (full: 7)")
    p.add_argument("--gemm-reps", type=int, help="timed calls per GEMM shape and round (full: 20)")
    p.add_argument("--sides", help=f"comma-separated subset of {','.join(SIDES)}")
    p.add_argument("--groups", help=f"comma-separated subset of the workload groups {','.join(GROUPS)} "
                                    "(default: all; a subset is written to speed-<cores>core-<groups>.json)")
    p.add_argument("--torch-path", help="a directory to put on PYTHONPATH for the PyTorch side only")
    p.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"),
                   help="nnscratch at two git revisions or directories, interleaved")
    p.add_argument("--backend", default="default", choices=("default", "numba", "numpy"),
                   help="--compare: the nnscratch backend (default: each revision's default)")
    p.add_argument("--out", help="results file (default benchmarks/results/speed-<cores>core[-quick].json)")
    p.add_argument("--readme", metavar="FILE", help="print the README's table for a results file, run nothing")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--workloads", help=argparse.SUPPRESS)
    p.add_argument("--cfg", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def config(args):
    """The run's settings: full or quick, then any explicit override; ``custom`` if overridden."""
    cfg = dict(QUICK if args.quick else FULL)
    for k in cfg:
        v = getattr(args, k)
        if v is not None:
            if v < 1 or (k == "samples" and v > 60_000):
                raise ValueError(f"--{k.replace('_', '-')} must be between 1 and "
                                 f"{60_000 if k == 'samples' else 'any'}, got {v}")
            cfg[k] = v
    cfg["quick"] = args.quick
    cfg["custom"] = cfg != {**(QUICK if args.quick else FULL), "quick": args.quick}
    groups = args.groups.split(",") if args.groups else list(GROUPS)
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise ValueError(f"--groups: unknown {unknown}; choose from {list(GROUPS)}")
    cfg["groups"] = [g for g in GROUPS if g in groups]
    return cfg


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return run_worker_mode(args)
    if args.readme:
        with open(args.readme) as f:
            return print(readme_table(json.load(f), args.readme), end="")
    cfg = config(args)
    if args.compare:
        return main_compare(args, cfg)
    return main_benchmark(args, cfg)


if __name__ == "__main__":
    main()
