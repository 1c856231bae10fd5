#!/usr/bin/env bash
# The control figures: the shipped world models from pixels, the oracle, and zero-data adaptation
# to a stiffer spring, 200 reporting episodes each (seeds 10**6 ..., pig_control.protocol), each
# written to benchmarks/results/mpc_*.json with its per-episode outcomes, intervals and provenance.
# Refuses a tree with uncommitted changes unless the first argument is --allow-dirty (each file
# records whether its tree was clean). Existing results are replaced (--overwrite). Single-threaded;
# about 1 minute per 20 episodes on a 2-core CPU with nothing else running. The JSON files record
# the median milliseconds per control step: run it alone for those to mean anything.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" != "--allow-dirty" ]]; then
    python -m pig_control.provenance --require-clean
fi
R=benchmarks/results
N=200
run() { python -m pig_control.mpc --quiet --overwrite --episodes $N "$@" | tail -n 2; }
run --env spring --json $R/mpc_spring_pretrained.json  # the shipped model (the same as mpc_spring_model_s0.json)
run --env spring --model oracle --json $R/mpc_spring_oracle.json
run --env pendulum --json $R/mpc_pendulum_pretrained.json
run --env pendulum --model oracle --json $R/mpc_pendulum_oracle.json
run --env spring --env-param k=8 --set-param k=8 --json $R/mpc_spring_k8_adapted.json
run --env spring --model oracle --env-param k=8 --json $R/mpc_spring_k8_oracle.json
run --env spring --env-param k=8 --json $R/mpc_spring_k8_unadapted.json
run --env mnist_spring --json $R/mpc_mnist_spring_pretrained.json
run --env mnist_spring --model oracle --json $R/mpc_mnist_spring_oracle.json
