#!/usr/bin/env bash
# The speed issue's 16-core measurements, prepared as one call for the lent device machine (16 cores,
# an H200 GPU; NumPy, Numba, scikit-learn, PyTorch, tqdm and threadpoolctl; no TensorFlow, no network).
#
# On this machine first (device-data/ is ignored by git; the run tool's `carry` takes it along):
#     mkdir -p device-data && cp -r ../shared/datasets/mnist device-data/
# then call the run tool with command "bash benchmarks/device_16core.sh", carry ["device-data"] and
# timeout_s 600.  Every result lands under $OUT (benchmarks/results/ when run by hand); copy the JSON
# files into benchmarks/results/ here and commit them.
#
# Sized for ~7 min on 16 cores, an estimate (a session has 15 min of device time, start-up included), each step
# under its own timeout so that one which hangs does not cost the others:
#   1. speed.py --quick, the 3-layer model: nnscratch, PyTorch CPU, PyTorch on the GPU  (~3 min)
#   2. one_pool.py, 2 passes: does one pool for products, Adam and kernels scale here    (~2 min)
#   3. knn.py, full MNIST, k=3, 2 rounds: nnscratch against scikit-learn                 (~1 min)
# TORCH_PATH: a directory with torch, for a machine where plain `import torch` fails (local trials).
set -u
cd "$(dirname "$0")/.."
out=${OUT:-benchmarks/results}
mkdir -p "$out"
export NNSCRATCH_DATA=${NNSCRATCH_DATA:-$PWD/device-data}
cores=$(nproc)
torch_path=${TORCH_PATH:+--torch-path $TORCH_PATH}
echo "== $cores cores, data in $NNSCRATCH_DATA, results in $out, $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"

echo "== 1. speed.py --quick (3-layer model)"
timeout 300 python benchmarks/speed.py --quick --groups 3layer --sides nnscratch-numba,torch,torch-cuda \
    $torch_path --out "$out/speed-${cores}core-quick.json" > "$out/speed-${cores}core-quick.log" 2>&1
echo "exit $?"; tail -22 "$out/speed-${cores}core-quick.log"

echo "== 2. one_pool.py"
timeout 180 python benchmarks/one_pool.py --repeat 2 --blocks 6 --out "$out/one-pool-${cores}core.json" \
    > "$out/one-pool-${cores}core.log" 2>&1
echo "exit $?"; tail -5 "$out/one-pool-${cores}core.log"

echo "== 3. knn.py (full MNIST, k=3)"
timeout 120 python benchmarks/knn.py --rounds 2 --out "$out/knn-${cores}core.json" \
    > "$out/knn-${cores}core.log" 2>&1
echo "exit $?"; grep -v '^[ {}]' "$out/knn-${cores}core.log" | tail -6      # the table, not the JSON
