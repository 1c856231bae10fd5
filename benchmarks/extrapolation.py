"""Extrapolation: PIG against the paper's black-box baseline and against the true physics, on the
same test sequences, in one run.

    python benchmarks/extrapolation.py [--pig pig_control/pretrained/spring.pt]
        [--blackbox runs/spring_blackbox/last.pt] [--data data/spring_fresh.npz]
        [--out benchmarks/results/extrapolation_spring.json]

Three models share the encoder, the velocity estimator's inputs and the decoder of their own
checkpoints, and differ only in their dynamics:

- ``pig``: the learned physics cell with the learned parameters;
- ``true_physics``: the same PIG model with its physical parameters set to the data's true values
  (what a perfect identification would give through this encoder and decoder: the floor);
- ``blackbox``: the paper's comparison model, a recurrent network in place of the physics cell
  (``python -m pig_control.train --config spring --out runs/spring_blackbox
  model.physics=blackbox``), trained on the same data with the same recipe.

Reported per model: the paper's prediction and extrapolation errors (squared pixel error summed
over a frame) and the per-step curve; and the black-box's extrapolation error over PIG's. The JSON
names the machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pig_control.cli import run_main, write_json  # noqa: E402
from pig_control.config import config_from_dict  # noqa: E402
from pig_control.data import load_dataset  # noqa: E402
from pig_control.evaluate import evaluate, load_checkpoint_model  # noqa: E402
from pig_control.provenance import benchmark_provenance, parse_benchmark_args  # noqa: E402


def score(path: str, data: dict, true_params: dict | None = None) -> dict:
    """Evaluate one checkpoint; with ``true_params``, after setting its physics to them."""
    model, payload = load_checkpoint_model(path)
    if true_params is not None:
        for name in model.cell.param_names:
            model.cell.set_param(name, true_params[name])
    report, _ = evaluate(model, config_from_dict(payload["config"]), data, progress=False)
    return {"checkpoint": path, "params": model.params,
            **{key: report[key] for key in ("pred_error", "extrap_error", "recons_error",
                                            "extrap_curve", "intervals")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pig", default="pig_control/pretrained/spring.pt")
    parser.add_argument("--blackbox", default="runs/spring_blackbox/last.pt")
    parser.add_argument("--data", default="data/spring_fresh.npz")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"
                                             / "extrapolation_spring.json"))
    args = parse_benchmark_args(parser, argv, __file__)
    torch.set_num_threads(1)
    data = load_dataset(args.data)
    true_params = {key: float(value) for key, value in dict(data["params"]).items()}
    models = {"pig": score(args.pig, data), "true_physics": score(args.pig, data, true_params),
              "blackbox": score(args.blackbox, data)}
    block = benchmark_provenance(args, [args.pig, args.blackbox, args.data])
    payload = {"provenance": block,
               "data": args.data, "true_params": true_params, "models": models,
               "blackbox_over_pig_extrap": models["blackbox"]["extrap_error"]
               / models["pig"]["extrap_error"]}
    write_json(args.out, payload, overwrite=args.overwrite)
    for name, row in models.items():
        low, high = row["intervals"]["extrap_error"]["bootstrap_95"]
        print(f"{name:13s} prediction {row['pred_error']:7.3f}  "
              f"extrapolation {row['extrap_error']:7.3f} (bootstrap 95 % {low:.3f}-{high:.3f}, "
              f"{row['intervals']['extrap_error']['n']} sequences)")
    print(f"black-box / PIG extrapolation: {payload['blackbox_over_pig_extrap']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
