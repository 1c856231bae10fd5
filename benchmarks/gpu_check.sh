#!/usr/bin/env bash
# On a machine with a CUDA GPU: train every scene briefly on the GPU and on the CPU from the same
# seed and data, compare the learned parameters and losses, write
# benchmarks/results/gpu_check.json (benchmarks/gpu_check.py; under 10 minutes with a GPU and
# 8 or more cores). Exit status 0 when every scene agrees within the tolerances, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python benchmarks/gpu_check.py "$@"
