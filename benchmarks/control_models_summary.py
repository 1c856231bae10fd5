"""Pool control results over independently trained world models (one mpc results file each,
from ``benchmarks/control_models.sh``): the success rate of every model on the same reporting
episodes, their mean and spread (min-max across models), and the pooled episodes with their
Wilson interval, which counts episodes as independent and so understates the spread between
models; the spread is the figure that says how much a result depends on the training run.

    python benchmarks/control_models_summary.py \\
        --out benchmarks/results/control_models_spring.json \\
        benchmarks/results/mpc_spring_model_s0.json ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pig_control.cli import make_parser, run_main, write_json  # noqa: E402
from pig_control.errors import UserInputError  # noqa: E402
from pig_control.protocol import episode_summary  # noqa: E402
from pig_control.provenance import benchmark_provenance, parse_benchmark_args  # noqa: E402


def load_run(path: Path) -> dict:
    """One mpc results file, checked: it has per-episode outcomes on reporting seeds."""
    try:
        report = json.loads(path.read_text())
        episodes = report["episodes"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserInputError(f"{path}: not an mpc results file ({error})") from None
    if episode_summary(episodes)["seeds"] != "reporting":
        raise UserInputError(f"{path}: its episodes are not all on reporting seeds")
    return report


def summarize_models(reports: list[dict], names: list[str]) -> dict:
    """Per-model rates, their mean and spread, and the pooled episodes' intervals."""
    seed_sets = {tuple(e["seed"] for e in r["episodes"]) for r in reports}
    if len(seed_sets) != 1:
        raise UserInputError("the models were not evaluated on the same episodes")
    models = [{"file": name, "model": r["model"], "model_params": r.get("model_params"),
               "env_frames": r.get("env_frames"),
               "success_rate": r["intervals"]["success"]["rate"],
               "intervals": r["intervals"]} for name, r in zip(names, reports, strict=True)]
    rates = [m["success_rate"] for m in models]
    distances = [m["intervals"]["final_distance"]["mean"] for m in models]
    pooled = [e for r in reports for e in r["episodes"]]
    return {"env": reports[0]["env"], "n_models": len(models),
            "episodes_per_model": len(reports[0]["episodes"]),
            "success_rate": {"mean": sum(rates) / len(rates), "min": min(rates),
                             "max": max(rates)},
            "final_distance": {"mean": sum(distances) / len(distances), "min": min(distances),
                               "max": max(distances)},
            "pooled": episode_summary(pooled), "models": models}


def main(argv=None) -> int:
    parser = make_parser("benchmarks/control_models_summary.py",
                         "Pool mpc results over independently trained world models.")
    parser.add_argument("runs", nargs="*", help="mpc results files, one per model")
    parser.add_argument("--out", required=True, help="where to write the pooled results")
    args = parse_benchmark_args(parser, argv, __file__)
    if not args.runs:
        raise UserInputError("give the mpc results files of the models to pool")
    paths = [Path(p) for p in args.runs]
    summary = summarize_models([load_run(p) for p in paths], [str(p) for p in paths])
    summary["provenance"] = benchmark_provenance(args, inputs=paths)
    write_json(args.out, summary, overwrite=args.overwrite)
    rate = summary["success_rate"]
    print(f"{summary['env']}: {summary['n_models']} models x {summary['episodes_per_model']} "
          f"episodes, success {rate['mean']:.3f} (models {rate['min']:.3f}-{rate['max']:.3f})")
    return 0


if __name__ == "__main__":
    run_main(main)
