#!/usr/bin/env bash
# The control figures of the README (section "Control"): the shipped world models from pixels,
# the oracle, and zero-data adaptation to a stiffer spring, each written to
# benchmarks/results/mpc_*.json. Single-threaded; about 5 minutes on a 2-core CPU. Run it with
# nothing else on the machine: the JSON files record the median milliseconds per control step.
set -euo pipefail
cd "$(dirname "$0")/.."
R=benchmarks/results
run() { python -m pig_control.mpc --quiet "$@" | tail -n 1; }
run --env spring --episodes 20 --json $R/mpc_spring_pretrained.json
run --env pendulum --episodes 20 --json $R/mpc_pendulum_pretrained.json
run --env spring --episodes 20 --env-param k=8 --set-param k=8 --json $R/mpc_spring_k8_adapted.json
run --env spring --episodes 20 --env-param k=8 --json $R/mpc_spring_k8_unadapted.json
run --env mnist_spring --episodes 20 --json $R/mpc_mnist_spring_pretrained.json
run --env spring --model oracle --episodes 20 --json $R/mpc_spring_oracle.json
run --env pendulum --model oracle --episodes 20 --json $R/mpc_pendulum_oracle.json
run --env mnist_spring --model oracle --episodes 20 --json $R/mpc_mnist_spring_oracle.json
run --env spring --model oracle --episodes 20 --env-param k=8 --json $R/mpc_spring_k8_oracle.json
run --env spring --episodes 100 --json $R/mpc_spring_pretrained_100.json
run --env spring --episodes 100 --seed 1000 --json $R/mpc_spring_pretrained_100_seed1000.json
run --env mnist_spring --episodes 100 --json $R/mpc_mnist_spring_pretrained_100.json
run --env mnist_spring --model oracle --episodes 100 --json $R/mpc_mnist_spring_oracle_100.json
run --env spring --episodes 100 --env-param k=8 --set-param k=8 --json $R/mpc_spring_k8_adapted_100.json
run --env spring --model oracle --episodes 100 --env-param k=8 --json $R/mpc_spring_k8_oracle_100.json
run --env spring --episodes 100 --env-param k=8 --set-param k=8 --max-steps 60 --json $R/mpc_spring_k8_adapted_100_60steps.json
run --env spring --model oracle --episodes 100 --env-param k=8 --max-steps 60 --json $R/mpc_spring_k8_oracle_100_60steps.json
