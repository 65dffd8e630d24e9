"""What the speed benchmark measures: its sides, workload groups, batch sizes, FLOP counts and the full
and quick settings, in one place for every other module of ``speedbench``."""
import os

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # benchmarks/
SCRIPT = os.path.join(HERE, "speed.py")            # the command line; ``--worker`` runs one side
RESULTS = os.path.join(HERE, "results")
BATCHES = (32, 128, 512)
PREDICT_IMAGES = 10_000
LAYERS_3 = ((784, 512), (512, 512), (512, 10))      # (in, out) of the 3-layer model's Dense layers
FLOP_PER_SAMPLE_3L = 3_209_216                       # forward + weight gradients + input gradients
SIDES = ("nnscratch-numba", "nnscratch-numpy", "keras", "keras-xla", "torch", "torch-cuda")
REFERENCE = "keras"                                  # ratios are against Keras's defaults
CONVNET_BATCH = 128                                  # Keras's "simple MNIST convnet" example's batch size
# (side, group) pairs that are not run, and why: they would add many minutes and say nothing new
NOT_RUN = {("keras-xla", "convnet"): "Keras with jit_compile=True took 3.8x as long as Keras's default "
                                     "on the convnet in a 2,000-image trial (~100 s per epoch on 2 cores)"}
GROUPS = {"3layer": [f"3layer/b{b}" for b in BATCHES] + ["predict"],
          "1layer": [f"1layer/b{b}" for b in BATCHES],
          "convnet": [f"convnet/b{CONVNET_BATCH}"]}
# ~0.86 TFLOP per 60,000-image epoch: per image, conv2d 26*26*32*9*2 (forward) + the same (weight
# gradient), conv2d_1 11*11*64*288*2 x 3 (forward, weight and input gradients), dense 1600*10*2 x 3
FLOP_PER_SAMPLE_CONVNET = 2 * 26 * 26 * 32 * 9 * 2 + 3 * 11 * 11 * 64 * 288 * 2 + 3 * 1600 * 10 * 2
ENV_KEYS = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
            "NUMBA_THREADING_LAYER", "NUMBA_CACHE_DIR", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
            "NNSCRATCH_BACKEND", "NNSCRATCH_MATMUL", "NNSCRATCH_DATA")
FULL = {"rounds": 3, "epochs": 3, "samples": 60_000, "predict_reps": 7, "gemm_reps": 20}
QUICK = {"rounds": 2, "epochs": 2, "samples": 12_000, "predict_reps": 5, "gemm_reps": 10}


def parse_workload(name):
    """``'3layer/b128'`` -> ``('3layer', 128)``."""
    model, b = name.split("/")
    return model, int(b[1:])
