"""The speed benchmark behind ``benchmarks/speed.py`` (the command line), one concern per module:

* :mod:`.settings`: what is measured: sides, workload groups, batch sizes, FLOP counts, full/quick;
* :mod:`.env`: every measuring process without ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE``, and the
  BLAS kernel it got (also used by the other benchmark scripts);
* :mod:`.clock`: the clock every timed interval is read with (wall, CPU, steal, load);
* :mod:`.workers`: one worker per framework (nnscratch, Keras, PyTorch), each in a fresh process;
* :mod:`.gemm`: the float32 GEMM rate on the training step's products, and the arithmetic limit;
* :mod:`.machine`: what a run ran on (cores, CPU, BLAS, versions, variables, git revision);
* :mod:`.protocol`: fresh processes, interleaved rounds, the per-side summaries, the results file;
* :mod:`.report`: the printed tables, the README's table (``--readme``) and the plot;
* :mod:`.compare`: ``--compare``, nnscratch before/after at two revisions or directories;
* :mod:`.ab`: the two-sided scripts (``callbacks.py``, ``functional.py``): fresh processes, interleaved
  rounds, a ratio against its target.

Nothing here is imported by ``nnscratch``; a worker process imports only its own framework.
"""
