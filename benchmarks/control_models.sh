#!/usr/bin/env bash
# Control figures over independently trained world models: for each seed S, the scene's
# recipe end to end (coloured-noise rollouts with seed S, training with seed S, recalibration),
# then 200 reporting episodes of mpc with that model. Usage:
#
#     benchmarks/control_models.sh SCENE [SEEDS...]      # e.g. spring 0 1 2
#
# SCENE is spring, pendulum or mnist_spring (their recipes: pig_control/configs/SCENE_control.yaml). Writes
# data/control/SCENE_rollouts_sS.npz, runs/control/SCENE-sS/, and
# benchmarks/results/mpc_SCENE_model_sS.json (with provenance and per-episode outcomes);
# then benchmarks/control_models_summary.py pools them into
# benchmarks/results/control_models_SCENE.json (mean and spread over the models).
# Refuses a tree with uncommitted changes (set ALLOW_DIRTY=1 to run anyway; every file records
# it). Rerunning resumes: finished steps are skipped, an interrupted training resumes from its
# checkpoint. Single-threaded; on an idle 2-core CPU about 5 minutes of training and 10 of
# evaluation per seed for the spring; about 22 minutes of training for the digits.
set -euo pipefail
cd "$(dirname "$0")/.."
scene=${1:?usage: benchmarks/control_models.sh SCENE [SEEDS...]}
shift
if (($#)); then seeds=("$@"); else seeds=(0 1 2); fi
case $scene in
    spring) rollouts=(--episodes 196 --steps 50) ;;
    pendulum) rollouts=(--episodes 49 --steps 200) ;;
    mnist_spring) rollouts=(--episodes 196 --steps 50) ;;
    *) echo "error: SCENE must be spring, pendulum or mnist_spring, got '$scene'" >&2; exit 2 ;;
esac
dirty=()
if [[ "${ALLOW_DIRTY:-0}" == 1 ]]; then dirty=(--allow-dirty); else
    python -m pig_control.provenance --require-clean; fi
R=benchmarks/results
mkdir -p data/control runs/control
for s in "${seeds[@]}"; do
    data=data/control/${scene}_rollouts_s$s.npz
    run=runs/control/$scene-s$s
    [[ -f $data ]] || python -m pig_control.data rollouts "$scene" "${rollouts[@]}" \
        --policy colored --seed "$s" --out "$data"
    if [[ -f $run/last.pt ]]; then resume=(--resume); else resume=(); fi
    [[ -f $run/done ]] || { python -m pig_control.train --config "${scene}_control" --seed "$s" \
        --data "$data" --out "$run" --no-progress "${resume[@]}" && touch "$run/done"; }
    [[ -f $run/recalibrated.pt ]] || python -m pig_control.recalibrate --quiet \
        --checkpoint "$run/last.pt" --data "$data" --out "$run/recalibrated.pt" \
        --json "$run/recalibrate.json"
    [[ -f $R/mpc_${scene}_model_s$s.json ]] || python -m pig_control.mpc --quiet \
        --env "$scene" --model "$run/recalibrated.pt" --episodes 200 \
        --json "$R/mpc_${scene}_model_s$s.json" | tail -n 2
done
python benchmarks/control_models_summary.py "${dirty[@]}" --overwrite \
    --out "$R/control_models_$scene.json" \
    $(for s in "${seeds[@]}"; do echo "$R/mpc_${scene}_model_s$s.json"; done)
